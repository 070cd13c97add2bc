// A real SQLite database in a temporary folder, with a fake clock.
#include "daemon/deployment_store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "common/limits.h"
#include "daemon/token_store.h"
#include "tests/support/harness.h"
#include "tests/unit/daemon/new_event.h"

using namespace bim;
using namespace bim::daemon;

namespace {

using test::Ev;

DeploymentRecord Record(const std::string& id, const std::string& project, int64_t created) {
  DeploymentRecord d;
  d.id = id;
  d.project_id = project;
  d.commit_hash = "abc";
  d.status = contract::Stage::kQueued;
  d.api_url = "http://127.0.0.1:1";
  d.created_at_ms = d.updated_at_ms = created;
  return d;
}
std::unique_ptr<Database> OpenDatabase(const std::string& file) {
  auto db = Database::Open(file);
  REQUIRE(db.ok());
  return std::move(*db);
}

// The store over a database file as an agent that starts opens it: nothing in memory yet.
struct OpenedStore {
  explicit OpenedStore(const std::string& file) : db(OpenDatabase(file)), store(*db, clock) {}
  std::unique_ptr<Database> db;
  FakeClock clock;
  DeploymentStore store;
};

// The ids of the history List gives, in its order.
std::vector<std::string> ListedIds(DeploymentStore& store, const std::string& project, int limit) {
  auto listed = store.List(project, limit);
  REQUIRE(listed.ok());
  std::vector<std::string> ids;
  for (const auto& d : *listed) ids.push_back(d.id);
  return ids;
}

struct StoreRig {
  test::TempDir t;
  OpenedStore opened{t / "agent.db"};
  DeploymentStore* const store = &opened.store;
  StoreRig() { REQUIRE(store->Insert(Record("d", "p", 1)).ok()); }
  Appended Add(const std::string& status, std::vector<std::string> logs, std::string url = "") {
    auto r =
        store->Append("d", Ev(status, std::move(logs), url, EventSource::kStream, std::nullopt));
    REQUIRE(r.ok());
    return *r;
  }
  DeploymentRecord Get() { return **store->Get("d"); }
};

}  // namespace

TEST_CASE("events get gap-free sequence numbers and move the deployment on") {
  test::TempDir t;
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  REQUIRE(store.Insert(Record("d1", "p", 1)).ok());
  REQUIRE(store.Insert(Record("d1", "p", 1)).ok());  // idempotent
  for (const char* s : {"queued", "committing", "building"}) {
    auto e = store.Append("d1",
                          Ev(s, {std::string("log ") + s}, "", EventSource::kStream, std::nullopt));
    REQUIRE(e.ok());
  }
  auto done =
      store.Append("d1", Ev("complete", {"done"}, "https://abc.backend.im", EventSource::kPoll, 9));
  REQUIRE(done.ok());
  REQUIRE(done->event);
  CHECK(done->event->seq == 4);
  CHECK(done->event->terminal);
  CHECK_FALSE(done->went_over_budget);
  auto events = store.EventsAfter("d1", 1, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].seq == 2);
  CHECK((*events)[0].event.status == contract::Stage::kCommitting);
  auto d = store.Get("d1");
  REQUIRE(d.ok());
  REQUIRE(d->has_value());
  CHECK((*d)->status == contract::Stage::kComplete);
  CHECK((*d)->url == "https://abc.backend.im");
  CHECK((*d)->terminal);
  CHECK((*d)->upstream_seq == 9);
  CHECK((*d)->log_count == 4);
  CHECK(store.Logs("d1")->lines.size() == 4);
  CHECK_FALSE(store.Logs("d1")->truncated);
  CHECK(store.ListActive()->empty());
  CHECK_FALSE(store.Append("nope", Ev("queued", {}, "", EventSource::kStream, std::nullopt)).ok());
}

TEST_CASE("history lists newest first and filters by project") {
  test::TempDir t;
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  REQUIRE(store.Insert(Record("a", "p1", 100)).ok());
  REQUIRE(store.Insert(Record("b", "p2", 200)).ok());
  REQUIRE(store.Insert(Record("c", "p1", 300)).ok());
  CHECK(ListedIds(store, "", 10) == std::vector<std::string>{"c", "b", "a"});
  CHECK(ListedIds(store, "p1", 1) == std::vector<std::string>{"c"});
  CHECK(store.ListActive()->size() == 3);
}

TEST_CASE("history is in the order deployments were recorded, whatever the clock said") {
  test::TempDir t;
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  // Recorded while the clock was 30 years ahead, then the clock was put right.
  constexpr int64_t kThirtyYearsMs = 30LL * 365 * 24 * 3600 * 1000;
  REQUIRE(store.Insert(Record("future", "p1", 1'700'000'000'000 + kThirtyYearsMs)).ok());
  REQUIRE(store.Insert(Record("later", "p1", 1'700'000'100'000)).ok());
  CHECK(ListedIds(store, "", 10) == std::vector<std::string>{"later", "future"});
  CHECK(ListedIds(store, "p1", 1) == std::vector<std::string>{"later"});
}

TEST_CASE("the database survives reopening, is 0600, and its schema version is recorded") {
  test::TempDir t;
  {
    OpenedStore o(t / "agent.db");
    DeploymentStore& store = o.store;
    REQUIRE(store.Insert(Record("a", "p", 1)).ok());
  }
  struct stat st {};
  REQUIRE(::stat((t / "agent.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  CHECK(store.Get("a")->has_value());
  auto r = test::Run({"sqlite3", t / "agent.db", "PRAGMA user_version; PRAGMA journal_mode;"});
  CHECK(r.out == "8\nwal\n");
}

TEST_CASE("a database of the previous schema gains pending creates and keeps its history") {
  test::TempDir t;
  {
    OpenedStore o(t / "agent.db");
    DeploymentStore& store = o.store;
    REQUIRE(store.Insert(Record("a", "p", 1)).ok());
    REQUIRE(
        store.Append("a", Ev("complete", {"done"}, "https://abc.backend.im", EventSource::kPoll, 3))
            .ok());
  }
  // As the agent before pending creates (schema 1) left it: no pending_deploys, no budget,
  // history indexed by created_at, events without their body, and no snapshots.
  REQUIRE(test::Run({"sqlite3", t / "agent.db",
                     "DROP TABLE domains; ALTER TABLE events DROP COLUMN body; "
                     "DROP TABLE snapshot_files; DROP TABLE snapshots; DROP TABLE blobs; "
                     "ALTER TABLE deployments DROP COLUMN restored_of; "
                     "ALTER TABLE deployments DROP COLUMN environment; "
                     "ALTER TABLE deployments DROP COLUMN promoted_of; "
                     "DROP TABLE pending_deploys; ALTER TABLE deployments DROP COLUMN log_lines; "
                     "ALTER TABLE deployments DROP COLUMN log_bytes; "
                     "ALTER TABLE deployments DROP COLUMN over_budget; "
                     "DROP INDEX deployments_by_project; "
                     "CREATE INDEX deployments_by_created ON deployments(created_at DESC); "
                     "CREATE INDEX deployments_by_project ON "
                     "deployments(project_id, created_at DESC); PRAGMA user_version=1;"})
              .exit_code == 0);
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  CHECK(store.Get("a")->has_value());
  // An event stored before bodies were: read from its status and url columns.
  auto old_events = store.EventsAfter("a", 0, 10);
  REQUIRE(old_events.ok());
  REQUIRE(old_events->size() == 1);
  CHECK((*old_events)[0].event.status == contract::Stage::kComplete);
  CHECK((*old_events)[0].event.url == "https://abc.backend.im");
  CHECK((*old_events)[0].event.logs == std::vector<std::string>{"done"});
  PendingDeploy p{"key-1", "proj", "abc123", "/w", "http://x", "{\"files\":{}}", 5, "", "", ""};
  REQUIRE(store.AddPending(p).ok());
  auto same = store.FindPending(p);
  REQUIRE(same.ok());
  REQUIRE(same->has_value());
  CHECK((*same)->idempotency_key == "key-1");
  CHECK((*same)->request == p.request);
  auto unlike = [&](auto change) {
    PendingDeploy q = p;
    change(q);
    return !store.FindPending(q)->has_value();
  };
  CHECK(unlike([](PendingDeploy& q) { q.commit_hash = "other"; }));
  CHECK(unlike([](PendingDeploy& q) { q.api_url = "http://elsewhere"; }));
  // Schema 7: the same files to another environment, or a promote, is another create.
  CHECK(unlike([](PendingDeploy& q) { q.environment = "staging"; }));
  CHECK(unlike([](PendingDeploy& q) { q.promoted_of = "a"; }));
  REQUIRE(store.RecordCreated(Record("b", "proj", 2), "key-1").ok());
  CHECK(store.Get("b")->has_value());
  CHECK(store.ListPending()->empty());
  // Schema 6: snapshots, and rollbacks recorded on deployments.
  DeploymentRecord rolled = Record("c", "proj", 3);
  rolled.restored_of = "b";
  REQUIRE(store.Insert(rolled).ok());
  // Schema 7: environments and promotes, and history by environment.
  DeploymentRecord promoted = Record("d", "proj", 4);
  promoted.environment = "staging";
  promoted.promoted_of = "c";
  REQUIRE(store.Insert(promoted).ok());
  CHECK((*store.Get("d"))->environment == "staging");
  CHECK((*store.Get("d"))->promoted_of == "c");
  CHECK((*store.Get("c"))->environment.empty());
  auto staging = store.List("proj", 10, "staging");
  REQUIRE(staging.ok());
  REQUIRE(staging->size() == 1);
  CHECK((*staging)[0].id == "d");
  CHECK(store.List("", 10, "staging")->size() == 1);
  CHECK(store.List("other", 10, "staging")->empty());
  CHECK((*store.Get("c"))->restored_of == "b");
}

TEST_CASE("a database from a newer agent is refused with advice") {
  test::TempDir t;
  REQUIRE(test::Run({"sqlite3", t / "agent.db", "PRAGMA user_version=99;"}).exit_code == 0);
  auto db = Database::Open(t / "agent.db");
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().message.find("upgrade backend-im") != std::string::npos);
}

TEST_CASE("token store saves, loads and erases, leaving no trace in the files") {
  test::TempDir t;
  auto db = OpenDatabase(t / "agent.db");
  TokenStore tokens(*db);
  CHECK_FALSE(tokens.Load()->has_value());
  Credentials c;
  c.access_token = "secret-access-token-1234";
  c.refresh_token = "secret-refresh-5678";
  c.expires_at_ms = 42;
  c.source = "device";
  c.api_url = "http://x";
  c.user_id = "u";
  c.email = "e";
  REQUIRE(tokens.Save(c).ok());
  auto loaded = tokens.Load();
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->refresh_token == "secret-refresh-5678");
  CHECK(*tokens.Erase());
  CHECK_FALSE(tokens.Load()->has_value());
  std::string bytes = test::ReadFile(t / "agent.db") + test::ReadFile(t / "agent.db-wal");
  CHECK(bytes.find("secret-access-token") == std::string::npos);
  CHECK(bytes.find("secret-refresh") == std::string::npos);
}

TEST_CASE("a log line over 8 KiB is cut at a character and says so") {
  StoreRig rig;
  // 'é' is two bytes: a cut in the middle of one must step back to its start.
  std::string line;
  while (line.size() < 20000) line += "é";
  auto a = rig.Add("queued", {line, "short"});
  REQUIRE(a.event);
  REQUIRE(a.event->event.logs.size() == 2);
  const std::string& cut = a.event->event.logs[0];
  CHECK(cut.size() <= limits::kMaxLogLineBytes);
  CHECK(cut.size() > limits::kMaxLogLineBytes - 100);
  CHECK(cut.find(" [backend-im] line of 20000 bytes cut to 8 KiB") != std::string::npos);
  CHECK(cut.rfind("é [backend-im]") != std::string::npos);  // whole characters only
  CHECK(a.event->event.logs[1] == "short");
  CHECK(rig.store->Logs("d")->lines == a.event->event.logs);  // what was returned is what is stored
}

TEST_CASE("an event keeps 5000 log lines and says how many more it had") {
  StoreRig rig;
  auto a = rig.Add("queued", std::vector<std::string>(7000, "x"));
  REQUIRE(a.event->event.logs.size() == limits::kMaxLogLinesPerEvent);
  CHECK(a.event->event.logs[4998] == "x");
  CHECK(a.event->event.logs.back() ==
        "[backend-im] 2001 more log lines of this event not kept: the agent keeps 5000 per event");
  auto d = rig.Get();
  CHECK(d.log_count == 7000);  // every line the platform sent was taken in
  CHECK(d.log_lines == 5000);
  CHECK_FALSE(d.over_budget);
}

TEST_CASE("a deployment's logs stop at 4 MiB and then only status changes are stored") {
  StoreRig rig;
  std::string kib(1024, 'k');
  // 4000 lines of 1 KiB fit; the 4 MiB budget ends in the 5th batch.
  for (int i = 0; i < 4; ++i) {
    auto a = rig.Add("building", std::vector<std::string>(1000, kib));
    REQUIRE(a.event);
    CHECK_FALSE(a.went_over_budget);
  }
  auto over = rig.Add("building", std::vector<std::string>(1000, kib));
  REQUIRE(over.event);
  CHECK(over.went_over_budget);
  CHECK(over.event->event.logs.back() == OverBudgetNote());
  auto d = rig.Get();
  CHECK(d.over_budget);
  CHECK(d.log_bytes <= limits::kMaxLogBytesPerDeployment);
  CHECK(d.log_bytes > limits::kMaxLogBytesPerDeployment - 2048);
  // Same status, more lines: nothing is written, the note is not repeated.
  auto dropped = rig.Add("building", {"more"});
  CHECK_FALSE(dropped.event);
  CHECK_FALSE(dropped.went_over_budget);
  CHECK(rig.Get().last_seq == d.last_seq);
  CHECK(rig.Get().log_count == d.log_count);  // nothing written at all: a flood costs no writes
  // A status change is stored, without its log lines, with its URL.
  auto done = rig.Add("complete", {"done"}, "https://abc.backend.im");
  REQUIRE(done.event);
  CHECK(done.event->event.logs.empty());
  CHECK(done.event->terminal);
  CHECK(rig.Get().url == "https://abc.backend.im");
  auto logs = rig.store->Logs("d");
  CHECK(logs->lines.back() == OverBudgetNote());
  CHECK(std::count(logs->lines.begin(), logs->lines.end(), OverBudgetNote()) == 1);
  CHECK_FALSE(logs->truncated);
}

TEST_CASE("a deployment keeps 10 000 events and then only status changes") {
  StoreRig rig;
  for (int64_t i = 1; i < limits::kMaxEventsPerDeployment; ++i) {
    REQUIRE(rig.Add("building", {}).event);
  }
  auto last = rig.Add("building", {"line"});
  REQUIRE(last.event);
  CHECK(last.went_over_budget);
  CHECK(last.event->seq == limits::kMaxEventsPerDeployment);
  CHECK(last.event->event.logs == std::vector<std::string>{"line", OverBudgetNote()});
  CHECK_FALSE(rig.Add("building", {}).event);
  CHECK_FALSE(rig.Add("queued", {}).event);  // going back is no status change either
  auto next = rig.Add("deploying", {"x"});
  REQUIRE(next.event);
  CHECK(next.event->event.logs.empty());
  CHECK(next.event->seq == limits::kMaxEventsPerDeployment + 1);
}

TEST_CASE("the budget survives reopening the database") {
  test::TempDir t;
  {
    OpenedStore o(t / "agent.db");
    DeploymentStore& store = o.store;
    REQUIRE(store.Insert(Record("d", "p", 1)).ok());
    std::string big(limits::kMaxLogLineBytes, 'b');
    for (int i = 0; i < 600; ++i) {
      REQUIRE(
          store.Append("d", Ev("building", {big}, "", EventSource::kStream, std::nullopt)).ok());
    }
    CHECK((*store.Get("d"))->over_budget);
  }
  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  auto a = store.Append("d", Ev("building", {"more"}, "", EventSource::kStream, std::nullopt));
  REQUIRE(a.ok());
  CHECK_FALSE(a->event);
}

TEST_CASE("names over 256 bytes are refused and a URL over 2 KiB is left out") {
  StoreRig rig;
  auto long_project = Record("e", std::string(300, 'p'), 1);
  auto refused = rig.store->Insert(long_project);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kProtocol);
  CHECK(refused.error().message ==
        "the platform's projectId for deployment e is 300 bytes, over the limit of 256 bytes; "
        "ignored");
  auto long_hash = Record("e", "p", 1);
  long_hash.commit_hash = std::string(257, 'c');
  CHECK_FALSE(rig.store->Insert(long_hash).ok());
  CHECK_FALSE(rig.store->Get("e")->has_value());
  auto a = rig.Add("complete", {"done"}, "https://" + std::string(3000, 'u'));
  REQUIRE(a.event);
  CHECK(!a.event->event.url);
  CHECK(a.event->event.logs[0] ==
        "[backend-im] the platform's URL for this deployment was 3008 bytes, over the limit of "
        "2 KiB; not kept");
  CHECK(rig.Get().url.empty());
}

TEST_CASE("the logs of one reply are bounded and say when they were cut") {
  StoreRig rig;
  rig.Add("queued", std::vector<std::string>(100, std::string(1000, 'l')));
  auto all = rig.store->Logs("d");
  CHECK(all->lines.size() == 100);
  CHECK_FALSE(all->truncated);
  // Each line counts its bytes and limits::kReplyLineOverhead.
  auto cut = rig.store->Logs("d", 10 * (1000 + limits::kReplyLineOverhead));
  CHECK(cut->lines.size() == 10);
  CHECK(cut->truncated);
  // Empty lines count too.
  rig.Add("building", std::vector<std::string>(1000, ""));
  auto empties = rig.store->Logs(
      "d", 100 * (1000 + limits::kReplyLineOverhead) + 10 * limits::kReplyLineOverhead);
  CHECK(empties->lines.size() == 110);
  CHECK(empties->truncated);
}

TEST_CASE(
    "an event read back from the database is the event stored, and an unreadable body falls "
    "back to its columns") {
  test::TempDir t;
  {
    OpenedStore o(t / "agent.db");
    DeploymentStore& store = o.store;
    REQUIRE(store.Insert(Record("a", "p", 1)).ok());
    REQUIRE(store.Append("a", Ev("building", {"one", "two"}, "", EventSource::kStream, 5)).ok());
    REQUIRE(
        store.Append("a", Ev("complete", {"done"}, "https://abc.backend.im", EventSource::kPoll, 6))
            .ok());
  }
  auto read = [&] {
    OpenedStore o(t / "agent.db");  // a new store: no events in memory, all from SQLite
    DeploymentStore& store = o.store;
    auto events = store.EventsAfter("a", 0, 10);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 2);
    return *events;
  };
  auto events = read();
  CHECK(events[0].event.status == contract::Stage::kBuilding);
  CHECK(events[0].event.logs == std::vector<std::string>{"one", "two"});
  CHECK_FALSE(events[0].event.url);
  CHECK(events[1].event.status == contract::Stage::kComplete);
  CHECK(events[1].event.url == "https://abc.backend.im");
  CHECK(events[1].terminal);
  // A body this agent cannot read (a stage from a later version, say) is not the end of it.
  REQUIRE(test::Run({"sqlite3", t / "agent.db",
                     "UPDATE events SET body = '{\"status\":\"warp\"}' WHERE seq = 2;"})
              .exit_code == 0);
  events = read();
  CHECK(events[1].event.status == contract::Stage::kComplete);
  CHECK(events[1].event.url == "https://abc.backend.im");
  CHECK(events[1].event.logs == std::vector<std::string>{"done"});
}

namespace {

// Appends with a Newness and says what the store did.
Appended::Skipped Offer(StoreRig& rig, Newness how, const std::string& status,
                        std::vector<std::string> logs, std::optional<int64_t> seq) {
  NewEvent e = Ev(status, std::move(logs), "",
                  how == Newness::kPoll ? EventSource::kPoll : EventSource::kStream, seq);
  e.newness = how;
  auto r = rig.store->Append("d", e);
  REQUIRE(r.ok());
  return r->skipped;
}

std::vector<std::string> StoredStages(StoreRig& rig) {
  auto events = rig.store->EventsAfter("d", 0, 100);
  REQUIRE(events.ok());
  std::vector<std::string> out;
  for (const auto& ev : *events) out.emplace_back(contract::StageName(ev.event.status));
  return out;
}

}  // namespace

TEST_CASE("stage messages with seq: new only above the newest seq taken in, never going back") {
  StoreRig rig;
  using S = Appended::Skipped;
  CHECK(Offer(rig, Newness::kStream, "queued", {"q"}, 1) == S::kNo);
  CHECK(Offer(rig, Newness::kStream, "queued", {"q"}, 1) == S::kSeen);  // a replay
  CHECK(Offer(rig, Newness::kStream, "building", {"b"}, 3) == S::kNo);
  CHECK(Offer(rig, Newness::kStream, "committing", {"c"}, 2) == S::kSeen);  // older seq
  CHECK(Offer(rig, Newness::kStream, "committing", {"c"}, 4) == S::kBack);  // newer, but back
  CHECK(Offer(rig, Newness::kStream, "complete", {"done"}, 5) == S::kNo);
  CHECK(Offer(rig, Newness::kStream, "complete", {"done"}, 6) == S::kEnded);
  CHECK(Offer(rig, Newness::kPoll, "complete", {"done", "more"}, 6) == S::kEnded);
  CHECK(StoredStages(rig) == std::vector<std::string>{"queued", "building", "complete"});
  CHECK(rig.Get().upstream_seq == 5);
}

TEST_CASE("stage messages without seq: new only when their stage is later than the newest") {
  StoreRig rig;
  using S = Appended::Skipped;
  // The deploy answer's status (queued) is not an event: the first queued message is stored.
  auto d = rig.Get();
  REQUIRE(d.status == contract::Stage::kQueued);
  REQUIRE(d.last_seq == 0);
  CHECK(Offer(rig, Newness::kStream, "queued", {}, std::nullopt) == S::kNo);
  CHECK(Offer(rig, Newness::kStream, "queued", {}, std::nullopt) == S::kSeen);
  CHECK(Offer(rig, Newness::kStream, "deploying", {}, std::nullopt) == S::kNo);
  CHECK(Offer(rig, Newness::kStream, "building", {}, std::nullopt) == S::kSeen);
  CHECK(StoredStages(rig) == std::vector<std::string>{"queued", "deploying"});
}

TEST_CASE("a poll stores only the log lines not yet taken in, and nothing when it has none") {
  StoreRig rig;
  using S = Appended::Skipped;
  CHECK(Offer(rig, Newness::kStream, "queued", {"a", "b"}, 1) == S::kNo);
  CHECK(Offer(rig, Newness::kPoll, "queued", {"a", "b"}, 1) == S::kSeen);
  CHECK(Offer(rig, Newness::kPoll, "queued", {"a", "b", "c"}, 1) == S::kNo);
  CHECK(Offer(rig, Newness::kPoll, "building", {"a", "b", "c", "d"}, 4) == S::kNo);
  CHECK(Offer(rig, Newness::kPoll, "committing", {"a", "b", "c", "d", "e"}, 4) == S::kSeen);
  CHECK(rig.store->Logs("d")->lines == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(StoredStages(rig) == std::vector<std::string>{"queued", "queued", "building"});
  // The stream resumes after the poll's seq: its replay of 2..4 is not new.
  CHECK(Offer(rig, Newness::kStream, "committing", {"x"}, 2) == S::kSeen);
  CHECK(Offer(rig, Newness::kStream, "deploying", {"e"}, 5) == S::kNo);
  CHECK(rig.Get().log_count == 5);
}

TEST_CASE("each event source has its own name, and the name reads back as the same source") {
  const EventSource all[] = {EventSource::kStream, EventSource::kPoll, EventSource::kDeploy,
                             EventSource::kUnknown};
  std::set<std::string_view> names;
  for (EventSource s : all) {
    CAPTURE(EventSourceName(s));
    CHECK(ParseEventSource(EventSourceName(s)) == s);
    names.insert(EventSourceName(s));
  }
  CHECK(names == std::set<std::string_view>{"stream", "poll", "deploy", "unknown"});
  for (std::string_view other : {"", "Stream", "stream ", "lookup"}) {
    CAPTURE(other);
    CHECK(ParseEventSource(other) == EventSource::kUnknown);
  }
}

TEST_CASE(
    "an event's source is stored as the name it always had, and a name this agent does not know "
    "reads back as unknown") {
  test::TempDir t;
  const std::pair<EventSource, const char*> sources[] = {{EventSource::kStream, "stream"},
                                                         {EventSource::kPoll, "poll"},
                                                         {EventSource::kDeploy, "deploy"}};
  {
    OpenedStore o(t / "agent.db");
    REQUIRE(o.store.Insert(Record("a", "p", 1)).ok());
    for (const auto& [source, name] : sources) {
      REQUIRE(o.store.Append("a", Ev("building", {name}, "", source, std::nullopt)).ok());
    }
    auto cached = o.store.EventsAfter("a", 0, 10);  // from the store's memory
    REQUIRE(cached.ok());
    REQUIRE(cached->size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK((*cached)[i].source == sources[i].first);
  }
  // The column holds the same text as before the enum, so older and newer agents share it.
  auto column = test::Run({"sqlite3", t / "agent.db", "SELECT source FROM events ORDER BY seq;"});
  CHECK(column.out == "stream\npoll\ndeploy\n");

  auto read = [&] {
    OpenedStore o(t / "agent.db");  // every event from SQLite
    auto events = o.store.EventsAfter("a", 0, 10);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 3);
    return *events;
  };
  auto events = read();
  for (size_t i = 0; i < 3; ++i) CHECK(events[i].source == sources[i].first);

  // A later agent's source, or a row edited by hand: the event is read, its source unknown.
  REQUIRE(test::Run({"sqlite3", t / "agent.db",
                     "UPDATE events SET source = 'carrier-pigeon' WHERE seq = 1; "
                     "UPDATE events SET source = '' WHERE seq = 2;"})
              .exit_code == 0);
  events = read();
  CHECK(events[0].source == EventSource::kUnknown);
  CHECK(events[0].event.logs == std::vector<std::string>{"stream"});
  CHECK(events[1].source == EventSource::kUnknown);
  CHECK(events[2].source == EventSource::kDeploy);
}

namespace {

const contract::Stage kEveryStage[] = {contract::Stage::kQueued,
                                       contract::Stage::kCommitting,
                                       contract::Stage::kCreatingNamespace,
                                       contract::Stage::kCreatingPvc,
                                       contract::Stage::kBuilding,
                                       contract::Stage::kDeploying,
                                       contract::Stage::kHealthCheck,
                                       contract::Stage::kComplete,
                                       contract::Stage::kFailed};

}  // namespace

TEST_CASE("a deployment's status is stored as the stage's name and read back as the same stage") {
  test::TempDir t;
  std::string names;
  {
    OpenedStore o(t / "agent.db");
    int n = 0;
    for (contract::Stage s : kEveryStage) {
      ++n;
      DeploymentRecord d = Record("d" + std::to_string(n), "p", n);
      d.status = s;
      d.terminal = contract::IsTerminal(s);
      REQUIRE(o.store.Insert(d).ok());
      names += std::string(contract::StageName(s)) + "\n";
    }
  }
  // The column holds the contract's names, as it always did.
  auto column =
      test::Run({"sqlite3", t / "agent.db", "SELECT status FROM deployments ORDER BY rowid;"});
  CHECK(column.out == names);
  CHECK(column.out.rfind("queued\ncommitting\ncreating_namespace\n", 0) == 0);

  OpenedStore o(t / "agent.db");
  DeploymentStore& store = o.store;
  int n = 0;
  for (contract::Stage s : kEveryStage) {
    auto d = store.Get("d" + std::to_string(++n));
    REQUIRE(d.ok());
    REQUIRE(d->has_value());
    CHECK((*d)->status == s);
  }
  // And through an event: the stage the deployment moved on to.
  REQUIRE(store.Append("d1", Ev("health_check", {}, "", EventSource::kStream, 4)).ok());
  CHECK((*store.Get("d1"))->status == contract::Stage::kHealthCheck);
  CHECK(test::Run({"sqlite3", t / "agent.db", "SELECT status FROM deployments WHERE id = 'd1';"})
            .out == "health_check\n");
}

TEST_CASE(
    "a stored status this agent does not know reads as failed for a deployment that has ended, "
    "and as queued for one still followed, which any stage then moves on") {
  StoreRig rig;
  REQUIRE(rig.store->Insert(Record("ended", "p", 2)).ok());
  REQUIRE(rig.store->Append("d", Ev("building", {"b"}, "", EventSource::kStream, 1)).ok());
  REQUIRE(
      rig.store->Append("ended", Ev("complete", {}, "https://x.backend.im", EventSource::kPoll, 1))
          .ok());
  // As a later agent with a stage of its own would leave them, or a hand edit.
  REQUIRE(test::Run({"sqlite3", rig.t / "agent.db",
                     "UPDATE deployments SET status = 'scaling' WHERE id = 'd'; "
                     "UPDATE deployments SET status = '' WHERE id = 'ended';"})
              .exit_code == 0);
  auto ended = rig.store->Get("ended");
  REQUIRE(ended.ok());
  CHECK((*ended)->status == contract::Stage::kFailed);
  CHECK((*ended)->terminal);
  DeploymentRecord d = rig.Get();
  CHECK(d.status == contract::Stage::kQueued);
  CHECK_FALSE(d.terminal);
  auto listed = rig.store->List("p", 10);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].status == contract::Stage::kFailed);
  CHECK((*listed)[1].status == contract::Stage::kQueued);

  // Still followed: a later stage is new, as after queued, and the column gets its name again.
  using S = Appended::Skipped;
  CHECK(Offer(rig, Newness::kStream, "queued", {}, std::nullopt) == S::kSeen);
  CHECK(Offer(rig, Newness::kStream, "committing", {}, std::nullopt) == S::kNo);
  CHECK(rig.Get().status == contract::Stage::kCommitting);
  CHECK(test::Run({"sqlite3", rig.t / "agent.db", "SELECT status FROM deployments WHERE id = 'd';"})
            .out == "committing\n");
}
