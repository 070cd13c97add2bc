// The LogHub over the agent's real core (AgentCore: its login, its platform calls) against the
// in-memory platform's app logs, in simulated time: one upstream per deployment however many
// follow it, resumes that lose and repeat nothing, late joiners, the ring's bound, the end.
// Followers are read on the test's thread; the upstream runs on the hub's, so the tests wait
// for what they can observe (WaitUntil), never for a time.
#include "daemon/log_hub.h"

#include <doctest/doctest.h>

#include "common/clock.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/agent_core.h"
#include "daemon/database.h"
#include "tests/support/fake_platform.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;
using bim::test::FakePlatform;
using contract::LogLevel;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string kId = "dep-logs";

struct Rig {
  explicit Rig(FakePlatform::Options options = {}, size_t ring_lines = 2000)
      : platform(clock, std::move(options)) {
    platform.AddToken("dev-token");
    CoreSettings settings;
    settings.environment_token = "dev-token";
    core = std::make_unique<AgentCore>(*db, platform, clock, random, stop, std::move(settings));
    hub = std::make_unique<LogHub>(
        LogHubDeps{platform, core->auth(), clock, random, seconds(20), seconds(30), ring_lines});
  }
  ~Rig() {
    hub.reset();
    core.reset();
  }

  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  FakePlatform platform;
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  std::unique_ptr<AgentCore> core;
  std::unique_ptr<LogHub> hub;

  void Append(int n, const std::string& prefix = "line") {
    for (int i = 0; i < n; ++i) platform.AppendLog(kId, LogLevel::kInfo, prefix);
  }
};

// The next item that is not a notice (notices come when the upstream has trouble).
LogItem NextNotNotice(LogFollower& f) {
  for (;;) {
    auto item = f.Next();
    REQUIRE_MESSAGE(item.ok(), (item.ok() ? "" : item.error().message));
    if (item->kind != LogItem::Kind::kNotice) return *item;
  }
}

// The seqs of the next n lines.
std::vector<int64_t> Lines(LogFollower& f, size_t n) {
  std::vector<int64_t> seqs;
  while (seqs.size() < n) {
    LogItem item = NextNotNotice(f);
    REQUIRE_MESSAGE(item.kind == LogItem::Kind::kLine, "not a line");
    seqs.push_back(item.line.seq);
  }
  return seqs;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (int64_t i = from; i <= to; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST_CASE("log hub: two followers of one deployment share one upstream and each see every line") {
  Rig r;
  r.platform.AppendLog(kId, LogLevel::kInfo, "booting");
  auto a = r.hub->Follow(kId, 0, {});
  auto b = r.hub->Follow(kId, 0, {});
  r.Append(2);
  CHECK(Lines(*a, 3) == Range(1, 3));
  CHECK(Lines(*b, 3) == Range(1, 3));
  r.Append(2);
  CHECK(Lines(*b, 2) == Range(4, 5));
  CHECK(Lines(*a, 2) == Range(4, 5));
  CHECK(r.platform.log_stream_opens() == 1);
  CHECK(r.platform.open_log_streams() == 1);
  CHECK(r.hub->Followers() == 2);
  auto early = r.platform.log_stream_after();
  REQUIRE(early.size() == 1);
  CHECK(early[0] == 0);
}

TEST_CASE("log hub: a dropped upstream resumes after the newest line, none lost or repeated") {
  Rig r;
  auto a = r.hub->Follow(kId, 0, {});
  auto b = r.hub->Follow(kId, 0, {});
  r.Append(3);
  CHECK(Lines(*a, 3) == Range(1, 3));
  // The platform replays two lines on resume; the hub drops what it has.
  r.platform.ReplayOnResume(2);
  r.platform.DropLogStreams();
  r.Append(3);
  CHECK(Lines(*a, 3) == Range(4, 6));
  CHECK(Lines(*b, 6) == Range(1, 6));
  REQUIRE(test::WaitUntil([&] { return r.platform.log_stream_opens() >= 2; }, seconds(10)));
  auto after = r.platform.log_stream_after();
  CHECK(after.size() == 2);
  CHECK(after.back() == 3);
  // Nothing more than what was printed.
  r.Append(1);
  CHECK(Lines(*a, 1) == std::vector<int64_t>{7});
  auto none = a->TryNext();
  REQUIRE(none.ok());
  if (*none) CHECK((*none)->kind == LogItem::Kind::kNotice);
}

TEST_CASE(
    "log hub: the upstream's trouble reaches followers as a notice, cleared once lines flow") {
  Rig r;
  auto a = r.hub->Follow(kId, 0, {});
  r.Append(1);
  CHECK(Lines(*a, 1) == Range(1, 1));
  r.platform.DropLogStreams();
  auto notice = a->Next();
  REQUIRE(notice.ok());
  CHECK(notice->kind == LogItem::Kind::kNotice);
  CHECK(notice->text.find("reconnecting after line 1") != std::string::npos);
  r.Append(1);
  bool cleared = false;
  for (;;) {
    auto item = a->Next();
    REQUIRE(item.ok());
    if (item->kind == LogItem::Kind::kNotice) cleared = item->text.empty();
    if (item->kind == LogItem::Kind::kLine) break;
  }
  CHECK(cleared);
}

TEST_CASE("log hub: a follower that joins late gets the earlier lines from the platform's pages") {
  Rig r;
  r.Append(5);
  auto a = r.hub->Follow(kId, 5, {});  // the upstream begins after line 5
  r.Append(1);
  CHECK(Lines(*a, 1) == std::vector<int64_t>{6});
  auto b = r.hub->Follow(kId, 0, {});
  CHECK(Lines(*b, 6) == Range(1, 6));
  CHECK(r.platform.log_stream_opens() == 1);
  bool paged = false;
  for (const auto& q : r.platform.log_queries()) paged = paged || (q.after && *q.after == 0);
  CHECK(paged);

  // Lines the platform no longer keeps are a skipped count, then the rest.
  r.platform.KeepLogLines(3);
  auto c = r.hub->Follow(kId, 0, {});
  LogItem gone = NextNotNotice(*c);
  REQUIRE(gone.kind == LogItem::Kind::kSkipped);
  CHECK(gone.skipped == 3);
  CHECK(Lines(*c, 3) == Range(4, 6));
}

TEST_CASE("log hub: a follower too slow for the ring is told how many lines it missed") {
  Rig r({}, /*ring_lines=*/5);
  auto slow = r.hub->Follow(kId, 0, {});
  r.Append(12);
  REQUIRE(test::WaitUntil([&] { return r.hub->NewestSeqForTest(kId) == 12; }, seconds(10)));
  LogItem missed = NextNotNotice(*slow);
  REQUIRE(missed.kind == LogItem::Kind::kSkipped);
  CHECK(missed.skipped == 7);
  CHECK(Lines(*slow, 5) == Range(8, 12));
}

TEST_CASE("log hub: the platform's skipped passes through, and its end reaches every follower") {
  Rig r;
  r.platform.KeepLogLines(2);
  r.Append(5);
  auto a = r.hub->Follow(kId, 0, {});
  auto b = r.hub->Follow(kId, 0, {});
  LogItem skipped = NextNotNotice(*a);
  REQUIRE(skipped.kind == LogItem::Kind::kSkipped);
  CHECK(skipped.skipped == 3);
  CHECK(Lines(*a, 2) == Range(4, 5));
  r.platform.EndLog(kId, "the deployment was replaced");
  LogItem end = NextNotNotice(*a);
  CHECK(end.kind == LogItem::Kind::kEnd);
  CHECK(end.text == "the deployment was replaced");
  std::vector<LogItem::Kind> kinds;
  for (;;) {
    LogItem item = NextNotNotice(*b);
    kinds.push_back(item.kind);
    if (item.kind == LogItem::Kind::kEnd) break;
  }
  CHECK(kinds == std::vector<LogItem::Kind>{LogItem::Kind::kSkipped, LogItem::Kind::kLine,
                                            LogItem::Kind::kLine, LogItem::Kind::kEnd});
}

TEST_CASE("log hub: the upstream closes when the last follower leaves") {
  Rig r;
  auto a = r.hub->Follow(kId, 0, {});
  auto b = r.hub->Follow(kId, 0, {});
  r.Append(1);
  CHECK(Lines(*a, 1) == Range(1, 1));
  a.reset();
  CHECK(r.platform.open_log_streams() == 1);
  CHECK(Lines(*b, 1) == Range(1, 1));
  b.reset();
  REQUIRE(test::WaitUntil([&] { return r.platform.open_log_streams() == 0; }, seconds(10)));
  CHECK(r.hub->Followers() == 0);
  CHECK(r.hub->Upstreams() == 0);
  // A new follower opens a new one.
  auto c = r.hub->Follow(kId, 1, {});
  r.Append(1);
  CHECK(Lines(*c, 1) == std::vector<int64_t>{2});
  CHECK(r.platform.log_stream_opens() == 2);
}

TEST_CASE("log hub: filters are each follower's own") {
  Rig r;
  auto errors = r.hub->Follow(kId, 0, LogFilter{LogLevel::kError, std::nullopt, ""});
  auto grep = r.hub->Follow(kId, 0, LogFilter{std::nullopt, std::nullopt, "GET /"});
  r.platform.AppendLog(kId, LogLevel::kInfo, "GET / 200");
  r.platform.AppendLog(kId, LogLevel::kError, "Traceback (most recent call last):");
  r.platform.AppendLog(kId, LogLevel::kWarning, "GET /missing 404");
  CHECK(Lines(*errors, 1) == std::vector<int64_t>{2});
  CHECK(Lines(*grep, 2) == std::vector<int64_t>{1, 3});
}

TEST_CASE("log hub: a platform without app logs refuses, and says where the deployment's are") {
  FakePlatform::Options seed;
  seed.seed_only = true;
  Rig r(seed);
  auto a = r.hub->Follow(kId, 0, {});
  auto item = a->Next();
  REQUIRE_FALSE(item.ok());
  CHECK(item.error().code == ErrorCode::kRejected);
  CHECK(item.error().message.find("does not offer app logs") != std::string::npos);
  CHECK(item.error().message.find("backend-im status") != std::string::npos);
}

TEST_CASE("log hub: cancel and shutdown end a follower's wait") {
  Rig r;
  auto a = r.hub->Follow(kId, 0, {});
  a->Cancel();
  auto cancelled = a->Next();
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.error().code == ErrorCode::kCancelled);
  auto b = r.hub->Follow(kId, 0, {});
  r.hub->Shutdown();
  auto stopping = b->Next();
  REQUIRE_FALSE(stopping.ok());
  CHECK(stopping.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("agent: a project's logs come from its newest complete deployment, and say so") {
  Rig r;
  test::TempDir project;
  contract::FileMap files{{"main.py", "print('hi')\n"}};
  auto d = r.core->agent().Deploy(files, "proj-logs", project.path());
  REQUIRE(d.ok());
  REQUIRE(test::WaitUntil(
      [&] {
        auto rec = r.core->store().Get(d->id);
        return rec.ok() && *rec && (*rec)->terminal;
      },
      seconds(20)));
  r.platform.AppendLog(d->id, LogLevel::kInfo, "INFO: started");
  r.platform.AppendLog(d->id, LogLevel::kError, "boom");
  auto logs = r.core->agent().Logs(LogsTarget{"", "proj-logs", ""}, LogFilter{}, 10);
  REQUIRE_MESSAGE(logs.ok(), (logs.ok() ? "" : logs.error().message));
  CHECK(logs->source.record.id == d->id);
  CHECK(logs->source.chosen.find("newest complete deployment of project proj-logs") !=
        std::string::npos);
  CHECK(logs->lines.size() == 2);
  CHECK(logs->cursor == 2);
  auto grep = r.core->agent().Logs(LogsTarget{d->id, "", ""}, LogFilter{{}, {}, "boom"}, 10);
  REQUIRE(grep.ok());
  REQUIRE(grep->lines.size() == 1);
  CHECK(grep->lines[0].seq == 2);
  auto none = r.core->agent().Logs(LogsTarget{"", "proj-other", ""}, LogFilter{}, 10);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kNotFound);

  // A follow begins after the tail it gave.
  auto f = r.core->agent().FollowLogs(LogsTarget{d->id, "", ""}, LogFilter{}, 1, std::nullopt);
  REQUIRE(f.ok());
  CHECK(f->cursor == 2);
  CHECK(Lines(*f->follower, 1) == std::vector<int64_t>{2});
  r.platform.AppendLog(d->id, LogLevel::kInfo, "next");
  CHECK(Lines(*f->follower, 1) == std::vector<int64_t>{3});
}
