// Every tool of `backend-im mcp`, through raw JSON-RPC against the real agent and mock:
// the generate -> deploy -> wait flow with progress, cancellation, timeouts, the device login,
// argument errors that never reach the platform, and the not-logged-in hint.
#include "common/commit_hash.h"
#include "tests/integration/mcp_test_util.h"

using namespace bim::test;

namespace {

// A successful tool result's structuredContent, checked against its text twin.
json Structured(const json& result) {
  REQUIRE_MESSAGE(!IsErrorResult(result), ResultText(result));
  REQUIRE(result.contains("structuredContent"));
  CHECK(json::parse(ResultText(result)) == result["structuredContent"]);
  return result["structuredContent"];
}

std::vector<json> ProgressFor(const std::vector<json>& messages, const json& token) {
  std::vector<json> out;
  for (const auto& m : messages) {
    if (m.is_object() && m.value("method", "") == "notifications/progress" &&
        m["params"]["progressToken"] == token) {
      out.push_back(m["params"]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("generate, deploy and wait_for_deployment take a prompt to its URL, with progress") {
  AgentWithSession rig("100");
  auto& [f, s] = rig;
  s.Initialize();

  std::string dir = f.home() / "users-api";
  json g =
      Structured(s.CallTool("generate", {{"prompt", "REST API for users"}, {"directory", dir}}));
  CHECK(g["directory"] == dir);
  REQUIRE(g["files"].size() >= 5);
  for (const auto& file : g["files"]) {
    CHECK(ReadFile(dir + "/" + file["path"].get<std::string>()).size() == file["bytes"]);
  }
  CHECK(g["written"].size() == g["files"].size());
  CHECK(g["projectId"].is_string());
  CHECK(Contains(ReadFile(dir + "/.backend-im/project.json"), g["projectId"]));
  CHECK(Contains(g["nextStep"], "deploy"));

  json d = Structured(s.CallTool("deploy", {{"directory", dir}}));
  std::string id = d["deploymentId"];
  CHECK(d["projectId"] == g["projectId"]);  // the project generate remembered
  bim::contract::FileMap files;
  for (const auto& file : g["files"]) {
    std::string p = file["path"];
    files[p] = ReadFile(dir + "/" + p);
  }
  CHECK(d["commitHash"] == bim::CommitHash(files));
  CHECK(d["fileCount"] == g["files"].size());
  CHECK(Contains(d["nextStep"], "wait_for_deployment"));

  json w = Structured(
      s.CallTool("wait_for_deployment", {{"deploymentId", id}}, {{"progressToken", "deploy-1"}}));
  CHECK(w["status"] == "complete");
  CHECK(w["terminal"] == true);
  CHECK(w["timedOut"] == false);
  CHECK(w["url"] == "https://" + d["commitHash"].get<std::string>() + ".backend.im");
  CHECK(w["logs"].size() >= SuccessStages().size());
  CHECK(Contains(w["nextStep"], w["url"]));

  // One progress notification per stage, before the result, growing to total.
  auto progress = ProgressFor(s.others(), "deploy-1");
  REQUIRE(progress.size() == SuccessStages().size());
  for (size_t i = 0; i < progress.size(); ++i) {
    CHECK(progress[i]["progress"] == static_cast<double>(i + 1));
    CHECK(progress[i]["total"] == static_cast<double>(SuccessStages().size()));
    CHECK(Contains(progress[i]["message"], SuccessStages()[i]));
  }

  json st = Structured(s.CallTool("deployment_status", {{"deploymentId", id}}));
  CHECK(st["status"] == "complete");
  CHECK(st["url"] == w["url"]);
  CHECK(st["directory"] == dir);

  json list = Structured(s.CallTool("list_deployments"));
  REQUIRE(list["deployments"].size() == 1);
  CHECK(list["deployments"][0]["deploymentId"] == id);
  json other =
      Structured(s.CallTool("list_deployments", {{"projectId", "proj-other"}, {"limit", 5}}));
  CHECK(other["deployments"].empty());

  // The person at the terminal sees the same deployment in the same history.
  auto hist = f.Ctl({"history", "--json"});
  REQUIRE(hist.exit_code == 0);
  CHECK(json::parse(hist.out)[0]["deploymentId"] == id);
  CHECK(s.stray().empty());
}

TEST_CASE(
    "wait_for_deployment without a progressToken sends no progress, and a failure is a result") {
  AgentWithSession rig("50");
  auto& [f, s] = rig;
  s.Initialize();
  json d = Structured(s.CallTool("deploy", {{"directory", f.MakeProject("nomain", false)}}));
  json w = Structured(s.CallTool("wait_for_deployment", {{"deploymentId", d["deploymentId"]}}));
  CHECK(w["status"] == "failed");
  CHECK_FALSE(w.contains("url"));
  CHECK(Contains(w["logs"].dump(), "main.py"));
  CHECK(Contains(w["nextStep"], "logs"));
  for (const auto& m : s.lines()) CHECK(m.value("method", "") != "notifications/progress");
}

TEST_CASE("wait_for_deployment returns timedOut when the deployment is slower, and it goes on") {
  // 1.75 s of deployment against a wait of 1 s that starts milliseconds after the deploy.
  AgentWithSession rig("250");
  auto& [f, s] = rig;
  s.Initialize();
  auto d = f.Deploy(f.MakeProject("p"));
  auto started = std::chrono::steady_clock::now();
  json w = Structured(s.CallTool("wait_for_deployment",
                                 {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 1}}));
  CHECK(std::chrono::steady_clock::now() - started < seconds(4));
  CHECK(w["timedOut"] == true);
  CHECK(w["terminal"] == false);
  CHECK(Contains(w["nextStep"], "wait_for_deployment again"));
  json done = Structured(s.CallTool("wait_for_deployment",
                                    {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 30}}));
  CHECK(done["status"] == "complete");
}

TEST_CASE("notifications/cancelled stops a wait: no response for it, and the server goes on") {
  // The cancel follows the first progress at once; 100 ms stages leave the wait six more.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "100"});
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  std::string id = d["deploymentId"];
  McpSession s(f.Options());
  s.Initialize();
  int64_t wait_id =
      s.SendRequest("tools/call", {{"name", "wait_for_deployment"},
                                   {"arguments", {{"deploymentId", id}, {"timeoutSeconds", 120}}},
                                   {"_meta", {{"progressToken", 77}}}});
  // Cancel once the wait is demonstrably under way.
  bool progressed = false;
  while (auto m = s.Next(seconds(10))) {
    if (m->value("method", "") == "notifications/progress") {
      progressed = true;
      break;
    }
  }
  REQUIRE(progressed);
  s.Notify("notifications/cancelled", {{"requestId", wait_id}, {"reason", "user pressed stop"}});
  s.Notify("notifications/cancelled", {{"requestId", 424242}});  // unknown: ignored
  // The server keeps answering...
  json pong = s.Call("ping");
  CHECK(pong["result"] == json::object());
  // ...and never answers the cancelled request, even after the deployment has finished.
  json w = Structured(s.CallTool("wait_for_deployment", {{"deploymentId", id}}));
  CHECK(w["status"] == "complete");
  // Kept: reads until the server has been quiet for 500 ms, a window in which the cancelled
  // call must stay unanswered; no event would say that it never will be.
  while (s.Next(milliseconds(500))) {
  }
  for (const auto& m : s.lines()) {
    CHECK_FALSE((m.contains("id") && m["id"] == wait_id));
  }
  // Progress for the cancelled call stopped with it: far fewer than every stage.
  CHECK(ProgressFor(s.lines(), 77).size() < SuccessStages().size());
  CHECK(s.Running());
}

TEST_CASE("not logged in: the server starts, and tools that need a login say how to log in") {
  AgentFixture f;
  McpSession s(f.Options());
  s.Initialize();
  json a = Structured(s.CallTool("auth_status"));
  CHECK(a["loggedIn"] == false);
  CHECK(a["apiUrl"] == f.mock().http_url());
  CHECK(Contains(a["nextStep"], "auth_login_start"));

  std::string project = f.MakeProject("p");
  for (auto [tool, args] : std::vector<std::pair<std::string, json>>{
           {"generate", {{"prompt", "todo API"}, {"directory", f.home() / "todo"}}},
           {"deploy", {{"directory", project}}},
           {"deployment_status", {{"deploymentId", "550e8400-e29b-41d4-a716-446655440000"}}},
           {"wait_for_deployment", {{"deploymentId", "550e8400-e29b-41d4-a716-446655440000"}}}}) {
    CAPTURE(tool);
    json r = s.CallTool(tool, args);
    CHECK(IsErrorResult(r));
    CHECK(Contains(ResultText(r), "not logged in: ask the user to run `backend-im auth login`"));
    CHECK(Contains(ResultText(r), "auth_login_start"));
  }
  // Nothing was written for the refused generate.
  CHECK(ReadFile(f.home() / "todo/main.py").empty());
  // History is local: it needs no login.
  CHECK(Structured(s.CallTool("list_deployments"))["deployments"].empty());
}

TEST_CASE("bad arguments are error results that name the argument, and reach no platform") {
  AgentFixture f;
  f.LoginWithToken();
  McpSession s(f.Options());
  s.Initialize();
  CHECK_FALSE(IsErrorResult(s.CallTool("auth_status")));  // the agent is up and logged in
  int before = SettledPlatformRequests(f.mock());
  std::string project = f.MakeProject("p");
  std::string file = project + "/main.py";
  struct Case {
    std::string tool;
    json args;
    std::string expect;  // in the message
  };
  const std::vector<Case> cases = {
      {"generate", {{"directory", f.home() / "x"}}, "missing \"prompt\""},
      {"generate", {{"prompt", ""}, {"directory", f.home() / "x"}}, "\"prompt\" must be"},
      {"generate",
       {{"prompt", "api"}, {"directory", f.home() / "no/such/parent/x"}},
       "parent folder"},
      {"generate", {{"prompt", "api"}, {"directory", file}}, "not a folder"},
      {"generate",
       {{"prompt", "api"}, {"directory", f.home() / "x"}, {"force", "yes"}},
       "\"force\" must be true or false"},
      {"generate", {{"prompt", 42}, {"directory", f.home() / "x"}}, "\"prompt\" must be a string"},
      {"deploy", {}, "missing \"directory\""},
      {"deploy", {{"directory", f.home() / "does-not-exist"}}, "does not exist"},
      {"deploy", {{"directory", file}}, "not a folder"},
      {"deploy", {{"directory", project}, {"projectId", "../etc"}}, "\"projectId\" is not an id"},
      {"deploy", {{"directory", project}, {"dir", "."}}, "unknown argument \"dir\""},
      {"wait_for_deployment", {{"deploymentId", "../../etc/passwd"}}, "is not an id"},
      {"wait_for_deployment", {{"deploymentId", "not an id!"}}, "is not an id"},
      {"wait_for_deployment", {{"deploymentId", ".."}}, "is not an id"},
      {"wait_for_deployment", {{"deploymentId", std::string(200, 'a')}}, "1 to 128 characters"},
      {"wait_for_deployment", {{"deploymentId", 12345}}, "must be a string"},
      {"wait_for_deployment", {{"deploymentId", "abc"}, {"timeoutSeconds", 0}}, "from 1 to 900"},
      {"wait_for_deployment", {{"deploymentId", "abc"}, {"timeoutSeconds", 5000}}, "from 1 to 900"},
      {"wait_for_deployment", {{"deploymentId", "abc"}, {"timeoutSeconds", 2.5}}, "whole number"},
      {"wait_for_deployment", {{"deploymentId", "abc"}, {"timeoutSeconds", "10"}}, "whole number"},
      {"wait_for_deployment", {{"deployment_id", "abc"}}, "unknown argument \"deployment_id\""},
      {"deployment_status", {}, "missing \"deploymentId\""},
      {"deployment_status", {{"deploymentId", "a/b"}}, "is not an id"},
      {"list_deployments", {{"limit", 0}}, "from 1 to 100"},
      {"list_deployments", {{"limit", -3}}, "from 1 to 100"},
      {"auth_status", {{"verbose", true}}, "takes no arguments"},
      {"auth_login_check", {}, "missing \"loginId\""},
      {"auth_login_check", {{"loginId", "x y"}}, "is not an id"},
      {"auth_login_check", {{"loginId", "abc"}, {"waitSeconds", 3600}}, "from 0 to 50"},
      // A NUL ends a path for the kernel: "n2\u0000x" would create n2. Refused in any string.
      {"generate",
       {{"prompt", "api"}, {"directory", f.home() / std::string("n2\0x", 4)}},
       "\"directory\" contains a NUL character"},
      {"generate",
       {{"prompt", "api"}, {"directory", f.home() / std::string("\0", 1)}},
       "\"directory\" contains a NUL character"},
      {"deploy", {{"directory", project + std::string("\0/x", 3)}}, "contains a NUL character"},
      {"generate",
       {{"prompt", std::string("api\0more", 8)}, {"directory", f.home() / "x"}},
       "\"prompt\" contains a NUL character"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.tool);
    CAPTURE(c.args.dump());
    json r = s.CallTool(c.tool, c.args);
    CHECK(IsErrorResult(r));
    CHECK_MESSAGE(Contains(ResultText(r), c.expect), ResultText(r));
    CHECK(Contains(ResultText(r), "invalid arguments for " + c.tool));
  }
  CHECK(SettledPlatformRequests(f.mock()) == before);
  CHECK(ReadFile(f.home() / "x/main.py").empty());
  CHECK(::access((f.home() / "n2").c_str(), F_OK) != 0);
  // Optional arguments given as null count as absent; 5.0 is a whole number.
  json ok = s.CallTool("list_deployments", {{"projectId", nullptr}, {"limit", 5.0}});
  CHECK_FALSE(IsErrorResult(ok));
}

TEST_CASE("string limits count characters, as JSON Schema's maxLength does, not bytes") {
  AgentFixture f;
  f.LoginWithToken();
  McpSession s(f.Options());
  s.Initialize();
  json tools = s.Call("tools/list")["result"]["tools"];
  REQUIRE(tools[0]["name"] == "generate");
  REQUIRE(tools[0]["inputSchema"]["properties"]["prompt"]["maxLength"] == 20000);
  const std::string euro = "\xe2\x82\xac";  // U+20AC, three bytes in UTF-8
  auto repeat = [](const std::string& piece, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += piece;
    return out;
  };
  // 6,667 and 20,000 characters (20,001 and 60,000 bytes) are within the limit.
  for (int n : {6667, 20000}) {
    CAPTURE(n);
    json r = s.CallTool("generate", {{"prompt", repeat(euro, n)},
                                     {"directory", f.home() / ("euro-" + std::to_string(n))}});
    CHECK_MESSAGE(!IsErrorResult(r), ResultText(r));
  }
  // A character from beyond the Basic Multilingual Plane (four bytes, two UTF-16 units) is one.
  json emoji = s.CallTool("generate", {{"prompt", repeat("\xf0\x9f\x9a\x80", 20000)},
                                       {"directory", f.home() / "emoji"}});
  CHECK_MESSAGE(!IsErrorResult(emoji), ResultText(emoji));
  // 20,001 characters are not.
  json over =
      s.CallTool("generate", {{"prompt", repeat(euro, 20001)}, {"directory", f.home() / "x"}});
  CHECK(IsErrorResult(over));
  CHECK(Contains(ResultText(over), "\"prompt\" must be 1 to 20000 characters long"));
}

TEST_CASE("structuredContent leaves out what is unknown, never null, and fits the outputSchema") {
  // Every call below answers in a state where some field has no value yet: not logged in, a
  // login not yet approved, a deployment still running, a failed one, a project the platform
  // named no projectId for (the seed-only mock's generate).
  for (bool seed_only : {false, true}) {
    CAPTURE(seed_only);
    // The failed deployment below is still running 400 ms after its deploy, when its status is
    // asked at once.
    std::vector<std::string> mock_args = {"--token", "dev-token", "--stage-delay-ms", "100"};
    if (seed_only) mock_args.push_back("--seed-only");
    AgentFixture f(mock_args);
    McpSession s(f.Options());
    s.Initialize();
    std::map<std::string, json> schemas;
    const json tools = s.Call("tools/list")["result"]["tools"];
    for (const auto& t : tools) {
      schemas[t["name"].get<std::string>()] = t["outputSchema"];
    }
    auto call = [&](const std::string& tool, json args = json::object()) {
      CAPTURE(tool);
      json out = Structured(s.CallTool(tool, std::move(args)));
      std::vector<std::string> nulls;
      NullsIn(out, "$", nulls);
      CHECK_MESSAGE(nulls.empty(), out.dump());
      auto problems = SchemaProblems(schemas.at(tool), out, /*closed=*/true);
      CHECK_MESSAGE(problems.empty(), out.dump());
      for (const auto& p : problems) MESSAGE(p);
      return out;
    };
    json a = call("auth_status");
    CHECK(a["loggedIn"] == false);
    for (const char* absent : {"source", "userId", "email", "expiresAt"}) {
      CHECK_MESSAGE(!a.contains(absent), absent);
    }
    if (!seed_only) {  // the seed has no device flow
      json start = call("auth_login_start");
      json pending = call("auth_login_check", {{"loginId", start["loginId"]}, {"waitSeconds", 0}});
      CHECK(pending["state"] == "pending");
      CHECK_FALSE(pending.contains("email"));
    }
    f.LoginWithToken();
    json g = call("generate", {{"prompt", "todo API"}, {"directory", f.home() / "todo"}});
    CHECK(g.contains("projectId") == !seed_only);
    json d = call("deploy", {{"directory", f.MakeProject("nomain", /*with_main=*/false)}});
    json running = call("deployment_status", {{"deploymentId", d["deploymentId"]}});
    CHECK(running["terminal"] == false);
    CHECK_FALSE(running.contains("url"));
    CHECK_FALSE(running.contains("streamProblem"));
    json failed = call("wait_for_deployment", {{"deploymentId", d["deploymentId"]}});
    CHECK(failed["status"] == "failed");
    CHECK_FALSE(failed.contains("url"));
    json list = call("list_deployments");
    REQUIRE(list["deployments"].size() == 1);
    CHECK_FALSE(list["deployments"][0].contains("url"));
    call("auth_status");
  }
}

TEST_CASE("a well-formed id that nobody knows is a not-found result") {
  AgentFixture f;
  f.LoginWithToken();
  McpSession s(f.Options());
  s.Initialize();
  json r =
      s.CallTool("deployment_status", {{"deploymentId", "550e8400-e29b-41d4-a716-446655440000"}});
  CHECK(IsErrorResult(r));
  CHECK(Contains(ResultText(r), "no deployment"));
  CHECK(Contains(ResultText(r), "list_deployments"));
}

TEST_CASE("generate never overwrites a changed file unless force, and deploy of an empty folder") {
  AgentFixture f;
  f.LoginWithToken();
  McpSession s(f.Options());
  s.Initialize();
  std::string dir = f.home() / "api";
  Structured(s.CallTool("generate", {{"prompt", "orders API"}, {"directory", dir}}));
  WriteFile(dir + "/main.py", "# mine\n");
  json again = s.CallTool("generate", {{"prompt", "orders API"}, {"directory", dir}});
  CHECK(IsErrorResult(again));
  CHECK(Contains(ResultText(again), "main.py"));
  CHECK(Contains(ResultText(again), "force"));
  CHECK(ReadFile(dir + "/main.py") == "# mine\n");
  json forced = Structured(
      s.CallTool("generate", {{"prompt", "orders API"}, {"directory", dir}, {"force", true}}));
  CHECK(forced["written"] == json({"main.py"}));
  CHECK(ReadFile(dir + "/main.py") != "# mine\n");
  // Relative directories resolve against the server's working folder.
  ProcessOptions in_home = f.Options("", f.home().path());
  McpSession rel(in_home);
  rel.Initialize();
  json r =
      Structured(rel.CallTool("generate", {{"prompt", "orders API"}, {"directory", "rel-api"}}));
  CHECK(r["directory"] == f.home() / "rel-api");
  CHECK_FALSE(ReadFile(f.home() / "rel-api/main.py").empty());

  ::mkdir((f.home() / "empty").c_str(), 0755);
  json empty = s.CallTool("deploy", {{"directory", f.home() / "empty"}});
  CHECK(IsErrorResult(empty));
  CHECK(Contains(ResultText(empty), "nothing to upload"));

  // A system folder is refused, as in the CLI.
  json system = s.CallTool("generate", {{"prompt", "orders API"}, {"directory", "/etc"}});
  CHECK(IsErrorResult(system));
  CHECK_MESSAGE(Contains(ResultText(system), "will not write a generated project into /etc"),
                ResultText(system));
}

TEST_CASE("device login in two steps: pending, approved by the user, then logged in") {
  AgentFixture f({"--device-interval", "1", "--stage-delay-ms", "50"});
  McpSession s(f.Options());
  s.Initialize();
  json start = Structured(s.CallTool("auth_login_start"));
  std::string login = start["loginId"];
  CHECK(Contains(start["verificationUri"], "/device"));
  CHECK_FALSE(start["userCode"].get<std::string>().empty());
  CHECK(Contains(start["nextStep"], start["userCode"]));
  CHECK(Contains(start["nextStep"], login));

  json pending =
      Structured(s.CallTool("auth_login_check", {{"loginId", login}, {"waitSeconds", 0}}));
  CHECK(pending["state"] == "pending");
  CHECK(pending["loggedIn"] == false);

  auto approve = HttpRequest("POST", f.mock().http_url() + "/oauth/device/approve",
                             "user_code=" + start["userCode"].get<std::string>(),
                             {"Content-Type: application/x-www-form-urlencoded"});
  REQUIRE(approve.status == 200);
  json done = Structured(s.CallTool("auth_login_check", {{"loginId", login}, {"waitSeconds", 15}}));
  CHECK(done["state"] == "approved");
  CHECK(done["loggedIn"] == true);
  json a = Structured(s.CallTool("auth_status"));
  CHECK(a["loggedIn"] == true);
  CHECK(a["source"] == "device");

  json unknown = s.CallTool("auth_login_check", {{"loginId", "no-such-login"}});
  CHECK(IsErrorResult(unknown));
  CHECK(Contains(ResultText(unknown), "auth_login_start"));
}

TEST_CASE("device login that the user denies, and one that expires") {
  // The two logins run side by side: the agent sees the denial at its first poll (1 s), the
  // other code expire at its end (2 s).
  AgentFixture f({"--device-interval", "1", "--device-code-ttl", "2"});
  McpSession s(f.Options());
  s.Initialize();
  json denied_start = Structured(s.CallTool("auth_login_start"));
  auto deny = HttpRequest("POST", f.mock().http_url() + "/oauth/device/deny",
                          "user_code=" + denied_start["userCode"].get<std::string>(),
                          {"Content-Type: application/x-www-form-urlencoded"});
  REQUIRE(deny.status == 200);
  json expiring = Structured(s.CallTool("auth_login_start"));
  auto check = [&](const json& start) {
    return s.SendRequest("tools/call",
                         {{"name", "auth_login_check"},
                          {"arguments", {{"loginId", start["loginId"]}, {"waitSeconds", 15}}}});
  };
  int64_t denied_call = check(denied_start);
  int64_t expired_call = check(expiring);
  auto answer = [&](int64_t call) {
    auto r = s.Response(call, seconds(30));
    REQUIRE_MESSAGE(r.has_value(), "no answer to auth_login_check; stderr:\n" << s.Stderr());
    REQUIRE_MESSAGE(r->contains("result"), r->dump());
    return Structured((*r)["result"]);
  };
  json denied = answer(denied_call);
  CHECK(denied["state"] == "denied");
  CHECK(denied["loggedIn"] == false);

  json expired = answer(expired_call);
  CHECK(expired["state"] == "expired");
  CHECK(Contains(expired["nextStep"], "auth_login_start"));
}

TEST_CASE("tool calls run side by side: a status answers while a wait is in flight") {
  // The status is asked milliseconds after the wait; the deployment takes 700 ms.
  AgentWithSession rig("100");
  auto& [f, s] = rig;
  s.Initialize();
  auto d = f.Deploy(f.MakeProject("p"));
  int64_t wait_id = s.SendRequest(
      "tools/call",
      {{"name", "wait_for_deployment"}, {"arguments", {{"deploymentId", d["deploymentId"]}}}});
  json st = Structured(s.CallTool("deployment_status", {{"deploymentId", d["deploymentId"]}}));
  CHECK(st["terminal"] == false);  // answered before the wait could end
  auto w = s.Response(wait_id, seconds(30));
  REQUIRE(w.has_value());
  CHECK((*w)["result"]["structuredContent"]["status"] == "complete");
}

TEST_CASE(
    "diff, rollback and restore tools: compare two deployments, deploy the earlier files, write "
    "them") {
  AgentWithSession rig("30");
  auto& [f, s] = rig;
  s.Initialize();
  std::string dir = f.MakeProject("api");
  auto deploy_to_end = [&] {
    json d = Structured(s.CallTool("deploy", {{"directory", dir}}));
    json w = Structured(s.CallTool("wait_for_deployment",
                                   {{"deploymentId", d["deploymentId"]}, {"timeoutSeconds", 60}}));
    REQUIRE(w["status"] == "complete");
    CHECK(w["restorable"] == true);
    return d;
  };
  json v1 = deploy_to_end();
  json same = Structured(s.CallTool("diff", {{"directory", dir}}));
  CHECK(same["same"] == true);
  CHECK(same["from"] == v1["deploymentId"]);
  WriteFile(dir + "/main.py", "print('v2')\n");
  json v2 = deploy_to_end();

  json diff = Structured(s.CallTool(
      "diff", {{"deploymentId", v1["deploymentId"]}, {"otherDeploymentId", v2["deploymentId"]}}));
  CHECK(diff["same"] == false);
  REQUIRE(diff["files"].size() == 1);
  CHECK(diff["files"][0] == json{{"path", "main.py"}, {"change", "changed"}, {"binary", false}});
  CHECK(Contains(diff["diff"], "+print('v2')"));

  json back = Structured(s.CallTool("rollback", {{"directory", dir}}));
  CHECK(back["restoredOf"] == v1["deploymentId"]);
  CHECK(back["commitHash"] == v1["commitHash"]);
  CHECK(Contains(back["nextStep"], "wait_for_deployment"));

  // restore writes v1's exact files into a new folder, and never over a changed file unless
  // forced.
  std::string copy = f.home() / "copy";
  json restored = Structured(
      s.CallTool("restore", {{"deploymentId", v1["deploymentId"]}, {"directory", copy}}));
  CHECK(restored["deploymentId"] == v1["deploymentId"]);
  CHECK(ReadFile(copy + "/main.py") == "from fastapi import FastAPI\napp = FastAPI()\n");
  CHECK(Contains(restored["nextStep"], "deploy"));
  WriteFile(copy + "/main.py", "print('mine')\n");
  json refused = s.CallTool("restore", {{"deploymentId", v1["deploymentId"]}, {"directory", copy}});
  CHECK(IsErrorResult(refused));
  CHECK(Contains(ResultText(refused), "main.py"));
  CHECK(ReadFile(copy + "/main.py") == "print('mine')\n");
  json forced = Structured(s.CallTool(
      "restore", {{"deploymentId", v1["deploymentId"]}, {"directory", copy}, {"force", true}}));
  CHECK(forced["written"] == json::array({"main.py"}));
  CHECK(ReadFile(copy + "/main.py") == "from fastapi import FastAPI\napp = FastAPI()\n");

  json none = s.CallTool("rollback", json::object());
  CHECK(IsErrorResult(none));
  CHECK(Contains(ResultText(none), "needs directory, projectId or toDeploymentId"));
  json unknown = s.CallTool("diff", {{"deploymentId", "dep-nope"}, {"directory", dir}});
  CHECK(IsErrorResult(unknown));
  CHECK(Contains(ResultText(unknown), "list_deployments"));
}
