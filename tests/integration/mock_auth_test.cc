// backend-im-mock's RFC 8628 device flow, token lifetime and refresh-token rotation, over
// real HTTP with form-encoded bodies.

#include <doctest/doctest.h>

#include <thread>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

constexpr const char* kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";
const std::vector<std::string> kForm = {"Content-Type: application/x-www-form-urlencoded"};

HttpReply Form(const MockPlatform& mock, const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& fields) {
  return HttpRequest("POST", mock.http_url() + path, contract::FormEncode(fields), kForm);
}

contract::DeviceCodeResponse StartLogin(const MockPlatform& mock) {
  auto r = Form(mock, "/oauth/device/code", {{"client_id", "backend-im-cli"}, {"scope", "deploy"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto d = contract::ParseDeviceCodeResponse(r.body);
  REQUIRE(d.ok());
  return std::move(d).value();
}

HttpReply Poll(const MockPlatform& mock, const std::string& device_code) {
  return Form(mock, "/oauth/token",
              {{"grant_type", kDeviceGrant},
               {"device_code", device_code},
               {"client_id", "backend-im-cli"}});
}

// The OAuth error of a token-endpoint answer (RFC 6749 §5.2).
std::string OAuthErrorOf(const HttpReply& r) {
  INFO(r.status << " " << r.body);
  CHECK(r.status == 400);
  auto e = contract::ParseOAuthError(r.body);
  REQUIRE(e.ok());
  CHECK_FALSE(e->error_description.empty());
  return e->error;
}

contract::TokenResponse TokensOf(const HttpReply& r) {
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 200);
  auto t = contract::ParseTokenResponse(r.body);
  REQUIRE(t.ok());
  return std::move(t).value();
}

long Verify(const MockPlatform& mock, const std::string& token) {
  return HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer(token)).status;
}

TEST_CASE("the device code answer follows RFC 8628 and points at the mock's page") {
  MockPlatform mock({"--device-interval", "7"});
  auto d = StartLogin(mock);
  CHECK(d.device_code.rfind("mock-dc-", 0) == 0);
  CHECK(d.user_code.size() == 9);
  CHECK(d.user_code[4] == '-');
  CHECK(d.verification_uri == mock.http_url() + "/device");
  CHECK(d.verification_uri_complete == mock.http_url() + "/device?user_code=" + d.user_code);
  CHECK(d.expires_in == 600);
  CHECK(d.interval == 7);

  auto page = HttpRequest("GET", *d.verification_uri_complete);
  CHECK(page.status == 200);
  CHECK(page.headers["content-type"].find("text/html") != std::string::npos);
  CHECK(page.body.find(d.user_code) != std::string::npos);
  auto hostile = HttpRequest("GET", mock.http_url() + "/device?user_code=%3Cscript%3E");
  CHECK(hostile.body.find("<script>") == std::string::npos);

  auto wrong = Form(mock, "/oauth/device/code", {{"client_id", "someone-else"}});
  CHECK(OAuthErrorOf(wrong) == "invalid_client");
}

TEST_CASE("polling says authorization_pending until approved, then issues working tokens") {
  MockPlatform mock({"--device-interval", "0"});
  auto d = StartLogin(mock);
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");

  CheckError(Form(mock, "/oauth/device/approve", {{"user_code", "ZZZZ-ZZZZ"}}), 404, "not_found");
  // People type codes in lower case and without the dash.
  std::string typed = d.user_code.substr(0, 4) + d.user_code.substr(5);
  for (auto& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto ok = Form(mock, "/oauth/device/approve", {{"user_code", typed}});
  CHECK(ok.status == 200);

  auto t = TokensOf(Poll(mock, d.device_code));
  CHECK(t.access_token.rfind("mock-at-", 0) == 0);
  CHECK(t.token_type == "Bearer");
  CHECK(t.expires_in == 3600);
  REQUIRE(t.refresh_token.has_value());
  CHECK(t.refresh_token->rfind("mock-rt-", 0) == 0);
  CHECK(Verify(mock, t.access_token) == 200);
  // A device code is good for one set of tokens.
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "invalid_grant");
  CHECK(OAuthErrorOf(Poll(mock, "mock-dc-unknown")) == "invalid_grant");
}

TEST_CASE("polling faster than the interval earns slow_down and five more seconds") {
  MockPlatform mock({"--device-interval", "2"});
  auto d = StartLogin(mock);
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");
  auto fast = Poll(mock, d.device_code);
  CHECK(OAuthErrorOf(fast) == "slow_down");
  CHECK(contract::ParseOAuthError(fast.body)->error_description.find("7 s") != std::string::npos);
}

TEST_CASE("a device code that expires gets expired_token") {
  MockPlatform mock({"--device-interval", "0", "--device-code-ttl", "1", "--test-clock"});
  auto d = StartLogin(mock);
  CHECK(d.expires_in == 1);
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");
  REQUIRE(AdvanceMockClock(mock, std::chrono::milliseconds(1100)));
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "expired_token");
  CheckError(Form(mock, "/oauth/device/approve", {{"user_code", d.user_code}}), 400,
             "expired_token");
}

TEST_CASE("a denied login gets access_denied") {
  MockPlatform mock({"--device-interval", "0"});
  auto d = StartLogin(mock);
  CHECK(Form(mock, "/oauth/device/deny", {{"user_code", d.user_code}}).status == 200);
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "access_denied");
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "access_denied");
}

TEST_CASE("--auto-approve-after N approves on the Nth poll") {
  MockPlatform mock({"--device-interval", "0", "--auto-approve-after", "3"});
  auto d = StartLogin(mock);
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");
  CHECK(OAuthErrorOf(Poll(mock, d.device_code)) == "authorization_pending");
  auto t = TokensOf(Poll(mock, d.device_code));
  CHECK(Verify(mock, t.access_token) == 200);
}

TEST_CASE("access tokens stop working after --token-ttl") {
  MockPlatform mock({"--device-interval", "0", "--auto-approve-after", "1", "--token-ttl", "1",
                     "--stage-delay-ms", "10", "--test-clock"});
  auto t = TokensOf(Poll(mock, StartLogin(mock).device_code));
  CHECK(t.expires_in == 1);
  CHECK(Verify(mock, t.access_token) == 200);
  REQUIRE(AdvanceMockClock(mock, std::chrono::milliseconds(500)));
  CHECK(Verify(mock, t.access_token) == 200);
  REQUIRE(AdvanceMockClock(mock, std::chrono::milliseconds(600)));
  CHECK(Verify(mock, t.access_token) == 401);
  auto deploy = HttpRequest("POST", mock.http_url() + "/api/deploy", DeployBody(SampleFiles()),
                            Bearer(t.access_token));
  CheckError(deploy, 401, "unauthorized");
}

TEST_CASE("a refresh rotates the refresh token, and the old one is rejected") {
  MockPlatform mock({"--device-interval", "0", "--auto-approve-after", "1"});
  auto first = TokensOf(Poll(mock, StartLogin(mock).device_code));
  auto refresh = [&](const std::string& rt) {
    return Form(
        mock, "/oauth/token",
        {{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", "backend-im-cli"}});
  };
  auto second = TokensOf(refresh(*first.refresh_token));
  CHECK(second.access_token != first.access_token);
  REQUIRE(second.refresh_token.has_value());
  CHECK(*second.refresh_token != *first.refresh_token);
  CHECK(Verify(mock, second.access_token) == 200);

  CHECK(OAuthErrorOf(refresh(*first.refresh_token)) == "invalid_grant");
  auto third = TokensOf(refresh(*second.refresh_token));
  CHECK(OAuthErrorOf(refresh(*second.refresh_token)) == "invalid_grant");
  CHECK(Verify(mock, third.access_token) == 200);
  CHECK(OAuthErrorOf(refresh("")) == "invalid_request");
}

TEST_CASE("unknown and missing grant types are refused") {
  MockPlatform mock;
  CHECK(OAuthErrorOf(Form(mock, "/oauth/token", {{"grant_type", "password"}})) ==
        "unsupported_grant_type");
  CHECK(OAuthErrorOf(Form(mock, "/oauth/token", {})) == "invalid_request");
  CHECK(OAuthErrorOf(
            Form(mock, "/oauth/token",
                 {{"grant_type", kDeviceGrant}, {"device_code", "x"}, {"client_id", "nope"}})) ==
        "invalid_client");
  CheckError(HttpRequest("GET", mock.http_url() + "/oauth/token"), 405, "method_not_allowed");
}

TEST_CASE("the mock's clock moves on only with --test-clock, and only forward") {
  MockPlatform plain;
  CHECK_FALSE(AdvanceMockClock(plain, std::chrono::milliseconds(1)));
  MockPlatform mock({"--test-clock"});
  CHECK(AdvanceMockClock(mock, std::chrono::milliseconds(0)));
  for (const char* bad : {"", "?ms=-5", "?ms=x", "?ms=5x"}) {
    CAPTURE(bad);
    CheckError(HttpRequest("POST", mock.http_url() + "/mock/clock/advance" + bad), 400,
               "bad_request");
  }
  CHECK(HttpRequest("GET", mock.http_url() + "/mock/clock/advance?ms=1").status == 405);
}

}  // namespace
}  // namespace bim::test
