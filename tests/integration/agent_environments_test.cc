// Environments, variables and promote end to end: the mock, the agent and the ctl as processes.
// A variable's value is written once, on the ctl's standard input, and must then be found only
// where it belongs (the platform, a pulled file, an answer that asked for values): every file the
// agent writes, its log, its argv and environment, every ctl's output and every MCP result are
// searched for it.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/loopback.h"
#include "tests/integration/mcp_test_util.h"

namespace bim::test {
namespace {

using nlohmann::json;

// Every regular file under dir whose bytes contain needle, except those named in skip.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle,
                                         const std::vector<std::string>& skip = {}) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec || !it->is_regular_file(ec)) continue;
    std::string path = it->path().string();
    if (std::find(skip.begin(), skip.end(), path) != skip.end()) continue;
    if (ReadFile(path).find(needle) != std::string::npos) found.push_back(path);
  }
  return found;
}

// The deployment a `--watch --json` run started: its first line.
json First(const std::string& out) {
  auto lines = JsonLines(out);
  REQUIRE_FALSE(lines.empty());
  return lines.front();
}

// The event a `--watch --json` run ended with: its last line.
json LastLine(const std::string& out) {
  auto lines = JsonLines(out);
  REQUIRE_FALSE(lines.empty());
  return lines.back();
}

// A FastAPI app that answers which files it is and what GREETING it was given.
std::string MakeGreeter(AgentFixture& f, const std::string& name, const std::string& version) {
  std::string dir = f.home() / name;
  WriteFile(dir + "/main.py",
            "import os\nfrom fastapi import FastAPI\napp = FastAPI()\n\n"
            "@app.get('/health')\ndef health():\n    return {'ok': True}\n\n"
            "@app.get('/hello')\ndef hello():\n"
            "    return {'version': '" +
                version + "', 'greeting': os.environ.get('GREETING', '')}\n");
  WriteFile(dir + "/requirements.txt", "fastapi\nuvicorn\n");
  return dir;
}

}  // namespace

TEST_CASE("a variable's value goes to the platform and nowhere the agent writes") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10"});
  f.LoginWithToken();
  const std::string secret = "sk-live-" + std::to_string(::getpid()) + "-Qz8vXw2pL";
  std::vector<std::string> outputs;  // everything every ctl printed
  auto ctl = [&](std::vector<std::string> args, std::string input = "") {
    auto r = f.Ctl(std::move(args), std::move(input));
    outputs.push_back(r.out + r.err);
    return r;
  };
  std::string dir = f.MakeProject("shop");
  auto deployed =
      ctl({"deploy", "-d", dir, "--project", "shop", "--env", "staging", "--watch", "--json"});
  REQUIRE_MESSAGE(deployed.exit_code == 0, (deployed.out + deployed.err));
  const std::string project = First(deployed.out)["projectId"];
  CHECK(First(deployed.out)["environment"] == "staging");

  auto set = ctl({"env", "set", "API_KEY", "--env", "staging", "--project", project}, secret);
  REQUIRE_MESSAGE(set.exit_code == 0, (set.out + set.err));
  // The platform has it, as it was typed.
  auto held = HttpRequest("GET",
                          f.mock().http_url() + "/api/projects/" + project +
                              "/environments/staging/variables?values=true",
                          "", {"Authorization: Bearer dev-token"});
  REQUIRE(held.status == 200);
  CHECK(json::parse(held.body)["variables"][0]["value"] == secret);

  auto names = ctl({"env", "ls", "--env", "staging", "--project", project, "--json"});
  REQUIRE_MESSAGE(names.exit_code == 0, names.err);
  CHECK(names.out.find("API_KEY") != std::string::npos);
  auto all = ctl({"env", "ls", "--project", project});
  CHECK(all.exit_code == 0);
  // A refusal of the platform's, for a name it reserves, says why without the value.
  auto refused = ctl({"env", "set", "PATH", "--env", "staging", "--project", project}, secret);
  CHECK(refused.exit_code != 0);
  auto envs = ctl({"environments", "--project", project, "--json"});
  CHECK(envs.exit_code == 0);
  CHECK(ctl({"env", "unset", "NOT_SET", "--env", "staging", "--project", project}).exit_code == 7);
  CHECK(ctl({"env", "ls", "--env", "qa", "--project", project}).exit_code == 7);
  auto status = ctl({"status", First(deployed.out)["deploymentId"], "--json"});
  CHECK(status.exit_code == 0);
  {
    McpSession s(f.Options());
    s.Initialize();
    json listed =
        s.CallTool("list_variables", {{"projectId", project}, {"environment", "staging"}});
    outputs.push_back(listed.dump());
    CHECK(listed.dump().find("API_KEY") != std::string::npos);
    json envs_tool = s.CallTool("list_environments", {{"projectId", project}});
    outputs.push_back(envs_tool.dump());
  }

  // Asked for, the value comes back: once to the screen, once to a 0600 file.
  auto shown = f.Ctl({"env", "ls", "--env", "staging", "--project", project, "--show-values"});
  CHECK(shown.out.find(secret) != std::string::npos);
  const std::string pulled = f.home() / "pulled.env";
  auto pull = f.Ctl({"env", "pull", pulled, "--env", "staging", "--project", project});
  REQUIRE_MESSAGE(pull.exit_code == 0, (pull.out + pull.err));
  outputs.push_back(pull.out + pull.err);
  CHECK(ReadFile(pulled).find(secret) != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(pulled.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  for (size_t i = 0; i < outputs.size(); ++i) {
    CAPTURE(i);
    CHECK(outputs[i].find(secret) == std::string::npos);
  }
  // The agent's files (database, its WAL, the log, snapshots) and everything else under the
  // home folder the agent and ctls ran in, but the pulled file.
  CHECK(FilesContaining(f.home().path(), secret, {pulled}).empty());
  CHECK(f.AgentLog().find("API_KEY") != std::string::npos);  // the log was searched, and is kept
  CHECK(f.AgentLog().find(secret) == std::string::npos);
  CHECK(f.mock().Log().find(secret) == std::string::npos);
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  const std::string proc = "/proc/" + std::to_string(pid);
  CHECK(ReadFile(proc + "/cmdline").find(secret) == std::string::npos);
  CHECK(ReadFile(proc + "/environ").find(secret) == std::string::npos);
  // No core dump can hold it: the agent's core size limit is 0.
  std::string limits = ReadFile(proc + "/limits");
  auto core = limits.find("Max core file size");
  REQUIRE(core != std::string::npos);
  CHECK(limits.substr(core, limits.find('\n', core) - core).find(" 0 ") != std::string::npos);
}

TEST_CASE("ten env sets at once from ten terminals: every variable is there") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10"});
  f.LoginWithToken();
  std::vector<std::thread> terminals;
  std::vector<int> codes(10, -1);
  for (int i = 0; i < 10; ++i) {
    terminals.emplace_back([&, i] {
      auto r =
          f.Ctl({"env", "set", "KEY_" + std::to_string(i), "--env", "staging", "--project", "shop"},
                "value-" + std::to_string(i));
      codes[i] = r.exit_code;
    });
  }
  for (auto& t : terminals) t.join();
  for (int i = 0; i < 10; ++i) CHECK(codes[i] == 0);
  auto held = HttpRequest(
      "GET", f.mock().http_url() + "/api/projects/shop/environments/staging/variables?values=true",
      "", {"Authorization: Bearer dev-token"});
  REQUIRE(held.status == 200);
  INFO(held.body);
  std::map<std::string, std::string> values;
  const json answer = json::parse(held.body);
  for (const auto& v : answer.at("variables")) {
    values[v.at("key").get<std::string>()] = v.at("value").get<std::string>();
  }
  REQUIRE(values.size() == 10);
  for (int i = 0; i < 10; ++i)
    CHECK(values["KEY_" + std::to_string(i)] == "value-" + std::to_string(i));
}

TEST_CASE("a promote interrupted by killing the agent completes once, after it restarts") {
  // The mock answers a promote 0.8 s after it made the deployment.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20", "--delay-ms", "800",
                  "--delay-path", "/api/deployments/"});
  f.LoginWithToken();
  auto staging = f.Ctl({"deploy", "-d", f.MakeProject("shop"), "--project", "shop", "--env",
                        "staging", "-w", "--json"});
  REQUIRE_MESSAGE(staging.exit_code == 0, (staging.out + staging.err));
  const std::string source = First(staging.out)["deploymentId"];
  Process promote = f.StartCtl({"promote", source, "--to", "production", "--json"});
  std::string db = f.StateDir() + "/agent.db";
  REQUIRE(WaitUntil(
      [&] {
        auto q = Run({"sqlite3", db, "SELECT count(*) FROM pending_deploys"});
        return q.exit_code == 0 && q.out == "1\n";
      },
      std::chrono::seconds(5), std::chrono::milliseconds(20)));
  auto made = [&] {
    auto all = HttpRequest("GET", f.mock().http_url() + "/mock/deployments", "",
                           {"Authorization: Bearer dev-token"});
    return all.status == 200 ? json::parse(all.body) : json::array();
  };
  REQUIRE(WaitUntil([&] { return made().size() == 2; }, std::chrono::seconds(5)));
  int pid = f.AgentPid();
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto died = promote.Wait(std::chrono::seconds(10));
  REQUIRE(died.has_value());
  CHECK(*died == 4);  // the agent went away

  // The next agent sends the promote again with its key and records the one deployment.
  json history;
  REQUIRE(WaitUntil(
      [&] {
        history = json::parse(f.Ctl({"history", "--json", "--env", "production"}).out);
        return !history.empty();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  REQUIRE(history.size() == 1);
  CHECK(history[0]["promotedOf"] == source);
  CHECK(made().size() == 2);
  CHECK(Run({"sqlite3", db, "SELECT count(*) FROM pending_deploys"}).out == "0\n");
  auto w = f.Ctl({"watch", history[0]["deploymentId"]});
  CHECK(w.exit_code == 0);
}

TEST_CASE("a seed-only platform: each environment command says it is not offered, deploy works") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10", "--seed-only"});
  f.LoginWithToken();
  auto deployed = f.Ctl({"deploy", "-d", f.MakeProject("shop"), "--watch", "--json"});
  REQUIRE_MESSAGE(deployed.exit_code == 0, (deployed.out + deployed.err));
  const std::string id = First(deployed.out)["deploymentId"];
  const std::string project = First(deployed.out)["projectId"];
  std::vector<std::pair<std::vector<std::string>, std::string>> commands = {
      {{"environments", "--project", project}, ""},
      {{"environments", "add", "qa", "--project", project}, ""},
      {{"environments", "rm", "qa", "--project", project, "--yes"}, ""},
      {{"env", "ls", "--project", project}, ""},
      {{"env", "set", "KEY", "--env", "staging", "--project", project}, "v"},
      {{"env", "unset", "KEY", "--env", "staging", "--project", project}, ""},
      {{"env", "pull", f.home() / "pulled.env", "--env", "staging", "--project", project}, ""},
      {{"env", "import", f.home() / "x.env", "--env", "staging", "--project", project}, ""},
      {{"promote", id, "--to", "production"}, ""},
      {{"deploy", "-d", f.home() / "shop", "--env", "staging"}, ""},
  };
  WriteFile(f.home() / "x.env", "KEY=v\n");
  for (const auto& [args, input] : commands) {
    CAPTURE(args[0] + " " + args[1]);
    auto r = f.Ctl(args, input);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("does not offer environments") != std::string::npos);
  }
}

TEST_CASE(
    "staging's variable is seen by staging's app and not production's, and promote serves the "
    "promoted files with production's variables") {
  TempDir apps;
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10", "--run-apps", "--apps-dir",
                  apps / "apps"});
  f.LoginWithToken();
  std::string v1 = MakeGreeter(f, "greeter", "v1");
  auto prod = f.Ctl({"deploy", "-d", v1, "-w", "--json"});
  REQUIRE_MESSAGE(prod.exit_code == 0, (prod.out + prod.err));
  const std::string project = First(prod.out)["projectId"];
  REQUIRE(f.Ctl({"env", "set", "GREETING", "--env", "staging", "--project", project},
                "hello from staging")
              .exit_code == 0);
  REQUIRE(f.Ctl({"env", "set", "GREETING", "--env", "production", "--project", project},
                "hello from production")
              .exit_code == 0);
  std::string v2 = MakeGreeter(f, "greeter", "v2");
  auto staged = f.Ctl({"deploy", "-d", v2, "--env", "staging", "-w", "--json"});
  REQUIRE_MESSAGE(staged.exit_code == 0, (staged.out + staged.err));
  const std::string staging_url = LastLine(staged.out)["url"];
  const std::string production_url = LastLine(prod.out)["url"];
  CHECK(staging_url != production_url);
  json at_staging = json::parse(HttpRequest("GET", staging_url + "/hello").body);
  CHECK(at_staging["version"] == "v2");
  CHECK(at_staging["greeting"] == "hello from staging");
  json at_production = json::parse(HttpRequest("GET", production_url + "/hello").body);
  CHECK(at_production["version"] == "v1");  // deployed before production had a GREETING
  CHECK(at_production["greeting"] == "");

  auto promoted =
      f.Ctl({"promote", First(staged.out)["deploymentId"], "--to", "production", "-w", "--json"});
  REQUIRE_MESSAGE(promoted.exit_code == 0, (promoted.out + promoted.err));
  CHECK(First(promoted.out)["environment"] == "production");
  CHECK(LastLine(promoted.out)["status"] == "complete");
  json now = json::parse(HttpRequest("GET", production_url + "/hello").body);
  CHECK(now["version"] == "v2");
  CHECK(now["greeting"] == "hello from production");
  auto envs = json::parse(f.Ctl({"environments", "--project", project, "--json"}).out);
  INFO(envs.dump());
  bool serves = false;
  for (const auto& e : envs["environments"]) {
    if (e["name"] == "production")
      serves = e["deploymentId"] == First(promoted.out)["deploymentId"];
  }
  CHECK(serves);
}

}  // namespace bim::test

namespace bim::test {

TEST_CASE("dev --env gives the local app that environment's variables, and writes no file") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10"});
  f.LoginWithToken();
  const std::string secret = "dev-only-" + std::to_string(::getpid()) + "-Hk3";
  REQUIRE(f.Ctl({"env", "set", "GREETING", "--env", "staging", "--project", "shop"}, secret)
              .exit_code == 0);
  std::string dir = MakeGreeter(f, "greeter", "local");
  int port = 0;
  ::close(ListenOnLoopback(&port));
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  Process dev = f.StartCtl(
      {"dev", "-d", dir, "--env", "staging", "--project", "shop", "--port", std::to_string(port)});
  REQUIRE_MESSAGE(dev.WaitForOutput("✓ Serving " + url, std::chrono::seconds(30)),
                  (dev.Stdout() + dev.Stderr()));
  json hello = json::parse(HttpRequest("GET", url + "/hello").body);
  CHECK(hello["greeting"] == secret);
  dev.Signal(SIGINT);
  CHECK(dev.Wait(std::chrono::seconds(10)) == std::optional<int>(0));
  CHECK(FilesContaining(dir, secret).empty());
  CHECK((dev.Stdout() + dev.Stderr()).find(secret) == std::string::npos);
}

}  // namespace bim::test
