#include "conformance/device_login.h"

#include <algorithm>

#include "conformance/check.h"

namespace bim::conformance {
namespace {

constexpr const char* kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

std::string Answered(const std::string& what, const HttpAnswer& a) {
  if (a.status == 0) return what + " got no answer: " + a.error;
  return what + " answered " + std::to_string(a.status) + ": " + EvidenceBody(a.body, 200);
}

}  // namespace

HttpAnswer DeviceLogin::PostForm(const std::string& path, const std::string& body) {
  HttpCall call;
  call.method = "POST";
  call.url = api_url_ + path;
  call.body = body;
  call.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                  {"Accept", "application/json"}};
  return http_.Send(call);
}

Result<contract::TokenResponse> DeviceLogin::Run() {
  HttpAnswer a = PostForm("/oauth/device/code",
                          contract::FormEncode({{"client_id", client_id_}, {"scope", "deploy"}}));
  if (a.status == 0) return Error(ErrorCode::kUnavailable, Answered("POST /oauth/device/code", a));
  if (a.status == 404) {
    return Error(ErrorCode::kNotFound,
                 "the platform has no device flow (POST /oauth/device/code answered 404); pass "
                 "--token instead");
  }
  if (a.status != 200) return Error(ErrorCode::kProtocol, Answered("POST /oauth/device/code", a));
  auto code = contract::ParseDeviceCodeResponse(a.body);
  if (!code.ok()) return code.error();

  prompt_ << "To log in, open " << code->verification_uri << " and enter the code below";
  if (code->verification_uri_complete) {
    prompt_ << " (or open " << *code->verification_uri_complete << ")";
  }
  prompt_ << ".\nuser code: " << code->user_code << "\nwaiting for approval..." << std::endl;

  // RFC 8628 §3.5: wait the interval before every poll; slow_down adds 5 s for good.
  auto interval = std::chrono::seconds(std::max<int64_t>(code->interval, 1));
  auto lifetime = std::chrono::seconds(code->expires_in > 0 ? code->expires_in : 600);
  const auto deadline = clock_.Steady() + lifetime;
  const std::string poll = contract::FormEncode({{"grant_type", kDeviceGrant},
                                                 {"device_code", code->device_code},
                                                 {"client_id", client_id_}});
  while (clock_.Steady() < deadline) {
    sleeper_.SleepFor(interval);
    HttpAnswer t = PostForm("/oauth/token", poll);
    if (t.status == 200) {
      auto tokens = contract::ParseTokenResponse(t.body);
      if (tokens.ok()) prompt_ << "logged in." << std::endl;
      return tokens;
    }
    if (t.status == 0) return Error(ErrorCode::kUnavailable, Answered("POST /oauth/token", t));
    if (t.status == 429 || t.status == 502 || t.status == 503 || t.status == 504) continue;
    auto error = contract::ParseOAuthError(t.body);
    if (!error.ok()) return Error(ErrorCode::kProtocol, Answered("POST /oauth/token", t));
    if (error->error == "authorization_pending") continue;
    if (error->error == "slow_down") {
      interval += std::chrono::seconds(5);
      continue;
    }
    if (error->error == "access_denied") {
      return Error(ErrorCode::kPermissionDenied, "the login was denied");
    }
    if (error->error == "expired_token") break;
    return Error(ErrorCode::kProtocol, Answered("POST /oauth/token", t));
  }
  return Error(ErrorCode::kTimeout,
               "the code " + code->user_code + " expired before it was approved; run again");
}

}  // namespace bim::conformance
