// `backend-im mcp` as a JSON-RPC peer: lifecycle, version negotiation, tools/list, malformed
// input, batches, shutdown and `mcp config`. Raw lines over pipes to the real binary, in an
// isolated HOME with a real mock platform behind a real agent.
#include <climits>
#include <cstdlib>

#include "tests/integration/mcp_test_util.h"

using namespace bim::test;

namespace {

const std::set<std::string> kToolNames = {"generate",
                                          "deploy",
                                          "wait_for_deployment",
                                          "deployment_status",
                                          "list_deployments",
                                          "auth_status",
                                          "auth_login_start",
                                          "auth_login_check",
                                          "rollback",
                                          "diff",
                                          "restore",
                                          "promote",
                                          "list_environments",
                                          "list_variables",
                                          "set_variable",
                                          "unset_variable",
                                          "get_logs"};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

}  // namespace

TEST_CASE("initialize answers a supported version with that version, else the latest, 2025-11-25") {
  AgentFixture f;
  for (const std::string asked :
       {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "1999-01-01", "2099-12-31"}) {
    CAPTURE(asked);
    McpSession s(f.Options());
    json r = s.Initialize(asked);
    bool supported = asked != "1999-01-01" && asked != "2099-12-31";
    CHECK(r["protocolVersion"] == (supported ? asked : std::string("2025-11-25")));
    CHECK(r["capabilities"]["tools"].is_object());
    CHECK(r["serverInfo"]["name"] == "backend-im");
    CHECK(r["serverInfo"]["version"].is_string());
    CHECK(Contains(r.value("instructions", ""), "wait_for_deployment"));
    CHECK(s.Call("ping")["result"] == json::object());
    // Structured output is a 2025-06-18 feature: older sessions see no outputSchema.
    json tools = s.Call("tools/list")["result"]["tools"];
    REQUIRE(tools.size() == kToolNames.size());
    CHECK(tools[0].contains("outputSchema") == (r["protocolVersion"] >= "2025-06-18"));
    CHECK(s.stray().empty());
  }
}

TEST_CASE("initialize is sent once, and needs a protocolVersion") {
  AgentFixture f;
  McpSession s(f.Options());
  json bad = s.Call("initialize", {{"capabilities", json::object()}});
  CHECK(ErrorCodeOf(bad) == -32602);
  s.Initialize();
  json again = s.Call("initialize", {{"protocolVersion", "2025-06-18"}});
  CHECK(ErrorCodeOf(again) == -32600);
  CHECK(Contains(again["error"]["message"], "already initialized"));
}

TEST_CASE("requests before initialize are refused, except ping") {
  AgentFixture f;
  McpSession s(f.Options());
  json list = s.Call("tools/list");
  CHECK(ErrorCodeOf(list) == -32002);
  CHECK(Contains(list["error"]["message"], "initialize"));
  json call = s.Call("tools/call", {{"name", "auth_status"}, {"arguments", json::object()}});
  CHECK(ErrorCodeOf(call) == -32002);
  CHECK(s.Call("ping")["result"] == json::object());
  s.Initialize();
  CHECK(s.Call("tools/list")["result"]["tools"].size() == kToolNames.size());
  // "params": null counts as no params.
  s.SendLine(R"({"jsonrpc":"2.0","id":"null-params","method":"tools/list","params":null})");
  auto r = s.Response("null-params");
  REQUIRE(r.has_value());
  CHECK((*r)["result"]["tools"].size() == kToolNames.size());
  // Nothing before initialize reached the agent or the platform.
  CHECK(f.AgentPid() == 0);
}

TEST_CASE("tools/list: every tool has a description, an object inputSchema and an outputSchema") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize();
  json tools = s.Call("tools/list")["result"]["tools"];
  std::set<std::string> names;
  for (const auto& t : tools) {
    std::string name = t["name"];
    CAPTURE(name);
    names.insert(name);
    CHECK(t["description"].get<std::string>().size() > 40);
    CHECK(t["title"].is_string());
    const json& in = t["inputSchema"];
    CHECK(in["type"] == "object");
    CHECK(in["properties"].is_object());
    CHECK(in["additionalProperties"] == false);
    for (const auto& [prop, schema] : in["properties"].items()) {
      CAPTURE(prop);
      CHECK(schema["description"].get<std::string>().size() > 10);
      CHECK(schema["type"].is_string());
    }
    for (const auto& req : in.value("required", json::array())) {
      CHECK(in["properties"].contains(req.get<std::string>()));
    }
    CHECK(t["outputSchema"]["type"] == "object");
    CHECK(t["annotations"].is_object());
    // One type per field everywhere: a field that may be unknown is optional, not nullable.
    std::vector<std::string> list_types;
    ListTypesIn(t["inputSchema"], "inputSchema", list_types);
    ListTypesIn(t["outputSchema"], "outputSchema", list_types);
    CHECK_MESSAGE(list_types.empty(), Join(list_types));
    std::function<void(const json&, const std::string&)> required_are_properties =
        [&](const json& schema, const std::string& where) {
          if (!schema.is_object()) return;
          for (const auto& req : schema.value("required", json::array())) {
            const bool listed = schema.contains("properties") &&
                                schema["properties"].contains(req.get<std::string>());
            CHECK_MESSAGE(listed, where << " requires " << req);
          }
          // value() returns a temporary: keep it alive for the loop (items() only refers to it).
          const json properties = schema.value("properties", json::object());
          for (const auto& [prop, sub] : properties.items()) {
            required_are_properties(sub, where + "." + prop);
          }
          if (schema.contains("items")) required_are_properties(schema["items"], where + "[]");
        };
    required_are_properties(t["outputSchema"], "outputSchema");
  }
  CHECK(names == kToolNames);
  auto find = [&](const std::string& n) {
    for (const auto& t : tools) {
      if (t["name"] == n) return t;
    }
    return json();
  };
  CHECK(find("generate")["inputSchema"]["required"] == json({"prompt", "directory"}));
  CHECK(find("deploy")["inputSchema"]["required"] == json({"directory"}));
  CHECK(find("wait_for_deployment")["inputSchema"]["required"] == json({"deploymentId"}));
  CHECK(find("wait_for_deployment")["inputSchema"]["properties"]["timeoutSeconds"]["type"] ==
        "integer");
  CHECK(find("auth_login_check")["inputSchema"]["required"] == json({"loginId"}));
  CHECK_FALSE(find("auth_status")["inputSchema"].contains("required"));
  CHECK(find("deployment_status")["annotations"]["readOnlyHint"] == true);
  CHECK(find("deploy")["annotations"]["readOnlyHint"] == false);
  // Relative directories are explained with the folder they resolve against.
  CHECK(Contains(find("generate")["inputSchema"]["properties"]["directory"]["description"],
                 "relative"));
}

TEST_CASE("malformed lines get JSON-RPC errors and the server keeps serving") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize();
  auto expect_error = [&](const std::string& line, int code, const json& id) {
    CAPTURE(line);
    s.SendLine(line);
    auto r = s.Next(seconds(10));
    REQUIRE(r.has_value());
    CHECK(ErrorCodeOf(*r) == code);
    CHECK((*r)["id"] == id);
    CHECK((*r)["jsonrpc"] == "2.0");
  };
  expect_error("this is not json", -32700, nullptr);
  expect_error(R"({"jsonrpc":"2.0","id":1,"method":"ping")", -32700, nullptr);
  expect_error("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"p\xff\xfeng\"}", -32700, nullptr);
  expect_error("42", -32600, nullptr);
  expect_error(R"("ping")", -32600, nullptr);
  expect_error("[]", -32600, nullptr);
  expect_error(R"({"jsonrpc":"1.0","id":5,"method":"ping"})", -32600, 5);
  expect_error(R"({"id":6,"method":"ping"})", -32600, 6);
  expect_error(R"({"jsonrpc":"2.0","id":7,"method":17})", -32600, 7);
  expect_error(R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})", -32600, nullptr);
  expect_error(R"({"jsonrpc":"2.0","id":null,"method":"ping"})", -32600, nullptr);
  expect_error(R"({"jsonrpc":"2.0","id":8})", -32600, 8);
  expect_error(R"({"jsonrpc":"2.0","id":9,"method":"resources/list"})", -32601, 9);
  expect_error(R"({"jsonrpc":"2.0","id":"x","method":"tools/list","params":[1]})", -32602, "x");
  expect_error(R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{}})", -32602, 10);
  expect_error(R"({"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"rm_rf"}})",
               -32602, 11);
  expect_error(
      R"({"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"auth_status","arguments":[1]}})",
      -32602, 12);
  expect_error(R"([{"jsonrpc":"2.0","id":13,"method":"ping"}])", -32600, nullptr);
  // Nesting a parser would survive but a copy would not: refused before parsing.
  expect_error(std::string(100000, '[') + std::string(100000, ']'), -32700, nullptr);
  expect_error(R"({"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"auth_status",)"
               R"("arguments":{"x":)" +
                   std::string(200000, '[') + std::string(200000, ']') + "}}}",
               -32700, nullptr);
  // Brackets inside strings are text, not nesting.
  s.SendLine(R"({"jsonrpc":"2.0","id":16,"method":"ping","params":{"s":")" +
             std::string(1000, '[') + R"(\"{"}})");
  auto strings = s.Next(seconds(10));
  REQUIRE(strings.has_value());
  CHECK((*strings)["id"] == 16);
  CHECK((*strings)["result"] == json::object());
  // Unknown notifications, client responses and blank lines get nothing back.
  s.SendLine(R"({"jsonrpc":"2.0","method":"notifications/whatever","params":{}})");
  s.SendLine(R"({"jsonrpc":"2.0","id":99,"result":{}})");
  s.SendLine("   ");
  s.SendLine("");
  // A line far over the size limit is dropped with one parse error.
  s.SendLine(R"({"jsonrpc":"2.0","id":14,"method":"ping","params":{"pad":")" +
             std::string(17 * 1024 * 1024, 'x') + "\"}}");
  auto big = s.Next(seconds(30));
  REQUIRE(big.has_value());
  CHECK(ErrorCodeOf(*big) == -32700);
  CHECK((*big)["id"] == nullptr);
  // Still alive and in order: the next answer is the ping's.
  int64_t id = s.SendRequest("ping");
  auto pong = s.Next(seconds(10));
  REQUIRE(pong.has_value());
  CHECK((*pong)["id"] == id);
  CHECK((*pong)["result"] == json::object());
  CHECK(s.Running());
  CHECK(s.stray().empty());
}

TEST_CASE("a string id and a CRLF line are answered as such") {
  AgentFixture f;
  McpSession s(f.Options());
  s.SendLine(
      R"({"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{"protocolVersion":"2025-03-26"}})"
      "\r");
  auto r = s.Next(seconds(10));
  REQUIRE(r.has_value());
  CHECK((*r)["id"] == "init-1");
  CHECK((*r)["result"]["protocolVersion"] == "2025-03-26");
}

TEST_CASE("2025-03-26 sessions may send batches, and each request in one is answered") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize("2025-03-26");
  s.SendLine(
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},)"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"},)"
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_deployments"}},)"
      R"({"jsonrpc":"2.0","id":3,"method":"nope"}])");
  auto r = s.Next(seconds(30));
  REQUIRE(r.has_value());
  REQUIRE(r->is_array());
  REQUIRE(r->size() == 3);
  std::map<int, json> by_id;
  for (const auto& m : *r) by_id[m["id"].get<int>()] = m;
  CHECK(by_id[1]["result"] == json::object());
  CHECK(by_id[2]["result"]["isError"] == false);
  CHECK(by_id[2]["result"].contains("structuredContent") == false);  // not in 2025-03-26
  CHECK(json::parse(ResultText(by_id[2]["result"]))["deployments"] == json::array());
  CHECK(ErrorCodeOf(by_id[3]) == -32601);
}

TEST_CASE("a request that reuses the id of a call in flight is -32600, and the call goes on") {
  AgentWithSession rig("150");
  auto& [f, s] = rig;
  s.Initialize();
  // One wait under a string id and one under an integer id, both for a deployment of 1.05 s,
  // so both are still waiting while the reuses arrive (they are answered in milliseconds; each
  // answer saying "in flight" shows that it still was).
  const std::vector<json> ids = {json("wait-1"), json(4242)};
  auto d = f.Deploy(f.MakeProject("p"));
  for (const json& id : ids) {
    s.Send({{"jsonrpc", "2.0"},
            {"id", id},
            {"method", "tools/call"},
            {"params",
             {{"name", "wait_for_deployment"},
              {"arguments", {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 60}}}}}});
  }
  // Every kind of request under that id while the call runs: each is refused on its own.
  auto reuses_of = [&](const json& id) -> std::vector<json> {
    return {
        {{"jsonrpc", "2.0"}, {"id", id}, {"method", "ping"}},
        {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/list"}},
        {{"jsonrpc", "2.0"},
         {"id", id},
         {"method", "tools/call"},
         {"params",
          {{"name", "deployment_status"}, {"arguments", {{"deploymentId", d["deploymentId"]}}}}}},
        {{"jsonrpc", "2.0"}, {"id", id}, {"method", "no/such/method"}},
        {{"jsonrpc", "2.0"},
         {"id", id},
         {"method", "initialize"},
         {"params", {{"protocolVersion", "2025-06-18"}}}},
    };
  };
  for (const json& id : ids) {
    CAPTURE(id);
    for (const auto& r : reuses_of(id)) {
      CAPTURE(r.dump());
      s.Send(r);
      auto answer = s.Next(seconds(10));
      REQUIRE(answer.has_value());
      CHECK((*answer)["id"] == id);
      CHECK(ErrorCodeOf(*answer) == -32600);
      CHECK(Contains((*answer)["error"].value("message", ""), "in flight"));
    }
  }
  for (const json& id : ids) {
    CAPTURE(id);
    // The call itself is answered once, with its result (the two answers come in any order).
    auto w = s.Response(id, seconds(60));
    REQUIRE(w.has_value());
    REQUIRE_MESSAGE(w->contains("result"), w->dump());
    CHECK((*w)["result"]["structuredContent"]["status"] == "complete");
    // Once answered, the id is free again.
    s.Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", "ping"}});
    auto pong = s.Response(id, seconds(10));
    REQUIRE(pong.has_value());
    CHECK((*pong)["result"] == json::object());
    int answers = 0;
    for (const auto& m : s.lines()) {
      if (m.is_object() && m.contains("id") && m["id"] == id) ++answers;
    }
    CHECK(answers == static_cast<int>(reuses_of(id).size()) + 2);
  }
  CHECK(s.stray().empty());
}

TEST_CASE("end of input ends the server with exit 0, even with a call in flight") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "2000"});
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  // The grace for calls in flight, shorter than the default 2 s so that the test shows it used.
  const milliseconds grace(300);
  ProcessOptions o = f.Options();
  o.env["BACKEND_IM_MCP_EXIT_GRACE_MS"] = std::to_string(grace.count());
  McpSession s(o);
  s.Initialize();
  s.SendRequest("tools/call",
                {{"name", "wait_for_deployment"},
                 {"arguments", {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 600}}},
                 {"_meta", {{"progressToken", "eof"}}}});
  // Its first progress shows the wait under way.
  auto progress = s.Next(seconds(10));
  REQUIRE(progress.has_value());
  REQUIRE(progress->value("method", "") == "notifications/progress");
  auto started = std::chrono::steady_clock::now();
  s.CloseInput();
  auto code = s.Wait(seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= grace);
  CHECK(took < seconds(2));
}

TEST_CASE("an exit grace that is not a whole number of milliseconds up to 900000 is refused") {
  AgentFixture f({}, /*start_mock=*/false);
  for (const char* bad : {"abc", "-1", "900001", "2s", " 5", "99999999999999999999"}) {
    CAPTURE(bad);
    ProcessOptions o = f.Options();
    o.env["BACKEND_IM_MCP_EXIT_GRACE_MS"] = bad;
    auto r = Run({CtlBinary(), "mcp"}, o, seconds(10));
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, "BACKEND_IM_MCP_EXIT_GRACE_MS"));
    CHECK(r.out.empty());
  }
  for (const char* good : {"0", "900000"}) {
    CAPTURE(good);
    ProcessOptions o = f.Options();
    o.env["BACKEND_IM_MCP_EXIT_GRACE_MS"] = good;
    o.env["BACKEND_IM_NO_AUTOSTART"] = "1";
    auto r = Run({CtlBinary(), "mcp"}, o, seconds(10));
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("a script piped into mcp gets every answer before the server exits") {
  AgentFixture f;
  std::string script =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})"
      "\n"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
      "\n"
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_deployments"}})"
      "\n";
  auto r = Run({CtlBinary(), "mcp"}, f.Options(script), seconds(20));
  REQUIRE(r.exit_code == 0);
  auto lines = JsonLines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["id"] == 1);
  CHECK(lines[1]["id"] == 2);
  CHECK(lines[1]["result"]["structuredContent"]["deployments"] == json::array());
}

TEST_CASE("SIGTERM ends the server cleanly") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize();
  ::kill(s.pid(), SIGTERM);
  auto code = s.Wait(seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("stdout carries protocol messages only, logs go to stderr") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize();
  s.CallTool("auth_status");  // starts the agent: the busiest path for stray output
  s.CloseInput();
  REQUIRE(s.Wait(seconds(10)).has_value());
  while (s.Next(milliseconds(200))) {
  }
  CHECK(s.stray().empty());
  CHECK(Contains(s.Stderr(), "mcp"));
}

TEST_CASE("mcp config prints the registration with the binary's absolute path") {
  AgentFixture f;
  std::string bin = RealPath(CtlBinary());

  auto claude = f.Ctl({"mcp", "config", "--client", "claude"});
  REQUIRE(claude.exit_code == 0);
  CHECK(Contains(claude.out, "claude mcp add backend-im"));
  CHECK(Contains(claude.out, "-- " + bin + " mcp\n"));
  // The platform URL in force is carried over, so the assistant's server uses the same one.
  CHECK(Contains(claude.out, "--env BACKEND_IM_API_URL=" + f.mock().http_url()));

  auto cursor = f.Ctl({"mcp", "config", "--client", "cursor"});
  REQUIRE(cursor.exit_code == 0);
  json c = json::parse(cursor.out);
  CHECK(c["mcpServers"]["backend-im"]["command"] == bin);
  CHECK(c["mcpServers"]["backend-im"]["args"] == json({"mcp"}));
  CHECK(c["mcpServers"]["backend-im"]["env"]["BACKEND_IM_API_URL"] == f.mock().http_url());

  auto generic = f.Ctl({"mcp", "config", "--client", "generic"});
  REQUIRE(generic.exit_code == 0);
  json g = json::parse(generic.out);
  CHECK(g["mcpServers"]["backend-im"]["type"] == "stdio");
  CHECK(g["mcpServers"]["backend-im"]["command"] == bin);

  auto all = f.Ctl({"mcp", "config"});
  REQUIRE(all.exit_code == 0);
  CHECK(Contains(all.out, "claude mcp add"));
  CHECK(Contains(all.out, "Cursor"));
  CHECK(CountOf(all.out, "\"mcpServers\"") == 2);

  auto bad = f.Ctl({"mcp", "config", "--client", "vim"});
  CHECK(bad.exit_code == 2);

  // A token in the environment is a secret: never copied into a snippet.
  ProcessOptions o = f.Options();
  o.env["BACKEND_IM_TOKEN"] = "secret-token-value";
  auto with_token = Run({CtlBinary(), "mcp", "config"}, o);
  REQUIRE(with_token.exit_code == 0);
  CHECK_FALSE(Contains(with_token.out, "secret-token-value"));
}

// ---- 2025-11-25: tasks ------------------------------------------------------------------------

namespace {

// Polls tasks/get until the task leaves "working"; returns the last task seen.
json PollTask(McpSession& s, const std::string& task_id, json meta = nullptr,
              seconds timeout = seconds(60)) {
  json params{{"taskId", task_id}};
  if (!meta.is_null()) params["_meta"] = meta;
  json task;
  bool ended = WaitUntil(
      [&] {
        json r = s.Call("tasks/get", params);
        REQUIRE_MESSAGE(r.contains("result"), r.dump());
        task = r["result"];
        return task["status"] != "working";
      },
      timeout, milliseconds(20));
  if (!ended) FAIL("task " << task_id << " still working: " << task.dump());
  return task;
}

// A 2025-11-25 tools/call of deploy, as a task that lives ttl_ms, for a new project `name`.
json DeployAsTask(AgentFixture& f, McpSession& s, const std::string& name, int ttl_ms) {
  return s.Call("tools/call", {{"name", "deploy"},
                               {"arguments", {{"directory", f.MakeProject(name)}}},
                               {"task", {{"ttl", ttl_ms}}}});
}

}  // namespace

TEST_CASE("2025-11-25 is negotiated with tasks declared, and only its tools/list has execution") {
  AgentFixture f;
  McpSession s(f.Options());
  json r = s.Initialize("2025-11-25");
  CHECK(r["protocolVersion"] == "2025-11-25");
  CHECK(r["capabilities"]["tasks"] ==
        json({{"list", json::object()},
              {"cancel", json::object()},
              {"requests", {{"tools", {{"call", json::object()}}}}}}));
  std::set<std::string> task_tools;
  const json tools = s.Call("tools/list")["result"]["tools"];  // kept: the loop reads it
  for (const auto& t : tools) {
    if (t.contains("execution")) {
      CHECK(t["execution"] == json({{"taskSupport", "optional"}}));
      task_tools.insert(t["name"].get<std::string>());
    }
  }
  CHECK(task_tools == std::set<std::string>{"deploy", "promote", "wait_for_deployment"});
  // Older revisions: no tasks capability, no execution, and params.task is ignored.
  McpSession old(f.Options());
  json r2 = old.Initialize("2025-06-18");
  CHECK_FALSE(r2["capabilities"].contains("tasks"));
  const json old_tools = old.Call("tools/list")["result"]["tools"];
  for (const auto& t : old_tools) CHECK_FALSE(t.contains("execution"));
  json plain = old.Call("tools/call", {{"name", "list_deployments"}, {"task", {{"ttl", 1000}}}});
  CHECK(plain["result"]["structuredContent"]["deployments"] == json::array());
  CHECK(ErrorCodeOf(old.Call("tasks/list")) == -32601);
}

TEST_CASE(
    "2025-11-25 task deploy: answered at once, tasks/get shows stages, tasks/result has the URL") {
  AgentWithSession rig("150");
  auto& [f, s] = rig;
  s.Initialize("2025-11-25");
  json created = DeployAsTask(f, s, "task-api", 60000);
  REQUIRE_MESSAGE(created.contains("result"), created.dump());
  json task = created["result"]["task"];
  std::string id = task["taskId"];
  CHECK(id.size() == 32);
  CHECK(task["status"] == "working");
  CHECK(task["ttl"] == 60000);
  CHECK(task["pollInterval"].is_number_integer());
  CHECK(task["createdAt"].is_string());
  CHECK(task["lastUpdatedAt"].is_string());
  CHECK(task["statusMessage"].is_string());
  CHECK_FALSE(created["result"].contains("content"));

  // tasks/get while it runs: the stage reached, from the tool's progress; a stray `task`
  // member (the SDK 1.32 client sends one) changes nothing.
  std::set<std::string> stages;
  json last;
  for (int i = 0; i < 400; ++i) {
    json g = s.Call("tasks/get", {{"taskId", id}, {"task", {{"ttl", 60000}}}});
    REQUIRE_MESSAGE(g.contains("result"), g.dump());
    last = g["result"];
    CHECK(last["taskId"] == id);
    CHECK_FALSE(last.contains(kRelatedTask));
    std::string msg = last.value("statusMessage", "");
    stages.insert(msg.substr(0, msg.find(':')));
    if (last["status"] != "working") break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(last["status"] == "completed");
  CHECK(stages.count("building") == 1);
  CHECK(stages.count("health_check") == 1);

  json listed = s.Call("tasks/list")["result"]["tasks"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["taskId"] == id);

  json r = s.Call("tasks/result", {{"taskId", id}, {"task", {{"ttl", 60000}}}});
  REQUIRE_MESSAGE(r.contains("result"), r.dump());
  json result = r["result"];
  CHECK(result["_meta"][kRelatedTask] == json({{"taskId", id}}));
  CHECK(result["isError"] == false);
  json sc = result["structuredContent"];
  CHECK(sc["status"] == "complete");
  CHECK(sc["url"] == "https://" + sc["commitHash"].get<std::string>() + ".backend.im");
  CHECK(sc["logs"].size() > 3);
  CHECK(sc["fileCount"].is_number_integer());  // deploy's own fields are kept
  CHECK(Contains(sc["nextStep"], sc["url"]));
  // Cancelling a task that ended is -32602; so is an unknown task.
  CHECK(ErrorCodeOf(s.Call("tasks/cancel", {{"taskId", id}})) == -32602);
  for (const char* m : {"tasks/get", "tasks/result", "tasks/cancel"}) {
    CAPTURE(m);
    CHECK(ErrorCodeOf(s.Call(m, {{"taskId", "no-such-task"}})) == -32602);
  }
  auto hist = f.Ctl({"history", "--json"});
  CHECK(json::parse(hist.out)[0]["status"] == "complete");
  CHECK(s.stray().empty());
}

TEST_CASE("2025-11-25 tasks/result blocks until the task ends, and an error result fails it") {
  // A deployment of 1.05 s, from a deploy made once the session is up.
  AgentWithSession rig("150");
  auto& [f, s] = rig;
  s.Initialize("2025-11-25");
  auto d = f.Deploy(f.MakeProject("p"));
  json created = s.Call(
      "tools/call", {{"name", "wait_for_deployment"},
                     {"arguments", {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 60}}},
                     {"task", json::object()}});
  std::string id = created["result"]["task"]["taskId"];
  // Asked at once: the answer comes when the deployment is complete, most of a second later.
  auto start = std::chrono::steady_clock::now();
  json r = s.Call("tasks/result", {{"taskId", id}});
  CHECK(std::chrono::steady_clock::now() - start > milliseconds(500));
  CHECK(r["result"]["structuredContent"]["status"] == "complete");
  CHECK(r["result"]["_meta"][kRelatedTask]["taskId"] == id);
  CHECK(s.Call("tasks/get", {{"taskId", id}})["result"]["status"] == "completed");

  // A tool error result makes the task failed, and tasks/result still gives that result.
  json bad = s.Call("tools/call",
                    {{"name", "wait_for_deployment"},
                     {"arguments", {{"deploymentId", "550e8400-e29b-41d4-a716-446655440000"}}},
                     {"task", json::object()}});
  std::string bad_id = bad["result"]["task"]["taskId"];
  json failed = PollTask(s, bad_id);
  CHECK(failed["status"] == "failed");
  json br = s.Call("tasks/result", {{"taskId", bad_id}})["result"];
  CHECK(br["isError"] == true);
  CHECK(Contains(ResultText(br), "no deployment"));
  // A tool without taskSupport cannot be called as a task (-32601).
  json no = s.Call("tools/call", {{"name", "auth_status"}, {"task", json::object()}});
  CHECK(ErrorCodeOf(no) == -32601);
}

TEST_CASE("2025-11-25 tasks/cancel stops the task's wait, never the deployment") {
  // The cancel comes at "queued" or "committing", 1.2 s or more before the end.
  AgentWithSession rig("200");
  auto& [f, s] = rig;
  s.Initialize("2025-11-25");
  json created = DeployAsTask(f, s, "cancel-api", 30000);
  std::string id = created["result"]["task"]["taskId"];
  // A tasks/result waiting meanwhile is answered by the cancel.
  int64_t waiting = s.SendRequest("tasks/result", {{"taskId", id}});
  // Once the upload is done and the deploy is being followed.
  for (int i = 0; i < 100; ++i) {
    json g = s.Call("tasks/get", {{"taskId", id}})["result"];
    if (Contains(g.value("statusMessage", ""), "committing") ||
        Contains(g.value("statusMessage", ""), "queued")) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  json c = s.Call("tasks/cancel", {{"taskId", id}});
  REQUIRE_MESSAGE(c.contains("result"), c.dump());
  CHECK(c["result"]["taskId"] == id);
  CHECK(c["result"]["status"] == "cancelled");
  CHECK(c["result"]["ttl"] == 30000);
  // Its answer may have come while the cancel was awaited (Response finds it then).
  auto r = s.Response(waiting, seconds(10));
  REQUIRE(r.has_value());
  CHECK((*r)["result"]["isError"] == true);
  CHECK((*r)["result"]["_meta"][kRelatedTask]["taskId"] == id);
  CHECK(Contains(ResultText((*r)["result"]), "cancelled"));
  // The deployment goes on to complete, and the task stays cancelled after that end.
  json h = json::parse(f.Ctl({"history", "--json"}).out);
  REQUIRE(h.size() == 1);
  json w = s.CallTool("wait_for_deployment",
                      {{"deploymentId", h[0]["deploymentId"]}, {"timeoutSeconds", 60}});
  CHECK(w["structuredContent"]["status"] == "complete");
  CHECK(s.Call("tasks/get", {{"taskId", id}})["result"]["status"] == "cancelled");
  CHECK(ErrorCodeOf(s.Call("tasks/cancel", {{"taskId", id}})) == -32602);
}

// ---- 2026-07-28: no handshake, server/discover, the tasks extension ---------------------------

TEST_CASE("2026-07-28: server/discover without initialize, and requests that carry their version") {
  AgentFixture f;
  McpSession s(f.Options());
  json d = s.Call("server/discover", ModernParams());
  REQUIRE_MESSAGE(d.contains("result"), d.dump());
  json r = d["result"];
  CHECK(r["resultType"] == "complete");
  CHECK(r["supportedVersions"][0] == "2026-07-28");
  CHECK(Contains(r["supportedVersions"].dump(), "2025-11-25"));
  CHECK(r["capabilities"]["tools"].is_object());
  CHECK(r["capabilities"]["extensions"] ==
        json({{"io.modelcontextprotocol/tasks", json::object()}}));
  CHECK_FALSE(r["capabilities"].contains("tasks"));
  CHECK(r["ttlMs"].is_number_integer());
  CHECK(r["cacheScope"] == "public");
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "backend-im");
  CHECK(Contains(r.value("instructions", ""), "deploy"));

  json list = s.Call("tools/list", ModernParams())["result"];
  CHECK(list["resultType"] == "complete");
  CHECK(list["tools"].size() == kToolNames.size());
  CHECK(list["ttlMs"].is_number_integer());
  CHECK(list["cacheScope"].is_string());
  for (const auto& t : list["tools"]) CHECK_FALSE(t.contains("execution"));
  json call = s.Call("tools/call", ModernParams({{"name", "auth_status"}}))["result"];
  CHECK(call["resultType"] == "complete");
  CHECK(call["structuredContent"]["loggedIn"] == false);
  CHECK(call["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "backend-im");

  // Errors: an unsupported version (-32022, naming the supported one), a missing envelope
  // key (-32602), methods 2026-07-28 removed (-32601).
  json old = s.Call("tools/list", {{"_meta", ModernMeta(true, "2025-06-18")}});
  CHECK(ErrorCodeOf(old) == -32022);
  CHECK(old["error"]["data"]["supported"] == json::array({"2026-07-28"}));
  CHECK(old["error"]["data"]["requested"] == "2025-06-18");
  CHECK(ErrorCodeOf(s.Call(
            "tools/list",
            {{"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}})) == -32602);
  CHECK(ErrorCodeOf(s.Call("server/discover")) == -32602);
  CHECK(ErrorCodeOf(s.Call("ping", ModernParams())) == -32601);
  CHECK(ErrorCodeOf(s.Call("tasks/result", ModernParams({{"taskId", "x"}}))) == -32601);
  CHECK(ErrorCodeOf(s.Call("tasks/list", ModernParams())) == -32601);
  // Without the extension, the task methods are -32021 naming it.
  json no_ext = s.Call("tasks/get", ModernParams({{"taskId", "x"}}, /*with_tasks=*/false));
  CHECK(ErrorCodeOf(no_ext) == -32021);
  CHECK(no_ext["error"]["data"]["requiredCapabilities"]["extensions"].contains(
      "io.modelcontextprotocol/tasks"));
  CHECK(ErrorCodeOf(s.Call("tasks/get", ModernParams({{"taskId", "x"}}))) == -32602);
  // The same process still takes a legacy initialize afterwards (a dual-era client's fallback).
  CHECK(s.Initialize("2025-11-25")["protocolVersion"] == "2025-11-25");
  CHECK(s.Call("tools/list")["result"]["tools"].size() == kToolNames.size());
  CHECK(s.stray().empty());
}

TEST_CASE(
    "2026-07-28 tasks extension: deploy is a task, tasks/get embeds the result with the URL") {
  AgentWithSession rig("100");
  auto& [f, s] = rig;
  std::string dir = f.MakeProject("modern-api");
  json created =
      s.Call("tools/call", ModernParams({{"name", "deploy"}, {"arguments", {{"directory", dir}}}}));
  REQUIRE_MESSAGE(created.contains("result"), created.dump());
  json t = created["result"];
  CHECK(t["resultType"] == "task");
  CHECK(t["status"] == "working");
  CHECK(t["ttlMs"].is_number_integer());
  CHECK(t["pollIntervalMs"].is_number_integer());
  CHECK_FALSE(t.contains("ttl"));
  CHECK_FALSE(t.contains("task"));
  std::string id = t["taskId"];
  json done = PollTask(s, id, ModernMeta());
  CHECK(done["resultType"] == "complete");
  CHECK(done["status"] == "completed");
  json sc = done["result"]["structuredContent"];
  CHECK(done["result"]["resultType"] == "complete");
  CHECK(sc["status"] == "complete");
  CHECK(sc["url"] == "https://" + sc["commitHash"].get<std::string>() + ".backend.im");
  CHECK(s.Call("tasks/cancel", ModernParams({{"taskId", id}}))["result"] ==
        json({{"resultType", "complete"}, {"_meta", done["_meta"]}}));
  // Without the extension deploy answers at once, as before tasks.
  json plain =
      s.Call("tools/call", ModernParams({{"name", "deploy"}, {"arguments", {{"directory", dir}}}},
                                        /*with_tasks=*/false))["result"];
  CHECK(plain["resultType"] == "complete");
  CHECK(plain["structuredContent"]["deploymentId"].is_string());
  CHECK_FALSE(plain["structuredContent"].contains("url"));
  // A legacy session does not see modern tasks.
  CHECK(s.Initialize("2025-11-25")["protocolVersion"] == "2025-11-25");
  CHECK(ErrorCodeOf(s.Call("tasks/get", {{"taskId", id}})) == -32602);
}

TEST_CASE("2026-07-28 tasks/cancel acknowledges and stops the wait") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "400"});
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  McpSession s(f.Options());
  json created =
      s.Call("tools/call", ModernParams({{"name", "wait_for_deployment"},
                                         {"arguments", {{"deploymentId", d["deploymentId"]}}}}));
  std::string id = created["result"]["taskId"];
  json c = s.Call("tasks/cancel", ModernParams({{"taskId", id}}));
  CHECK(c["result"]["resultType"] == "complete");
  json g = s.Call("tasks/get", ModernParams({{"taskId", id}}))["result"];
  CHECK(g["status"] == "cancelled");
  CHECK_FALSE(g.contains("result"));
  CHECK(s.Call("tasks/update",
               ModernParams(
                   {{"taskId", id}, {"inputResponses", json::object()}}))["result"]["resultType"] ==
        "complete");
}
