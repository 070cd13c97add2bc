#include "mock-api/auth_server.h"

#include <fmt/format.h>

#include <cctype>

#include "common/contract.h"
#include "common/log.h"
#include "common/markup_escape.h"
#include "mock-api/responses.h"

namespace bim::mock {
namespace {

constexpr const char* kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";
// RFC 8628 §6.1: no vowels (no words), no look-alike characters.
constexpr const char* kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";

std::string Get(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace

AuthServer::AuthServer(const MockOptions& options, const Clock& clock, Random& random)
    : options_(options),
      clock_(clock),
      random_(random),
      static_tokens_(options.tokens.begin(), options.tokens.end()) {}

bool AuthServer::IsAuthorized(const std::string& authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  std::string token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.empty()) return false;
  if (static_tokens_.count(token)) return true;
  auto it = access_tokens_.find(token);
  return it != access_tokens_.end() && clock_.Steady() < it->second;
}

std::string AuthServer::RandomHex(int bytes) {
  std::string out;
  while (static_cast<int>(out.size()) < bytes * 2) out += fmt::format("{:016x}", random_.Next64());
  return out.substr(0, bytes * 2);
}

std::string AuthServer::NewUserCode() {
  std::string alphabet = kUserCodeAlphabet;
  for (;;) {
    std::string code;
    for (int i = 0; i < 8; ++i) {
      if (i == 4) code += '-';
      code += alphabet[random_.Next64() % alphabet.size()];
    }
    if (!user_codes_.count(code)) return code;
  }
}

std::string AuthServer::NormalizeUserCode(const std::string& code) {
  std::string letters;
  for (unsigned char c : code) {
    if (std::isalnum(c)) letters += static_cast<char>(std::toupper(c));
  }
  if (letters.size() != 8) return letters;
  return letters.substr(0, 4) + "-" + letters.substr(4);
}

ws::HttpResponse AuthServer::IssueTokens(bool with_refresh) {
  contract::TokenResponse t;
  t.access_token = "mock-at-" + RandomHex(16);
  t.token_type = "Bearer";
  t.expires_in = options_.token_ttl_s;
  access_tokens_[t.access_token] = clock_.Steady() + std::chrono::seconds(options_.token_ttl_s);
  if (with_refresh) {
    t.refresh_token = "mock-rt-" + RandomHex(16);
    refresh_tokens_.insert(*t.refresh_token);
  }
  return JsonResponse(200, contract::ToJson(t));
}

ws::HttpResponse AuthServer::Callback(const ws::HttpRequest& req) {
  auto code = req.query.find("code");
  if (code == req.query.end() || code->second.empty()) {
    return ErrorResponse(400, "invalid_request",
                         "missing ?code=: this is the OAuth redirect target, called with the "
                         "authorization code the identity provider issued");
  }
  // The seed's callback answers access_token, token_type and expires_in; no refresh token.
  return IssueTokens(/*with_refresh=*/false);
}

ws::HttpResponse AuthServer::Verify() const {
  return JsonResponse(
      200, contract::ToJson(contract::VerifyResponse{true, "user-123", "dev@example.com"}));
}

ws::HttpResponse AuthServer::DeviceCode(const ws::HttpRequest& req, const std::string& base_url) {
  auto form = contract::FormDecode(req.body);
  if (Get(form, "client_id") != options_.oauth_client_id) {
    return OAuthErrorResponse(
        400, "invalid_client",
        "unknown client_id; this platform knows \"" + options_.oauth_client_id + "\"");
  }
  std::string device_code = "mock-dc-" + RandomHex(16);
  DeviceGrant g;
  g.user_code = NewUserCode();
  g.expires_at = clock_.Steady() + std::chrono::seconds(options_.device_code_ttl_s);
  g.interval_s = options_.device_interval_s;
  user_codes_[g.user_code] = device_code;

  contract::DeviceCodeResponse r;
  r.device_code = device_code;
  r.user_code = g.user_code;
  r.verification_uri = base_url + "/device";
  r.verification_uri_complete = base_url + "/device?user_code=" + g.user_code;
  r.expires_in = options_.device_code_ttl_s;
  r.interval = options_.device_interval_s;
  grants_[device_code] = std::move(g);
  return JsonResponse(200, contract::ToJson(r));
}

ws::HttpResponse AuthServer::Token(const ws::HttpRequest& req) {
  auto form = contract::FormDecode(req.body);
  std::string grant = Get(form, "grant_type");
  if (grant == kDeviceGrant) return DeviceCodeGrant(form);
  if (grant == "refresh_token") return RefreshGrant(form);
  if (grant.empty()) {
    return OAuthErrorResponse(400, "invalid_request",
                              "missing grant_type (form-encoded body expected)");
  }
  return OAuthErrorResponse(
      400, "unsupported_grant_type",
      "supported grant types: " + std::string(kDeviceGrant) + ", refresh_token");
}

ws::HttpResponse AuthServer::DeviceCodeGrant(const std::map<std::string, std::string>& form) {
  if (Get(form, "client_id") != options_.oauth_client_id) {
    return OAuthErrorResponse(400, "invalid_client", "unknown client_id");
  }
  std::string device_code = Get(form, "device_code");
  if (device_code.empty()) return OAuthErrorResponse(400, "invalid_request", "missing device_code");
  auto it = grants_.find(device_code);
  if (it == grants_.end() || it->second.state == GrantState::kUsed) {
    return OAuthErrorResponse(400, "invalid_grant", "unknown or already used device_code");
  }
  DeviceGrant& g = it->second;
  auto now = clock_.Steady();
  if (now >= g.expires_at) {
    return OAuthErrorResponse(400, "expired_token",
                              "the device code expired; start the login again");
  }
  if (g.state == GrantState::kDenied) {
    return OAuthErrorResponse(400, "access_denied", "the user denied the request");
  }
  // RFC 8628 §3.5: polling faster than the interval earns slow_down and 5 more seconds.
  // A client that sleeps exactly the interval may be measured a hair short of it.
  constexpr auto kLeeway = std::chrono::milliseconds(50);
  if (g.interval_s > 0 && g.last_poll &&
      now - *g.last_poll < std::chrono::seconds(g.interval_s) - kLeeway) {
    g.interval_s += 5;
    g.last_poll = now;
    return OAuthErrorResponse(
        400, "slow_down", fmt::format("polling too fast; wait {} s between polls", g.interval_s));
  }
  g.last_poll = now;
  ++g.polls;
  if (g.state == GrantState::kPending && options_.auto_approve_after > 0 &&
      g.polls >= options_.auto_approve_after) {
    g.state = GrantState::kApproved;
  }
  if (g.state != GrantState::kApproved) {
    return OAuthErrorResponse(400, "authorization_pending",
                              "waiting for the user to approve the code " + g.user_code);
  }
  g.state = GrantState::kUsed;
  user_codes_.erase(g.user_code);
  return IssueTokens(/*with_refresh=*/true);
}

ws::HttpResponse AuthServer::RefreshGrant(const std::map<std::string, std::string>& form) {
  std::string client_id = Get(form, "client_id");
  if (!client_id.empty() && client_id != options_.oauth_client_id) {
    return OAuthErrorResponse(400, "invalid_client", "unknown client_id");
  }
  std::string refresh = Get(form, "refresh_token");
  if (refresh.empty()) return OAuthErrorResponse(400, "invalid_request", "missing refresh_token");
  if (!refresh_tokens_.erase(refresh)) {
    return OAuthErrorResponse(400, "invalid_grant",
                              "unknown or already used refresh token; log in again");
  }
  log::Info("grant refresh_token: issued a new access token and rotated the refresh token");
  return IssueTokens(/*with_refresh=*/true);  // rotated: the old one is gone
}

ws::HttpResponse AuthServer::Decide(const ws::HttpRequest& req, bool approve) {
  auto form = contract::FormDecode(req.body);
  std::string user_code = NormalizeUserCode(Get(form, "user_code"));
  if (user_code.empty()) user_code = NormalizeUserCode(Get(req.query, "user_code"));
  auto uc = user_codes_.find(user_code);
  if (uc == user_codes_.end()) {
    return ErrorResponse(404, "not_found",
                         "no pending login has the user code \"" + user_code.substr(0, 32) + "\"");
  }
  DeviceGrant& g = grants_.at(uc->second);
  if (clock_.Steady() >= g.expires_at) {
    return ErrorResponse(400, "expired_token", "that code expired; start the login again");
  }
  if (g.state == GrantState::kPending)
    g.state = approve ? GrantState::kApproved : GrantState::kDenied;
  bool html = req.Header("accept").find("text/html") != std::string::npos;
  std::string what = g.state == GrantState::kApproved ? "approved" : "denied";
  if (html) {
    return HtmlResponse(200, "<!doctype html><title>backend-im-mock</title><p>Login " + what +
                                 " for code " + EscapeMarkupAttribute(user_code) +
                                 ". You can return to your terminal.</p>\n");
  }
  return JsonResponse(200, fmt::format(R"({{"user_code":"{}","status":"{}"}})", user_code, what));
}

ws::HttpResponse AuthServer::DevicePage(const ws::HttpRequest& req) const {
  std::string code = EscapeMarkupAttribute(NormalizeUserCode(Get(req.query, "user_code")));
  return HtmlResponse(
      200,
      "<!doctype html>\n<html><head><title>backend-im-mock: device login</title></head><body>\n"
      "<h1>Log in to the mock Backend.im</h1>\n"
      "<form method=\"post\" action=\"/oauth/device/approve\">\n"
      "<label>Code <input name=\"user_code\" value=\"" +
          code +
          "\"></label>\n"
          "<button type=\"submit\">Approve</button>\n"
          "<button type=\"submit\" formaction=\"/oauth/device/deny\">Deny</button>\n"
          "</form>\n</body></html>\n");
}

}  // namespace bim::mock
