#include "daemon/auth_manager.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/log.h"

namespace bim::daemon {
namespace {

constexpr int64_t kRefreshMarginMs = 60'000;

// Refresh this long before expiry: a minute, or a tenth of a short token's lifetime, so a
// token that lives two seconds is not refreshed on every call.
int64_t RefreshMargin(int64_t lifetime_ms) {
  return lifetime_ms > 0 ? std::min(kRefreshMarginMs, lifetime_ms / 10) : kRefreshMarginMs;
}

Error NotLoggedIn() {
  return Error(ErrorCode::kUnauthenticated, "not logged in: run `backend-im auth login`");
}

}  // namespace

AuthManager::AuthManager(Platform& platform, TokenStore& store, const Clock& clock, Random& random,
                         StopSignal& stop, std::string environment_token)
    : platform_(platform),
      store_(store),
      clock_(clock),
      random_(random),
      stop_(stop),
      environment_token_(std::move(environment_token)) {
  auto loaded = store_.Load();
  if (!loaded.ok()) {
    log::Error("cannot read stored credentials: {}", loaded.error().message);
  } else if (*loaded && (*loaded)->api_url != platform_.base_url()) {
    log::Warn("stored credentials are for {}, not {}; ignoring them until the next login",
              (*loaded)->api_url, platform_.base_url());
  } else {
    creds_ = *loaded;
  }
}

AuthManager::~AuthManager() {
  std::map<std::string, std::unique_ptr<Login>> logins;
  {
    std::lock_guard lock(mu_);
    logins.swap(logins_);
  }
  login_cv_.notify_all();
  for (auto& [id, login] : logins) {
    if (login->thread.joinable()) login->thread.join();
  }
}

Result<std::string> AuthManager::AccessToken() {
  if (!environment_token_.empty()) return environment_token_;
  {
    std::lock_guard lock(mu_);
    if (!creds_) return NotLoggedIn();
    bool fresh = creds_->expires_at_ms == 0 ||
                 clock_.NowUnixMs() + RefreshMargin(lifetime_ms_) < creds_->expires_at_ms;
    if (fresh || creds_->refresh_token.empty()) return creds_->access_token;
  }
  std::lock_guard refresh(refresh_mu_);
  {
    // Someone may have refreshed while we waited for refresh_mu_.
    std::lock_guard lock(mu_);
    if (!creds_) return NotLoggedIn();
    if (creds_->expires_at_ms == 0 ||
        clock_.NowUnixMs() + RefreshMargin(lifetime_ms_) < creds_->expires_at_ms) {
      return creds_->access_token;
    }
  }
  return RefreshLocked();
}

Result<std::string> AuthManager::RefreshAfterReject(const std::string& rejected) {
  if (!environment_token_.empty()) {
    return Error(ErrorCode::kUnauthenticated,
                 "the platform rejected the token in BACKEND_IM_TOKEN; set a valid one");
  }
  std::lock_guard refresh(refresh_mu_);
  {
    std::lock_guard lock(mu_);
    if (!creds_) return NotLoggedIn();
    if (creds_->access_token != rejected) return creds_->access_token;
    if (creds_->refresh_token.empty()) {
      return Error(ErrorCode::kUnauthenticated,
                   "the platform rejected your credentials; run `backend-im auth login`");
    }
  }
  return RefreshLocked();
}

Result<std::string> AuthManager::RefreshLocked() {
  std::string refresh_token;
  {
    std::lock_guard lock(mu_);
    refresh_token = creds_->refresh_token;
  }
  log::Info("refreshing the access token");
  auto t = platform_.Refresh(kClientId, refresh_token);
  if (!t.ok()) {
    log::Warn("token refresh failed: {}", t.error().message);
    return t.error();
  }
  std::lock_guard lock(mu_);
  if (!creds_) return NotLoggedIn();  // logged out meanwhile
  creds_->access_token = t->access_token;
  if (t->refresh_token) creds_->refresh_token = *t->refresh_token;
  creds_->expires_at_ms = t->expires_in ? clock_.NowUnixMs() + *t->expires_in * 1000 : 0;
  lifetime_ms_ = t->expires_in.value_or(0) * 1000;
  if (auto s = store_.Save(*creds_); !s.ok()) {
    // The new token works for this run; losing it at restart costs only a login.
    log::Error("cannot save refreshed credentials: {}", s.error().message);
  }
  return creds_->access_token;
}

AuthState AuthManager::State() {
  AuthState s;
  if (!environment_token_.empty()) {
    s.logged_in = true;
    s.source = "environment";
    return s;
  }
  std::lock_guard lock(mu_);
  if (!creds_) return s;
  s.logged_in = true;
  s.source = creds_->source;
  s.user_id = creds_->user_id;
  s.email = creds_->email;
  s.expires_at_ms = creds_->expires_at_ms;
  s.can_refresh = !creds_->refresh_token.empty();
  return s;
}

Result<AuthState> AuthManager::Verify(Deadline deadline) {
  auto v = Call<contract::VerifyResponse>(
      [this, deadline](const std::string& token) { return platform_.Verify(token, deadline); });
  if (!v.ok()) return v.error();
  if (!v->valid) {
    return Error(ErrorCode::kUnauthenticated,
                 "the platform says the token is not valid; run `backend-im auth login`");
  }
  AuthState s = State();
  s.user_id = v->user_id;
  s.email = v->email;
  std::lock_guard lock(mu_);
  if (creds_ && (creds_->user_id != v->user_id || creds_->email != v->email)) {
    creds_->user_id = v->user_id;
    creds_->email = v->email;
    if (auto st = store_.Save(*creds_); !st.ok())
      log::Warn("cannot save identity: {}", st.error().message);
  }
  return s;
}

Status AuthManager::Adopt(const contract::TokenResponse& t, const std::string& source) {
  Credentials c;
  c.access_token = t.access_token;
  c.refresh_token = t.refresh_token.value_or("");
  c.expires_at_ms = t.expires_in ? clock_.NowUnixMs() + *t.expires_in * 1000 : 0;
  c.source = source;
  c.api_url = platform_.base_url();
  if (auto s = store_.Save(c); !s.ok()) return s;
  std::lock_guard lock(mu_);
  creds_.reset();  // wipes the old tokens; a move-assignment would free them as they are
  creds_ = std::move(c);
  lifetime_ms_ = t.expires_in.value_or(0) * 1000;
  return OkStatus();
}

Result<AuthState> AuthManager::LoginWithToken(const std::string& token, Deadline deadline) {
  std::string trimmed = token;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.pop_back();
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
    trimmed.erase(0, 1);
  if (trimmed.empty()) return Error(ErrorCode::kInvalidArgument, "the token is empty");
  if (trimmed.find_first_of(" \t\r\n") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "the token contains white space");
  }
  // Check it before keeping it, so a typo never replaces a working login.
  auto v = platform_.Verify(trimmed, deadline);
  if (!v.ok()) {
    if (v.error().code == ErrorCode::kUnauthenticated) {
      return Error(ErrorCode::kUnauthenticated, "the platform does not accept that token");
    }
    return v.error();
  }
  if (!v->valid)
    return Error(ErrorCode::kUnauthenticated, "the platform does not accept that token");
  contract::TokenResponse t;
  t.access_token = trimmed;
  if (auto s = Adopt(t, "token"); !s.ok()) return s.error();
  {
    std::lock_guard lock(mu_);
    creds_->user_id = v->user_id;
    creds_->email = v->email;
    (void)store_.Save(*creds_);
  }
  return State();
}

Result<bool> AuthManager::Logout() {
  std::lock_guard refresh(refresh_mu_);
  auto erased = store_.Erase();
  if (!erased.ok()) return erased.error();
  std::lock_guard lock(mu_);
  bool was = creds_.has_value();
  creds_.reset();
  return was || *erased;
}

Result<LoginTicket> AuthManager::LoginStart() {
  auto d = platform_.StartDeviceLogin(kClientId);
  if (!d.ok()) return d.error();
  // The user, or an assistant on their behalf, is told to open these: a javascript: or file:
  // page, or one with a password in it, ends the login here, before any front end shows it.
  for (const auto* url :
       {&d->verification_uri,
        d->verification_uri_complete ? &*d->verification_uri_complete : nullptr}) {
    if (!url) continue;
    if (auto s = contract::CheckUrlToOpen(*url, "login URL"); !s.ok()) {
      return Error(s.error().code, s.error().message +
                                       "; log in with a token instead (`backend-im auth login "
                                       "--with-token`)");
    }
  }
  LoginTicket ticket{NewUuid(random_), *d};
  auto login = std::make_unique<Login>();
  login->device_code = d->device_code;
  login->interval_s = std::max<int64_t>(1, d->interval);
  login->deadline = clock_.Steady() + std::chrono::seconds(d->expires_in > 0 ? d->expires_in : 900);
  std::lock_guard lock(mu_);
  Login& ref = *login;
  logins_[ticket.login_id] = std::move(login);
  ref.thread = std::thread([this, id = ticket.login_id] { RunLogin(id); });
  return ticket;
}

void AuthManager::RunLogin(std::string login_id) {
  std::string device_code;
  int64_t interval_s;
  std::chrono::steady_clock::time_point deadline;
  {
    std::lock_guard lock(mu_);
    auto& l = *logins_.at(login_id);
    device_code = l.device_code;
    interval_s = l.interval_s;
    deadline = l.deadline;
  }
  auto finish = [&](LoginState state, std::string message) {
    {
      std::lock_guard lock(mu_);
      auto it = logins_.find(login_id);
      if (it != logins_.end()) it->second->outcome = {state, std::move(message)};
    }
    login_cv_.notify_all();
  };
  while (true) {
    // RFC 8628 §3.5: wait `interval` seconds between polls.
    if (!clock_.SleepFor(stop_, std::chrono::seconds(interval_s))) {
      return finish(LoginState::kFailed, "the agent stopped during the login");
    }
    if (clock_.Steady() > deadline) {
      return finish(LoginState::kExpired,
                    "the login code expired; run `backend-im auth login` again");
    }
    auto r = platform_.PollDeviceLogin(kClientId, device_code);
    if (!r.ok()) return finish(LoginState::kFailed, r.error().message);
    if (auto* t = std::get_if<contract::TokenResponse>(&*r)) {
      if (auto s = Adopt(*t, "device"); !s.ok())
        return finish(LoginState::kFailed, s.error().message);
      auto v = Verify();
      if (!v.ok())
        log::Warn("logged in, but cannot verify the identity yet: {}", v.error().message);
      return finish(LoginState::kApproved, "logged in");
    }
    const auto& e = std::get<contract::OAuthError>(*r);
    if (e.error == "authorization_pending") continue;
    if (e.error == "slow_down") {
      interval_s += 5;  // RFC 8628 §3.5
      continue;
    }
    if (e.error == "expired_token") {
      return finish(LoginState::kExpired,
                    "the login code expired; run `backend-im auth login` again");
    }
    if (e.error == "access_denied") return finish(LoginState::kDenied, "the login was denied");
    return finish(LoginState::kFailed, "the platform refused the login: " + e.error);
  }
}

Result<LoginOutcome> AuthManager::LoginCheck(const std::string& login_id,
                                             std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  auto it = logins_.find(login_id);
  if (it == logins_.end()) {
    return Error(ErrorCode::kNotFound,
                 "no such login in progress (the agent may have restarted); run `backend-im auth "
                 "login` again");
  }
  Login* login = it->second.get();
  login_cv_.wait_for(lock, wait, [&] {
    return login->outcome.state != LoginState::kPending || stop_.stopped() ||
           logins_.find(login_id) == logins_.end();
  });
  return login->outcome;
}

}  // namespace bim::daemon
