// Login from inside the assistant: a tool that needs a login, called while the agent has none,
// sends the person to the platform's device-login page through the client (URL-mode
// elicitation) and runs once they approved. Raw JSON-RPC over pipes to the real ctl, with a
// real agent and mock; the test plays both the client and the person (who approves on the
// mock's page, POST /oauth/device/approve).
#include "tests/integration/mcp_test_util.h"

using namespace bim::test;

namespace {

const json kUrlMode = {{"elicitation", {{"url", json::object()}}}};

// The user code in a verification URL (".../device?user_code=ABCD-EFGH").
std::string UserCodeIn(const std::string& url) {
  auto at = url.find("user_code=");
  REQUIRE_MESSAGE(at != std::string::npos, url);
  return url.substr(at + 10);
}

void Approve(AgentFixture& f, const std::string& user_code) {
  auto r =
      HttpRequest("POST", f.mock().http_url() + "/oauth/device/approve", "user_code=" + user_code,
                  {"Content-Type: application/x-www-form-urlencoded"});
  REQUIRE_MESSAGE(r.status == 200, r.body);
}

// The next message that is a request from the server (skipped messages go to others()).
json NextServerRequest(McpSession& s) {
  for (auto it = s.others().begin(); it != s.others().end(); ++it) {
    if (it->contains("method") && it->contains("id")) {
      json m = *it;
      s.others().erase(it);
      return m;
    }
  }
  while (true) {
    auto m = s.Next(seconds(30));
    REQUIRE_MESSAGE(m.has_value(), "no request from the server; stderr:\n" << s.Stderr());
    if (m->contains("method") && m->contains("id")) return *m;
    s.others().push_back(*m);
  }
}

void Answer(McpSession& s, const json& request, json result) {
  s.Send({{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(result)}});
}

bool LoggedIn(AgentFixture& f) {
  return json::parse(f.Ctl({"auth", "status", "--json"}).out)["loggedIn"] == true;
}

json GenerateArgs(const std::string& dir) { return {{"prompt", "todo API"}, {"directory", dir}}; }

}  // namespace

TEST_CASE("2025-11-25: a logged-out generate asks the client to open the login page, then runs") {
  AgentFixture f({"--device-interval", "1"});
  McpSession s(f.Options());
  s.Initialize("2025-11-25", kUrlMode);
  const std::string dir = f.home() / "todo";
  int64_t call =
      s.SendRequest("tools/call", {{"name", "generate"}, {"arguments", GenerateArgs(dir)}});

  json ask = NextServerRequest(s);
  CHECK(ask["method"] == "elicitation/create");
  CHECK(ask["id"].is_string());
  json p = ask["params"];
  CHECK(p["mode"] == "url");
  CHECK(p["elicitationId"].is_string());
  const std::string url = p["url"];
  CHECK(url.rfind(f.mock().http_url() + "/device?user_code=", 0) == 0);
  const std::string code = UserCodeIn(url);
  CHECK(Contains(p["message"], code));
  CHECK(Contains(p["message"], "generate"));
  CHECK_FALSE(p.contains("_meta"));  // not on behalf of a task
  CHECK(ReadFile(dir + "/main.py").empty());

  // The client says the person opened the page; the tool, handed that answer, waits for the
  // approval.
  Answer(s, ask, {{"action", "accept"}});
  s.WaitUntilRead();
  CHECK_FALSE(LoggedIn(f));
  Approve(f, code);
  auto r = s.Response(call, seconds(60));
  REQUIRE(r.has_value());
  json result = (*r)["result"];
  CHECK_MESSAGE(result["isError"] == false, result.dump());
  CHECK(result["structuredContent"]["directory"] == dir);
  CHECK_FALSE(ReadFile(dir + "/main.py").empty());
  // The client heard that the page's flow is done, before the tool's answer.
  bool completed = false;
  for (const auto& m : s.others()) {
    if (m.value("method", "") == "notifications/elicitation/complete") {
      completed = m["params"]["elicitationId"] == p["elicitationId"];
    }
  }
  CHECK(completed);
  json status = json::parse(f.Ctl({"auth", "status", "--json"}).out);
  CHECK(status["loggedIn"] == true);
  CHECK(status["source"] == "device");
  CHECK(s.stray().empty());
}

TEST_CASE(
    "2025-11-25: a declined or failed login page changes nothing, and form-only clients "
    "are not asked") {
  AgentFixture f({"--device-interval", "1"});
  const std::string dir = f.home() / "todo";
  {
    McpSession s(f.Options());
    s.Initialize("2025-11-25", kUrlMode);
    for (const json& answer : {json{{"result", {{"action", "decline"}}}},
                               json{{"error", {{"code", -32601}, {"message", "no browser"}}}}}) {
      CAPTURE(answer);
      int64_t call =
          s.SendRequest("tools/call", {{"name", "generate"}, {"arguments", GenerateArgs(dir)}});
      json ask = NextServerRequest(s);
      REQUIRE(ask["method"] == "elicitation/create");
      json reply{{"jsonrpc", "2.0"}, {"id", ask["id"]}};
      reply.update(answer);
      s.Send(reply);
      auto r = s.Response(call, seconds(30));
      REQUIRE(r.has_value());
      json result = (*r)["result"];
      CHECK(IsErrorResult(result));
      CHECK(Contains(ResultText(result), "not logged in"));
      CHECK(Contains(ResultText(result), answer.contains("error") ? "could not show the login page"
                                                                  : "did not open the login page"));
      CHECK(Contains(ResultText(result), "backend-im auth login"));
    }
    // The client cancels its call while the page is shown: the server withdraws its request
    // and answers nothing.
    int64_t call =
        s.SendRequest("tools/call", {{"name", "generate"}, {"arguments", GenerateArgs(dir)}});
    json ask = NextServerRequest(s);
    s.Notify("notifications/cancelled", {{"requestId", call}});
    bool withdrawn = false;
    for (int i = 0; i < 50 && !withdrawn; ++i) {
      auto m = s.Next(milliseconds(200));
      if (!m) continue;
      CHECK_FALSE((m->contains("id") && (*m)["id"] == call));
      withdrawn = m->value("method", "") == "notifications/cancelled" &&
                  (*m)["params"]["requestId"] == ask["id"];
    }
    CHECK(withdrawn);
    CHECK(s.Call("ping")["result"] == json::object());  // and serves on
    CHECK(ReadFile(dir + "/main.py").empty());
    CHECK_FALSE(LoggedIn(f));
  }
  {
    // A platform without the device flow: the usual error, and why no login started here.
    AgentFixture seed({"--seed-only"});
    McpSession s(seed.Options());
    s.Initialize("2025-11-25", kUrlMode);
    json r = s.CallTool("generate", GenerateArgs(seed.home() / "todo"));
    CHECK(IsErrorResult(r));
    CHECK(Contains(ResultText(r), "backend-im auth login"));
    CHECK(Contains(ResultText(r), "a login from here could not start"));
    for (const auto& m : s.lines()) CHECK(m.value("method", "") != "elicitation/create");
  }
  // elicitation: {} declares form mode only, and 2025-06-18 has no URL mode: the error says
  // how to log in instead, and no request goes to the client.
  for (auto [version, caps] : std::vector<std::pair<std::string, json>>{
           {"2025-11-25", {{"elicitation", json::object()}}}, {"2025-06-18", kUrlMode}}) {
    CAPTURE(version);
    McpSession s(f.Options());
    s.Initialize(version, caps);
    json r = s.CallTool("generate", GenerateArgs(dir));
    CHECK(IsErrorResult(r));
    CHECK(Contains(ResultText(r), "auth_login_start"));
    for (const auto& m : s.lines()) CHECK(m.value("method", "") != "elicitation/create");
  }
}

TEST_CASE("2025-11-25: a task that needs a login shows input_required, asks for it, then deploys") {
  AgentFixture f({"--device-interval", "1", "--stage-delay-ms", "50"});
  McpSession s(f.Options());
  s.Initialize("2025-11-25", kUrlMode);
  json created = s.Call("tools/call", {{"name", "deploy"},
                                       {"arguments", {{"directory", f.MakeProject("p")}}},
                                       {"task", json::object()}});
  REQUIRE_MESSAGE(created.contains("result"), created.dump());
  const std::string id = created["result"]["task"]["taskId"];
  json ask = NextServerRequest(s);
  REQUIRE(ask["method"] == "elicitation/create");
  CHECK(ask["params"]["_meta"][kRelatedTask] == json({{"taskId", id}}));
  json waiting = s.Call("tasks/get", {{"taskId", id}})["result"];
  CHECK(waiting["status"] == "input_required");
  CHECK(waiting["statusMessage"] == ask["params"]["message"]);

  Approve(f, UserCodeIn(ask["params"]["url"]));
  Answer(s, ask, {{"action", "accept"}});
  // tasks/result waits through input_required to the end of the deployment.
  json r = s.Call("tasks/result", {{"taskId", id}}, seconds(60));
  REQUIRE_MESSAGE(r.contains("result"), r.dump());
  json sc = r["result"]["structuredContent"];
  CHECK(sc["status"] == "complete");
  CHECK(sc["url"] == "https://" + sc["commitHash"].get<std::string>() + ".backend.im");
  CHECK(s.Call("tasks/get", {{"taskId", id}})["result"]["status"] == "completed");
}

TEST_CASE("2026-07-28: a logged-out generate answers input_required, and the repeated call runs") {
  AgentFixture f({"--device-interval", "1"});
  McpSession s(f.Options());
  const json meta = ModernMeta(/*with_tasks=*/false, "2026-07-28", kUrlMode);
  const std::string dir = f.home() / "todo";
  auto call = [&](json args, json more = json::object()) {
    json params{{"name", "generate"}, {"arguments", std::move(args)}, {"_meta", meta}};
    params.update(more);
    return params;
  };
  json first = s.Call("tools/call", call(GenerateArgs(dir)));
  REQUIRE_MESSAGE(first.contains("result"), first.dump());
  json ir = first["result"];
  CHECK(ir["resultType"] == "input_required");
  json ask = ir["inputRequests"]["backend_im_login"];
  CHECK(ask["method"] == "elicitation/create");
  CHECK(ask["params"]["mode"] == "url");
  CHECK_FALSE(ask["params"].contains("elicitationId"));  // not in 2026-07-28
  const std::string code = UserCodeIn(ask["params"]["url"]);
  const std::string state = ir["requestState"];
  CHECK(state.size() == 32);
  for (const auto& m : s.lines()) CHECK(m.value("method", "") != "elicitation/create");

  const json accepted{{"inputResponses", {{"backend_im_login", {{"action", "accept"}}}}},
                      {"requestState", state}};
  // The requestState is for this call only: other arguments, a made-up state are refused.
  json other = GenerateArgs(dir);
  other["prompt"] = "something else";
  CHECK(ErrorCodeOf(s.Call("tools/call", call(other, accepted))) == -32602);
  json forged = accepted;
  forged["requestState"] = std::string(32, 'a');
  CHECK(ErrorCodeOf(s.Call("tools/call", call(GenerateArgs(dir), forged))) == -32602);

  // The repeated call waits for the approval, then generates.
  int64_t again = s.SendRequest("tools/call", call(GenerateArgs(dir), accepted));
  s.WaitUntilRead();  // the call is taken in before the person approves
  Approve(f, code);
  auto r = s.Response(again, seconds(60));
  REQUIRE(r.has_value());
  json done = (*r)["result"];
  CHECK(done["resultType"] == "complete");
  CHECK_MESSAGE(done["isError"] == false, done.dump());
  CHECK_FALSE(ReadFile(dir + "/main.py").empty());
  CHECK(LoggedIn(f));
  // Used once.
  CHECK(ErrorCodeOf(s.Call("tools/call", call(GenerateArgs(dir), accepted))) == -32602);

  // Declined: an error result, and still logged out.
  REQUIRE(f.Ctl({"auth", "logout"}).exit_code == 0);
  json ir2 = s.Call("tools/call", call(GenerateArgs(f.home() / "two")))["result"];
  REQUIRE(ir2["resultType"] == "input_required");
  json declined = s.Call("tools/call",
                         call(GenerateArgs(f.home() / "two"),
                              {{"inputResponses", {{"backend_im_login", {{"action", "decline"}}}}},
                               {"requestState", ir2["requestState"]}}))["result"];
  CHECK(declined["resultType"] == "complete");
  CHECK(IsErrorResult(declined));
  CHECK(Contains(ResultText(declined), "did not open the login page"));
  CHECK_FALSE(LoggedIn(f));
  // A client that did not declare URL mode gets the plain error.
  json plain = s.Call("tools/call", {{"name", "generate"},
                                     {"arguments", GenerateArgs(f.home() / "three")},
                                     {"_meta", ModernMeta(false)}})["result"];
  CHECK(plain["resultType"] == "complete");
  CHECK(Contains(ResultText(plain), "auth_login_start"));
}
