// Every command of the command line (ctl/commands/) run in this process against the agent in
// memory (FakeAgentApi, through tests/support/ctl_run.h): its output, text and --json, and its
// exit code.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ctl/commands/command.h"
#include "tests/support/ctl_run.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;

namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The run ended with `code`, and its stdout holds each of parts.
void CheckOut(const CtlRun& r, int code, std::initializer_list<std::string> parts) {
  CHECK(r.code == code);
  for (const auto& part : parts) CHECK_MESSAGE(Has(r.out, part), "stdout lacks: " << part);
}

}  // namespace

TEST_CASE("ctl: --help lists every command of the registry, and a typo is a usage error") {
  FakeAgentApi agent;
  auto help = Ctl(agent, {"--help"});
  CHECK(help.code == 0);
  for (const auto& c : ctl::Commands()) CHECK(Has(help.out, std::string(c.name)));
  auto typo = Ctl(agent, {"deplyo"});
  CHECK(typo.code == 2);
  CHECK(agent.calls.empty());
  CHECK(agent.finished == 0);  // a parse error never reaches the agent
}

TEST_CASE("ctl: auth status, logged out and in, as text and JSON") {
  FakeAgentApi agent;
  auto out = Ctl(agent, {"auth", "status"});
  CHECK(out.code == 3);
  CHECK(Has(out.err, "Not logged in to https://api.backend.im. Run `backend-im auth login`."));
  CHECK(agent.finished == 1);
  agent.logged_in = true;
  agent.source = "device";
  auto in = Ctl(agent, {"auth", "status"});
  CheckOut(
      in, 0,
      {"Logged in to https://api.backend.im as dev@example.com\n", "  via:      device login\n"});
  auto j = Ctl(agent, {"auth", "status", "--json"});
  CHECK(j.code == 0);
  auto model = json::parse(j.out);
  CHECK(model["loggedIn"] == true);
  CHECK(model["email"] == "dev@example.com");
  CHECK(model["source"] == "device");
}

TEST_CASE("ctl: auth login --with-token reads standard input") {
  FakeAgentApi agent;
  auto empty = Ctl(agent, {"auth", "login", "--with-token"}, " \n");
  CHECK(empty.code == 2);
  CHECK(Has(empty.err, "reads the token from standard input"));
  CHECK(agent.Count("LoginWithToken") == 0);
  auto bad = Ctl(agent, {"auth", "login", "--with-token"}, "nope\n");
  CHECK(bad.code == 3);
  CHECK(Has(bad.err, "backend-im: login failed: the platform refused the token"));
  auto good = Ctl(agent, {"auth", "login", "--with-token"}, "good-token\n");
  CHECK(good.code == 0);
  CHECK(Has(good.out, "✓ Logged in to https://api.backend.im as dev@example.com"));
}

TEST_CASE("ctl: auth login with the device flow shows the page and the code, then waits") {
  FakeAgentApi agent;
  agent.login_pending_checks = 1;
  auto r = Ctl(agent, {"auth", "login"});
  CheckOut(r, 0,
           {"To log in, open https://backend.im/device\nand enter the code WXYZ-2345\n",
            "Waiting for you to approve...\n", "✓ Logged in"});
  CHECK(agent.Count("LoginCheck") == 2);
  agent.login_end = backend_im::v1::LoginCheckReply::DENIED;
  auto denied = Ctl(agent, {"auth", "login", "--json"});
  CHECK(denied.code == 3);
  CHECK(json::parse(denied.out.substr(0, denied.out.find('\n')))["userCode"] == "WXYZ-2345");
  CHECK(Has(denied.err, "backend-im: login failed: the login was denied"));
}

TEST_CASE("ctl: auth logout says whether someone was logged in") {
  FakeAgentApi agent;
  agent.logged_in = true;
  auto r = Ctl(agent, {"auth", "logout"});
  CHECK(r.code == 0);
  CHECK(r.out == "Logged out; the stored credentials are erased.\n");
  auto j = Ctl(agent, {"auth", "logout", "--json"});
  CHECK(json::parse(j.out) == json{{"wasLoggedIn", false}});
}

TEST_CASE("ctl: generate lists the files it wrote and what to do next") {
  FakeAgentApi agent;
  TempDir t;
  std::string dir = t / "users";
  auto out = Ctl(agent, {"generate", "REST API for users", "-o", dir});
  CHECK(out.code == 3);
  CHECK(Has(out.err, "backend-im: generate failed: not logged in"));
  agent.logged_in = true;
  auto r = Ctl(agent, {"generate", "REST API for users", "-o", dir});
  CHECK(r.code == 0);
  CHECK(r.err == "Generating...\n");
  CHECK(Has(r.out, "✓ Generated 2 files in " + dir + "\n  main.py\n  requirements.txt\n"));
  CHECK(Has(r.out, "Next: edit the files, then `cd " + dir + " && backend-im deploy --watch`"));
  auto j = Ctl(agent, {"generate", "REST API for users", "-o", dir, "--json"});
  CHECK(j.code == 0);
  CHECK(j.err.empty());
  auto model = json::parse(j.out);
  CHECK(model["directory"] == dir);
  CHECK(model["unchanged"].size() == 2);
  CHECK(model["projectId"] == "proj-gen");
  WriteFile(dir + "/main.py", "mine\n");
  auto conflict = Ctl(agent, {"generate", "REST API for users", "-o", dir});
  CHECK(conflict.code == 6);
  CHECK(Has(conflict.err, "main.py"));
}

TEST_CASE("ctl: deploy --watch follows the deployment to its URL") {
  FakeAgentApi agent;
  agent.logged_in = true;
  TempDir t;
  WriteFile(t / "api/main.py", "app = 1\n");
  auto r = Ctl(agent, {"deploy", "-d", t / "api", "--watch"});
  CheckOut(
      r, 0,
      {"Deploying 1 files (8 bytes) to project proj-1, environment production\n",
       "  deployment dep-1  commit ", "queued", "Building image for ", "✓ Deployed: https://"});
  CHECK(agent.Count("Status") == 0);  // the terminal event settled it
  SUBCASE("without --watch: how to follow it") {
    auto once = Ctl(agent, {"deploy", "-d", t / "api"});
    CHECK(once.code == 0);
    CHECK(Has(once.out, "Follow it with: backend-im watch dep-2\n"));
  }
  SUBCASE("a deployment that fails: exit 1") {
    agent.outcome = FakeAgentApi::Outcome::kFailed;
    auto failed = Ctl(agent, {"deploy", "-d", t / "api", "-w"});
    CHECK(failed.code == 1);
    CHECK(Has(failed.out,
              "✗ Deployment dep-2 failed. See the logs above, or run `backend-im "
              "status dep-2`"));
  }
  SUBCASE("--json: the deploy model, then one event a line") {
    auto j = Ctl(agent, {"deploy", "-d", t / "api", "-w", "--json"});
    CHECK(j.code == 0);
    auto lines = JsonLines(j.out);
    REQUIRE(lines.size() == 5);
    CHECK(lines[0]["fileCount"] == 1);
    CHECK(lines[0]["deploymentId"] == "dep-2");
    CHECK(lines[4]["status"] == "complete");
    CHECK(lines[4]["terminal"] == true);
  }
}

TEST_CASE("ctl: deploy --dry-run lists the upload and the changes, and uploads nothing") {
  FakeAgentApi agent;
  TempDir t;
  WriteFile(t / "api/main.py", "v2\n");
  WriteFile(t / "api/.env", "SECRET=1\n");
  auto r = Ctl(agent, {"deploy", "-d", t / "api", "--dry-run"});
  CheckOut(r, 0, {"Would upload:\n", "main.py", "Left out:\n  .env"});
  const auto last = agent.AddDeployment("p1", {{"main.py", "v1\n"}});
  auto j = Ctl(agent, {"deploy", "-d", t / "api", "--dry-run", "--project", "p1", "--json"});
  CHECK(j.code == 0);
  auto model = json::parse(j.out);
  CHECK(model["fileCount"] == 1);
  CHECK(model["changes"]["against"] == last.id());
  CHECK(model["changes"]["changed"] == json::array({"main.py"}));
  CHECK(agent.Count("Deploy") == 0);
}

TEST_CASE("ctl: watch and status of an unknown deployment: exit 7") {
  FakeAgentApi agent;
  auto w = Ctl(agent, {"watch", "dep-404"});
  CHECK(w.code == 7);
  CHECK(Has(w.err, "backend-im: watch dep-404: no deployment dep-404"));
  auto s = Ctl(agent, {"status", "dep-404"});
  CHECK(s.code == 7);
}

TEST_CASE("ctl: watch prints the agent's notices on stderr, and when they clear") {
  FakeAgentApi agent;
  agent.notices = {"the agent cannot store events: disk full", ""};
  const auto d = agent.AddDeployment("p1", {{"main.py", "x"}});
  auto w = Ctl(agent, {"watch", d.id(), "--json"});
  CHECK(w.code == 0);
  CHECK(Has(w.err, "backend-im: " + d.id() + ": the agent cannot store events: disk full\n"));
  CHECK(Has(w.err, "the deployment's events come through again"));
  CHECK(std::count(w.out.begin(), w.out.end(), '\n') == 4);
}

TEST_CASE("ctl: watch of a deployment complete without a usable URL: a platform error") {
  FakeAgentApi agent;
  const auto d =
      agent.AddDeployment("p1", {{"main.py", "x"}}, FakeAgentApi::Outcome::kCompleteWithoutUrl);
  auto w = Ctl(agent, {"watch", d.id()});
  CHECK(w.code == 5);
  CHECK(Has(w.err, "no usable URL"));
  auto s = Ctl(agent, {"status", d.id()});
  CHECK(s.code == 5);
}

TEST_CASE("ctl: status shows a deployment, and exits 1 for a failed one") {
  FakeAgentApi agent;
  const auto ok = agent.AddDeployment("p1", {{"main.py", "x"}});
  auto r = Ctl(agent, {"status", ok.id()});
  CheckOut(r, 0,
           {"Deployment  " + ok.id() + "\nProject     p1\n", "Status      complete\n",
            "URL         " + ok.url() + "\n", "Files kept  yes", "Logs\n  Building image"});
  auto j = Ctl(agent, {"status", ok.id(), "--json"});
  auto model = json::parse(j.out);
  CHECK(model["url"] == ok.url());
  CHECK(model["restorable"] == true);
  CHECK_FALSE(model.contains("streamProblem"));  // left out, never null
  const auto failed = agent.AddDeployment("p1", {{"main.py", "y"}}, FakeAgentApi::Outcome::kFailed);
  CHECK(Ctl(agent, {"status", failed.id()}).code == 1);
}

TEST_CASE("ctl: the error line cuts a long argument") {
  FakeAgentApi agent;
  std::string id(10000, 'x');
  auto r = Ctl(agent, {"status", id});
  CHECK(r.code == 7);
  // "backend-im: status xxx…" and 80 bytes of it at most, then the agent's words.
  CHECK(r.err.find("…: no deployment") < 100);
}

TEST_CASE("ctl: history as a table and as JSON, and a bad --limit is a usage error") {
  FakeAgentApi agent;
  auto empty = Ctl(agent, {"history"});
  CHECK(empty.code == 0);
  CHECK(empty.out == "No deployments yet.\n");
  CHECK(Ctl(agent, {"history", "--project", "p1"}).out == "No deployments of that project yet.\n");
  const auto a = agent.AddDeployment("p1", {{"main.py", "1"}});
  const auto b = agent.AddDeployment("p2", {{"main.py", "2"}});
  auto table = Ctl(agent, {"history"});
  CHECK(table.code == 0);
  CHECK(table.out.rfind("CREATED", 0) == 0);
  CHECK(table.out.find(b.id()) < table.out.find(a.id()));  // newest first
  auto j = Ctl(agent, {"history", "--project", "p1", "--json"});
  auto list = json::parse(j.out);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["deploymentId"] == a.id());
  auto bad = Ctl(agent, {"history", "--limit", "0"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, "--limit takes 1 to 1000"));
  CHECK(agent.Count("History") == 4);
}

TEST_CASE("ctl: rollback starts a deployment of earlier files") {
  FakeAgentApi agent;
  agent.logged_in = true;
  TempDir t;
  ::mkdir((t / "api").c_str(), 0755);
  auto none = Ctl(agent, {"rollback", "-d", t / "api"});
  CHECK(none.code == 2);
  CHECK(Has(none.err, "backend-im: rollback: "));
  CHECK(Has(none.err, "remembers no project"));
  const auto first = agent.AddDeployment("p1", {{"main.py", "1"}});
  agent.AddDeployment("p1", {{"main.py", "2"}});
  auto r = Ctl(agent, {"rollback", "--project", "p1"});
  CheckOut(r, 0,
           {"Rolling project p1, environment production, back to the files of " + first.id() + "\n",
            "Follow it with: backend-im watch dep-3\n"});
  auto w = Ctl(agent, {"rollback", "--to", first.id(), "--watch", "--json"});
  CHECK(w.code == 0);
  CHECK(json::parse(w.out.substr(0, w.out.find('\n')))["restoredOf"] == first.id());
}

TEST_CASE("ctl: restore writes a deployment's files into a folder") {
  FakeAgentApi agent;
  TempDir t;
  const auto d = agent.AddDeployment("p1", {{"main.py", "1\n"}});
  auto r = Ctl(agent, {"restore", d.id(), "-o", t / "back"});
  CHECK(r.code == 0);
  CHECK(
      Has(r.out, "✓ Restored the 1 files of " + d.id() + " into " + t / "back" + "\n  main.py\n"));
  CHECK(ReadFile(t / "back/main.py") == "1\n");
  auto j = Ctl(agent, {"restore", d.id(), "-o", t / "back", "--json"});
  CHECK(json::parse(j.out)["unchanged"] == json::array({"main.py"}));
  CHECK(Ctl(agent, {"restore", "dep-404", "-o", t / "x"}).code == 7);
}

TEST_CASE("ctl: diff exits 0 when the same and 1 when different, as diff(1)") {
  FakeAgentApi agent;
  TempDir t;
  const auto a = agent.AddDeployment("p1", {{"main.py", "1\n"}});
  const auto b = agent.AddDeployment("p1", {{"main.py", "2\n"}});
  auto same = Ctl(agent, {"diff", a.id(), a.id()});
  CHECK(same.code == 0);
  CHECK(same.out.empty());
  auto differ = Ctl(agent, {"diff", a.id(), b.id()});
  CHECK(differ.code == 1);
  CHECK(Has(differ.out, "-1\n+2\n"));
  WriteFile(t / "api/main.py", "1\n");
  auto folder = Ctl(agent, {"diff", b.id(), t / "api", "--json"});
  CHECK(folder.code == 1);
  auto model = json::parse(folder.out);
  CHECK(model["to"] == t / "api");
  CHECK(model["same"] == false);
}

TEST_CASE("ctl: daemon status and stop, with and without an agent") {
  FakeAgentApi agent;
  agent.running = false;
  auto none = Ctl(agent, {"daemon", "status"});
  CHECK(none.code == 4);
  CHECK(none.out == "No agent is running (socket " + agent.socket_path() + ").\n");
  auto none_json = Ctl(agent, {"daemon", "status", "--json"});
  CHECK(json::parse(none_json.out) == json{{"running", false}, {"socket", agent.socket_path()}});
  auto stop_none = Ctl(agent, {"daemon", "stop"});
  CHECK(stop_none.code == 0);
  CHECK(stop_none.out == "No agent is running.\n");
  CHECK_FALSE(agent.stopped);

  agent.running = true;
  auto up = Ctl(agent, {"daemon", "status"});
  CheckOut(up, 0,
           {"Agent       running, pid 4242, version 0.0.0-fake (this ctl is ",
            "Managed by  nobody (started by hand)\n"});
  auto up_json = json::parse(Ctl(agent, {"daemon", "status", "--json"}).out);
  CHECK(up_json["pid"] == 4242);
  CHECK_FALSE(up_json.contains("apiUrlProblem"));
  auto stop = Ctl(agent, {"daemon", "stop"});
  CHECK(stop.code == 0);
  CHECK(stop.out == "Agent stopped.\n");
  CHECK(agent.stopped);

  agent.running = true;
  agent.refused = "the socket's folder is writable by others";
  auto refused = Ctl(agent, {"daemon", "status"});
  CHECK(refused.code == 4);
  CHECK(Has(refused.err, "backend-im: daemon status: the socket's folder is writable by others"));
}

TEST_CASE("ctl: version shows the agent's only when one runs, never starting one") {
  FakeAgentApi agent;
  auto with = Ctl(agent, {"version"});
  CHECK(with.code == 0);
  CHECK(Has(with.out, "agent      0.0.0-fake\n"));
  agent.running = false;
  auto j = Ctl(agent, {"version", "--json"});
  CHECK(j.code == 0);
  auto model = json::parse(j.out);
  CHECK(model.contains("version"));
  CHECK_FALSE(model.contains("agentVersion"));
  CHECK(agent.Count("GetInfo") == 0);
}
