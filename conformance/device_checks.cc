// device.*: the RFC 8628 device flow (docs/API_CONTRACTS.md §6), an extension. Its answers and
// error codes are checked with codes nobody approves, so nothing is created; a platform that
// answers 404 on /oauth/device/code has no device flow, and every check here says
// not-supported.

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

constexpr const char* kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

// The device code of the run's own (never approved) login, or nothing when it has none.
std::optional<std::string> DeviceCode(Context& ctx) {
  const Exchange& ex = ctx.DeviceCodeAnswer();
  if (ex.answer.status != 200) return std::nullopt;
  return StringField(ex.Json(), "device_code");
}

CheckResult NoDeviceCode(Context& ctx) {
  const Exchange& ex = ctx.DeviceCodeAnswer();
  if (ex.answer.status == 404) {
    return NotSupported("POST /oauth/device/code answered 404: the platform has no device flow",
                        {ex.ToEvidence()});
  }
  return Skipped("needs a device code, and POST /oauth/device/code gave none (see device.code)",
                 {ex.ToEvidence()});
}

Exchange PollToken(Context& ctx, const std::string& device_code, std::string variant) {
  return ctx.PostForm("/oauth/token",
                      contract::FormEncode({{"grant_type", kDeviceGrant},
                                            {"device_code", device_code},
                                            {"client_id", ctx.options().client_id}}),
                      std::move(variant));
}

CheckResult Code(Context& ctx) {
  const Exchange& ex = ctx.DeviceCodeAnswer();
  if (ex.answer.status == 404) {
    return NotSupported(
        "POST /oauth/device/code answered 404: the platform has no device flow; log in with a "
        "token",
        {ex.ToEvidence()});
  }
  std::vector<std::string> problems;
  if (ex.answer.status != 200) {
    problems.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) +
                       ", expected 200");
  } else {
    problems = shapes::DeviceCodeAnswer().CheckBody(ex.answer.body);
    auto j = ex.Json();
    if (auto expires = IntField(j, "expires_in"); expires && *expires <= 0) {
      problems.push_back("field \"expires_in\" is " + std::to_string(*expires) +
                         ", expected a positive number of seconds");
    }
    if (auto interval = IntField(j, "interval"); interval && *interval < 0) {
      problems.push_back("field \"interval\" is negative");
    }
  }
  return FromProblems(problems, {ex.ToEvidence()});
}

CheckResult InvalidClient(Context& ctx) {
  Exchange ex = ctx.PostForm(
      "/oauth/device/code",
      contract::FormEncode({{"client_id", "conformance-unknown-client"}, {"scope", "deploy"}}),
      "unknown client_id");
  return ExpectOAuthError(ex, "invalid_client");
}

CheckResult Pending(Context& ctx) {
  auto code = DeviceCode(ctx);
  if (!code) return NoDeviceCode(ctx);
  return ExpectOAuthError(PollToken(ctx, *code, "code not approved"), "authorization_pending");
}

CheckResult SlowDown(Context& ctx) {
  auto code = DeviceCode(ctx);
  if (!code) return NoDeviceCode(ctx);
  // Two polls back to back: at least the second is faster than any interval.
  Exchange first = PollToken(ctx, *code, "code not approved");
  Exchange second = PollToken(ctx, *code, "code not approved, polled again at once");
  std::vector<Evidence> evidence = {first.ToEvidence(), second.ToEvidence()};
  auto error_of = [](const Exchange& ex) { return StringField(ex.Json(), "error").value_or(""); };
  if (error_of(first) == "slow_down" || error_of(second) == "slow_down") {
    return Pass("a poll faster than the interval got slow_down", std::move(evidence));
  }
  if (second.answer.status == 400 && error_of(second) == "authorization_pending") {
    return NotSupported(
        "polls with no wait between them all got authorization_pending: the platform does not "
        "enforce the interval (RFC 8628 lets it)",
        std::move(evidence));
  }
  return Fail("a poll of an unapproved code answered " + std::to_string(second.answer.status) +
                  " " + Quoted(error_of(second)) +
                  ", expected 400 slow_down or authorization_pending",
              std::move(evidence));
}

CheckResult InvalidGrant(Context& ctx) {
  if (ctx.DeviceCodeAnswer().answer.status == 404) return NoDeviceCode(ctx);
  return ExpectOAuthError(
      PollToken(ctx, "conformance-unknown-device-code-" + ctx.NewId(), "unknown device_code"),
      "invalid_grant");
}

CheckResult UnsupportedGrantType(Context& ctx) {
  if (ctx.DeviceCodeAnswer().answer.status == 404) return NoDeviceCode(ctx);
  Exchange ex = ctx.PostForm("/oauth/token",
                             contract::FormEncode({{"grant_type", "urn:example:conformance"},
                                                   {"client_id", ctx.options().client_id}}),
                             "unknown grant_type");
  return ExpectOAuthError(ex, "unsupported_grant_type");
}

CheckResult MissingGrantType(Context& ctx) {
  if (ctx.DeviceCodeAnswer().answer.status == 404) return NoDeviceCode(ctx);
  Exchange ex =
      ctx.PostForm("/oauth/token", contract::FormEncode({{"client_id", ctx.options().client_id}}),
                   "no grant_type");
  return ExpectOAuthError(ex, "invalid_request");
}

CheckResult RefreshToken(Context& ctx) {
  const auto& tokens = ctx.login_tokens();
  if (!tokens) {
    return Skipped(
        "needs --device-login: only the device flow's tokens come with a refresh "
        "token");
  }
  if (!tokens->refresh_token || tokens->refresh_token->empty()) {
    return NotSupported(
        "the device flow's token answer has no refresh_token: the run must log "
        "in again when the access token expires");
  }
  auto refresh = [&](const std::string& token, std::string variant) {
    return ctx.PostForm("/oauth/token",
                        contract::FormEncode({{"grant_type", "refresh_token"},
                                              {"refresh_token", token},
                                              {"client_id", ctx.options().client_id}}),
                        std::move(variant));
  };
  Exchange first = refresh(*tokens->refresh_token, "the login's refresh token");
  std::vector<Evidence> evidence = {first.ToEvidence()};
  if (first.answer.status != 200) {
    return Fail(first.Line() + " answered " + std::to_string(first.answer.status) +
                    ", expected 200 with new tokens",
                std::move(evidence));
  }
  auto problems = shapes::TokenAnswer().CheckBody(first.answer.body);
  if (!problems.empty()) return FromProblems(problems, std::move(evidence));
  auto j = first.Json();
  Exchange verify = ctx.GetWithBearer("/api/auth/verify", j["access_token"].get<std::string>(),
                                      "the refreshed access token");
  evidence.push_back(verify.ToEvidence());
  if (verify.answer.status != 200) {
    problems.push_back("the refreshed access token is refused: verify answered " +
                       std::to_string(verify.answer.status));
  }
  // A refresh that fails is a break of RFC 6749 section 6; rotation is ours: that RFC lets a
  // server keep the old refresh token (it "MAY" issue a new one and retire the old), so a
  // platform without rotation lacks that part of the extension and fails nothing.
  if (!problems.empty()) return FromProblems(problems, std::move(evidence));
  std::vector<std::string> not_rotated;
  auto rotated = StringField(j, "refresh_token");
  if (!rotated || rotated->empty() || *rotated == *tokens->refresh_token) {
    not_rotated.push_back("the refresh answer has no new refresh_token; the contract rotates them");
  }
  Exchange again = refresh(*tokens->refresh_token, "the same refresh token again");
  evidence.push_back(again.ToEvidence());
  if (again.answer.status != 400 || StringField(again.Json(), "error") != "invalid_grant") {
    not_rotated.push_back("the old refresh token still answers " +
                          std::to_string(again.answer.status) +
                          " after the refresh, expected 400 invalid_grant");
  }
  return ExtensionFromProblems(not_rotated, std::move(evidence),
                               "refresh issued new tokens and retired the old one");
}

}  // namespace

std::vector<Check> DeviceFlowChecks() {
  return {
      AlwaysRun("device.code",
                "POST /oauth/device/code answers 200 with device_code, user_code, "
                "verification_uri, expires_in (RFC 8628 §3.2)",
                Code),
      AlwaysRun("device.invalid_client", "An unknown client_id is 400 invalid_client",
                InvalidClient),
      AlwaysRun("device.pending", "Polling an unapproved code is 400 authorization_pending",
                Pending),
      AlwaysRun("device.slow_down",
                "Polling faster than the interval is 400 slow_down (not-supported when the "
                "platform does not enforce the interval)",
                SlowDown),
      AlwaysRun("device.invalid_grant", "Polling with an unknown device_code is 400 invalid_grant",
                InvalidGrant),
      AlwaysRun("device.unsupported_grant_type",
                "An unknown grant_type is 400 unsupported_grant_type", UnsupportedGrantType),
      AlwaysRun("device.missing_grant_type",
                "A token request without grant_type is 400 invalid_request", MissingGrantType),
  };
}

std::vector<Check> RefreshChecks() {
  return {
      AlwaysRun("ext.refresh_token",
                "Extension: the device login's refresh token gets a new access token and a "
                "new refresh token, and the old refresh token then fails with invalid_grant",
                RefreshToken),
  };
}

}  // namespace bim::conformance
