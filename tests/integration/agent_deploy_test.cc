// generate -> deploy -> watch through the real ctl, agent and mock, including failures.
#include <signal.h>

#include "common/commit_hash.h"
#include "tests/integration/agent_fixture.h"

using namespace bim::test;

namespace {

bim::contract::FileMap FilesOf(const std::string& dir, const std::vector<std::string>& paths) {
  bim::contract::FileMap m;
  for (const auto& p : paths) m[p] = ReadFile(dir + "/" + p);
  return m;
}

void CheckCompleteEvents(const std::vector<nlohmann::json>& events, const std::string& id) {
  CHECK(Statuses(events) == SuccessStages());
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i]["seq"] == static_cast<int64_t>(i + 1));
    CHECK(events[i]["deploymentId"] == id);
  }
}

// The mock made one deployment, and it is id.
void CheckMockMadeOnly(AgentFixture& f, const std::string& id) {
  auto all = HttpRequest("GET", f.mock().http_url() + "/mock/deployments", "",
                         {"Authorization: Bearer dev-token"});
  REQUIRE(all.status == 200);
  auto list = nlohmann::json::parse(all.body);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == id);
}

// An agent logged in with the mock's token that has deployed a new project "p" without waiting
// for it, on a mock whose stages come stage_delay_ms apart.
struct Deployed {
  explicit Deployed(const char* stage_delay_ms)
      : f({"--token", "dev-token", "--stage-delay-ms", stage_delay_ms}) {
    f.LoginWithToken();
    d = f.Deploy(f.MakeProject("p"));
    id = d["deploymentId"];
  }
  AgentFixture f;
  nlohmann::json d;
  std::string id;
};

}  // namespace

TEST_CASE("generate writes a project that deploy --watch takes to its URL") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});  // nothing here is timed
  f.LoginWithToken();
  std::string dir = f.home() / "users-api";
  auto gen = f.Ctl({"generate", "REST API for users", "-o", dir, "--json"});
  REQUIRE_MESSAGE(gen.exit_code == 0, (gen.out + gen.err));
  auto g = nlohmann::json::parse(gen.out);
  CHECK_FALSE(ReadFile(dir + "/main.py").empty());
  CHECK(ReadFile(dir + "/.backend-im/project.json").find(g["projectId"].get<std::string>()) !=
        std::string::npos);

  auto dep = f.Ctl({"deploy", "--watch"}, "", dir);
  REQUIRE_MESSAGE(dep.exit_code == 0, (dep.out + dep.err + f.AgentLog()));
  // Every stage, in order, then the URL named after the commit hash of what was uploaded.
  size_t last = 0;
  for (const auto& stage : SuccessStages()) {
    size_t at = dep.out.find(stage, last);
    CHECK_MESSAGE(at != std::string::npos, stage);
    if (at != std::string::npos) last = at;
  }
  auto dry = f.Ctl({"deploy", "--dry-run", "--json"}, "", dir);
  REQUIRE(dry.exit_code == 0);
  auto listed = nlohmann::json::parse(dry.out);
  std::vector<std::string> paths;
  for (const auto& file : listed["files"]) paths.push_back(file["path"]);
  std::vector<std::string> generated;
  for (const auto& file : g["files"]) generated.push_back(file["path"]);
  CHECK(paths == generated);  // deploy uploads exactly what generate wrote
  std::string hash = bim::CommitHash(FilesOf(dir, paths));
  CHECK(dep.out.find("https://" + hash + ".backend.im") != std::string::npos);

  // The same project id was used, and history shows the deployment.
  auto hist = f.Ctl({"history", "--json"});
  REQUIRE(hist.exit_code == 0);
  auto h = nlohmann::json::parse(hist.out);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["projectId"] == g["projectId"]);
  CHECK(h[0]["status"] == "complete");
  CHECK(h[0]["commitHash"] == hash);
}

TEST_CASE("deploy without --watch returns at once with the id, and status and watch follow it") {
  Deployed deployed("100");
  auto& [f, d, id] = deployed;
  CHECK(d["terminal"] == false);
  auto w = f.Ctl({"watch", id, "--json"});
  REQUIRE_MESSAGE(w.exit_code == 0, (w.out + w.err));
  CheckCompleteEvents(JsonLines(w.out), id);
  auto s = f.Ctl({"status", id, "--json"});
  REQUIRE(s.exit_code == 0);
  auto sj = nlohmann::json::parse(s.out);
  CHECK(sj["status"] == "complete");
  CHECK(sj["url"].get<std::string>().find(".backend.im") != std::string::npos);
  CHECK(sj["logs"].size() >= SuccessStages().size());
}

TEST_CASE("a deployment the platform fails exits 1 and shows why") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});  // nothing here is timed
  f.LoginWithToken();
  std::string dir = f.MakeProject("nomain", /*with_main=*/false);
  auto r = f.Ctl({"deploy", "-d", dir, "--watch"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("failed") != std::string::npos);
  CHECK(r.out.find("main.py") != std::string::npos);
  auto hist = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
  CHECK(hist[0]["status"] == "failed");
}

TEST_CASE("five concurrent watchers each see every stage in order, over one upstream socket") {
  // The five start within some 100 ms; the deployment takes 1 s.
  Deployed deployed("150");
  auto& [f, d, id] = deployed;
  std::vector<Process> watchers;
  for (int i = 0; i < 5; ++i) watchers.push_back(f.StartCtl({"watch", id, "--json"}));
  for (auto& w : watchers) {
    auto code = w.Wait(std::chrono::seconds(30));
    REQUIRE(code.has_value());
    CHECK_MESSAGE(*code == 0, w.Stderr());
    CheckCompleteEvents(JsonLines(w.Stdout()), id);
  }
  CHECK(CountOf(f.mock().Log(), "/ws?deploymentId=" + id) == 1);
}

TEST_CASE("a late watcher replays a finished deployment from the agent's history") {
  Deployed deployed("30");  // nothing here is timed
  auto& [f, d, id] = deployed;
  REQUIRE(f.Ctl({"watch", id}).exit_code == 0);
  auto late = f.Ctl({"watch", id, "--json"});
  REQUIRE(late.exit_code == 0);
  CheckCompleteEvents(JsonLines(late.out), id);
}

TEST_CASE("a dropped platform stream loses nothing and duplicates nothing") {
  // CTest runs it against the seed-only mock too (without seq): see tests/agent_tests.cmake.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "80", "--ws-drop-after", "3"});
  f.LoginWithToken();
  auto r = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  auto lines = JsonLines(r.out);
  REQUIRE(lines.size() == 1 + SuccessStages().size());
  std::vector<nlohmann::json> events(lines.begin() + 1, lines.end());
  CheckCompleteEvents(events, lines[0]["deploymentId"]);
  CHECK(f.AgentLog().find("reconnecting") != std::string::npos);
}

TEST_CASE("429s before the deploy is accepted: retried, and exactly one deployment") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20", "--fault-status", "429",
                  "--fault-first", "1", "--fault-path", "/api/deploy", "--retry-after", "1"});
  // The first deploy request is answered 429.
  f.LoginWithToken();
  auto r = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  auto hist = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
  CHECK(hist.size() == 1);
  CHECK(f.AgentLog().find("retry") != std::string::npos);
  CHECK(f.mock().Log().find("POST /api/deploy 429") != std::string::npos);
}

TEST_CASE("a lost deploy response is retried with the same Idempotency-Key: one deployment") {
  AgentFixture f(
      {"--token", "dev-token", "--stage-delay-ms", "50", "--drop-deploy-response-first", "1"});
  f.LoginWithToken();
  auto r = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  std::string id = JsonLines(r.out)[0]["deploymentId"];
  CheckMockMadeOnly(f, id);
}

TEST_CASE("an agent killed mid-deployment resumes it, and watch sees it complete") {
  // Killed once it stored two stages of seven after queued; the rest come to the next agent live.
  Deployed deployed("200");
  auto& [f, d, id] = deployed;
  REQUIRE(WaitUntil([&] { return f.StoredEvents(id) >= 3; }, std::chrono::seconds(10)));
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(WaitUntil([&] { return AgentGone(f, pid); }, std::chrono::seconds(10)));
  REQUIRE(f.StoredEvents(id) < 8);  // it did die mid-deployment
  auto w = f.Ctl({"watch", id, "--json"});
  REQUIRE_MESSAGE(w.exit_code == 0, (w.out + w.err + f.AgentLog()));
  CheckCompleteEvents(JsonLines(w.out), id);
  CHECK(f.AgentPid() != pid);
}

TEST_CASE("Ctrl-C while watching detaches, and the deployment goes on") {
  Deployed deployed("150");
  auto& [f, d, id] = deployed;
  Process w = f.StartCtl({"watch", id});
  REQUIRE(w.WaitForOutput("committing", std::chrono::seconds(10)));
  w.Signal(SIGINT);
  auto code = w.Wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  CHECK(w.Stderr().find("backend-im watch " + id) != std::string::npos);
  auto again = f.Ctl({"watch", id});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("Deployed: https://") != std::string::npos);
}

TEST_CASE("against a platform with only the seed's contract, deploy --watch still completes") {
  AgentFixture f(
      {"--token", "dev-token", "--stage-delay-ms", "100", "--seed-only", "--ws-drop-after", "4"});
  f.LoginWithToken();
  auto r = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  auto lines = JsonLines(r.out);
  std::vector<nlohmann::json> events(lines.begin() + 1, lines.end());
  CheckCompleteEvents(events, lines[0]["deploymentId"]);
}

TEST_CASE("unknown and malformed deployment ids get clear errors") {
  AgentFixture f;
  f.LoginWithToken();
  auto unknown = f.Ctl({"status", "00000000-0000-4000-8000-000000000000"});
  CHECK(unknown.exit_code == 7);
  CHECK(unknown.err.find("no deployment") != std::string::npos);
  auto bad = f.Ctl({"watch", "../../etc/passwd"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("not a deployment id") != std::string::npos);
  // An id of any length is shown cut, never whole.
  const std::string huge(10000, 'a');
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status", huge}, {"watch", huge}, {"diff", huge}, {"restore", huge, "-o", "r"}}) {
    CAPTURE(args[0]);
    auto r = f.Ctl(args, "", f.home().path());
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.size() < 400, r.err.size());
    CHECK(r.err.find("not a deployment id") != std::string::npos);
  }
}

namespace {

// Starts `deploy -d project` and kills the agent with SIGKILL once the create went out but before
// its answer came (the mock must answer late, --delay-ms): the platform made the deployment and
// the agent recorded only the pending create. Returns the dead ctl's exit code.
int KillAgentDuringDeployRequest(AgentFixture& f, const std::string& project) {
  Process deploy = f.StartCtl({"deploy", "-d", project, "--json"});
  // The agent records the create before it sends it; then the request is on its way.
  std::string db = f.StateDir() + "/agent.db";
  REQUIRE(WaitUntil(
      [&] {
        auto q = Run({"sqlite3", db, "SELECT count(*) FROM pending_deploys"});
        return q.exit_code == 0 && q.out == "1\n";
      },
      std::chrono::seconds(5), std::chrono::milliseconds(50)));
  // The mock made the deployment when the request came, and answers only 0.8 s after that.
  REQUIRE(WaitUntil(
      [&] {
        auto all = HttpRequest("GET", f.mock().http_url() + "/mock/deployments", "",
                               {"Authorization: Bearer dev-token"});
        return all.status == 200 && nlohmann::json::parse(all.body).size() == 1;
      },
      std::chrono::seconds(5)));
  REQUIRE(::kill(f.AgentPid(), SIGKILL) == 0);
  auto died = deploy.Wait(std::chrono::seconds(10));
  REQUIRE(died.has_value());
  return *died;
}

}  // namespace

TEST_CASE(
    "an agent killed during the deploy request: running deploy again gives the one deployment") {
  // The mock makes the deployment when the request arrives and answers it 0.8 s later.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "100", "--delay-ms", "800",
                  "--delay-path", "/api/deploy"});
  f.LoginWithToken();
  std::string project = f.MakeProject("p");
  CHECK(KillAgentDuringDeployRequest(f, project) == 4);
  std::string db = f.StateDir() + "/agent.db";

  auto again = f.Ctl({"deploy", "-d", project, "--json"}, "", "", std::chrono::seconds(60));
  REQUIRE_MESSAGE(again.exit_code == 0, (again.out + again.err + f.AgentLog()));
  std::string id = nlohmann::json::parse(again.out)["deploymentId"];
  CheckMockMadeOnly(f, id);
  auto history = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
  REQUIRE(history.size() == 1);
  CHECK(history[0]["deploymentId"] == id);
  CHECK(Run({"sqlite3", db, "SELECT count(*) FROM pending_deploys"}).out == "0\n");
}

TEST_CASE("an agent killed during the deploy request records the deployment when it next starts") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "100", "--delay-ms", "800",
                  "--delay-path", "/api/deploy"});
  f.LoginWithToken();
  CHECK(KillAgentDuringDeployRequest(f, f.MakeProject("p")) == 4);
  CHECK(f.Ctl({"history", "--json"}).exit_code == 0);  // starts an agent, nothing else
  nlohmann::json history;
  REQUIRE(WaitUntil(
      [&] {
        history = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
        return !history.empty();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  REQUIRE(history.size() == 1);
  auto all = HttpRequest("GET", f.mock().http_url() + "/mock/deployments", "",
                         {"Authorization: Bearer dev-token"});
  auto list = nlohmann::json::parse(all.body);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == history[0]["deploymentId"]);
  CHECK(f.AgentLog().find("sending an unanswered deploy") != std::string::npos);
}
