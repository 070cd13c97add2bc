// The suite's machinery over fakes: what it runs and skips, retries with Retry-After, and
// several checks' judgements of scripted platform answers, including the device login.

#include "conformance/suite.h"

#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include "conformance/checks.h"
#include "conformance/device_login.h"
#include "conformance/retrying_transport.h"
#include "tests/unit/conformance/fakes.h"

namespace bim::conformance {
namespace {

using test::Answer;
using test::FakeTransport;
using test::FakeWorld;
using namespace std::chrono_literals;

const char* kUnauthorized = R"({"error":"unauthorized","message":"no token"})";

SuiteOptions WithToken(std::string token = "t") {
  SuiteOptions o;
  o.api_url = test::kApi;
  o.token = std::move(token);
  return o;
}

Check Counting(std::string id, bool creates, bool needs_token, int& runs) {
  return Check{.id = std::move(id),
               .description = "counts",
               .creates = creates,
               .needs_token = needs_token,
               .run = [&runs](Context&) {
                 ++runs;
                 return Pass();
               }};
}

// The platform starts a device login: code "dc", polls every 5 s.
void AnswerDeviceCode(FakeWorld& w) {
  w.http.On("POST", "/oauth/device/code",
            Answer(200, R"({"device_code":"dc","user_code":"BCDF-GHJK",)"
                        R"("verification_uri":"https://x/device","expires_in":600,"interval":5})"));
}

Check FromCatalog(const std::string& id) {
  for (auto& c : AllChecks()) {
    if (c.id == id) return c;
  }
  FAIL("no check " << id);
  return {};
}

// Runs the catalog's check `id`: its outcome is `outcome` and its detail says `says`.
CheckResult CheckRun(const std::string& id, Context& ctx, Outcome outcome,
                     const std::string& says) {
  CheckResult r = FromCatalog(id).run(ctx);
  CHECK(r.outcome == outcome);
  CHECK_MESSAGE(r.detail.find(says) != std::string::npos, r.detail);
  return r;
}

TEST_CASE("the catalog's ids are unique and name their area") {
  std::set<std::string> ids;
  for (const auto& c : AllChecks()) {
    CAPTURE(c.id);
    CHECK(ids.insert(c.id).second);
    CHECK(c.id.find('.') != std::string::npos);
    CHECK_FALSE(c.description.empty());
    CHECK(c.run);
  }
  CHECK(ids.size() >= 40);
}

TEST_CASE("--read-only skips the checks that create something and runs the others") {
  FakeWorld w;
  int created = 0, safe = 0;
  SuiteOptions o;
  o.read_only = true;
  o.token = "t";
  auto ctx = w.MakeContext(o);
  Report r =
      Suite({Counting("deploy.x", true, true, created), Counting("auth.y", false, true, safe)})
          .Run(ctx);
  CHECK(created == 0);
  CHECK(safe == 1);
  CHECK(r.Find("deploy.x")->result.outcome == Outcome::kSkipped);
  CHECK(r.Find("deploy.x")->result.detail.find("--read-only") != std::string::npos);
  CHECK(r.Find("auth.y")->result.outcome == Outcome::kPass);
}

TEST_CASE("without a token the checks that need one are skipped") {
  FakeWorld w;
  int needs = 0, anonymous = 0;
  auto ctx = w.MakeContext();
  Report r =
      Suite({Counting("a", false, true, needs), Counting("b", false, false, anonymous)}).Run(ctx);
  CHECK(needs == 0);
  CHECK(anonymous == 1);
  CHECK(r.Find("a")->result.detail.find("no token") != std::string::npos);
}

TEST_CASE("--check keeps only the checks with that prefix, and a throwing check fails") {
  FakeWorld w;
  int runs = 0;
  SuiteOptions o;
  o.only = {"ws."};
  auto ctx = w.MakeContext(o);
  Check throws{.id = "ws.boom", .description = "throws", .run = [](Context&) -> CheckResult {
                 throw std::runtime_error("kaboom");
               }};
  Report r = Suite({Counting("auth.x", false, false, runs), throws}).Run(ctx);
  CHECK(runs == 0);
  CHECK(r.entries().size() == 1);
  CHECK(r.Find("ws.boom")->result.outcome == Outcome::kFail);
  CHECK(r.Find("ws.boom")->result.detail.find("kaboom") != std::string::npos);
}

TEST_CASE("retries wait Retry-After, clamp it, back off without it, and keep every answer") {
  FakeTransport http;
  FakeClock clock;
  test::FakeSleeper sleeper(clock);
  int n = 0;
  http.On("GET", "/api/x", [&n](const HttpCall&) {
    switch (n++) {
      case 0:
        return Answer(503, "{}", {{"retry-after", "2"}});
      case 1:
        return Answer(429, "{}");
      case 2:
        return Answer(503, "{}", {{"retry-after", "9999"}});
      default:
        return Answer(200, "{}");
    }
  });
  RetryingTransport retrying(http, sleeper, 5, 30s);
  auto answers = retrying.SendAll({"GET", test::kApi + "/api/x", {}, "", 1s});
  REQUIRE(answers.size() == 4);
  CHECK(answers.back().status == 200);
  CHECK(sleeper.sleeps == std::vector<std::chrono::milliseconds>{2000ms, 1000ms, 30000ms});

  http.On("GET", "/api/broken", Answer(500, "{}"));
  CHECK(retrying.SendAll({"GET", test::kApi + "/api/broken", {}, "", 1s}).size() == 1);
}

TEST_CASE("the context sends the token only when asked, and its history has retried answers") {
  FakeWorld w;
  int n = 0;
  w.http.On("GET", "/api/auth/verify", [&n](const HttpCall&) {
    return n++ == 0 ? Answer(503, "{}", {{"retry-after", "0"}}) : Answer(200, "{}");
  });
  SuiteOptions o;
  o.token = "the-token";
  auto ctx = w.MakeContext(o);
  Exchange ex = ctx.Get("/api/auth/verify");
  CHECK(ex.answer.status == 200);
  CHECK(ex.attempts == 2);
  CHECK(ctx.history().size() == 2);
  CHECK(FakeTransport::Header(w.http.calls[0], "Authorization") == "Bearer the-token");
  ctx.Get("/api/auth/verify", Auth::kNone);
  CHECK(FakeTransport::Header(w.http.calls.back(), "Authorization").empty());
  ctx.Get("/api/auth/verify", Auth::kInvalid);
  auto invalid = FakeTransport::Header(w.http.calls.back(), "Authorization");
  CHECK(invalid.rfind("Bearer conformance-invalid-token-", 0) == 0);
}

TEST_CASE("auth.no_token names the endpoint that answered 400 instead of 401") {
  FakeWorld w;
  w.http.On("POST", "/api/deploy", Answer(400, R"({"error":"invalid_request","message":"m"})"));
  for (const char* m : {"GET", "POST"}) w.http.On(m, "/api/", Answer(401, kUnauthorized));
  auto ctx = w.MakeContext();
  CheckResult r = FromCatalog("auth.no_token").run(ctx);
  CHECK(r.outcome == Outcome::kFail);
  CHECK(r.detail ==
        "POST /api/deploy [no Authorization, body not JSON] answered 400, expected 401");
  CHECK(r.evidence.size() == 4);
}

TEST_CASE("ext.error_body: the contract's codes pass, other codes or no body are not-supported") {
  // The error body is an extension; the seed promises only the statuses. So a platform with
  // codes of its own, or with a body on some errors only, lacks the extension: never a failure.
  SUBCASE("the contract's codes") {
    FakeWorld w;
    w.http.On("GET", "/api/status/", Answer(404, R"({"error":"not_found","message":"m"})"));
    auto ctx = w.MakeContext(WithToken());
    CHECK(FromCatalog("status.unknown_id").run(ctx).outcome == Outcome::kPass);
    CHECK(FromCatalog("ext.error_body").run(ctx).outcome == Outcome::kPass);
  }
  SUBCASE("codes of the platform's own") {
    FakeWorld w;
    w.http.On("GET", "/api/status/", Answer(404, R"({"error":"missing","message":"m"})"));
    w.http.On("GET", "/api/auth/callback", Answer(400, R"({"error":"bad_request","message":"m"})"));
    auto ctx = w.MakeContext(WithToken());
    CHECK(FromCatalog("status.unknown_id").run(ctx).outcome == Outcome::kPass);
    CHECK(FromCatalog("auth.callback_missing_code").run(ctx).outcome == Outcome::kPass);
    CheckResult r = CheckRun("ext.error_body", ctx, Outcome::kNotSupported,
                             "404 with error \"missing\" (the contract's code is \"not_found\")");
    CHECK(r.detail.find("400 with error \"bad_request\" (the contract's code is "
                        "\"invalid_request\")") != std::string::npos);
    CHECK(r.evidence.size() == 2);
  }
  SUBCASE("a body on some errors only") {
    FakeWorld w;
    w.http.On("GET", "/api/status/", Answer(404, "404 page not found"));
    w.http.On("GET", "/api/auth/callback",
              Answer(400, R"({"error":"invalid_request","message":"m"})"));
    auto ctx = w.MakeContext(WithToken());
    CHECK(FromCatalog("status.unknown_id").run(ctx).outcome == Outcome::kPass);
    CHECK(FromCatalog("auth.callback_missing_code").run(ctx).outcome == Outcome::kPass);
    CheckRun("ext.error_body", ctx, Outcome::kNotSupported, "1 of the 2");
  }
  SUBCASE("plain-text errors") {
    FakeWorld w;
    w.http.On("GET", "/api/status/", Answer(404, "Not Found"));
    auto ctx = w.MakeContext(WithToken());
    CHECK(FromCatalog("status.unknown_id").run(ctx).outcome == Outcome::kPass);
    CHECK(FromCatalog("ext.error_body").run(ctx).outcome == Outcome::kNotSupported);
  }
}

TEST_CASE("ext.generate_project_id: a projectId of another type is the extension absent") {
  FakeWorld w;
  w.http.On("POST", "/api/generate",
            Answer(200, R"({"files":{"main.py":"print(1)\n"},"projectId":42})"));
  auto ctx = w.MakeContext(WithToken());
  CheckRun("ext.generate_project_id", ctx, Outcome::kNotSupported,
           "is an integer, not the extension's non-empty string");
}

TEST_CASE("ext.idempotency_conflict: a platform that replays but does not answer 422") {
  // The replay works (same deploymentId); the reuse with other files answers 409.
  FakeWorld w;
  int deploys = 0;
  w.http.On("POST", "/api/deploy", [&deploys](const HttpCall&) {
    ++deploys;
    if (deploys <= 2) {
      return Answer(200, R"({"deploymentId":"d-1","projectId":"p","commitHash":"0123456789ab",)"
                         R"("status":"queued"})");
    }
    return Answer(409, R"({"error":"conflict","message":"key reused"})");
  });
  auto ctx = w.MakeContext(WithToken());
  CHECK(FromCatalog("ext.idempotency_replay").run(ctx).outcome == Outcome::kPass);
  CheckRun("ext.idempotency_conflict", ctx, Outcome::kNotSupported, "409");
}

TEST_CASE("device.slow_down is not-supported when fast polls only get authorization_pending") {
  FakeWorld w;
  AnswerDeviceCode(w);
  w.http.On("POST", "/oauth/token", Answer(400, R"({"error":"authorization_pending"})"));
  auto ctx = w.MakeContext();
  CHECK(FromCatalog("device.code").run(ctx).outcome == Outcome::kPass);
  CHECK(FromCatalog("device.pending").run(ctx).outcome == Outcome::kPass);
  CheckResult r = FromCatalog("device.slow_down").run(ctx);
  CHECK(r.outcome == Outcome::kNotSupported);
  CHECK(FromCatalog("device.invalid_grant").run(ctx).outcome == Outcome::kFail);
}

TEST_CASE("without a device flow every device check is not-supported") {
  FakeWorld w;  // every unrouted request is 404
  auto ctx = w.MakeContext();
  for (const auto& c : DeviceFlowChecks()) {
    CAPTURE(c.id);
    CHECK(c.run(ctx).outcome == Outcome::kNotSupported);
  }
}

TEST_CASE("the WebSocket refusal's status is read from the connector's error") {
  FakeWorld w;
  auto ctx = w.MakeContext(WithToken());
  CHECK(FromCatalog("ws.unknown_id").run(ctx).outcome == Outcome::kPass);
  REQUIRE(w.ws.urls.size() == 1);
  CHECK(w.ws.urls[0].rfind("ws://platform.test/ws?deploymentId=", 0) == 0);

  test::RefusingConnector refuses_400(400);
  Context other(WithToken(), w.http, refuses_400, w.clock, w.sleeper, w.random);
  CheckRun("ws.unknown_id", other, Outcome::kFail, "refused with 400, expected 404");
}

TEST_CASE("device login waits the interval, adds 5 s on slow_down and returns the tokens") {
  FakeWorld w;
  AnswerDeviceCode(w);
  int polls = 0;
  w.http.On("POST", "/oauth/token", [&polls](const HttpCall& call) {
    CHECK(call.body.find("device_code=dc") != std::string::npos);
    switch (polls++) {
      case 0:
        return Answer(400, R"({"error":"authorization_pending"})");
      case 1:
        return Answer(400, R"({"error":"slow_down"})");
      default:
        return Answer(200, R"({"access_token":"at","token_type":"Bearer","refresh_token":"rt"})");
    }
  });
  std::ostringstream prompt;
  DeviceLogin login(w.http, w.clock, w.sleeper, test::kApi, "backend-im-cli", prompt);
  auto tokens = login.Run();
  REQUIRE(tokens.ok());
  CHECK(tokens->access_token == "at");
  CHECK(tokens->refresh_token == "rt");
  CHECK(w.sleeper.sleeps == std::vector<std::chrono::milliseconds>{5s, 5s, 10s});
  CHECK(prompt.str().find("user code: BCDF-GHJK") != std::string::npos);
  CHECK(prompt.str().find("https://x/device") != std::string::npos);
}

TEST_CASE("device login says why it failed") {
  SUBCASE("no device flow") {
    FakeWorld w;
    std::ostringstream prompt;
    auto r = DeviceLogin(w.http, w.clock, w.sleeper, test::kApi, "c", prompt).Run();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotFound);
    CHECK(r.error().message.find("--token") != std::string::npos);
  }
  SUBCASE("denied, and expired") {
    FakeWorld w;
    w.http.On("POST", "/oauth/device/code",
              Answer(200, R"({"device_code":"dc","user_code":"U","verification_uri":"v",)"
                          R"("expires_in":12,"interval":5})"));
    std::string error = "access_denied";
    w.http.On("POST", "/oauth/token",
              [&error](const HttpCall&) { return Answer(400, R"({"error":")" + error + R"("})"); });
    std::ostringstream prompt;
    auto denied = DeviceLogin(w.http, w.clock, w.sleeper, test::kApi, "c", prompt).Run();
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.error().code == ErrorCode::kPermissionDenied);

    error = "authorization_pending";  // never approved: the code's 12 s run out
    auto expired = DeviceLogin(w.http, w.clock, w.sleeper, test::kApi, "c", prompt).Run();
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.error().code == ErrorCode::kTimeout);
  }
}

}  // namespace
}  // namespace bim::conformance
