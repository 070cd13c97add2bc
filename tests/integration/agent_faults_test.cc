// Faults injected between the agent and the platform, with real processes on loopback. Each
// test asserts that nothing was lost (every stage, in order, no gaps, no duplicates) and that
// the agent still answers afterwards.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <condition_variable>
#include <mutex>

#include "common/random.h"
#include "tests/integration/agent_fixture.h"
#include "tests/integration/hostile_platform.h"
#include "tests/integration/resource_bounds.h"
#include "tests/integration/stall_proxy.h"

using namespace bim::test;

namespace {

void CheckAllStages(const std::vector<nlohmann::json>& events) {
  CHECK(Statuses(events) == SuccessStages());
  for (size_t i = 0; i < events.size(); ++i) CHECK(events[i]["seq"] == static_cast<int64_t>(i + 1));
}

std::vector<nlohmann::json> DeployWatchEvents(AgentFixture& f, const std::string& dir) {
  auto r = f.Ctl({"deploy", "-d", dir, "--watch", "--json"}, "", "", std::chrono::seconds(120));
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  auto lines = JsonLines(r.out);
  return std::vector<nlohmann::json>(lines.begin() + 1, lines.end());
}

}  // namespace

// Every stage of these two runs in simulated time against the core (agent_scenarios_test.cc:
// a drop at each stage in turn, with seq and without; a 30 s outage). Here one of each runs
// through the real processes, sockets and mock.
TEST_CASE("a platform outage: the deployment is followed through it, nothing lost") {
  // The outage is timed from the mock's start; it begins after the deploy (by 1.3 s, or 2.5 s
  // for an agent under a sanitizer) and ends about when the deployment's 2.1 s (4.2 s) are over.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", kSanitized ? "600" : "300",
                  "--outage", kSanitized ? "2500:2500" : "1300:1000"});
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  auto w = f.Ctl({"watch", d["deploymentId"], "--json"}, "", "", std::chrono::seconds(120));
  REQUIRE_MESSAGE(w.exit_code == 0, (w.err + f.AgentLog()));
  CheckAllStages(JsonLines(w.out));
  CHECK(f.mock().Log().find(" 503 ") != std::string::npos);
  CHECK(f.AgentLog().find("polling") != std::string::npos);
  CHECK(f.Ctl({"status", d["deploymentId"]}).exit_code == 0);
}

TEST_CASE("SIGKILL during database writes: history and events stay intact, no gaps") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "40"});
  f.LoginWithToken();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i)
    ids.push_back(f.Deploy(f.MakeProject("p" + std::to_string(i)))["deploymentId"]);
  for (int round = 0; round < 6; ++round) {
    // Killed while the newest deployment's stages are being stored, one stage later each round.
    const std::string newest = ids.back();
    REQUIRE(
        WaitUntil([&] { return f.StoredEvents(newest) >= 2 + round; }, std::chrono::seconds(10)));
    int pid = f.AgentPid();
    REQUIRE(pid > 0);
    ::kill(pid, SIGKILL);
    REQUIRE(WaitUntil([&] { return AgentGone(f, pid); }, std::chrono::seconds(10)));
    auto restarted = f.Ctl({"history", "--json"});  // restarts the agent
    REQUIRE_MESSAGE(restarted.exit_code == 0, (restarted.err + f.AgentLog()));
    ids.push_back(f.Deploy(f.MakeProject("q" + std::to_string(round)))["deploymentId"]);
  }
  for (const auto& id : ids) {
    auto w = f.Ctl({"watch", id, "--json"});
    REQUIRE_MESSAGE(w.exit_code == 0, w.err);
    CheckAllStages(JsonLines(w.out));
  }
  f.StopAgent();
  std::string db = f.StateDir() + "/agent.db";
  CHECK(Run({"sqlite3", db, "PRAGMA integrity_check;"}).out == "ok\n");
  auto gaps = Run({"sqlite3", db,
                   "SELECT COUNT(*) FROM (SELECT deployment_id FROM events GROUP BY deployment_id "
                   "HAVING COUNT(*) != MAX(seq) OR MIN(seq) != 1);"});
  CHECK(gaps.out == "0\n");
  auto dup = Run({"sqlite3", db,
                  "SELECT COUNT(*) FROM (SELECT deployment_id, status FROM events GROUP BY "
                  "deployment_id, status HAVING COUNT(*) > 1);"});
  CHECK(dup.out == "0\n");
  CHECK(Run({"sqlite3", db, "SELECT COUNT(*) FROM deployments;"}).out ==
        std::to_string(ids.size()) + "\n");
}

namespace {

// A platform whose deploy and status behave, and whose stream sends what the test scripts.
struct ScriptedPlatform {
  HostilePlatform platform;
  std::string id = "dep-hostile-1";
  std::function<void(const std::shared_ptr<bim::ws::WsSession>&)> on_open;

  explicit ScriptedPlatform(std::string status_body) {
    platform.Set("POST /api/deploy", [this](const bim::ws::HttpRequest&) {
      return bim::ws::HttpResponse{
          200,
          "application/json",
          {},
          R"({"deploymentId":")" + id +
              R"(","projectId":"p","commitHash":"abc","status":"queued"})"};
    });
    platform.Set("GET /api/status/" + id, [status_body](const bim::ws::HttpRequest&) {
      return bim::ws::HttpResponse{200, "application/json", {}, status_body};
    });
    bim::ws::WsHandlers h;
    h.on_open = [this](const std::shared_ptr<bim::ws::WsSession>& s) {
      if (on_open) on_open(s);
    };
    platform.SetWs(std::move(h));
  }

  std::string Stage(const std::string& status, int seq, const std::string& url = "") const {
    std::string j = R"({"deploymentId":")" + id +
                    R"(","projectId":"p","commitHash":"abc","status":")" + status +
                    R"(","logs":[")" + status + R"( log"],"seq":)" + std::to_string(seq);
    if (!url.empty()) j += R"(,"url":")" + url + "\"";
    return j + "}";
  }
};

const char* kCompleteStatus =
    R"({"id":"dep-hostile-1","projectId":"p","commitHash":"abc","status":"complete",
        "url":"https://abc.backend.im","logs":["done"]})";

}  // namespace

TEST_CASE("hostile platform: frames outside the contract are skipped, valid events all arrive") {
  ScriptedPlatform sp(kCompleteStatus);
  sp.on_open = [&sp](const std::shared_ptr<bim::ws::WsSession>& s) {
    int seq = 1;
    for (const auto& stage : SuccessStages()) {
      if (stage == "building") {
        s->Send(R"({"deploymentId":")" + sp.id + R"(","status":"exploded","seq":99})");
        s->Send("this is not JSON");
        s->Send(R"({"deploymentId":"someone-else","status":"complete","seq":100})");
        s->Send(R"({"deploymentId":")" + sp.id + R"(","status":"deploying","seq":"7"})");
        s->Send("[1,2,3]");
      }
      s->Send(sp.Stage(stage, seq++, stage == "complete" ? "https://abc.backend.im" : ""));
    }
    s->Close(1000, "done");
  };
  sp.platform.Start();
  AgentFixture f({}, false);
  f.env()["BACKEND_IM_API_URL"] = sp.platform.url();
  f.LoginWithToken("t");
  auto events = DeployWatchEvents(f, f.MakeProject("p"));
  CheckAllStages(events);
  // The first is logged with what was wrong, the five (a message for another deployment among
  // them) counted in one line.
  CHECK(f.AgentLog().find("skipped a frame outside the contract") != std::string::npos);
  CHECK(f.AgentLog().find("skipped 5 frames outside the contract on this stream") !=
        std::string::npos);
  CHECK(f.Ctl({"history"}).exit_code == 0);
}

TEST_CASE(
    "hostile platform: a 50 MB frame and a flood of 10 000 frames leave the agent up and small") {
  ScriptedPlatform sp(kCompleteStatus);
  std::atomic<int> connections{0};
  sp.on_open = [&](const std::shared_ptr<bim::ws::WsSession>& s) {
    if (connections++ == 0) {
      s->Send(sp.Stage("queued", 1));
      for (int i = 0; i < 10000; ++i) s->Send(sp.Stage("queued", 1));  // duplicates, 10k of them
      s->Send(std::string(50 * 1024 * 1024, 'x'));                     // over any sane limit
    } else {
      for (int i = 0; i < 10000; ++i) s->Send("{\"not\":\"contract\"}");
      s->Drop();
    }
  };
  sp.platform.Start();
  AgentFixture f({}, false);
  f.env()["BACKEND_IM_API_URL"] = sp.platform.url();
  f.LoginWithToken("t");
  auto r = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch", "--json"}, "", "",
                 std::chrono::seconds(90));
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog().substr(0, 4000)));
  auto lines = JsonLines(r.out);
  std::vector<nlohmann::json> events(lines.begin() + 1, lines.end());
  REQUIRE(events.size() == 2);  // queued from the stream; complete from the status poll
  CHECK(events[0]["status"] == "queued");
  CHECK(events[1]["status"] == "complete");
  CHECK(events[1]["source"] == "poll");
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  CHECK(Alive(pid));
  CHECK_RESOURCE_BOUND(PeakRssKib(pid), 200 * 1024);  // the 50 MB frame was never held whole
  CHECK(f.Ctl({"history"}).exit_code == 0);
}

TEST_CASE("hostile platform: invalid UTF-8 and broken JSON in answers are clear errors, no crash") {
  HostilePlatform hp;
  hp.Set("POST /api/generate", [](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{
        200, "application/json", {}, std::string("{\"files\":{\"main.py\":\"\xff\xfe bad\"}}")};
  });
  hp.Set("GET /api/status/dep-x", [](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{200, "application/json", {}, "{\"id\": \"dep-x\", \"status\": "};
  });
  AgentAgainst f(hp);
  auto g = f.Ctl({"generate", "x", "-o", f.home() / "out"});
  CHECK(g.exit_code == 5);
  CHECK(g.err.find("outside the API contract") != std::string::npos);
  auto s = f.Ctl({"status", "dep-x"});
  CHECK(s.exit_code == 5);
  CHECK(s.err.find("outside the API contract") != std::string::npos);
  CHECK(f.Ctl({"history"}).exit_code == 0);
}

TEST_CASE(
    "a platform slower than the command waits is reported as a platform timeout (exit 5), not as "
    "the agent") {
  // The answer would take 4 s; once the test is done it is let go, so that the platform's one
  // thread (which the route holds) stops at once rather than after the 4 s.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool done = false;
  HostilePlatform hp;
  hp.Set("GET /api/status/dep-slow", [&](const bim::ws::HttpRequest&) {
    std::unique_lock lock(gate_mu);
    gate_cv.wait_for(lock, std::chrono::seconds(4), [&] { return done; });
    return bim::ws::HttpResponse{
        404, "application/json", {}, R"({"error":"not_found","message":"no"})"};
  });
  bool verified = false;  // the same for the token "slow-token"
  hp.Set("GET /api/auth/verify", [&](const bim::ws::HttpRequest& req) {
    if (req.Header("authorization") == "Bearer slow-token") {
      std::unique_lock lock(gate_mu);
      gate_cv.wait_for(lock, std::chrono::seconds(4), [&] { return verified; });
    }
    return bim::ws::HttpResponse{
        200, "application/json", {}, R"({"valid":true,"userId":"u","email":"u@example.com"})"};
  });
  AgentAgainst f(hp);
  f.env()["BACKEND_IM_CALL_TIMEOUT_MS"] = "1200";
  auto started = std::chrono::steady_clock::now();
  auto s = f.Ctl({"status", "dep-slow"});
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  CHECK_MESSAGE(s.exit_code == 5, s.err);
  CHECK_MESSAGE(s.err.find("the platform did not answer GET ") != std::string::npos, s.err);
  CHECK(s.err.find("/api/status/dep-slow within ") != std::string::npos);
  CHECK(s.err.find("the agent did not answer") == std::string::npos);
  CHECK(f.Ctl({"history"}).exit_code == 0);  // the agent itself was never in trouble
  {
    std::lock_guard lock(gate_mu);
    done = true;
  }
  gate_cv.notify_all();

  // Logging in with a token asks the platform too, by the same rule.
  auto login = f.Ctl({"auth", "login", "--with-token"}, "slow-token\n");
  CHECK_MESSAGE(login.exit_code == 5, login.err);
  CHECK_MESSAGE(login.err.find("/api/auth/verify within ") != std::string::npos, login.err);
  {
    std::lock_guard lock(gate_mu);
    verified = true;
  }
  gate_cv.notify_all();
}

TEST_CASE(
    "the stream URL the platform suggests is ignored: tokens go only to the configured platform") {
  HostilePlatform elsewhere;
  std::atomic<int> hits{0};
  elsewhere.Set("GET /ws", [&hits](const bim::ws::HttpRequest&) {
    ++hits;
    return bim::ws::HttpResponse{404, "application/json", {}, "{}"};
  });
  bim::ws::WsHandlers count;
  count.validate = [&hits](const bim::ws::HttpRequest&) -> std::optional<bim::ws::HttpResponse> {
    ++hits;
    return bim::ws::HttpResponse{403, "application/json", {}, "{}"};
  };
  elsewhere.SetWs(std::move(count));
  elsewhere.Start();
  ScriptedPlatform sp(kCompleteStatus);
  sp.platform.Set("POST /api/deploy", [&](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{
        200,
        "application/json",
        {},
        R"({"deploymentId":"dep-hostile-1","projectId":"p","commitHash":"abc",)"
        R"("status":"queued","websocketUrl":")" +
            std::string("ws") + elsewhere.url().substr(4) + R"(/ws?deploymentId=dep-hostile-1"})"};
  });
  sp.on_open = [&sp](const std::shared_ptr<bim::ws::WsSession>& s) {
    int seq = 1;
    for (const auto& stage : SuccessStages()) {
      s->Send(sp.Stage(stage, seq++, stage == "complete" ? "https://abc.backend.im" : ""));
    }
  };
  sp.platform.Start();
  AgentFixture f({}, false);
  f.env()["BACKEND_IM_API_URL"] = sp.platform.url();
  f.LoginWithToken("t");
  CheckAllStages(DeployWatchEvents(f, f.MakeProject("p")));
  CHECK(hits == 0);
}

TEST_CASE(
    "plain http is refused for non-loopback hosts before anything connects, and redirects are not "
    "followed") {
  AgentFixture f({}, false);
  // The agent still starts (local commands work), and refuses every platform call at once.
  for (const char* url : {"http://api.backend.im", "http://10.0.0.1:8080", "ftp://x", "http://"}) {
    f.env()["BACKEND_IM_API_URL"] = url;
    auto r =
        f.Ctl({"auth", "login", "--with-token"}, "secret-token\n", "", std::chrono::seconds(10));
    CHECK_MESSAGE(r.exit_code == 2, url);
    bool explained =
        r.err.find("https") != std::string::npos || r.err.find("has no host") != std::string::npos;
    CHECK_MESSAGE(explained, r.err);
    CHECK(f.Ctl({"history"}).exit_code == 0);
    f.StopAgent();
  }
  HostilePlatform redirect;
  redirect.Set("GET /api/auth/verify", [](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{302, "text/plain", {{"Location", "http://127.0.0.2:9/steal"}}, ""};
  });
  redirect.Start();
  f.env()["BACKEND_IM_API_URL"] = redirect.url();
  auto r = f.Ctl({"auth", "login", "--with-token"}, "secret-token\n");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("302") != std::string::npos);
}

TEST_CASE("100 watchers come and go at random during a deployment: the rest see everything") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "150"});
  f.LoginWithToken();
  std::string id = f.Deploy(f.MakeProject("p"))["deploymentId"];
  bim::StdRandom random(20261125);
  std::vector<std::unique_ptr<Process>> watchers;
  std::vector<bool> stopped;
  for (int i = 0; i < 100; ++i) {
    watchers.push_back(std::make_unique<Process>(f.StartCtl({"watch", id, "--json"})));
    stopped.push_back(false);
    if (i % 4 == 3) {  // now and then, one of those already started goes away
      size_t victim = random.Next64() % watchers.size();
      if (!stopped[victim]) {
        watchers[victim]->Signal(random.Uniform() < 0.5 ? SIGKILL : SIGINT);
        stopped[victim] = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int complete = 0;
  for (size_t i = 0; i < watchers.size(); ++i) {
    auto code = watchers[i]->Wait(std::chrono::seconds(60));
    REQUIRE(code.has_value());
    if (stopped[i]) continue;
    CHECK(*code == 0);
    CheckAllStages(JsonLines(watchers[i]->Stdout()));
    ++complete;
  }
  CHECK(complete >= 70);
  auto info = nlohmann::json::parse(f.Ctl({"daemon", "status", "--json"}).out);
  CHECK(info["watchers"] == 0);  // every stream that went away was cleaned up
  CHECK(CountOf(f.mock().Log(), "/ws?deploymentId=" + id) == 1);
  auto late = f.Ctl({"watch", id, "--json"});
  CHECK(late.exit_code == 0);
  CheckAllStages(JsonLines(late.out));
}

namespace {

// A small tmpfs at path, detached (lazily, so a process still inside cannot block it) on exit.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    ::mkdir(path.c_str(), 0700);
    mounted_ =
        ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  ~SmallDisk() {
    if (!mounted_) return;
    // The agent's lock file, which names its pid, is on this disk: stop the agent now, or the
    // fixture (destroyed after the disk) finds no lock and leaves the agent running.
    std::string lock = ReadFile(path_ + "/backend-im/agent.lock");
    if (!lock.empty()) Terminate(std::atoi(lock.c_str()));
    ::umount2(path_.c_str(), MNT_DETACH);
  }
  // Whether the disk is there; when it is not, says that the test is skipped.
  bool MountedOrSaySkipped() const {
    if (!mounted_) MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return mounted_;
  }
  // Fills the disk with one file; returns its path. A tmpfs has nothing to sync: it is full
  // once dd returns (a sync would flush every other file system, slow on a busy machine).
  std::string Fill() {
    std::string filler = path_ + "/filler";
    Run({"/bin/sh", "-c", "dd if=/dev/zero of='" + filler + "' bs=64k 2>/dev/null"});
    return filler;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE(
    "a full disk: the error is reported, reads keep working, and writes recover when space "
    "returns") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "60"});
  SmallDisk disk(f.home() / "state", "8m");
  if (!disk.MountedOrSaySkipped()) return;
  f.LoginWithToken();
  std::string first = f.Deploy(f.MakeProject("p"))["deploymentId"];
  REQUIRE(f.Ctl({"watch", first}).exit_code == 0);

  std::string filler = disk.Fill();
  auto full = f.Ctl({"deploy", "-d", f.MakeProject("q"), "--json"});
  CHECK(full.exit_code != 0);
  bool explained = full.err.find("full") != std::string::npos ||
                   full.err.find("cannot record") != std::string::npos;
  CHECK_MESSAGE(explained, full.err);
  // Reads are still served while nothing can be written.
  auto hist = f.Ctl({"history", "--json"});
  CHECK(hist.exit_code == 0);
  CHECK(hist.out.find(first) != std::string::npos);
  CHECK(f.Ctl({"status", first}).exit_code == 0);
  CHECK(f.Ctl({"daemon", "status"}).exit_code == 0);

  ::unlink(filler.c_str());
  auto again = f.Ctl({"deploy", "-d", f.MakeProject("r"), "--watch", "--json"});
  REQUIRE_MESSAGE(again.exit_code == 0, (again.err + f.AgentLog().substr(0, 3000)));
  auto lines = JsonLines(again.out);
  CheckAllStages(std::vector<nlohmann::json>(lines.begin() + 1, lines.end()));
  f.StopAgent();
  CHECK(Run({"sqlite3", f.StateDir() + "/agent.db", "PRAGMA integrity_check;"}).out == "ok\n");
}

TEST_CASE(
    "a disk that fills during deploy --watch: the watch says so within seconds, status too, and "
    "the watch completes once space returns") {
  // The disk fills in some 20 ms after "committing"; six stages of 300 ms remain to hit it.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "300"});
  SmallDisk disk(f.home() / "state", "8m");
  if (!disk.MountedOrSaySkipped()) return;
  f.LoginWithToken();
  Process w = f.StartCtl({"deploy", "-d", f.MakeProject("p"), "--watch", "--json"});
  REQUIRE_MESSAGE(w.WaitForOutput("\"committing\"", std::chrono::seconds(15)),
                  (w.Stdout() + w.Stderr()));
  std::string filler = disk.Fill();
  bool told = w.WaitForOutput("database or disk is full", std::chrono::seconds(5), true);
  CHECK_MESSAGE(told, (w.Stderr() + f.AgentLog().substr(0, 3000)));
  CHECK(w.Stderr().find("cannot store the ") != std::string::npos);
  std::string id = JsonLines(w.Stdout()).at(0)["deploymentId"];
  auto status = f.Ctl({"status", id});
  CHECK_MESSAGE(status.out.find("database or disk is full") != std::string::npos, status.out);

  ::unlink(filler.c_str());
  auto code = w.Wait(std::chrono::seconds(60));
  REQUIRE_MESSAGE(code.has_value(), w.Stderr());
  CHECK_MESSAGE(*code == 0, (w.Stderr() + f.AgentLog().substr(0, 3000)));
  auto lines = JsonLines(w.Stdout());
  REQUIRE(lines.size() >= 2);
  // Every stage once, in order, gap-free: the stage the store refused was read again from the
  // stream, and no later one was taken in before it.
  std::vector<nlohmann::json> events(lines.begin() + 1, lines.end());
  CHECK(Statuses(events) == SuccessStages());
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i]["seq"] == static_cast<int64_t>(i + 1));
  }
}

TEST_CASE(
    "a stalled connection that sends nothing is detected by ping/pong, and the deployment followed "
    "to the end") {
  // Stages faster than the stall is found: the status poll after it has skipped stages, and the
  // watcher must read the stream's replay before storing that poll (a watcher that stored the
  // poll first lost a stage at 300 ms).
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "200"});
  StallProxy proxy(f.mock().port());
  f.env()["BACKEND_IM_API_URL"] = proxy.url();
  f.env()["BACKEND_IM_WS_KEEPALIVE_MS"] = "300";
  f.LoginWithToken();
  std::string id = f.Deploy(f.MakeProject("p"))["deploymentId"];
  Process w = f.StartCtl({"watch", id, "--json"});
  REQUIRE(w.WaitForOutput("\"committing\"", std::chrono::seconds(10)));
  proxy.Stall();  // the upstream stream now delivers nothing, and answers no ping
  auto code = w.Wait(std::chrono::seconds(30));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CheckAllStages(JsonLines(w.Stdout()));
  CHECK(f.AgentLog().find("reconnecting") != std::string::npos);
  CHECK(CountOf(f.mock().Log(), "/ws?deploymentId=" + id) >= 2);
}

TEST_CASE("SIGKILL during a token refresh: history intact, and the login state is explained") {
  // Answers of the token endpoint take 250 ms (500 ms under a sanitizer), so the refresh is in
  // flight long enough to kill the agent: the kill follows the log line within a few 10 ms
  // polls. The token lives an hour on the agent's clock, so no refresh happens before the one
  // killed; the mock's test clock moves past that hour, and the platform then refuses it.
  AgentFixture f({"--auto-approve-after", "1", "--device-interval", "1", "--token-ttl", "3600",
                  "--stage-delay-ms", "20", "--delay-ms", kSanitized ? "500" : "250",
                  "--delay-path", "/oauth/token", "--test-clock"});
  REQUIRE(f.Ctl({"auth", "login"}).exit_code == 0);
  std::string id = f.Deploy(f.MakeProject("p"))["deploymentId"];
  REQUIRE(f.Ctl({"watch", id}).exit_code == 0);
  REQUIRE(f.AgentLog().find("refreshing the access token") == std::string::npos);
  REQUIRE(AdvanceMockClock(f.mock(), std::chrono::seconds(3601)));
  Process status = f.StartCtl({"auth", "status"});
  REQUIRE(WaitUntil(
      [&] { return f.AgentLog().find("refreshing the access token") != std::string::npos; },
      std::chrono::seconds(2)));
  int pid = f.AgentPid();
  REQUIRE(::kill(pid, SIGKILL) == 0);
  status.Wait(std::chrono::seconds(10));

  auto hist = f.Ctl({"history", "--json"});  // a new agent
  REQUIRE(hist.exit_code == 0);
  CHECK(hist.out.find(id) != std::string::npos);
  auto after = f.Ctl({"auth", "status"});
  // The refresh token was rotated by the platform but its answer never stored: the agent says
  // what to do rather than failing obscurely. (0 if the platform had not rotated yet.)
  bool clear =
      after.exit_code == 0 ||
      (after.exit_code == 3 && after.err.find("backend-im auth login") != std::string::npos);
  CHECK_MESSAGE(clear, after.err);
  REQUIRE(f.Ctl({"auth", "login"}).exit_code == 0);
  CHECK(f.Ctl({"auth", "status"}).exit_code == 0);
  f.StopAgent();
  CHECK(Run({"sqlite3", f.StateDir() + "/agent.db", "PRAGMA integrity_check;"}).out == "ok\n");
}
