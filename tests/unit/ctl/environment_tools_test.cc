// The MCP tools of environments, variables and promote (ctl/mcp/environment_tools.cc) against
// the agent in memory: their listings and annotations, their results against their
// outputSchemas, the person's confirmation with a client that can show a form (both eras) and
// without one, and that no result, error or question holds a variable's value.
#include <doctest/doctest.h>

#include "ctl/mcp/tools.h"
#include "ctl/project_files.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"
#include "tests/support/json_schema_check.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;
using Confirm = ctl::McpToolCall::ConfirmAnswer;

namespace {

constexpr const char* kVersion = "2025-11-25";
constexpr const char* kSecret = "S3CRET-mcp-77q";

struct Fixture {
  FakeAgentApi agent;
  TempDir tmp;
  ctl::McpTools tools{agent, tmp.path()};
  ctl::CancelToken cancel;
  ctl::McpToolCall call;
  std::vector<std::string> asked;  // the messages of the confirmations asked

  Fixture() {
    agent.logged_in = true;
    call.protocol_version = kVersion;
    call.cancel = &cancel;
    call.progress = [](double, double, const std::string&) {};
    WriteFile(tmp / "api/main.py", "app = 1\n");
    REQUIRE(ctl::SaveProjectMeta(tmp / "api", {"p1"}).ok());
  }

  json Listed(const std::string& tool) const {
    for (const auto& t : tools.ListTools(kVersion)) {
      if (t["name"] == tool) return t;
    }
    FAIL("no tool " << tool);
    return {};
  }

  // Calls the tool; a success must match its outputSchema. Nothing it returns holds the secret.
  ctl::McpToolResult Call(const std::string& tool, const json& args) {
    auto r = tools.CallTool(tool, args, call);
    if (!r.is_error && r.input_requests.is_null()) {
      auto problems = SchemaProblems(Listed(tool)["outputSchema"], r.structured, /*closed=*/true);
      CHECK_MESSAGE(problems.empty(), tool << ": " << r.structured.dump());
    }
    CHECK(r.structured.dump().find(kSecret) == std::string::npos);
    CHECK(r.message.find(kSecret) == std::string::npos);
    CHECK(r.input_requests.dump().find(kSecret) == std::string::npos);
    CHECK(r.input_state.dump().find(kSecret) == std::string::npos);
    return r;
  }

  // A client that shows forms (2025-06-18 and later) and answers each with answer.
  void AnswerForms(Confirm answer) {
    call.confirm = [this, answer](const std::string& message) {
      asked.push_back(message);
      return answer;
    };
  }

  // The variables of env in p1 (which has production and staging, as the agent makes them).
  std::map<std::string, std::string>& Variables(const std::string& env) {
    auto& envs = agent.environments["p1"];
    envs["production"];
    envs["staging"];
    return envs[env].variables;
  }
};

json SetArgs() {
  return {{"key", "API_KEY"}, {"environment", "staging"}, {"projectId", "p1"}, {"value", kSecret}};
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("environment tools: listed with annotations, list_variables with no way to ask values") {
  Fixture f;
  for (const char* name : {"set_variable", "unset_variable", "promote"}) {
    CAPTURE(name);
    json ann = f.Listed(name)["annotations"];
    CHECK(ann["destructiveHint"] == true);
    CHECK(ann["readOnlyHint"] == false);
  }
  for (const char* name : {"list_environments", "list_variables"}) {
    CAPTURE(name);
    CHECK(f.Listed(name)["annotations"]["readOnlyHint"] == true);
  }
  json vars = f.Listed("list_variables");
  CHECK(vars["inputSchema"]["properties"].size() == 2);
  CHECK(vars["inputSchema"]["required"] == json::array({"projectId", "environment"}));
  CHECK_FALSE(
      vars["outputSchema"]["properties"]["variables"]["items"]["properties"].contains("value"));
  CHECK(f.Listed("promote")["execution"]["taskSupport"] == "optional");
  CHECK(f.Listed("deploy")["inputSchema"]["properties"].contains("environment"));
  CHECK(f.Listed("set_variable")["inputSchema"]["required"] ==
        json::array({"projectId", "environment", "key", "value"}));
}

TEST_CASE("environment tools: list_environments and list_variables give names, never values") {
  Fixture f;
  f.Variables("staging")["API_KEY"] = kSecret;
  auto envs = f.Call("list_environments", {{"projectId", "p1"}});
  REQUIRE_FALSE(envs.is_error);
  CHECK(envs.structured["projectId"] == "p1");
  CHECK(envs.structured["environments"][1] == json{{"name", "staging"}, {"variables", 1}});
  auto vars = f.Call("list_variables", {{"projectId", "p1"}, {"environment", "staging"}});
  REQUIRE_FALSE(vars.is_error);
  CHECK(vars.structured["variables"] == json::array({{{"key", "API_KEY"}}}));
  CHECK_FALSE(f.agent.last_list_variables->with_values());
  auto neither = f.Call("list_variables", {{"environment", "staging"}});
  CHECK(neither.is_error);
  CHECK(Has(neither.message, "missing \"projectId\""));
  auto values = f.Call("list_variables",
                       {{"projectId", "p1"}, {"environment", "staging"}, {"withValues", true}});
  CHECK(values.is_error);
  CHECK(Has(values.message, "unknown argument \"withValues\""));
}

TEST_CASE("environment tools: a client without forms gets the change directly") {
  Fixture f;
  auto r = f.Call("set_variable", SetArgs());
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["key"] == "API_KEY");
  CHECK(r.structured["environment"] == "staging");
  CHECK(f.Variables("staging")["API_KEY"] == kSecret);
  auto unset = f.Call("unset_variable",
                      {{"key", "API_KEY"}, {"environment", "staging"}, {"projectId", "p1"}});
  REQUIRE_FALSE(unset.is_error);
  CHECK(f.Variables("staging").empty());
  // A value-shaped key is refused without being shown.
  json joined = SetArgs();
  joined["key"] = std::string("API_KEY=") + kSecret;
  auto bad = f.Call("set_variable", joined);
  CHECK(bad.is_error);
  CHECK(Has(bad.message, "a variable's name has no '='"));
}

TEST_CASE("environment tools: with forms, the person confirms before anything changes") {
  Fixture f;
  SUBCASE("confirmed: it acts, and the question names the key, not the value") {
    f.AnswerForms(Confirm::kConfirmed);
    auto r = f.Call("set_variable", SetArgs());
    REQUIRE_FALSE(r.is_error);
    CHECK(f.Variables("staging")["API_KEY"] == kSecret);
    REQUIRE(f.asked.size() == 1);
    CHECK(f.asked[0] ==
          "Set the variable API_KEY in staging of project p1? (The value is not "
          "shown here.)");
  }
  SUBCASE("declined: an error that says so, and nothing changed") {
    f.AnswerForms(Confirm::kRefused);
    auto r = f.Call("set_variable", SetArgs());
    CHECK(r.is_error);
    CHECK(Has(r.message, "set_variable: the user declined; nothing was changed."));
    CHECK(f.agent.Count("SetVariable") == 0);
    f.Variables("staging")["OLD"] = "1";
    auto unset =
        f.Call("unset_variable", {{"key", "OLD"}, {"environment", "staging"}, {"projectId", "p1"}});
    CHECK(unset.is_error);
    CHECK(f.Variables("staging").count("OLD") == 1);
  }
  SUBCASE("the client could not ask: nothing changed either") {
    f.AnswerForms(Confirm::kFailed);
    auto r = f.Call("set_variable", SetArgs());
    CHECK(r.is_error);
    CHECK(Has(r.message, "the client could not ask the user to confirm, so nothing was changed"));
    CHECK(f.agent.Count("SetVariable") == 0);
  }
  SUBCASE("read-only tools ask nothing") {
    f.AnswerForms(Confirm::kRefused);
    CHECK_FALSE(f.Call("list_environments", {{"projectId", "p1"}}).is_error);
    CHECK(f.asked.empty());
  }
}

TEST_CASE("environment tools: 2026-07-28, the confirmation is an input-required round") {
  Fixture f;
  f.call.protocol_version = "2026-07-28";
  f.call.can_request_form = true;
  auto ask = f.Call("set_variable", SetArgs());
  REQUIRE(ask.input_requests.is_object());
  const json& request = ask.input_requests[ctl::McpTools::kConfirmInputKey];
  CHECK(request["method"] == "elicitation/create");
  CHECK(request["params"]["mode"] == "form");
  CHECK(request["params"]["requestedSchema"]["properties"]["confirm"]["type"] == "boolean");
  CHECK(f.agent.Count("SetVariable") == 0);
  f.call.input_state = ask.input_state;
  SUBCASE("confirmed on the next round: it acts") {
    f.call.input_responses = {{ctl::McpTools::kConfirmInputKey,
                               {{"action", "accept"}, {"content", {{"confirm", true}}}}}};
    auto r = f.Call("set_variable", SetArgs());
    REQUIRE_FALSE(r.is_error);
    CHECK(r.input_requests.is_null());
    CHECK(f.Variables("staging")["API_KEY"] == kSecret);
  }
  SUBCASE("accepted without confirm, or declined: nothing changes") {
    f.call.input_responses = {{ctl::McpTools::kConfirmInputKey,
                               {{"action", "accept"}, {"content", {{"confirm", false}}}}}};
    CHECK(f.Call("set_variable", SetArgs()).is_error);
    f.call.input_responses = {{ctl::McpTools::kConfirmInputKey, {{"action", "decline"}}}};
    CHECK(f.Call("set_variable", SetArgs()).is_error);
    CHECK(f.agent.Count("SetVariable") == 0);
  }
  SUBCASE("confirmed, then a login: the round after the login does not ask again") {
    f.agent.logged_in = false;
    f.call.can_request_url = true;
    f.call.input_responses = {{ctl::McpTools::kConfirmInputKey,
                               {{"action", "accept"}, {"content", {{"confirm", true}}}}}};
    auto login = f.Call("set_variable", SetArgs());
    REQUIRE(login.input_requests.contains(ctl::McpTools::kLoginInputKey));
    CHECK(login.input_state["confirmed"] == true);
    f.call.input_state = login.input_state;
    f.call.input_responses = {{ctl::McpTools::kLoginInputKey, {{"action", "accept"}}}};
    auto r = f.Call("set_variable", SetArgs());
    REQUIRE_FALSE(r.is_error);
    CHECK(r.input_requests.is_null());
    CHECK(f.Variables("staging")["API_KEY"] == kSecret);
  }
}

TEST_CASE("environment tools: promote starts a deployment's files in another environment") {
  Fixture f;
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  f.AnswerForms(Confirm::kConfirmed);
  auto r = f.Call("promote", {{"deploymentId", d.id()}, {"environment", "staging"}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["promotedOf"] == d.id());
  CHECK(r.structured["environment"] == "staging");
  CHECK(Has(r.structured["nextStep"], "wait_for_deployment"));
  REQUIRE(f.asked.size() == 1);
  CHECK(Has(f.asked[0], "deployment " + d.id() + " in staging"));
  f.call.as_task = true;
  auto task = f.Call("promote", {{"deploymentId", d.id()}, {"environment", "staging"}});
  REQUIRE_FALSE(task.is_error);
  CHECK(task.structured["status"] == "complete");
  CHECK(task.structured["timedOut"] == false);
  f.AnswerForms(Confirm::kRefused);
  auto declined = f.Call("promote", {{"deploymentId", d.id()}, {"environment", "staging"}});
  CHECK(declined.is_error);
  CHECK(f.agent.Count("Promote") == 2);
}

TEST_CASE("environment tools: deploy, list_deployments and rollback take an environment") {
  Fixture f;
  auto d = f.Call("deploy", {{"directory", "api"}, {"environment", "staging"}});
  REQUIRE_FALSE(d.is_error);
  CHECK(f.agent.last_deploy->environment() == "staging");
  CHECK(d.structured["environment"] == "staging");
  auto list = f.Call("list_deployments", {{"environment", "production"}});
  CHECK(list.structured["deployments"].empty());
  auto staged = f.Call("list_deployments", {{"environment", "staging"}});
  CHECK(staged.structured["deployments"].size() == 1);
}

TEST_CASE("environment tools: on a platform without environments each says so") {
  Fixture f;
  f.agent.environments_offered = false;
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  const std::vector<std::pair<std::string, json>> calls = {
      {"list_environments", {{"projectId", "p1"}}},
      {"list_variables", {{"projectId", "p1"}, {"environment", "staging"}}},
      {"set_variable", SetArgs()},
      {"unset_variable", {{"key", "K"}, {"environment", "staging"}, {"projectId", "p1"}}},
      {"promote", {{"deploymentId", d.id()}, {"environment", "staging"}}},
      {"deploy", {{"directory", "api"}, {"environment", "staging"}}},
  };
  for (const auto& [tool, args] : calls) {
    CAPTURE(tool);
    auto r = f.Call(tool, args);
    CHECK(r.is_error);
    CHECK(Has(r.message, tool + " failed: this platform does not offer environments"));
  }
}
