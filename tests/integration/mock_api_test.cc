// backend-im-mock as a real process on port 0: the seed's endpoints and this project's
// extensions, over real HTTP and real WebSockets.

#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <thread>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

const std::vector<std::string> kArgs = {"--token", kToken, "--stage-delay-ms", "30"};

HttpReply Generate(const MockPlatform& mock, const std::string& prompt) {
  return HttpRequest("POST", mock.http_url() + "/api/generate",
                     contract::ToJson(contract::GenerateRequest{prompt}), Bearer());
}

contract::GenerateResponse GenerateOk(const MockPlatform& mock, const std::string& prompt) {
  auto r = Generate(mock, prompt);
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto g = contract::ParseGenerateResponse(r.body);
  REQUIRE(g.ok());
  return std::move(g).value();
}

TEST_CASE("generate is deterministic and shapes a FastAPI project after the prompt") {
  MockPlatform mock(kArgs);
  const std::string prompt = "REST API for users and orders";
  auto a = Generate(mock, prompt);
  auto b = Generate(mock, prompt);
  REQUIRE(a.status == 200);
  CHECK(a.body == b.body);

  auto g = GenerateOk(mock, prompt);
  for (const char* f : {"main.py", "app/__init__.py", "app/database.py", "app/models.py",
                        "app/schemas.py", "app/routers/__init__.py", "app/routers/user.py",
                        "app/routers/order.py", "requirements.txt", "schema.sql", "README.md"}) {
    CHECK_MESSAGE(g.files.count(f) == 1, f);
  }
  CHECK(g.files.count("app/routers/item.py") == 0);
  CHECK(g.files["main.py"].find("app.include_router(user.router)") != std::string::npos);
  CHECK(g.files["main.py"].find("app.include_router(order.router)") != std::string::npos);
  CHECK(g.files["app/models.py"].find("class User(Base)") != std::string::npos);
  CHECK(g.files["app/models.py"].find("__tablename__ = \"orders\"") != std::string::npos);
  CHECK(g.files["schema.sql"].find("CREATE TABLE IF NOT EXISTS users") != std::string::npos);
  CHECK(g.files["schema.sql"].find("CREATE TABLE IF NOT EXISTS orders") != std::string::npos);
  CHECK(g.files["requirements.txt"].find("fastapi") != std::string::npos);
  REQUIRE(g.project_id.has_value());
  CHECK(*g.project_id == "proj-" + Sha256Hex(prompt).substr(0, 8));

  auto single = GenerateOk(mock, "Create a REST API for user management");
  std::set<std::string> routers;
  for (const auto& [path, content] : single.files) {
    if (path.rfind("app/routers/", 0) == 0 && path != "app/routers/__init__.py")
      routers.insert(path);
  }
  CHECK(routers == std::set<std::string>{"app/routers/user.py"});
  CHECK(single.project_id != g.project_id);

  auto fallback = GenerateOk(mock, "make an API please");
  CHECK(fallback.files.count("app/routers/item.py") == 1);
}

TEST_CASE("every generated Python file compiles") {
  MockPlatform mock(kArgs);
  // Each prompt's project goes to its own folder, p0 to p5, and one python3 compiles them all
  // (it names each file that does not compile): python3 takes over half a second to start.
  const std::vector<std::string> prompts = {"REST API for users and orders",
                                            "blog: posts, comments & categories!",
                                            "class def import lambda status session base",
                                            "todo app with tasks \xF0\x9F\x9A\x80",
                                            "products\ninvoices\t\"quoted\" payments",
                                            "x"};
  TempDir dir;
  std::vector<std::string> argv = {"python3", "-m", "py_compile"};
  std::string folders;
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(prompts[i]);
    std::string folder = "p" + std::to_string(i);
    folders += folder + ": " + prompts[i] + "\n";
    auto g = GenerateOk(mock, prompts[i]);
    size_t python_files = 0;
    for (const auto& [path, content] : g.files) {
      WriteFile(dir / (folder + "/" + path), content);
      if (path.size() > 3 && path.compare(path.size() - 3, 3, ".py") == 0) {
        argv.push_back(folder + "/" + path);
        ++python_files;
      }
    }
    REQUIRE(python_files > 3);
  }
  ProcessOptions opts;
  opts.cwd = dir.path();
  opts.env["PYTHONDONTWRITEBYTECODE"] = "1";
  auto r = Run(argv, opts, std::chrono::seconds(60));
  CHECK_MESSAGE(r.exit_code == 0, (folders + r.err));
}

TEST_CASE("generate rejects an empty prompt and a body that is not the contract's") {
  MockPlatform mock(kArgs);
  CheckError(Generate(mock, ""), 400, "invalid_request");
  CheckError(Generate(mock, " \n\t "), 400, "invalid_request");
  for (const std::string body : {"", "{", "[]", "{\"prompt\": 3}", "{\"nope\":\"x\"}"}) {
    CAPTURE(body);
    CheckError(HttpRequest("POST", mock.http_url() + "/api/generate", body, Bearer()), 400,
               "invalid_request");
  }
}

TEST_CASE("a deployment streams every stage in order and completes at its commit hash's url") {
  MockPlatform mock(kArgs);
  auto connector = ws::MakeConnector({});
  auto files = SampleFiles("stream");
  auto d = Deploy(mock, files);
  CHECK(std::regex_match(d.deployment_id,
                         std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                    "[0-9a-f]{12}")));
  CHECK(d.commit_hash == CommitHash(files));
  CHECK(d.status == contract::Stage::kQueued);
  CHECK(std::regex_match(d.project_id, std::regex("proj-[0-9a-f]{8}")));
  REQUIRE(d.websocket_url.has_value());
  CHECK(*d.websocket_url == WsUrl(mock, d.deployment_id));

  auto conn = Watch(*connector, *d.websocket_url);
  auto t = ReadToEnd(*conn);
  REQUIRE(t.end.kind == ws::EventKind::kClosed);
  CHECK(t.end.close_code == 1000);
  auto ms = Messages(t);
  CHECK(Statuses(ms) == SuccessNames());
  for (size_t i = 0; i < ms.size(); ++i) {
    CHECK(ms[i].seq == static_cast<int64_t>(i + 1));
    CHECK(ms[i].deployment_id == d.deployment_id);
    CHECK(ms[i].project_id == d.project_id);
    CHECK(ms[i].commit_hash == d.commit_hash);
    CHECK_FALSE(ms[i].logs.empty());
  }
  REQUIRE_FALSE(ms.empty());
  CHECK(ms.back().url == "https://" + CommitHash(files) + ".backend.im");
  const std::string ns = d.project_id + "-" + d.commit_hash;
  CHECK(ms[2].logs.back().find(ns) != std::string::npos);             // creating_namespace
  CHECK(ms[1].logs.back().find(d.commit_hash) != std::string::npos);  // committing
}

TEST_CASE("projectId is echoed when sent and made once when not") {
  MockPlatform mock(kArgs);
  auto given = Deploy(mock, SampleFiles(), {}, "user123-myapi");
  CHECK(given.project_id == "user123-myapi");
  CHECK(Status(mock, given.deployment_id).project_id == "user123-myapi");
  auto made = Deploy(mock, SampleFiles());
  CHECK(std::regex_match(made.project_id, std::regex("proj-[0-9a-f]{8}")));
  CHECK(WaitTerminal(mock, made.deployment_id).project_id == made.project_id);
}

TEST_CASE("an upload without a top-level main.py fails at building and says why") {
  MockPlatform mock(kArgs);
  auto connector = ws::MakeConnector({});
  contract::FileMap files = {{"src/main.py", "print(1)\n"}, {"requirements.txt", "fastapi\n"}};
  auto d = Deploy(mock, files);
  auto t = ReadToEnd(*Watch(*connector, *d.websocket_url));
  CHECK(t.end.close_code == 1000);
  auto ms = Messages(t);
  CHECK(Statuses(ms) == std::vector<std::string>{"queued", "committing", "creating_namespace",
                                                 "creating_pvc", "building", "failed"});
  REQUIRE_FALSE(ms.empty());
  CHECK_FALSE(ms.back().url.has_value());
  REQUIRE_FALSE(ms.back().logs.empty());
  CHECK(ms.back().logs.back().find("main.py is missing at the project root") != std::string::npos);
  auto s = Status(mock, d.deployment_id);
  CHECK(s.status == contract::Stage::kFailed);
  CHECK(s.logs.back().find("main.py is missing") != std::string::npos);
}

TEST_CASE("status has the current stage, every log so far, the url and the latest seq") {
  // The early status is asked milliseconds after the deploy, 150 ms before the second stage.
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "150"});
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("status"));
  auto early = Status(mock, d.deployment_id);
  CHECK(early.id == d.deployment_id);
  CHECK(early.commit_hash == d.commit_hash);
  CHECK_FALSE(contract::IsTerminal(early.status));
  CHECK_FALSE(early.url.has_value());
  CHECK_FALSE(early.logs.empty());
  REQUIRE(early.seq.has_value());
  CHECK(*early.seq <= 2);

  auto t = ReadToEnd(*Watch(*connector, *d.websocket_url));
  auto ms = Messages(t);
  REQUIRE(ms.size() == 8);
  std::vector<std::string> all_logs;
  for (const auto& m : ms) all_logs.insert(all_logs.end(), m.logs.begin(), m.logs.end());
  auto done = Status(mock, d.deployment_id);
  CHECK(done.status == contract::Stage::kComplete);
  CHECK(done.logs == all_logs);
  CHECK(done.url == ms.back().url);
  CHECK(done.seq == 8);
}

TEST_CASE("?since=N replays only the messages after N, live or finished") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "150"});
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("since"));
  // Live: join with since=1 while the deployment is still early.
  auto live = ReadToEnd(*Watch(*connector, WsUrl(mock, d.deployment_id, "&since=1")));
  auto live_ms = Messages(live);
  REQUIRE_FALSE(live_ms.empty());
  CHECK(live_ms.front().seq == 2);
  CHECK(live_ms.back().seq == 8);
  // Finished: replay from 5.
  auto late = Messages(ReadToEnd(*Watch(*connector, WsUrl(mock, d.deployment_id, "&since=5"))));
  std::vector<int64_t> seqs;
  for (const auto& m : late) seqs.push_back(m.seq.value_or(-1));
  CHECK(seqs == std::vector<int64_t>{6, 7, 8});
  // Past the end: nothing, then a normal close.
  auto none = ReadToEnd(*Watch(*connector, WsUrl(mock, d.deployment_id, "&since=8")));
  CHECK(none.frames.empty());
  CHECK(none.end.close_code == 1000);
}

TEST_CASE("two watchers of one deployment each see every message") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "80"});
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("two"));
  auto a = Watch(*connector, *d.websocket_url);
  auto b = Watch(*connector, *d.websocket_url);
  WsTranscript ta, tb;
  std::thread reader([&] { tb = ReadToEnd(*b); });
  ta = ReadToEnd(*a);
  reader.join();
  CHECK(Statuses(Messages(ta)) == SuccessNames());
  CHECK(ta.frames == tb.frames);
  CHECK(ta.end.close_code == 1000);
  CHECK(tb.end.close_code == 1000);
}

TEST_CASE("every /api route and /ws need a valid bearer token") {
  MockPlatform mock(kArgs);
  auto d = Deploy(mock, SampleFiles());
  struct Call {
    const char* method;
    std::string path;
    std::string body;
  };
  std::vector<Call> calls = {
      {"POST", "/api/generate", R"({"prompt":"users"})"},
      {"POST", "/api/deploy", DeployBody(SampleFiles())},
      {"GET", "/api/status/" + d.deployment_id, ""},
      {"GET", "/api/auth/verify", ""},
      {"GET", "/api/no-such-route", ""},
  };
  const std::vector<std::vector<std::string>> bad_headers = {
      {},
      Bearer("wrong-token"),
      {"Authorization: Basic ZGV2LXRva2VuOg=="},
      {"Authorization: Bearer"},
      {"Authorization: " + kToken}};
  for (const auto& c : calls) {
    for (const auto& h : bad_headers) {
      CAPTURE(c.path);
      CAPTURE(h.empty() ? std::string("(none)") : h[0]);
      auto r = HttpRequest(c.method, mock.http_url() + c.path, c.body, h);
      CheckError(r, 401, "unauthorized");
      CHECK(r.headers["www-authenticate"] == "Bearer");
    }
  }
  // The scheme is case-insensitive (RFC 7235).
  CHECK(HttpRequest("GET", mock.http_url() + "/api/auth/verify", "",
                    {"Authorization: bearer " + kToken})
            .status == 200);

  auto connector = ws::MakeConnector({});
  for (const std::string token : {"", "wrong-token"}) {
    auto c = connector->Connect(*d.websocket_url, WsOptions(token));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kUnauthenticated);
    CHECK(c.error().message.find("401") != std::string::npos);
  }
}

TEST_CASE("unknown deployments are 404 on status and /ws, and a /ws without an id is 400") {
  MockPlatform mock(kArgs);
  CheckError(HttpRequest("GET", mock.http_url() + "/api/status/no-such-id", "", Bearer()), 404,
             "not_found");
  auto connector = ws::MakeConnector({});
  auto unknown = connector->Connect(WsUrl(mock, "no-such-id"), WsOptions());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
  auto missing = connector->Connect(mock.ws_url() + "/ws", WsOptions());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kUnavailable);
  CHECK(missing.error().message.find("400") != std::string::npos);
  auto d = Deploy(mock, SampleFiles());
  auto bad_since = connector->Connect(WsUrl(mock, d.deployment_id, "&since=abc"), WsOptions());
  REQUIRE_FALSE(bad_since.ok());
  CHECK(bad_since.error().message.find("400") != std::string::npos);
  auto elsewhere = connector->Connect(mock.ws_url() + "/api/ws", WsOptions());
  REQUIRE_FALSE(elsewhere.ok());
  CHECK(elsewhere.error().code == ErrorCode::kNotFound);
  // /ws without an upgrade is told to upgrade.
  CheckError(HttpRequest("GET", WsUrl(mock, d.deployment_id).replace(0, 2, "http"), "", Bearer()),
             426, "upgrade_required");
}

TEST_CASE("deploy rejects bodies outside the contract, empty uploads and unsafe paths") {
  MockPlatform mock(kArgs);
  for (const std::string body :
       {"", "not json", "{\"files\": []}", "{\"files\": {\"main.py\": 3}}", "{}", "{\"files\": {}}",
        "{\"files\": {\"/etc/passwd\": \"x\"}}", "{\"files\": {\"../main.py\": \"x\"}}",
        "{\"files\": {\"a//b.py\": \"x\"}}"}) {
    CAPTURE(body);
    CheckError(HttpRequest("POST", mock.http_url() + "/api/deploy", body, Bearer()), 400,
               "invalid_request");
  }
  auto list = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  CHECK(list.empty());
}

TEST_CASE("unknown routes are 404 and wrong methods 405, both with the error body") {
  MockPlatform mock(kArgs);
  CheckError(HttpRequest("GET", mock.http_url() + "/nope", "", Bearer()), 404, "not_found");
  CheckError(HttpRequest("GET", mock.http_url() + "/api/nope", "", Bearer()), 404, "not_found");
  auto r = HttpRequest("GET", mock.http_url() + "/api/deploy", "", Bearer());
  CheckError(r, 405, "method_not_allowed");
  CHECK(r.headers["allow"] == "POST");
  CheckError(HttpRequest("DELETE", mock.http_url() + "/api/status/x", "", Bearer()), 405,
             "method_not_allowed");
  CheckError(HttpRequest("GET", mock.http_url() + "/api/generate", "", Bearer()), 405,
             "method_not_allowed");
  CheckError(HttpRequest("POST", mock.http_url() + "/healthz", "", {}), 405, "method_not_allowed");
}

TEST_CASE("an Idempotency-Key replays one deployment, and reused for another body it is 422") {
  MockPlatform mock(kArgs);
  auto url = mock.http_url() + "/api/deploy";
  auto headers = Bearer();
  headers.push_back("Idempotency-Key: key-1");
  auto body = DeployBody(SampleFiles("idem"));
  auto first = HttpRequest("POST", url, body, headers);
  auto second = HttpRequest("POST", url, body, headers);
  REQUIRE(first.status == 200);
  REQUIRE(second.status == 200);
  CHECK(first.body == second.body);
  auto list = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  CHECK(list.size() == 1);

  CheckError(HttpRequest("POST", url, DeployBody(SampleFiles("other")), headers), 422,
             "idempotency_key_reused");

  auto other_key = Bearer();
  other_key.push_back("Idempotency-Key: key-2");
  auto third = HttpRequest("POST", url, body, other_key);
  REQUIRE(third.status == 200);
  CHECK(ParseJson(third.body)["deploymentId"] != ParseJson(first.body)["deploymentId"]);
  auto unkeyed = HttpRequest("POST", url, body, Bearer());
  CHECK(ParseJson(unkeyed.body)["deploymentId"] != ParseJson(first.body)["deploymentId"]);
  CHECK(ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body).size() == 3);
}

TEST_CASE("verify names the user, callback issues a working token, healthz answers") {
  MockPlatform mock(kArgs);
  auto v = HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer());
  REQUIRE(v.status == 200);
  auto who = contract::ParseVerifyResponse(v.body);
  REQUIRE(who.ok());
  CHECK(who->valid);
  CHECK(who->user_id == "user-123");
  CHECK(who->email == "dev@example.com");

  CheckError(HttpRequest("GET", mock.http_url() + "/api/auth/callback?state=s"), 400,
             "invalid_request");
  auto cb = HttpRequest("GET", mock.http_url() + "/api/auth/callback?code=abc&state=s");
  REQUIRE(cb.status == 200);
  auto tok = contract::ParseTokenResponse(cb.body);
  REQUIRE(tok.ok());
  CHECK(tok->token_type == "Bearer");
  CHECK(tok->expires_in == 3600);
  CHECK(HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer(tok->access_token))
            .status == 200);

  auto h = HttpRequest("GET", mock.http_url() + "/healthz");
  CHECK(h.status == 200);
  CHECK(ParseJson(h.body)["ok"] == true);
}

TEST_CASE("the request log has method, path, status and time, and never a token") {
  MockPlatform mock(kArgs);
  HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer());
  HttpRequest("GET", mock.http_url() + "/api/auth/callback?code=secret-code");
  auto d = Deploy(mock, SampleFiles());
  auto connector = ws::MakeConnector({});
  ReadToEnd(*Watch(*connector, *d.websocket_url));
  std::string log = mock.Log();
  CHECK(std::regex_search(log, std::regex("GET /api/auth/verify 200 [0-9]+ms")));
  CHECK(log.find("GET /ws?deploymentId=" + d.deployment_id + " 101") != std::string::npos);
  CHECK(log.find(kToken) == std::string::npos);
  CHECK(log.find("secret-code") == std::string::npos);

  MockPlatform quiet({"--token", kToken, "--no-log-requests"});
  HttpRequest("GET", quiet.http_url() + "/healthz");
  CHECK(quiet.Log().find("/healthz") == std::string::npos);
}

}  // namespace
}  // namespace bim::test
