// The MCP tools (ctl/mcp/tools.h) called in this process against the agent in memory
// (FakeAgentApi): each tool's result against its own outputSchema, its errors and their advice,
// the checks of its arguments, and the login through the client in both eras.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "ctl/mcp/tools.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"
#include "tests/support/json_schema_check.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;

namespace {

constexpr const char* kVersion = "2025-11-25";

struct Fixture {
  FakeAgentApi agent;
  TempDir tmp;
  ctl::McpTools tools{agent, tmp.path()};
  ctl::CancelToken cancel;
  std::vector<std::pair<double, std::string>> progress;
  ctl::McpToolCall call;

  explicit Fixture(bool logged_in = true) {
    agent.logged_in = logged_in;
    call.protocol_version = kVersion;
    call.cancel = &cancel;
    call.progress = [this](double p, double, const std::string& m) { progress.push_back({p, m}); };
  }

  json Schema(const std::string& tool, const char* which) const {
    for (const auto& t : tools.ListTools(kVersion)) {
      if (t["name"] == tool) return t[which];
    }
    FAIL("no tool " << tool);
    return {};
  }

  // Calls the tool; a success must match its outputSchema, and hold nothing it does not list.
  ctl::McpToolResult Call(const std::string& tool, const json& args) {
    auto r = tools.CallTool(tool, args, call);
    if (!r.is_error && r.input_requests.is_null()) {
      auto problems = SchemaProblems(Schema(tool, "outputSchema"), r.structured, /*closed=*/true);
      CHECK_MESSAGE(problems.empty(), tool << ": " << r.structured.dump());
      for (const auto& p : problems) MESSAGE(p);
    }
    return r;
  }
};

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("mcp tools: every tool lists an input and an output schema, deploy as a task") {
  Fixture f;
  json list = f.tools.ListTools(kVersion);
  std::vector<std::string> names;
  for (const auto& t : list) {
    names.push_back(t["name"]);
    CHECK(t["inputSchema"]["type"] == "object");
    CHECK(t["outputSchema"]["type"] == "object");
    CHECK(t["outputSchema"]["properties"].is_object());
    CHECK_FALSE(t["description"].get<std::string>().empty());
    CHECK(f.tools.HasTool(t["name"]));
  }
  CHECK(names == std::vector<std::string>{
                     "generate", "deploy", "wait_for_deployment", "deployment_status",
                     "list_deployments", "rollback", "diff", "restore", "promote",
                     "list_environments", "list_variables", "set_variable", "unset_variable",
                     "get_logs", "auth_status", "auth_login_start", "auth_login_check"});
  CHECK(f.Schema("generate", "inputSchema")["required"] == json::array({"prompt", "directory"}));
  CHECK_FALSE(f.tools.HasTool("shell"));
  json deploy = list[1];
  CHECK(deploy["execution"]["taskSupport"] == "optional");
}

TEST_CASE("mcp tools: arguments are checked before the agent is asked") {
  Fixture f;
  auto missing = f.Call("generate", {{"directory", "x"}});
  CHECK(missing.is_error);
  CHECK(Has(missing.message, "invalid arguments for generate: missing \"prompt\""));
  auto unknown = f.Call("deployment_status", {{"deploymentId", "dep-1"}, {"verbose", true}});
  CHECK(Has(unknown.message, "unknown argument \"verbose\"; this tool takes: deploymentId"));
  auto not_id = f.Call("deployment_status", {{"deploymentId", "../etc"}});
  CHECK(Has(not_id.message, "\"deploymentId\" is not an id"));
  auto range = f.Call("list_deployments", {{"limit", 101}});
  CHECK(Has(range.message, "\"limit\" must be a whole number from 1 to 100"));
  auto nul = f.Call("generate", {{"prompt", std::string("a\0b", 3)}, {"directory", "x"}});
  CHECK(Has(nul.message, "NUL"));
  auto no_dir = f.Call("deploy", {{"directory", "nowhere"}});
  CHECK(Has(no_dir.message, "the folder " + f.tmp.path() + "/nowhere does not exist"));
  CHECK(f.agent.calls.empty());
}

TEST_CASE("mcp tools: generate writes the files, then says to deploy") {
  Fixture f;
  auto r = f.Call("generate", {{"prompt", "REST API for users"}, {"directory", "users"}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["directory"] == f.tmp / "users");
  CHECK(r.structured["written"].size() == 2);
  CHECK(Has(r.structured["nextStep"], "deploy"));
  CHECK(ReadFile(f.tmp / "users/main.py") == f.agent.generate_files.at("main.py"));
  WriteFile(f.tmp / "users/main.py", "mine\n");
  auto conflict = f.Call("generate", {{"prompt", "REST API for users"}, {"directory", "users"}});
  CHECK(conflict.is_error);
  CHECK(Has(conflict.message, "generate wrote nothing: "));
  CHECK(Has(conflict.message, "Call generate again with force true"));
}

TEST_CASE("mcp tools: deploy returns at once, and wait_for_deployment follows it to the URL") {
  Fixture f;
  WriteFile(f.tmp / "api/main.py", "app = 1\n");
  auto d = f.Call("deploy", {{"directory", "api"}});
  REQUIRE_FALSE(d.is_error);
  const std::string id = d.structured["deploymentId"];
  CHECK(d.structured["fileCount"] == 1);
  CHECK(Has(d.structured["nextStep"], "wait_for_deployment"));
  auto w = f.Call("wait_for_deployment", {{"deploymentId", id}});
  REQUIRE_FALSE(w.is_error);
  CHECK(w.structured["status"] == "complete");
  CHECK(w.structured["timedOut"] == false);
  CHECK(Has(w.structured["nextStep"], "Deployed. Give the user the URL https://"));
  // A progress report per stage, growing, the last one complete.
  REQUIRE(f.progress.size() == 4);
  for (size_t i = 1; i < f.progress.size(); ++i)
    CHECK(f.progress[i].first > f.progress[i - 1].first);
  CHECK(f.progress.back().second == "complete");
  CHECK(Has(f.progress[1].second, "building: Building image"));
}

TEST_CASE("mcp tools: deploy as a task lasts until the deployment ends") {
  Fixture f;
  WriteFile(f.tmp / "api/main.py", "app = 1\n");
  f.call.as_task = true;
  f.agent.outcome = FakeAgentApi::Outcome::kFailed;
  auto d = f.Call("deploy", {{"directory", f.tmp / "api"}});
  REQUIRE_FALSE(d.is_error);
  CHECK(d.structured["status"] == "failed");
  CHECK(d.structured["fileCount"] == 1);
  CHECK(Has(d.structured["nextStep"], "read the logs"));
  CHECK(d.structured["logs"].size() == 2);
}

TEST_CASE("mcp tools: a wait that runs out says to call again") {
  Fixture f;
  f.agent.hold = true;
  WriteFile(f.tmp / "api/main.py", "app = 1\n");
  auto d = f.Call("deploy", {{"directory", "api"}});
  REQUIRE_FALSE(d.is_error);
  auto w = f.Call("wait_for_deployment",
                  {{"deploymentId", d.structured["deploymentId"]}, {"timeoutSeconds", 1}});
  REQUIRE_FALSE(w.is_error);
  CHECK(w.structured["timedOut"] == true);
  CHECK(Has(w.structured["nextStep"], "Still building: call wait_for_deployment again"));
}

TEST_CASE("mcp tools: deployment_status and list_deployments") {
  Fixture f;
  const auto a = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  f.agent.AddDeployment("p2", {{"main.py", "2"}});
  auto s = f.Call("deployment_status", {{"deploymentId", a.id()}});
  REQUIRE_FALSE(s.is_error);
  CHECK(s.structured["url"] == a.url());
  auto missing = f.Call("deployment_status", {{"deploymentId", "dep-404"}});
  CHECK(missing.is_error);
  CHECK(Has(missing.message,
            "deployment_status failed: no deployment dep-404. Check the id: "
            "list_deployments shows the deployments made here."));
  auto list = f.Call("list_deployments", {{"projectId", "p1"}});
  REQUIRE_FALSE(list.is_error);
  REQUIRE(list.structured["deployments"].size() == 1);
  CHECK(list.structured["deployments"][0]["deploymentId"] == a.id());
  auto all = f.Call("list_deployments", json::object());
  CHECK(all.structured["deployments"].size() == 2);
}

TEST_CASE("mcp tools: rollback, diff and restore") {
  Fixture f;
  const auto first = f.agent.AddDeployment("p1", {{"main.py", "1\n"}});
  const auto second = f.agent.AddDeployment("p1", {{"main.py", "2\n"}});
  auto rb = f.Call("rollback", {{"projectId", "p1"}});
  REQUIRE_FALSE(rb.is_error);
  CHECK(rb.structured["restoredOf"] == first.id());
  auto none = f.Call("rollback", json::object());
  CHECK(none.is_error);
  auto diff = f.Call("diff", {{"deploymentId", first.id()}, {"otherDeploymentId", second.id()}});
  REQUIRE_FALSE(diff.is_error);
  CHECK(diff.structured["same"] == false);
  CHECK(diff.structured["files"][0]["change"] == "changed");
  auto restore = f.Call("restore", {{"deploymentId", second.id()}, {"directory", "back"}});
  REQUIRE_FALSE(restore.is_error);
  CHECK(ReadFile(f.tmp / "back/main.py") == "2\n");
  auto gone = f.Call("restore", {{"deploymentId", "dep-404"}, {"directory", "back2"}});
  CHECK(gone.is_error);
}

TEST_CASE("mcp tools: auth_status and the device login in two steps") {
  Fixture f(/*logged_in=*/false);
  auto s = f.Call("auth_status", json::object());
  REQUIRE_FALSE(s.is_error);
  CHECK(s.structured["loggedIn"] == false);
  CHECK_FALSE(s.structured.contains("source"));  // left out, never null
  auto start = f.Call("auth_login_start", json::object());
  REQUIRE_FALSE(start.is_error);
  CHECK(start.structured["userCode"] == "WXYZ-2345");
  f.agent.login_pending_checks = 1;
  auto pending = f.Call("auth_login_check", {{"loginId", "login-1"}, {"waitSeconds", 0}});
  REQUIRE_FALSE(pending.is_error);
  CHECK(pending.structured["state"] == "pending");
  auto approved = f.Call("auth_login_check", {{"loginId", "login-1"}, {"waitSeconds", 0}});
  REQUIRE_FALSE(approved.is_error);
  CHECK(approved.structured["state"] == "approved");
  CHECK(approved.structured["loggedIn"] == true);
  auto unknown = f.Call("auth_login_check", {{"loginId", "login-9"}});
  CHECK(unknown.is_error);
  CHECK(Has(unknown.message, "start again"));
}

TEST_CASE("mcp tools: without a login and without a way to show a page, the error says how") {
  Fixture f(/*logged_in=*/false);
  auto r = f.Call("generate", {{"prompt", "api"}, {"directory", "g"}});
  CHECK(r.is_error);
  CHECK(Has(r.message, "not logged in: ask the user to run `backend-im auth login`"));
  CHECK(f.agent.Count("LoginStart") == 0);
}

TEST_CASE(
    "mcp tools: 2025-11-25, a tool without a login sends the person to the page, then "
    "runs") {
  Fixture f(/*logged_in=*/false);
  f.agent.login_pending_checks = 1;
  std::string opened;
  int done = 0;
  f.call.open_url = [&](const std::string& url, const std::string&) {
    opened = url;
    return ctl::McpToolCall::UrlAnswer::kAccept;
  };
  f.call.url_done = [&] { ++done; };
  auto r = f.Call("generate", {{"prompt", "api"}, {"directory", "g"}});
  REQUIRE_FALSE(r.is_error);
  CHECK(opened == "https://backend.im/device?code=WXYZ-2345");
  CHECK(done == 1);
  CHECK(f.agent.Count("Generate") == 2);  // refused, then again once logged in
  SUBCASE("declined: nothing runs") {
    f.agent.logged_in = false;
    f.call.open_url = [](const std::string&, const std::string&) {
      return ctl::McpToolCall::UrlAnswer::kDecline;
    };
    auto declined = f.Call("generate", {{"prompt", "api"}, {"directory", "g2"}});
    CHECK(declined.is_error);
    CHECK(f.agent.Count("Generate") == 3);
  }
}

TEST_CASE(
    "mcp tools: 2026-07-28, a tool without a login asks for input, then runs on the next "
    "round") {
  Fixture f(/*logged_in=*/false);
  f.call.protocol_version = "2026-07-28";
  f.call.can_request_url = true;
  // A tool that needs no login (the agent's own records) asks for nothing.
  auto first = f.Call("deployment_status", {{"deploymentId", "dep-1"}});
  CHECK(first.is_error);
  CHECK_FALSE(first.input_requests.is_object());
  auto ask = f.Call("generate", {{"prompt", "api"}, {"directory", "g"}});
  REQUIRE(ask.input_requests.is_object());
  const json& request = ask.input_requests[ctl::McpTools::kLoginInputKey];
  CHECK(request["method"] == "elicitation/create");
  CHECK(request["params"]["mode"] == "url");
  CHECK(ask.input_state["loginId"] == "login-1");
  f.call.input_state = ask.input_state;
  f.call.input_responses = {{ctl::McpTools::kLoginInputKey, {{"action", "accept"}}}};
  auto r = f.Call("generate", {{"prompt", "api"}, {"directory", "g"}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.input_requests.is_null());
  CHECK(r.structured["written"].size() == 2);
  f.call.input_responses = {{ctl::McpTools::kLoginInputKey, {{"action", "decline"}}}};
  auto declined = f.Call("generate", {{"prompt", "api"}, {"directory", "g3"}});
  CHECK(declined.is_error);
}

TEST_CASE("mcp tools: a cancelled call says so and asks the agent nothing") {
  Fixture f;
  f.cancel.Cancel();
  auto r = f.Call("list_deployments", json::object());
  CHECK(r.is_error);
  CHECK(r.message == "cancelled by the client");
  CHECK(f.agent.calls.empty());
}

TEST_CASE("mcp tools: the agent's failures become advice for the model") {
  Fixture f;
  f.agent.failures["History"] = {ctl::OpFailure::kAgent, "lost the connection to the agent"};
  auto r = f.Call("list_deployments", json::object());
  CHECK(r.is_error);
  CHECK(Has(r.message,
            "list_deployments failed: lost the connection to the agent (the "
            "backend-im agent); call the tool again"));
}
