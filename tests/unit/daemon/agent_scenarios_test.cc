// The agent's core, wired as backend-imd wires it (AgentCore, a real SQLite store), against an
// in-memory platform in simulated time (tests/support/fake_platform.h): the fault scenarios
// that take minutes of platform time run here in milliseconds. A smaller set of the same
// scenarios runs end to end against the mock (tests/integration/agent_faults_test.cc).
//
// Every scenario asserts what a person watching would see: every stage once, in order, the
// seq numbers 1, 2, 3... with no gap, and the deployment's end.
#include <doctest/doctest.h>

#include <thread>

#include "common/clock.h"
#include "common/commit_hash.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/agent_core.h"
#include "daemon/database.h"
#include "tests/support/fake_notifier.h"
#include "tests/support/fake_platform.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;
using bim::test::FakePlatform;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::vector<std::string> StageNames(const std::vector<contract::Stage>& stages) {
  std::vector<std::string> out;
  for (auto s : stages) out.emplace_back(contract::StageName(s));
  return out;
}

// A platform on which every deployment fails at the building stage.
FakePlatform::Options FailingAtBuilding() {
  FakePlatform::Options o;
  o.fail_at = contract::Stage::kBuilding;
  return o;
}

struct Rig {
  explicit Rig(FakePlatform::Options options = {}, std::string environment_token = "dev-token",
               bool notify = true)
      : platform(clock, std::move(options)) {
    platform.AddToken("dev-token");
    CoreSettings settings;
    settings.environment_token = std::move(environment_token);
    settings.notifier = &notifier;
    settings.notify = notify;
    core = std::make_unique<AgentCore>(*db, platform, clock, random, stop, std::move(settings));
  }
  ~Rig() { core.reset(); }

  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  FakePlatform platform;
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  test::FakeNotifier notifier;
  std::unique_ptr<AgentCore> core;

  Agent& agent() { return core->agent(); }

  // Logs in by the device flow, so the agent holds a refresh token.
  void LogIn() {
    platform.ApproveDeviceLogin();
    auto ticket = core->auth().LoginStart();
    REQUIRE(ticket.ok());
    auto outcome = core->auth().LoginCheck(ticket->login_id, seconds(10));
    REQUIRE(outcome.ok());
    REQUIRE(outcome->state == LoginState::kApproved);
  }
  DeploymentStore& store() { return core->store(); }

  DeploymentRecord Deploy(const std::string& name = "main.py") {
    contract::FileMap files{{name, "print('hi')\n"}, {"requirements.txt", "fastapi\n"}};
    auto d = agent().Deploy(files, "", dir.path());
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    return *d;
  }

  // Waits in real time (the watcher runs on its own thread) until the store says the
  // deployment has ended, or gives up after 20 s.
  DeploymentRecord WaitEnded(const std::string& id) {
    auto give_up = std::chrono::steady_clock::now() + seconds(20);
    while (std::chrono::steady_clock::now() < give_up) {
      auto d = store().Get(id);
      REQUIRE(d.ok());
      if (*d && (*d)->terminal) return **d;
      std::this_thread::sleep_for(milliseconds(1));
    }
    FAIL("deployment " << id << " did not end");
    return {};
  }

  std::vector<EventRecord> Events(const std::string& id) {
    auto e = store().EventsAfter(id, 0, 1000);
    REQUIRE(e.ok());
    return *e;
  }

  // Every stage once, in order, seq 1..n; the end as the platform has it.
  void CheckFollowed(const std::string& id,
                     const std::vector<contract::Stage>& path = contract::SuccessPath()) {
    auto events = Events(id);
    std::vector<std::string> statuses;
    for (size_t i = 0; i < events.size(); ++i) {
      statuses.emplace_back(contract::StageName(events[i].event.status));
      CHECK(events[i].seq == static_cast<int64_t>(i + 1));
    }
    CHECK(statuses == StageNames(path));
    auto d = store().Get(id);
    REQUIRE((d.ok() && *d));
    CHECK((*d)->terminal);
    if (path.back() == contract::Stage::kComplete) {
      CHECK((*d)->url.rfind("https://", 0) == 0);
      CHECK((*d)->stream_problem.empty());
    }
  }
};

}  // namespace

TEST_CASE("simulated time: a deployment is followed from queued to complete over one stream") {
  Rig r;
  auto d = r.Deploy();
  auto started = std::chrono::steady_clock::now();
  r.WaitEnded(d.id);
  r.CheckFollowed(d.id);
  CHECK(r.platform.stream_opens() == 1);
  // Eight stages a simulated second apart; the test does not wait for them.
  CHECK(r.clock.Steady().time_since_epoch() >= seconds(7));
  CHECK(std::chrono::steady_clock::now() - started < seconds(5));
}

TEST_CASE("a deployment that fails is followed to failed, with its stages before") {
  Rig r(FailingAtBuilding());
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  using S = contract::Stage;
  r.CheckFollowed(d.id, {S::kQueued, S::kCommitting, S::kCreatingNamespace, S::kCreatingPvc,
                         S::kBuilding, S::kFailed});
}

TEST_CASE("the stream dropped at every stage in turn loses nothing, with seq and without") {
  for (bool seed_only : {false, true}) {
    for (int n = 1; n <= 7; ++n) {
      CAPTURE(seed_only);
      CAPTURE(n);
      FakePlatform::Options o;
      o.seed_only = seed_only;
      Rig r(o);
      r.platform.DropStreamsAfter(n);
      auto d = r.Deploy();
      r.WaitEnded(d.id);
      r.CheckFollowed(d.id);
      CHECK(r.platform.stream_opens() >= 2);
      auto since = r.platform.stream_since();
      if (seed_only) {
        // No seq to resume from: every stream starts over, and the replay is dropped.
        for (auto s : since) CHECK(s == 0);
      } else {
        // Each reconnect resumes after the newest message taken in.
        REQUIRE(since.size() >= 2);
        CHECK(since[1] == n);
      }
    }
  }
}

TEST_CASE("a 30 s outage: the deployment is followed through it, polled meanwhile, nothing lost") {
  for (bool seed_only : {false, true}) {
    CAPTURE(seed_only);
    FakePlatform::Options o;
    o.seed_only = seed_only;
    Rig r(o);
    // Scheduled before the deploy, which is at once: scheduled after it, a watcher that ran
    // ahead in simulated time (a busy machine left this thread waiting) had passed 2.5 s.
    r.platform.ScheduleOutage(milliseconds(2500), seconds(30));
    auto d = r.Deploy();
    r.WaitEnded(d.id);
    r.CheckFollowed(d.id);
    // It kept trying through the outage, and backed off rather than hammering: the backoff
    // tops out at 30 s, so 30 s of outage is a handful of attempts.
    CHECK(r.platform.status_calls() >= 2);
    CHECK(r.platform.stream_opens() >= 3);
    CHECK(r.platform.stream_opens() <= 15);
    CHECK(r.clock.Steady().time_since_epoch() >= milliseconds(32500));
  }
}

TEST_CASE("when polls answer again before the stream, the stream is read first: no stage skipped") {
  for (bool seed_only : {false, true}) {
    CAPTURE(seed_only);
    FakePlatform::Options o;
    o.seed_only = seed_only;
    o.stage_time = milliseconds(100);  // a few stages pass during each backoff
    Rig r(o);
    // The first stream open fails and the poll then stores queued; the second fails too, and
    // by then the deployment is stages further: storing that poll would skip them.
    r.platform.RefuseStreams(2);
    auto d = r.Deploy();
    r.WaitEnded(d.id);
    r.CheckFollowed(d.id);
  }
}

TEST_CASE("a stalled stream is given up by the keepalive, and the deployment followed by polls") {
  FakePlatform::Options o;
  o.stage_time = seconds(20);  // slower than the keepalive's 20 s ping and 10 s pong
  Rig r(o);
  r.platform.StallStreams(true);
  auto d = r.Deploy();
  auto ended = r.WaitEnded(d.id);
  CHECK(ended.status == contract::Stage::kComplete);
  CHECK(ended.url.rfind("https://", 0) == 0);
  // Polls see only the newest stage each time; the stages they skipped are not invented, but
  // every log line the platform had is stored, and seq has no gap.
  auto events = r.Events(d.id);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().event.status == contract::Stage::kComplete);
  size_t lines = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].seq == static_cast<int64_t>(i + 1));
    lines += events[i].event.logs.size();
  }
  CHECK(lines == 8);
  CHECK(r.platform.stream_opens() >= 2);
  CHECK(r.platform.status_calls() >= 2);
}

TEST_CASE("a stream that sends a newer message before an older one never goes back") {
  Rig r;
  r.platform.ReorderStreams(true);
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  auto events = r.Events(d.id);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().event.status == contract::Stage::kComplete);
  int last_rank = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].seq == static_cast<int64_t>(i + 1));
    int rank = contract::StageRank(events[i].event.status);
    CHECK(rank > last_rank);  // each stored stage is later: no going back
    last_rank = rank;
  }
}

TEST_CASE("frames outside the contract are skipped, and every stage still arrives") {
  Rig r;
  r.platform.SendJunkFrames(1);
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  r.CheckFollowed(d.id);
}

TEST_CASE(
    "a stream flooding frames outside the contract is closed, says why, and is retried "
    "with backoff") {
  Rig r;
  r.platform.SendJunkFrames(1000);
  auto d = r.Deploy();
  // While it lasts, every watch and `status` says why the stream keeps being closed.
  std::string problem;
  for (int i = 0; i < 2000 && problem.find("outside the contract") == std::string::npos; ++i) {
    auto v = r.agent().Status(d.id);
    REQUIRE(v.ok());
    problem = v->problem;
    std::this_thread::yield();
  }
  CHECK_MESSAGE(problem.find("the platform sent more than 30 frames outside the contract within "
                             "10 s; closed by the agent") != std::string::npos,
                problem);
  // The deployment still ends: its stages come through the status polls.
  r.WaitEnded(d.id);
  auto end = r.agent().Status(d.id);
  REQUIRE(end.ok());
  CHECK(end->record.status == contract::Stage::kComplete);
  // Each stream was read only up to the limit, and streams were not opened in a tight loop.
  int opens = r.platform.stream_opens();
  MESSAGE(opens << " streams opened, " << r.platform.junk_frames_sent() << " junk frames read");
  CHECK(r.platform.junk_frames_sent() <= 31 * opens);
  CHECK(opens < 20);
}

TEST_CASE("a storm of 503s and 429s on the stream and the polls is waited out") {
  for (int status : {503, 429}) {
    CAPTURE(status);
    Rig r;
    auto d = r.Deploy();
    r.platform.FailNext(40, status);
    r.WaitEnded(d.id);
    r.CheckFollowed(d.id);
    CHECK(r.platform.deployments() == 1);
  }
}

TEST_CASE("deploys refused with 429 stay pending and are sent again: one deployment") {
  Rig r;
  r.platform.FailNext(2, 429);
  contract::FileMap files{{"main.py", "x = 1\n"}};
  auto first = r.agent().Deploy(files, "", r.dir.path());
  auto second = r.agent().Deploy(files, "", r.dir.path());
  // The platform's refusals reach the caller; the deploy is kept pending, then sent again with
  // the same key, and the platform makes one deployment of it.
  CHECK_FALSE(first.ok());
  CHECK_FALSE(second.ok());
  auto third = r.agent().Deploy(files, "", r.dir.path());
  REQUIRE_MESSAGE(third.ok(), third.error().message);
  r.WaitEnded(third->id);
  r.CheckFollowed(third->id);
  CHECK(r.platform.deploy_calls() == 3);
  CHECK(r.platform.deployments() == 1);
}

TEST_CASE("an access token that expires mid-deployment is refreshed, and the watch goes on") {
  FakePlatform::Options o;
  o.token_ttl = seconds(4);  // half-way through the deployment's eight simulated seconds
  Rig r(o, "");
  r.LogIn();
  r.platform.DropStreamsAfter(2, 0);  // reconnects, each of which needs a token
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  r.CheckFollowed(d.id);
  CHECK(r.platform.refreshes() >= 1);
}

TEST_CASE("a 401 for a token the agent thinks fresh gets one refresh and one retry") {
  Rig r({}, "");
  r.LogIn();
  r.platform.RevokeAccessTokens();  // as the platform would after a revocation
  auto d = r.Deploy();
  CHECK(r.platform.refreshes() == 1);
  CHECK(r.platform.deployments() == 1);
  r.WaitEnded(d.id);
  r.CheckFollowed(d.id);
  CHECK(r.platform.refreshes() == 1);
}

TEST_CASE("a refresh the platform refuses says to log in, and is not tried again and again") {
  Rig r({}, "");
  r.LogIn();
  r.platform.RevokeAccessTokens();
  r.platform.RefuseRefresh(true);
  contract::FileMap files{{"main.py", "x = 1\n"}};
  auto d = r.agent().Deploy(files, "", r.dir.path());
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == ErrorCode::kUnauthenticated);
  CHECK_MESSAGE(d.error().message.find("backend-im auth login") != std::string::npos,
                d.error().message);
  CHECK(r.platform.refreshes() == 1);
  CHECK(r.platform.deployments() == 0);
}

TEST_CASE("the wall clock set forward refreshes once, and set back it changes nothing") {
  for (auto jump : {std::chrono::hours(3), -std::chrono::hours(3)}) {
    CAPTURE(jump.count());
    Rig r({}, "");  // tokens live an hour
    r.LogIn();
    r.platform.DropStreamsAfter(2);
    r.clock.JumpWall(jump);
    auto d = r.Deploy();
    r.WaitEnded(d.id);
    r.CheckFollowed(d.id);
    // Forward, the token looks expired to the agent: it refreshes before using it. Back, it
    // looks fresh for longer, and the platform, on its own clock, still takes it.
    CHECK(r.platform.refreshes() == (jump.count() > 0 ? 1 : 0));
  }
}

TEST_CASE("a device login nobody approves expires in the platform's time, not the test's") {
  Rig r({}, "");
  auto ticket = r.core->auth().LoginStart();
  REQUIRE(ticket.ok());
  auto outcome = r.core->auth().LoginCheck(ticket->login_id, seconds(10));
  REQUIRE(outcome.ok());
  CHECK(outcome->state == LoginState::kExpired);
  CHECK(r.clock.Steady().time_since_epoch() >= seconds(600));
}

TEST_CASE("a deployment the agent did not make is found on the platform and followed") {
  Rig maker;
  auto made = maker.Deploy();
  maker.WaitEnded(made.id);
  // Another agent (another machine, or a lost database) asks about it: the same platform, an
  // empty store.
  test::TempDir dir;
  auto db = std::move(Database::Open(dir / "agent.db").value());
  StopSignal stop;
  CoreSettings settings;
  settings.environment_token = "dev-token";
  AgentCore other(*db, maker.platform, maker.clock, maker.random, stop, settings);
  auto found = other.agent().Find(made.id);
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  CHECK(found->id == made.id);
  auto d = other.store().Get(made.id);
  REQUIRE((d.ok() && *d));
  CHECK((*d)->terminal);
  CHECK((*d)->status == contract::Stage::kComplete);
  auto missing = other.agent().Find("dep-nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("a watcher stops once the deployment's end is stored by someone else") {
  FakePlatform::Options o;
  o.stage_time = std::chrono::hours(100);  // it would not end by itself during the test
  Rig r(o);
  r.platform.StallStreams(true);  // so the watcher polls, and offers the store what it sees
  auto d = r.Deploy();
  auto give_up = std::chrono::steady_clock::now() + seconds(10);
  while (r.platform.status_calls() < 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  REQUIRE(r.agent().WatchedDeployments().size() == 1);
  // As the agent's own record of a deploy answer that said "failed" would.
  NewEvent end;
  end.event.status = contract::Stage::kFailed;
  end.source = EventSource::kDeploy;
  REQUIRE(r.store().Append(d.id, end).ok());
  while (!r.agent().WatchedDeployments().empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  CHECK(r.agent().WatchedDeployments().empty());
  CHECK(r.Events(d.id).back().event.status == contract::Stage::kFailed);
}

// ---- Desktop notices (daemon/notifier.h): one per deployment created here that ends.

namespace {

// The deployment's end as the notifier was told, once the watchers are joined (a watcher tells
// the notifier just after it stores the end, which WaitEnded sees).
std::vector<DeploymentEnd> EndsAfterWatchers(Rig& r) {
  r.agent().StopWatching();
  return r.notifier.ends();
}

}  // namespace

TEST_CASE("a deployment made here that completes gives one desktop notice, with its URL") {
  Rig r;
  r.platform.DropStreamsAfter(3, 0);  // and reconnects on the way: still one end
  auto d = r.Deploy();
  auto ended = r.WaitEnded(d.id);
  auto ends = EndsAfterWatchers(r);
  REQUIRE(ends.size() == 1);
  CHECK(ends[0].deployment_id == d.id);
  CHECK(ends[0].project_id == d.project_id);
  CHECK(ends[0].outcome == contract::Stage::kComplete);
  CHECK(ends[0].url == ended.url);
  CHECK(ended.url.rfind("https://", 0) == 0);
  DesktopNotice n = NoticeFor(ends[0]);
  CHECK(n.summary == "Deployment complete: " + d.project_id);
  CHECK(n.body == ended.url);
}

TEST_CASE("a deployment made here that fails gives one desktop notice, with the stage and log") {
  Rig r(FailingAtBuilding());
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  auto ends = EndsAfterWatchers(r);
  REQUIRE(ends.size() == 1);
  CHECK(ends[0].outcome == contract::Stage::kFailed);
  CHECK(ends[0].failed_stage == "building");
  CHECK(ends[0].last_log_line == d.id + ": failed");  // what the fake platform logs
  CHECK(ends[0].url.empty());
  DesktopNotice n = NoticeFor(ends[0]);
  CHECK(n.summary == "Deployment failed: " + d.project_id);
  CHECK(n.body == "Failed at building: " + d.id + ": failed");
}

TEST_CASE("a deployment looked up by id, not made here, gives no desktop notice") {
  Rig r;
  // Made by someone else (another machine, the platform's web page): only its id is known here.
  contract::DeployRequest req{{{"main.py", "print('hi')\n"}}, "", ""};
  auto made = r.platform.Deploy("dev-token", req, "someone-elses-key");
  REQUIRE(made.ok());
  auto found = r.agent().Find(made->deployment_id);
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  r.WaitEnded(made->deployment_id);
  CHECK(EndsAfterWatchers(r).empty());
}

TEST_CASE("with notices off (BACKEND_IM_NOTIFY=0) the notifier is never told") {
  Rig r({}, "dev-token", /*notify=*/false);
  auto d = r.Deploy();
  r.WaitEnded(d.id);
  CHECK(EndsAfterWatchers(r).empty());
}

TEST_CASE("an agent restarted mid-deployment sends the one notice, and the agent after it none") {
  FakePlatform::Options o;
  o.stage_time = std::chrono::hours(100);  // it would not end by itself during the test
  Rig r(o);
  r.platform.StallStreams(true);
  auto d = r.Deploy();
  r.core.reset();  // the agent stops before the end
  CHECK(r.notifier.ends().empty());
  r.platform.StallStreams(false);
  r.clock.Advance(std::chrono::hours(1000));  // the deployment ended while no agent ran

  auto next_agent = [&](test::FakeNotifier& notifier, StopSignal& stop) {
    CoreSettings settings;
    settings.environment_token = "dev-token";
    settings.notifier = &notifier;
    return std::make_unique<AgentCore>(*r.db, r.platform, r.clock, r.random, stop, settings);
  };
  test::FakeNotifier second_notifier;
  StopSignal second_stop;
  r.core = next_agent(second_notifier, second_stop);
  r.agent().ResumeWatching();
  r.WaitEnded(d.id);
  r.agent().StopWatching();
  REQUIRE(second_notifier.ends().size() == 1);
  CHECK(second_notifier.ends()[0].deployment_id == d.id);
  r.core.reset();

  // The end is stored: a third agent resuming, or asked about it, has nothing to tell.
  test::FakeNotifier third_notifier;
  StopSignal third_stop;
  r.core = next_agent(third_notifier, third_stop);
  r.agent().ResumeWatching();
  REQUIRE(r.agent().Find(d.id).ok());
  r.agent().StopWatching();
  CHECK(third_notifier.ends().empty());
  CHECK(r.notifier.ends().empty());
  r.core.reset();  // before the notifiers and stop signals it uses
}

TEST_CASE("a notice's text is plain: markup and control characters from the platform are shown") {
  DeploymentEnd end;
  end.deployment_id = "dep-1";
  end.project_id = "shop\x1b[2J";
  end.outcome = contract::Stage::kFailed;
  end.failed_stage = "building";
  end.last_log_line = "<b>error</b> & more";
  DesktopNotice n = NoticeFor(end);
  CHECK(n.summary == "Deployment failed: shop\\x1b[2J");
  CHECK(n.body == "Failed at building: &lt;b&gt;error&lt;/b&gt; &amp; more");
  end.outcome = contract::Stage::kComplete;
  CHECK(NoticeFor(end).body == "Complete, but without a URL: backend-im status dep-1");
}

// ---- snapshots and rollback ------------------------------------------------------------------

namespace {

contract::FileMap Version(const std::string& v) {
  return {{"main.py", "print('" + v + "')\n"}, {"requirements.txt", "fastapi\n"}};
}

DeploymentRecord DeployAndEnd(Rig& r, const contract::FileMap& files, const std::string& project) {
  auto d = r.agent().Deploy(files, project, r.dir.path());
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
  return r.WaitEnded(d->id);
}

}  // namespace

TEST_CASE("a rollback deploys the previous complete deployment's files as a new deployment") {
  Rig r;
  auto v1 = DeployAndEnd(r, Version("v1"), "");
  const std::string project = v1.project_id;
  auto v2 = DeployAndEnd(r, Version("v2"), project);
  REQUIRE(v2.status == contract::Stage::kComplete);
  CHECK(v1.commit_hash != v2.commit_hash);

  auto back = r.agent().Rollback(project, "");
  REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
  CHECK(back->id != v1.id);
  CHECK(back->id != v2.id);
  CHECK(back->restored_of == v1.id);
  // The platform made its commit hash from the files it was sent: v1's.
  CHECK(back->commit_hash == v1.commit_hash);
  CHECK(back->commit_hash == CommitHash(Version("v1")));
  auto ended = r.WaitEnded(back->id);
  CHECK(ended.status == contract::Stage::kComplete);
  CHECK(ended.restored_of == v1.id);
  auto files = r.agent().Files(back->id);
  REQUIRE(files.ok());
  CHECK(files->files == Version("v1"));

  // The rollback is now the current one, with v1's files: rolling back again goes to the newest
  // complete deployment with other files, v2.
  auto again = r.agent().Rollback(project, "");
  REQUIRE(again.ok());
  CHECK(again->restored_of == v2.id);
  CHECK(again->commit_hash == v2.commit_hash);
  r.WaitEnded(again->id);

  // --to names one exactly.
  auto to_v2 = r.agent().Rollback("", v2.id);
  REQUIRE(to_v2.ok());
  CHECK(to_v2->commit_hash == v2.commit_hash);
  CHECK(to_v2->project_id == project);
}

TEST_CASE("rollback says why when it cannot: no project, unknown deployment, files not kept") {
  FakePlatform::Options o;
  Rig r(o);
  auto nothing = r.agent().Rollback("proj-none", "");
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().code == ErrorCode::kNotFound);
  CHECK(nothing.error().message.find("no complete deployment") != std::string::npos);

  auto unnamed = r.agent().Rollback("", "");
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.error().code == ErrorCode::kInvalidArgument);

  auto unknown = r.agent().Rollback("", "dep-unknown");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
  CHECK(unknown.error().message.find("backend-im history") != std::string::npos);

  auto v1 = DeployAndEnd(r, Version("v1"), "");
  auto alone = r.agent().Rollback(v1.project_id, "");
  REQUIRE_FALSE(alone.ok());
  CHECK(alone.error().code == ErrorCode::kNotFound);
  CHECK(alone.error().message.find("nothing to roll back to") != std::string::npos);
  REQUIRE(r.core->snapshots().Has(v1.id).value());
  // Retention dropped it (as the count or the size cap would).
  {
    std::lock_guard lock(r.db->mutex());
    REQUIRE(
        r.db->Exec("DELETE FROM snapshot_files; DELETE FROM snapshots; DELETE FROM blobs").ok());
  }
  auto dropped = r.agent().Rollback("", v1.id);
  REQUIRE_FALSE(dropped.ok());
  CHECK(dropped.error().code == ErrorCode::kNotFound);
  CHECK(dropped.error().message.find("no longer kept") != std::string::npos);
  auto view = r.agent().History("", 10);
  REQUIRE(view.ok());
  CHECK_FALSE(view->front().restorable);
}

TEST_CASE("history says which deployments can be restored") {
  Rig r;
  auto v1 = DeployAndEnd(r, Version("v1"), "");
  auto list = r.agent().History("", 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().restorable);
}

TEST_CASE("a create sent again after a restart keeps its files too") {
  Rig r;
  contract::DeployRequest req{Version("v1"), "", ""};
  PendingDeploy p;
  p.idempotency_key = "key-1";
  p.commit_hash = CommitHash(req.files);
  p.api_url = r.agent().api_url();
  p.request = contract::ToJson(req);
  p.created_at_ms = r.clock.NowUnixMs();
  REQUIRE(r.store().AddPending(p).ok());
  r.agent().ResumePendingDeploys();
  auto list = r.agent().History("", 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().restorable);
  auto files = r.agent().Files(list->front().record.id);
  REQUIRE(files.ok());
  CHECK(files->files == Version("v1"));
}

// ---- Environments, variables and promote (a platform extension).

namespace {

DeploymentRecord DeployToAndEnd(Rig& r, const contract::FileMap& files, const std::string& project,
                                const std::string& environment) {
  auto d = r.agent().Deploy(files, project, r.dir.path(), environment);
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
  return r.WaitEnded(d->id);
}

}  // namespace

TEST_CASE("a deploy names its environment, and history lists one environment's deployments") {
  Rig r;
  auto prod = DeployAndEnd(r, Version("v1"), "");
  CHECK(prod.environment == "production");  // as the platform answered it
  auto staging = DeployToAndEnd(r, Version("v2"), prod.project_id, "staging");
  CHECK(staging.environment == "staging");
  auto only = r.agent().History(prod.project_id, 10, "staging");
  REQUIRE(only.ok());
  REQUIRE(only->size() == 1);
  CHECK(only->front().record.id == staging.id);
  auto bad = r.agent().Deploy(Version("v3"), prod.project_id, r.dir.path(), "Prod/../x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  auto unknown = r.agent().Deploy(Version("v3"), prod.project_id, r.dir.path(), "qa");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
}

TEST_CASE("variables: set, names only unless values are asked for, unset") {
  Rig r;
  const std::string secret = "s3cr3t-value-Zq81";
  REQUIRE(r.agent().SetVariable("shop", "staging", "API_KEY", secret).ok());
  CHECK(r.platform.VariableValue("shop", "staging", "API_KEY") == secret);
  CHECK_FALSE(r.platform.VariableValue("shop", "production", "API_KEY"));
  auto names = r.agent().Variables("shop", "staging", /*with_values=*/false);
  REQUIRE(names.ok());
  REQUIRE(names->variables.size() == 1);
  CHECK(names->variables[0].key == "API_KEY");
  CHECK_FALSE(names->variables[0].value);
  auto values = r.agent().Variables("shop", "staging", /*with_values=*/true);
  REQUIRE(values.ok());
  CHECK(values->variables.at(0).value == secret);
  auto envs = r.agent().Environments("shop");
  REQUIRE(envs.ok());
  REQUIRE(envs->environments.size() == 2);
  CHECK(envs->environments[1].name == "staging");
  CHECK(envs->environments[1].variables == 1);
  REQUIRE(r.agent().UnsetVariable("shop", "staging", "API_KEY").ok());
  auto again = r.agent().UnsetVariable("shop", "staging", "API_KEY");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kNotFound);
  // Checked before anything is sent.
  CHECK(r.agent().SetVariable("shop", "staging", "1BAD", "x").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(r.agent().SetVariable("", "staging", "KEY", "x").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(r.agent().SetVariable("shop", "", "KEY", "x").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a platform that quotes a value in its refusal: the agent's error does not") {
  Rig r;
  r.platform.EchoValuesInErrors(true);
  const std::string secret = "hunter2-Xy7";
  auto s = r.agent().SetVariable("shop", "staging", "PASSWORD", secret);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find(secret) == std::string::npos);
  CHECK(s.error().message.find("[value hidden]") != std::string::npos);
}

TEST_CASE("environments: added, removed, production protected") {
  Rig r;
  REQUIRE(r.agent().AddEnvironment("shop", "preview-1").ok());
  CHECK(r.agent().AddEnvironment("shop", "preview-1").error().code == ErrorCode::kConflict);
  CHECK(r.agent().Environments("shop")->environments.size() == 3);
  REQUIRE(r.agent().RemoveEnvironment("shop", "preview-1").ok());
  CHECK(r.agent().RemoveEnvironment("shop", "production").error().code == ErrorCode::kConflict);
  CHECK(r.agent().AddEnvironment("shop", "Bad Name").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a seed-only platform: every environment call says it is not offered, and deploy works") {
  FakePlatform::Options o;
  o.seed_only = true;
  Rig r(o);
  for (const auto& s :
       {r.agent().Environments("shop").ok() ? OkStatus() : r.agent().Environments("shop").error(),
        r.agent().SetVariable("shop", "staging", "KEY", "v"),
        r.agent().UnsetVariable("shop", "staging", "KEY"),
        r.agent().AddEnvironment("shop", "qa")}) {
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kRejected);
  }
  auto d = DeployAndEnd(r, Version("v1"), "");
  CHECK(d.status == contract::Stage::kComplete);
  CHECK(d.environment.empty());
  // Asked for an environment, the platform is asked first: it would deploy to its default.
  auto staged = r.agent().Deploy(Version("v2"), d.project_id, r.dir.path(), "staging");
  REQUIRE_FALSE(staged.ok());
  CHECK(staged.error().code == ErrorCode::kRejected);
  CHECK(r.platform.deploy_calls() == 1);
  auto promoted = r.agent().Promote(d.id, "production");
  REQUIRE_FALSE(promoted.ok());
  CHECK(promoted.error().code == ErrorCode::kRejected);
  CHECK(r.store().ListPending()->empty());  // a refusal is definitive: nothing to send again
}

TEST_CASE("promote starts a complete deployment's files in another environment, no upload") {
  Rig r;
  auto staging = DeployToAndEnd(r, Version("v1"), "shop", "staging");
  REQUIRE(staging.status == contract::Stage::kComplete);
  auto p = r.agent().Promote(staging.id, "production");
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message));
  CHECK(p->id != staging.id);
  CHECK(p->promoted_of == staging.id);
  CHECK(p->environment == "production");
  CHECK(p->commit_hash == staging.commit_hash);
  CHECK(r.platform.deploy_calls() == 1);  // the files went up once
  auto ended = r.WaitEnded(p->id);
  CHECK(ended.status == contract::Stage::kComplete);
  auto files = r.agent().Files(p->id);  // kept: it can be rolled back to and restored
  REQUIRE(files.ok());
  CHECK(files->files == Version("v1"));
  auto envs = r.agent().Environments("shop");
  REQUIRE(envs.ok());
  CHECK(envs->environments[0].name == "production");
  CHECK(envs->environments[0].deployment_id == p->id);
  // Only a complete deployment, to an environment that exists.
  CHECK(r.agent().Promote(staging.id, "qa").error().code == ErrorCode::kNotFound);
  CHECK(r.agent().Promote(staging.id, "NOT VALID").error().code == ErrorCode::kInvalidArgument);
  FakePlatform::Options failing = FailingAtBuilding();
  Rig f(failing);
  auto broken = DeployToAndEnd(f, Version("v1"), "shop", "staging");
  REQUIRE(broken.status == contract::Stage::kFailed);
  auto refused = f.agent().Promote(broken.id, "production");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kConflict);
  CHECK(f.platform.promote_calls() == 0);
}

TEST_CASE("a promote whose answer never came is sent again with its key: one deployment") {
  Rig r;
  auto staging = DeployToAndEnd(r, Version("v1"), "shop", "staging");
  // Unanswered (a 503, as an overloaded platform's): the promote stays pending with its key.
  r.platform.FailNext(1, 503);
  auto first = r.agent().Promote(staging.id, "production");
  REQUIRE_FALSE(first.ok());
  auto pending = r.store().ListPending();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().promoted_of == staging.id);
  CHECK(pending->front().environment == "production");
  // What a restarted agent does first (the end-to-end test kills one: agent_environments_test).
  r.agent().ResumePendingDeploys();
  CHECK(r.store().ListPending()->empty());
  auto list = r.agent().History("shop", 10, "production");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().record.promoted_of == staging.id);
  r.agent().ResumePendingDeploys();  // nothing left to send
  CHECK(r.platform.deployments() == 2);
}

TEST_CASE("rollback of one environment: its own deployments, back to the same environment") {
  Rig r;
  auto p1 = DeployToAndEnd(r, Version("v1"), "shop", "production");
  auto s1 = DeployToAndEnd(r, Version("s1"), "shop", "staging");
  auto p2 = DeployToAndEnd(r, Version("v2"), "shop", "production");
  auto unnamed = r.agent().Rollback("shop", "");
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.error().code == ErrorCode::kInvalidArgument);
  CHECK(unnamed.error().message.find("--env") != std::string::npos);
  auto back = r.agent().Rollback("shop", "", "production");
  REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
  CHECK(back->restored_of == p1.id);
  CHECK(back->environment == "production");
  (void)s1;
  (void)p2;
}
