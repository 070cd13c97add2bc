#pragma once
// The mock's identity provider: static tokens, the seed's /api/auth/callback and
// /api/auth/verify, and this project's RFC 8628 device flow with rotating refresh tokens
// (docs/API_CONTRACTS.md). In memory only.
//
// Threading: not thread-safe; the mock calls it on the server's io thread only. Time comes
// from the injected Clock and randomness from the injected Random.

#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "mock-api/mock_options.h"
#include "ws/http_ws_server.h"

namespace bim::mock {

class AuthServer {
 public:
  AuthServer(const MockOptions& options, const Clock& clock, Random& random);

  // Whether an Authorization header value ("Bearer <token>") carries a token that is valid
  // now: a --token, or an access token that has not expired.
  bool IsAuthorized(const std::string& authorization) const;

  // GET /api/auth/callback?code=&state= : a new access token for any code.
  ws::HttpResponse Callback(const ws::HttpRequest& req);
  // GET /api/auth/verify (the caller has checked the token already).
  ws::HttpResponse Verify() const;
  // POST /oauth/device/code; base_url is how the client reached us (http://host:port).
  ws::HttpResponse DeviceCode(const ws::HttpRequest& req, const std::string& base_url);
  // POST /oauth/token: device_code and refresh_token grants.
  ws::HttpResponse Token(const ws::HttpRequest& req);
  // POST /oauth/device/approve and /oauth/device/deny (mock only).
  ws::HttpResponse Decide(const ws::HttpRequest& req, bool approve);
  // GET /device (mock only): a page to approve or deny a user code.
  ws::HttpResponse DevicePage(const ws::HttpRequest& req) const;

 private:
  enum class GrantState { kPending, kApproved, kDenied, kUsed };
  struct DeviceGrant {
    std::string user_code;
    std::chrono::steady_clock::time_point expires_at;
    int interval_s = 5;
    std::optional<std::chrono::steady_clock::time_point> last_poll;
    int polls = 0;
    GrantState state = GrantState::kPending;
  };

  ws::HttpResponse DeviceCodeGrant(const std::map<std::string, std::string>& form);
  ws::HttpResponse RefreshGrant(const std::map<std::string, std::string>& form);
  ws::HttpResponse IssueTokens(bool with_refresh);
  std::string RandomHex(int bytes);
  std::string NewUserCode();
  static std::string NormalizeUserCode(const std::string& code);

  const MockOptions& options_;
  const Clock& clock_;
  Random& random_;
  std::set<std::string> static_tokens_;
  std::map<std::string, std::chrono::steady_clock::time_point> access_tokens_;  // -> expiry
  std::set<std::string> refresh_tokens_;
  std::map<std::string, DeviceGrant> grants_;      // by device_code
  std::map<std::string, std::string> user_codes_;  // user_code -> device_code
};

}  // namespace bim::mock
