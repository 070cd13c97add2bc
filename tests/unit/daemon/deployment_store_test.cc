// A real SQLite database in a temporary folder, with a fake clock.
#include "daemon/deployment_store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "daemon/token_store.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {
DeploymentRecord Record(const std::string& id, const std::string& project, int64_t created) {
  DeploymentRecord d;
  d.id = id;
  d.project_id = project;
  d.commit_hash = "abc";
  d.status = "queued";
  d.api_url = "http://127.0.0.1:1";
  d.created_at_ms = d.updated_at_ms = created;
  return d;
}
}  // namespace

TEST_CASE("events get gap-free sequence numbers and move the deployment on") {
  test::TempDir t;
  auto db = Database::Open(t / "agent.db");
  REQUIRE(db.ok());
  FakeClock clock;
  DeploymentStore store(**db, clock);
  REQUIRE(store.Insert(Record("d1", "p", 1)).ok());
  REQUIRE(store.Insert(Record("d1", "p", 1)).ok());  // idempotent
  for (const char* s : {"queued", "committing", "building"}) {
    auto e = store.Append("d1", NewEvent{s, {std::string("log ") + s}, "", "stream", std::nullopt});
    REQUIRE(e.ok());
  }
  auto done =
      store.Append("d1", NewEvent{"complete", {"done"}, "https://abc.backend.im", "poll", 9});
  REQUIRE(done.ok());
  CHECK(done->seq == 4);
  CHECK(done->terminal);
  auto events = store.EventsAfter("d1", 1, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].seq == 2);
  CHECK((*events)[0].status == "committing");
  auto d = store.Get("d1");
  REQUIRE(d.ok());
  REQUIRE(d->has_value());
  CHECK((*d)->status == "complete");
  CHECK((*d)->url == "https://abc.backend.im");
  CHECK((*d)->terminal);
  CHECK((*d)->upstream_seq == 9);
  CHECK((*d)->log_count == 4);
  CHECK(store.Logs("d1")->size() == 4);
  CHECK(store.ListActive()->empty());
  CHECK_FALSE(store.Append("nope", NewEvent{"queued", {}, "", "stream", std::nullopt}).ok());
}

TEST_CASE("history lists newest first and filters by project") {
  test::TempDir t;
  auto db = Database::Open(t / "agent.db");
  REQUIRE(db.ok());
  FakeClock clock;
  DeploymentStore store(**db, clock);
  REQUIRE(store.Insert(Record("a", "p1", 100)).ok());
  REQUIRE(store.Insert(Record("b", "p2", 200)).ok());
  REQUIRE(store.Insert(Record("c", "p1", 300)).ok());
  auto all = store.List("", 10);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].id == "c");
  CHECK((*all)[2].id == "a");
  auto p1 = store.List("p1", 1);
  REQUIRE(p1->size() == 1);
  CHECK((*p1)[0].id == "c");
  CHECK(store.ListActive()->size() == 3);
}

TEST_CASE("the database survives reopening, is 0600, and its schema version is recorded") {
  test::TempDir t;
  {
    auto db = Database::Open(t / "agent.db");
    REQUIRE(db.ok());
    FakeClock clock;
    DeploymentStore store(**db, clock);
    REQUIRE(store.Insert(Record("a", "p", 1)).ok());
  }
  struct stat st {};
  REQUIRE(::stat((t / "agent.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto db = Database::Open(t / "agent.db");
  REQUIRE(db.ok());
  FakeClock clock;
  DeploymentStore store(**db, clock);
  CHECK(store.Get("a")->has_value());
  auto r = test::Run({"sqlite3", t / "agent.db", "PRAGMA user_version; PRAGMA journal_mode;"});
  CHECK(r.out == "2\nwal\n");
}

TEST_CASE("a database of the previous schema gains pending creates and keeps its history") {
  test::TempDir t;
  {
    auto db = Database::Open(t / "agent.db");
    REQUIRE(db.ok());
    FakeClock clock;
    DeploymentStore store(**db, clock);
    REQUIRE(store.Insert(Record("a", "p", 1)).ok());
  }
  // As the agent before pending creates left it.
  REQUIRE(
      test::Run({"sqlite3", t / "agent.db", "DROP TABLE pending_deploys; PRAGMA user_version=1;"})
          .exit_code == 0);
  auto db = Database::Open(t / "agent.db");
  REQUIRE(db.ok());
  FakeClock clock;
  DeploymentStore store(**db, clock);
  CHECK(store.Get("a")->has_value());
  PendingDeploy p{"key-1", "proj", "abc123", "/w", "http://x", "{\"files\":{}}", 5};
  REQUIRE(store.AddPending(p).ok());
  auto same = store.FindPending("proj", "abc123", "http://x");
  REQUIRE(same.ok());
  REQUIRE(same->has_value());
  CHECK((*same)->idempotency_key == "key-1");
  CHECK((*same)->request == p.request);
  CHECK_FALSE(store.FindPending("proj", "other", "http://x")->has_value());
  CHECK_FALSE(store.FindPending("proj", "abc123", "http://elsewhere")->has_value());
  REQUIRE(store.RecordCreated(Record("b", "proj", 2), "key-1").ok());
  CHECK(store.Get("b")->has_value());
  CHECK(store.ListPending()->empty());
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
  auto db = Database::Open(t / "agent.db");
  REQUIRE(db.ok());
  TokenStore tokens(**db);
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
