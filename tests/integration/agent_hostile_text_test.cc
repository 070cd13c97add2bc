// A platform that answers with terminal control sequences, with URLs that are no https link,
// and with deployments that have ended before anyone watched. Real agent, real ctl, our own
// platform (HostilePlatform) that controls every byte. What reaches a person (the ctl's stdout
// and stderr, the agent's log) carries no control character but the newline; --json carries the
// platform's exact strings; a complete deployment is "Deployed" only with an https URL; and a
// watch of a deployment that has ended ends at once.
#include "tests/integration/agent_fixture.h"
#include "tests/integration/hostile_platform.h"
#include "tests/integration/mcp_test_util.h"

using namespace bim::test;
using nlohmann::json;

namespace {

// An OSC window title, clear screen and cursor home, an OSC 8 hyperlink, a carriage return and
// backspaces over what was shown, a C1 CSI (U+009B) and a DEL.
const std::string kHostile =
    "ok \x1b]0;pwned\x07 \x1b[2J\x1b[H \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ "
    "\rfake\b\b \xc2\x9b"
    "31m \x7f end";
// How the ctl and the log show the start of it.
const std::string kShown = "ok \\x1b]0;pwned\\x07 \\x1b[2J";

// "" when text may reach a terminal: no C0 control but the newline, no DEL, no C1 control.
std::string Unsafe(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    bool c1 = c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if ((c < 0x20 && c != '\n') || c == 0x7F || c1) {
      return "byte " + std::to_string(c) + " at " + std::to_string(i) +
             " in: " + json(text.substr(i < 80 ? 0 : i - 80, 160)).dump();
    }
  }
  return "";
}

#define CHECK_SAFE(text) CHECK_MESSAGE(Unsafe(text).empty(), Unsafe(text))

bim::ws::HttpResponse Json(const json& body, int status = 200) {
  return bim::ws::HttpResponse{status, "application/json", {}, body.dump()};
}

json Stage(const std::string& id, const std::string& status, int seq, json logs,
           const std::optional<std::string>& url = std::nullopt) {
  json j{{"deploymentId", id}, {"projectId", kHostile},   {"commitHash", kHostile},
         {"status", status},   {"logs", std::move(logs)}, {"seq", seq}};
  if (url) j["url"] = *url;
  return j;
}

}  // namespace

TEST_CASE("hostile platform: control sequences in deployments reach no terminal and no log raw") {
  const std::string id = "dep-text-1";
  HostilePlatform hp;
  hp.Set("POST /api/deploy", [&](const bim::ws::HttpRequest&) {
    return Json({{"deploymentId", id},
                 {"projectId", "p"},
                 {"commitHash", kHostile},  // differs from ours: the agent logs it
                 {"status", "queued"}});
  });
  hp.Set("GET /api/status/" + id, [&](const bim::ws::HttpRequest&) {
    json s = Stage(id, "complete", 8, {kHostile}, "https://abc.backend.im");
    s["id"] = id;
    return Json(s);
  });
  hp.Set("GET /api/status/dep-weird", [](const bim::ws::HttpRequest&) {
    return Json(
        {{"id", "dep-weird"}, {"projectId", "p"}, {"commitHash", "c"}, {"status", kHostile}});
  });
  hp.Set("POST /api/generate", [](const bim::ws::HttpRequest&) {
    return Json({{"error", "refused"}, {"message", kHostile}}, 422);
  });
  bim::ws::WsHandlers h;
  h.on_open = [&](const std::shared_ptr<bim::ws::WsSession>& s) {
    s->Send(Stage(id, kHostile, 1, {}).dump());  // a status outside the contract: skipped
    int seq = 1;
    for (const auto& stage : SuccessStages()) {
      s->Send(Stage(id, stage, seq++, {kHostile, "second " + kHostile},
                    stage == "complete" ? std::optional<std::string>("https://abc.backend.im")
                                        : std::nullopt)
                  .dump());
    }
    s->Close(1000, "done");
  };
  hp.SetWs(std::move(h));
  AgentAgainst f(hp);

  auto deploy = f.Ctl({"deploy", "-d", f.MakeProject("p"), "--watch"});
  REQUIRE_MESSAGE(deploy.exit_code == 0, (deploy.out + deploy.err + f.AgentLog()));
  CHECK_SAFE(deploy.out);
  CHECK_SAFE(deploy.err);
  CHECK(deploy.out.find(kShown) != std::string::npos);  // shown, escaped
  CHECK(deploy.out.find("Deployed: https://abc.backend.im") != std::string::npos);

  for (auto args :
       std::vector<std::vector<std::string>>{{"watch", id}, {"status", id}, {"history"}}) {
    auto r = f.Ctl(args);
    CAPTURE(args[0]);
    CHECK(r.exit_code == 0);
    CHECK_SAFE(r.out);
    CHECK_SAFE(r.err);
    CHECK(r.out.find(kShown) != std::string::npos);
  }

  // JSON is exact: the platform's strings come back byte for byte, and escaped on the wire.
  auto watch = f.Ctl({"watch", id, "--json"});
  REQUIRE(watch.exit_code == 0);
  CHECK_SAFE(watch.out);
  auto events = JsonLines(watch.out);
  REQUIRE(events.size() == SuccessStages().size());
  for (const auto& e : events) CHECK(e["logs"] == json({kHostile, "second " + kHostile}));
  auto status = f.Ctl({"status", id, "--json"});
  REQUIRE(status.exit_code == 0);
  CHECK_SAFE(status.out);
  auto d = json::parse(status.out);
  CHECK(d["commitHash"] == kHostile);
  CHECK(d["logs"][0] == kHostile);
  auto history = f.Ctl({"history", "--json"});
  CHECK_SAFE(history.out);
  CHECK(json::parse(history.out)[0]["commitHash"] == kHostile);

  // The platform's words in error messages.
  auto weird = f.Ctl({"status", "dep-weird"});
  CHECK(weird.exit_code == 5);
  CHECK_SAFE(weird.err);
  CHECK(weird.err.find("unknown status \"" + kShown) != std::string::npos);
  auto gen = f.Ctl({"generate", "x", "-o", f.home() / "out"});
  CHECK(gen.exit_code == 5);
  CHECK_SAFE(gen.err);
  CHECK(gen.err.find(kShown) != std::string::npos);

  std::string log = f.AgentLog();
  CHECK_SAFE(log);
  CHECK(log.find("commit hash " + kShown) != std::string::npos);
  CHECK(log.find("skipped a frame outside the contract") != std::string::npos);
}

TEST_CASE("hostile platform: a project id that is no id is refused where it enters") {
  // It would go into .backend-im/project.json, the history and URLs as it is.
  HostilePlatform hp;
  std::atomic<int> calls{0};
  auto bad_id = [&calls] { return calls++ % 2 == 0 ? "../../x" : kHostile; };
  hp.Set("POST /api/generate", [&](const bim::ws::HttpRequest&) {
    return Json({{"projectId", bad_id()}, {"files", {{"main.py", "print(1)\n"}}}});
  });
  hp.Set("POST /api/deploy", [&](const bim::ws::HttpRequest&) {
    return Json({{"deploymentId", "dep-1"},
                 {"projectId", bad_id()},
                 {"commitHash", "abc"},
                 {"status", "queued"}});
  });
  hp.Set("GET /api/status/dep-2", [&](const bim::ws::HttpRequest&) {
    return Json(
        {{"id", "dep-2"}, {"projectId", bad_id()}, {"commitHash", "c"}, {"status", "queued"}});
  });
  AgentAgainst f(hp);
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    std::string out = f.home() / ("gen" + std::to_string(i));
    auto gen = f.Ctl({"generate", "x", "-o", out});
    CHECK(gen.exit_code == 5);
    CHECK_SAFE(gen.err);
    CHECK_MESSAGE(gen.err.find("bad project id") != std::string::npos, gen.err);
    CHECK(ReadFile(out + "/.backend-im/project.json").empty());
    CHECK(ReadFile(out + "/main.py").empty());
    auto deploy = f.Ctl({"deploy", "-d", f.MakeProject("p" + std::to_string(i))});
    CHECK(deploy.exit_code == 5);
    CHECK_SAFE(deploy.err);
    CHECK_MESSAGE(deploy.err.find("bad project id") != std::string::npos, deploy.err);
    auto status = f.Ctl({"status", "dep-2"});
    CHECK(status.exit_code == 5);
    CHECK(status.err.find("bad project id") != std::string::npos);
  }
  // Nothing of it was recorded.
  CHECK(json::parse(f.Ctl({"history", "--json"}).out).empty());
}

TEST_CASE(
    "hostile platform: a login page that is not https to a host, or holds a password, is "
    "never shown") {
  struct Case {
    std::string uri, complete, tell;  // tell: a part of the URL that must appear nowhere
  };
  const std::vector<Case> cases = {
      {"javascript:alert(document.cookie)", "", "alert(document"},
      {"file:///etc/passwd", "", "/etc/passwd"},
      {"http://login.evil.example/device", "", "evil.example"},
      {"https://login.example/device", "https://user:secret@login.example/device?c=1", "secret"},
      {"https://login.example/device", "javascript:fetch('//evil.example')", "evil.example"}};
  std::mutex mu;
  Case current;
  HostilePlatform hp;
  hp.Set("POST /oauth/device/code", [&](const bim::ws::HttpRequest&) {
    std::lock_guard lock(mu);
    json j{{"device_code", "dc"},
           {"user_code", "ABCD-EFGH"},
           {"verification_uri", current.uri},
           {"expires_in", 60},
           {"interval", 1}};
    if (!current.complete.empty()) j["verification_uri_complete"] = current.complete;
    return Json(j);
  });
  AgentAgainst f(hp, /*log_in=*/false);
  for (const auto& c : cases) {
    {
      std::lock_guard lock(mu);
      current = c;
    }
    CAPTURE(c.uri);
    CAPTURE(c.complete);
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"auth", "login"}, {"auth", "login", "--json"}}) {
      auto r = f.Ctl(args);
      CHECK(r.exit_code == 5);
      CHECK(r.out.find(c.tell) == std::string::npos);
      CHECK(r.err.find(c.tell) == std::string::npos);
      CHECK_MESSAGE(r.err.find("login URL is refused") != std::string::npos, r.err);
      CHECK(r.err.find("--with-token") != std::string::npos);
    }
    // An assistant is never told to open it either, nor sent it in an elicitation.
    McpSession s(f.Options());
    s.Initialize("2025-11-25", {{"elicitation", {{"url", json::object()}}}});
    json r = s.CallTool("auth_login_start");
    CHECK(r.value("isError", false));
    std::string all;
    for (const auto& m : s.lines()) all += m.dump();
    CHECK(all.find(c.tell) == std::string::npos);
    CHECK(all.find("login URL is refused") != std::string::npos);
    json gen = s.CallTool("generate", {{"prompt", "x"}, {"directory", f.home() / "g"}});
    CHECK(gen.value("isError", false));
    for (const auto& m : s.lines()) CHECK(m.dump().find(c.tell) == std::string::npos);
  }
  CHECK(f.AgentLog().find("alert(document") == std::string::npos);
}

TEST_CASE("hostile platform: control sequences in the login and the identity reach no terminal") {
  const std::string uri = "https://login.example/device";
  HostilePlatform hp;
  hp.Set("POST /oauth/device/code", [&](const bim::ws::HttpRequest&) {
    return Json({{"device_code", "dc"},
                 {"user_code", kHostile},
                 {"verification_uri", uri},
                 {"verification_uri_complete", uri + "?code=ABC"},
                 {"expires_in", 60},
                 {"interval", 1}});
  });
  hp.Set("POST /oauth/token", [](const bim::ws::HttpRequest&) {
    return Json({{"error", kHostile}}, 400);
  });
  hp.Set("GET /api/auth/verify", [](const bim::ws::HttpRequest&) {
    return Json({{"valid", true}, {"userId", kHostile}, {"email", kHostile}});
  });
  AgentAgainst f(hp, /*log_in=*/false);

  // Both logins at once (each waits out the 1 s interval before its poll).
  REQUIRE(f.Ctl({"history"}).exit_code == 0);  // one agent for both
  Process text_login = f.StartCtl({"auth", "login"});
  Process json_login = f.StartCtl({"auth", "login", "--json"});
  CHECK(text_login.Wait(std::chrono::seconds(30)) == 3);  // the token endpoint's error refuses it
  CHECK(json_login.Wait(std::chrono::seconds(30)) == 3);
  RunResult login{0, text_login.Stdout(), text_login.Stderr()};
  RunResult login_json{0, json_login.Stdout(), json_login.Stderr()};
  CHECK_SAFE(login.out);
  CHECK_SAFE(login.err);
  CHECK(login.out.find("enter the code " + kShown) != std::string::npos);
  CHECK(login.out.find("open https://login.example/device") != std::string::npos);
  CHECK(login.err.find("refused the login: " + kShown) != std::string::npos);

  CHECK_SAFE(login_json.out);
  auto start = json::parse(login_json.out.substr(0, login_json.out.find('\n')));
  CHECK(start["userCode"] == kHostile);
  CHECK(start["verificationUri"] == uri);
  CHECK(start["verificationUriComplete"] == uri + "?code=ABC");

  auto with_token = f.Ctl({"auth", "login", "--with-token"}, "t\n");
  CHECK(with_token.exit_code == 0);
  CHECK_SAFE(with_token.out);
  auto status = f.Ctl({"auth", "status"});
  CHECK(status.exit_code == 0);
  CHECK_SAFE(status.out);
  CHECK(status.out.find(" as " + kShown) != std::string::npos);
  auto status_json = f.Ctl({"auth", "status", "--json"});
  CHECK_SAFE(status_json.out);
  auto a = json::parse(status_json.out);
  CHECK(a["email"] == kHostile);
  CHECK(a["userId"] == kHostile);
  CHECK_SAFE(f.AgentLog());
}

TEST_CASE(
    "hostile platform: complete with a javascript: or file: URL or none is a platform error") {
  const std::vector<std::optional<std::string>> urls = {"javascript:alert(1)", "file:///etc/passwd",
                                                        std::nullopt, "http://abc.backend.im"};
  auto url_of = [&](const std::string& id) { return urls.at(std::stoul(id.substr(8))); };
  auto complete = [&](const std::string& id, int seq) {
    json s = Stage(id, "complete", seq, {"done"}, url_of(id));
    s["id"] = id;
    return s;
  };
  std::atomic<int> deploys{0};
  HostilePlatform hp;
  hp.Set("POST /api/deploy", [&](const bim::ws::HttpRequest&) {
    std::string id = "dep-url-" + std::to_string(deploys++);
    return Json(
        {{"deploymentId", id}, {"projectId", "p"}, {"commitHash", "c"}, {"status", "queued"}});
  });
  for (size_t i = 0; i < urls.size(); ++i) {
    std::string id = "dep-url-" + std::to_string(i);
    hp.Set("GET /api/status/" + id,
           [&, id](const bim::ws::HttpRequest&) { return Json(complete(id, 2)); });
  }
  bim::ws::WsHandlers h;
  h.on_open = [&](const std::shared_ptr<bim::ws::WsSession>& s) {
    std::string id = s->request().query.at("deploymentId");
    s->Send(Stage(id, "building", 1, {"building"}).dump());
    s->Send(complete(id, 2).dump());
    s->Close(1000, "done");
  };
  hp.SetWs(std::move(h));
  AgentAgainst f(hp);
  for (size_t i = 0; i < urls.size(); ++i) {
    std::string id = "dep-url-" + std::to_string(i);
    CAPTURE(urls[i].value_or("(none)"));
    auto r = f.Ctl({"deploy", "-d", f.MakeProject("p" + std::to_string(i)), "--watch"});
    CHECK(r.exit_code == 5);
    CHECK(r.out.find("Deployed") == std::string::npos);
    CHECK(r.err.find("deployment " + id +
                     " is complete on the platform, but it has no usable "
                     "URL") != std::string::npos);
    if (urls[i]) {
      // Says why, and never repeats a URL that was refused for being unsafe to open.
      CHECK(r.err.find("deployment URL is refused: it ") != std::string::npos);
      CHECK(r.err.find(*urls[i]) == std::string::npos);
    }
    auto w = f.Ctl({"watch", id, "--json"});
    CHECK(w.exit_code == 5);
    auto events = JsonLines(w.out);
    REQUIRE(!events.empty());
    CHECK(events.back()["status"] == "complete");
    CHECK_FALSE(events.back().contains("url"));  // the refused URL is not passed on
    auto s = f.Ctl({"status", id, "--json"});
    CHECK(s.exit_code == 5);
    auto d = json::parse(s.out);
    CHECK_FALSE(d.contains("url"));
    CHECK(d["streamProblem"].get<std::string>().find("platform error") != std::string::npos);
  }
}

TEST_CASE("a deploy the platform answers as already complete or failed ends every watch at once") {
  std::atomic<int> deploys{0};
  HostilePlatform hp;
  hp.Set("POST /api/deploy", [&](const bim::ws::HttpRequest&) {
    int n = deploys++;
    return Json({{"deploymentId", "dep-done-" + std::to_string(n)},
                 {"projectId", "p"},
                 {"commitHash", "c"},
                 {"status", n == 0 ? "complete" : "failed"}});
  });
  hp.Set("GET /api/status/dep-done-0", [](const bim::ws::HttpRequest&) {
    return Json({{"id", "dep-done-0"},
                 {"projectId", "p"},
                 {"commitHash", "c"},
                 {"status", "complete"},
                 {"url", "https://c.backend.im"},
                 {"logs", {"built", "live"}}});
  });
  hp.Set("GET /api/status/dep-done-1", [](const bim::ws::HttpRequest&) {
    return Json({{"id", "dep-done-1"},
                 {"projectId", "p"},
                 {"commitHash", "c"},
                 {"status", "failed"},
                 {"logs", {"boom"}}});
  });
  // A stream that accepts and then says nothing, as a platform may for a deployment long over.
  hp.SetWs(bim::ws::WsHandlers{});
  AgentAgainst f(hp);
  // Bounded: a watch that waits for the stream would be killed here (exit -1).
  constexpr auto kBound = std::chrono::seconds(20);

  auto done = f.Ctl({"deploy", "-d", f.MakeProject("a"), "--watch"}, "", "", kBound);
  CHECK_MESSAGE(done.exit_code == 0, (done.out + done.err));
  CHECK(done.out.find("Deployed: https://c.backend.im") != std::string::npos);
  auto failed = f.Ctl({"deploy", "-d", f.MakeProject("b"), "--watch"}, "", "", kBound);
  CHECK_MESSAGE(failed.exit_code == 1, (failed.out + failed.err));
  CHECK(failed.out.find("boom") != std::string::npos);

  auto w0 = f.Ctl({"watch", "dep-done-0", "--json"}, "", "", kBound);
  CHECK(w0.exit_code == 0);
  auto events = JsonLines(w0.out);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["terminal"] == true);
  CHECK(events[0]["url"] == "https://c.backend.im");
  CHECK(f.Ctl({"watch", "dep-done-1"}, "", "", kBound).exit_code == 1);
}

TEST_CASE("a deployment an older agent stored as ended but without its event is watched at once") {
  HostilePlatform hp;  // asked nothing: the agent's own record is the answer
  AgentAgainst f(hp, /*log_in=*/false);
  REQUIRE(f.Ctl({"history"}).exit_code == 0);  // the agent makes its database
  f.StopAgent();
  // What an agent before this fix stored for a deploy answered as ended: terminal, no event.
  std::string values;
  for (const char* row : {"('dep-old-0','p','c','failed',NULL,'",
                          "('dep-old-1','p','c','complete',"
                          "'https://c.backend.im','"}) {
    values += std::string(values.empty() ? "" : ",") + row + hp.url() + "',1,1,1)";
  }
  auto inserted =
      Run({"sqlite3", f.StateDir() + "/agent.db",
           "INSERT INTO deployments (id, project_id, commit_hash, status, url, api_url, "
           "created_at, updated_at, terminal) VALUES " +
               values + ";"});
  REQUIRE_MESSAGE(inserted.exit_code == 0, inserted.err);
  constexpr auto kBound = std::chrono::seconds(20);
  CHECK(f.Ctl({"watch", "dep-old-0"}, "", "", kBound).exit_code == 1);
  auto done = f.Ctl({"watch", "dep-old-1"}, "", "", kBound);
  CHECK(done.exit_code == 0);
  CHECK(done.out.find("Deployed: https://c.backend.im") != std::string::npos);
}
