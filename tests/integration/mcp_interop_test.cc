// Interoperability: the official MCP TypeScript SDK's client (tests/mcp-interop/client.mjs)
// drives `backend-im mcp` through generate -> deploy -> wait_for_deployment against the mock,
// with a logged-in agent in an isolated HOME.
//
// The SDK comes from `npm ci --prefix tests/mcp-interop` (scripts/test.sh runs it). Without
// node or the installed SDK this program exits 77, which CTest reports as skipped, unless CI=true:
// then a missing SDK is a failure, because CI must prove the interoperability.
#define DOCTEST_CONFIG_IMPLEMENT
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/agent_fixture.h"
#include "tests/support/doctest_main.h"

using namespace bim::test;

namespace {

const std::string kPackageDir = std::string(BIM_SOURCE_DIR) + "/tests/mcp-interop";

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string p = path;
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    if (::access((p.substr(start, end - start) + "/" + program).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Why the interop test cannot run here, or "".
std::string Missing() {
  if (!OnPath("node")) return "node is not on PATH";
  for (const char* package : {"sdk", "client"}) {
    std::string manifest =
        kPackageDir + "/node_modules/@modelcontextprotocol/" + package + "/package.json";
    if (::access(manifest.c_str(), R_OK) != 0) {
      return std::string("@modelcontextprotocol/") + package +
             " is not installed; run: npm ci --prefix tests/mcp-interop";
    }
  }
  return "";
}

// What a client printed, and what the agent logged meanwhile.
std::string Transcript(const RunResult& r, AgentFixture& f) {
  return "stdout:\n" + r.out + "\nstderr:\n" + r.err + "\nagent log:\n" + f.AgentLog();
}

// Logs f's agent in and runs the Node client `script` with the ctl and a new work folder; the
// client must exit 0 and print `ok`.
RunResult RunClient(AgentFixture& f, const std::string& script, const std::string& ok,
                    std::chrono::seconds limit) {
  f.LoginWithToken();
  std::string work = f.home() / "work";
  ::mkdir(work.c_str(), 0755);
  auto r = Run({"node", kPackageDir + "/" + script, CtlBinary(), work}, f.Options(), limit);
  REQUIRE_MESSAGE(r.exit_code == 0, Transcript(r, f));
  CHECK_MESSAGE(r.out.find(ok) != std::string::npos, Transcript(r, f));
  return r;
}

}  // namespace

TEST_CASE("the official MCP TypeScript SDK client generates, deploys and waits for the URL") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20"});
  auto r = RunClient(f, "client.mjs", "interop ok https://", std::chrono::seconds(60));
  INFO(Transcript(r, f));
  CHECK(r.out.find("progress: queued > committing") != std::string::npos);
  // What the SDK client saw is what the agent recorded.
  auto hist = f.Ctl({"history", "--json"});
  REQUIRE(hist.exit_code == 0);
  auto h = nlohmann::json::parse(hist.out);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["status"] == "complete");
  CHECK(r.out.find(h[0]["url"].get<std::string>()) != std::string::npos);
}

TEST_CASE("the SDK 1.32 client runs deploy as a 2025-11-25 task to its URL, and cancels one") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "150"});
  auto r = RunClient(f, "tasks_client.mjs", "tasks ok https://", std::chrono::seconds(90));
  INFO(Transcript(r, f));
  // The stages the client polled, from the task's statusMessage.
  CHECK(r.out.find("working(") != std::string::npos);
  CHECK(r.out.find("completed(") != std::string::npos);
  // Cancelling the second task stopped its wait, not its deployment: both complete.
  auto h = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
  REQUIRE(h.size() == 2);
  CHECK(WaitUntil(
      [&] {
        h = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
        return h[0]["status"] == "complete";
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  CHECK(h[1]["status"] == "complete");
}

TEST_CASE("the 2.x client pinned to 2026-07-28 discovers, lists the tools and deploys") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20"});
  auto r = RunClient(f, "modern_client.mjs", "modern ok https://", std::chrono::seconds(60));
  INFO(Transcript(r, f));
  CHECK(r.out.find("connected to backend-im at 2026-07-28") != std::string::npos);
}

// The MCP Inspector's CLI (2.12.0, on the 2.x client and the tasks extension package) at
// 2026-07-28 declares the io.modelcontextprotocol/tasks extension, so deploy runs as a task: it
// polls tasks/get until the task completes and prints the result, which must be the finished
// deployment with its URL (a plain deploy returns at the upload, without one).
TEST_CASE("the MCP Inspector at 2026-07-28 deploys as a task to the URL") {
  const std::string dir = std::string(BIM_SOURCE_DIR) + "/tests/mcp-inspector";
  const std::string node = dir + "/.node/package/bin/node";
  const std::string launcher =
      dir + "/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js";
  if (::access(node.c_str(), X_OK) != 0 || ::access(launcher.c_str(), R_OK) != 0) {
    const char* ci = std::getenv("CI");
    REQUIRE_MESSAGE(!(ci && std::string(ci) == "true"),
                    "the inspector and its node 22 must be installed in CI (scripts/test.sh)");
    MESSAGE("skipped: the inspector is not installed (scripts/test.sh installs it)");
    return;
  }
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20"});
  f.LoginWithToken();
  std::string project = f.MakeProject("inspector-api");
  std::vector<std::string> argv = {node,
                                   launcher,
                                   "--cli",
                                   "--method",
                                   "tools/call",
                                   "--tool-name",
                                   "deploy",
                                   "--tool-arg",
                                   "directory=" + project,
                                   "--protocol-era",
                                   "modern",
                                   "--format",
                                   "json"};
  // The inspector gives its stdio child only a few variables: the fixture's go through -e.
  ProcessOptions o = f.Options();
  for (const auto& [k, v] : o.env) {
    argv.push_back("-e");
    argv.push_back(k + "=" + v);
  }
  argv.insert(argv.end(), {"--", CtlBinary(), "mcp"});
  o.env["PATH"] = dir + "/.node/package/bin:" + std::string(std::getenv("PATH"));
  auto r = Run(argv, o, std::chrono::seconds(90));
  INFO(Transcript(r, f));
  REQUIRE(r.exit_code == 0);
  auto out = nlohmann::json::parse(r.out);
  auto sc = out["result"]["structuredContent"];
  CHECK(out["result"]["isError"] == false);
  CHECK(sc["status"] == "complete");
  CHECK(sc["url"] == "https://" + sc["commitHash"].get<std::string>() + ".backend.im");
  auto h = nlohmann::json::parse(f.Ctl({"history", "--json"}).out);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["status"] == "complete");
}

// Login from inside the assistant: the person is sent to the device-login page through the
// client (URL-mode elicitation), at each client's newest revision. The two clients run side by
// side, each with its own agent and platform, as each waits a second for its agent's first poll.
TEST_CASE("a logged-out generate sends the person to the login page through each official client") {
  const std::vector<std::string> eras = {"2025-11-25", "2026-07-28"};
  std::vector<std::unique_ptr<AgentFixture>> fixtures;
  std::vector<Process> clients;
  clients.reserve(eras.size());
  for (const auto& era : eras) {
    fixtures.push_back(
        std::make_unique<AgentFixture>(std::vector<std::string>{"--device-interval", "1"}));
    std::string work = fixtures.back()->home() / "work";
    ::mkdir(work.c_str(), 0755);
    clients.emplace_back(
        std::vector<std::string>{"node", kPackageDir + "/login_client.mjs", era, CtlBinary(), work},
        fixtures.back()->Options());
  }
  for (size_t i = 0; i < eras.size(); ++i) {
    CAPTURE(eras[i]);
    AgentFixture& f = *fixtures[i];
    auto code = clients[i].Wait(std::chrono::seconds(90));
    INFO("stdout:\n"
         << clients[i].Stdout() << "\nstderr:\n"
         << clients[i].Stderr() << "\nagent log:\n"
         << f.AgentLog());
    REQUIRE(code == 0);
    CHECK(clients[i].Stdout().find("login ok " + eras[i]) != std::string::npos);
    auto status = nlohmann::json::parse(f.Ctl({"auth", "status", "--json"}).out);
    CHECK(status["loggedIn"] == true);
  }
}

// Hosts built on the SDK give a server only HOME, LOGNAME, PATH, SHELL, TERM and USER. The
// terminal below has XDG_RUNTIME_DIR (so its default socket is another path) and the default
// state folder; the platform URL is in the config file, where a user of both would put it.
TEST_CASE("an MCP server started with the SDK's default environment shares the terminal's agent") {
  for (bool terminal_first : {true, false}) {
    CAPTURE(terminal_first);
    AgentFixture f;
    WriteFile(f.home() / ".config/backend-im/config", "api_url = " + f.mock().http_url() + "\n");
    ProcessOptions terminal = f.Options();
    for (const char* name : {"XDG_STATE_HOME", "XDG_CONFIG_HOME", "BACKEND_IM_API_URL"}) {
      terminal.env.erase(name);
      terminal.unset_env.push_back(name);
    }
    std::string state = f.home() / ".local/state/backend-im";
    auto lock_pid = [&] { return std::atoi(ReadFile(state + "/agent.lock").c_str()); };
    auto mcp_auth_status = [&] {
      auto r = Run({"node", kPackageDir + "/default_env_client.mjs", CtlBinary()}, terminal,
                   std::chrono::seconds(30));
      INFO("stderr:\n" << r.err << "\nagent log:\n" << ReadFile(state + "/agent.log"));
      REQUIRE(r.exit_code == 0);
      CHECK(r.err.find("XDG_RUNTIME_DIR") == std::string::npos);  // really the SDK's default
      return nlohmann::json::parse(r.out);
    };
    auto terminal_login = [&] {
      ProcessOptions o = terminal;
      o.stdin_data = "dev-token\n";
      auto r = Run({CtlBinary(), "auth", "login", "--with-token"}, o);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    };

    if (terminal_first) {
      terminal_login();
      int pid = lock_pid();
      CHECK(mcp_auth_status()["loggedIn"] == true);
      CHECK(lock_pid() == pid);
    } else {
      CHECK(mcp_auth_status()["loggedIn"] == false);
      int pid = lock_pid();
      REQUIRE(pid > 0);
      terminal_login();
      CHECK(mcp_auth_status()["loggedIn"] == true);
      auto status = Run({CtlBinary(), "daemon", "status", "--json"}, terminal);
      REQUIRE_MESSAGE(status.exit_code == 0, status.err);
      CHECK(nlohmann::json::parse(status.out)["pid"] == pid);
      CHECK(lock_pid() == pid);
    }
    CHECK(ReadFile(state + "/agent.log").find("already running") == std::string::npos);
    Terminate(lock_pid());
  }
}

int main(int argc, char** argv) {
  std::string missing = Missing();
  if (!missing.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") {
      std::fprintf(stderr, "FAILED: the MCP interop test must run in CI, but %s\n",
                   missing.c_str());
      return 1;
    }
    std::fprintf(stderr, "skipped: %s\n", missing.c_str());
    return 77;
  }
  return bim::test::RunDoctest(argc, argv);
}
