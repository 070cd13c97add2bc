#pragma once
// The agent is the only holder of the user's tokens, and so the only one that refreshes them:
// the ctl and the MCP server never see one, so no two processes ever race to use a rotating
// refresh token (using a rotated one fails, and may revoke the login).
//
// - AccessToken() hands out a valid token, refreshing first when it expires within a minute.
//   Refreshes are serialized: callers that arrive during one wait for it and share its result.
// - Call() runs a platform call with the token and, on a 401, refreshes once and retries once.
// - BACKEND_IM_TOKEN in the agent's environment wins over stored credentials (for CI).
// - Device logins (RFC 8628) run on their own thread each: LoginStart returns the code to show,
//   LoginCheck waits for the outcome.
//
// Thread-safe.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "daemon/platform.h"
#include "daemon/token_store.h"

namespace bim::daemon {

struct AuthState {
  bool logged_in = false;
  std::string source;  // device, token, environment
  std::string user_id;
  std::string email;
  int64_t expires_at_ms = 0;
  bool can_refresh = false;
};

enum class LoginState { kPending, kApproved, kDenied, kExpired, kFailed };

struct LoginTicket {
  std::string login_id;
  contract::DeviceCodeResponse device;
};

struct LoginOutcome {
  LoginState state = LoginState::kPending;
  std::string message;
};

class AuthManager {
 public:
  static constexpr const char* kClientId = "backend-im-cli";

  AuthManager(Platform& platform, TokenStore& store, const Clock& clock, Random& random,
              StopSignal& stop, std::string environment_token);
  ~AuthManager();

  Result<std::string> AccessToken();
  AuthState State();
  // Asks the platform who the token belongs to and remembers the answer.
  Result<AuthState> Verify(Deadline deadline = kNoDeadline);

  template <typename T>
  Result<T> Call(const std::function<Result<T>(const std::string& token)>& fn) {
    // A refused platform URL is the first thing to fix, before logging in.
    if (!platform_.url_problem().ok()) return platform_.url_problem().error();
    auto token = AccessToken();
    if (!token.ok()) return token.error();
    Result<T> r = fn(*token);
    if (r.ok() || r.error().code != ErrorCode::kUnauthenticated) return r;
    auto fresh = RefreshAfterReject(*token);
    if (!fresh.ok()) return fresh.error();
    r = fn(*fresh);
    if (!r.ok() && r.error().code == ErrorCode::kUnauthenticated) {
      return Error(ErrorCode::kUnauthenticated, "the platform rejected your credentials (" +
                                                    r.error().message +
                                                    "); run `backend-im auth login`");
    }
    return r;
  }

  Result<LoginTicket> LoginStart();
  // Waits up to wait for the login to leave kPending.
  Result<LoginOutcome> LoginCheck(const std::string& login_id, std::chrono::milliseconds wait);
  // Verifies the token with the platform (by the caller's deadline) before keeping it.
  Result<AuthState> LoginWithToken(const std::string& token, Deadline deadline = kNoDeadline);
  Result<bool> Logout();

 private:
  struct Login {
    std::string device_code;
    int64_t interval_s = 5;
    std::chrono::steady_clock::time_point deadline;
    LoginOutcome outcome;
    std::thread thread;
  };

  // Called after the platform rejected `rejected`: refresh unless someone already did.
  Result<std::string> RefreshAfterReject(const std::string& rejected);
  // Caller holds refresh_mu_.
  Result<std::string> RefreshLocked();
  void RunLogin(std::string login_id);
  Status Adopt(const contract::TokenResponse& t, const std::string& source);

  Platform& platform_;
  TokenStore& store_;
  const Clock& clock_;
  Random& random_;
  StopSignal& stop_;
  const std::string environment_token_;

  std::mutex refresh_mu_;  // held for a whole refresh, so there is one at a time
  std::mutex mu_;
  std::condition_variable login_cv_;
  std::optional<Credentials> creds_;  // guarded by mu_
  int64_t lifetime_ms_ = 0;           // guarded by mu_: lifetime of the current token; 0 = unknown
  std::map<std::string, std::unique_ptr<Login>> logins_;  // guarded by mu_
};

}  // namespace bim::daemon
