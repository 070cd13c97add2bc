// auth.*, status.unknown_id, ws.unknown_id and errors.bad_body.*: requests that can create
// nothing, so they all run under --read-only. Bodies sent without a token, or deliberately
// broken, are chosen so that even a platform that skips authentication or validation could not
// turn them into a deployment (a deploy body that is not JSON has no files to deploy).

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

constexpr const char* kNotJson = "conformance: this body is not JSON";

CheckResult NoToken(Context& ctx) {
  return ExpectStatus(
      {
          ctx.Get("/api/auth/verify", Auth::kNone, "no Authorization"),
          ctx.Get("/api/status/" + ctx.NewId(), Auth::kNone, "no Authorization"),
          ctx.PostJson("/api/generate", R"({"prompt": ""})", Auth::kNone, {},
                       "no Authorization, blank prompt"),
          ctx.PostJson("/api/deploy", kNotJson, Auth::kNone, {}, "no Authorization, body not JSON"),
      },
      401);
}

CheckResult BadToken(Context& ctx) {
  return ExpectStatus(
      {
          ctx.Get("/api/auth/verify", Auth::kInvalid, "unknown token"),
          ctx.Get("/api/status/" + ctx.NewId(), Auth::kInvalid, "unknown token"),
      },
      401);
}

CheckResult Verify(Context& ctx) {
  Exchange ex = ctx.Get("/api/auth/verify");
  CheckResult r = ExpectStatus({ex}, 200);
  if (r.outcome == Outcome::kFail) return r;
  auto problems = shapes::VerifyAnswer().CheckBody(ex.answer.body);
  if (problems.empty() && ex.Json()["valid"] != true) {
    problems.push_back("field \"valid\" is false for the token the run uses");
  }
  return FromProblems(problems, std::move(r.evidence));
}

CheckResult VerifyUser(Context& ctx) {
  Exchange ex = ctx.Get("/api/auth/verify");
  if (ex.answer.status != 200) {
    return Skipped("verify answered " + std::to_string(ex.answer.status) + " (see auth.verify)",
                   {ex.ToEvidence()});
  }
  auto j = ex.Json();
  auto user = StringField(j, "userId");
  auto email = StringField(j, "email");
  if (user && email && !user->empty() && !email->empty()) {
    return Pass("userId and email present", {ex.ToEvidence()});
  }
  return NotSupported("verify answers without a non-empty userId and email (fields: " +
                          FieldNames(j) + "); clients treat them as unknown",
                      {ex.ToEvidence()});
}

CheckResult CallbackMissingCode(Context& ctx) {
  return ExpectStatus({ctx.Get("/api/auth/callback", Auth::kNone, "no code")}, 400);
}

CheckResult UnknownStatus(Context& ctx) {
  return ExpectStatus({ctx.Get("/api/status/" + ctx.NewId(), Auth::kToken, "unknown id")}, 404);
}

CheckResult UnknownWs(Context& ctx) {
  std::string id = ctx.NewId();
  WsAttempt a = ctx.OpenWs(ctx.WsUrl(id), Auth::kToken);
  Evidence e{"WS " + ctx.WsPath(id) + " [unknown id]", a.connection ? 101 : a.refused_status,
             EvidenceBody(a.error), ""};
  if (a.refused_status == 404) return Pass("", {e});
  if (!a.connection) {
    return Fail("the upgrade for an unknown deployment was refused with " +
                    (a.refused_status ? std::to_string(a.refused_status) : "no HTTP status") +
                    ", expected 404: " + a.error,
                {e});
  }
  ws::Event ev = a.connection->Receive(std::chrono::milliseconds(2000));
  a.connection->Close();
  if (ev.kind == ws::EventKind::kMessage) {
    e.body = EvidenceBody(ev.payload);
    e.note = "message 1";
    return Fail(
        "the platform accepted a WebSocket for a deployment that does not exist and sent a "
        "message on it",
        {e});
  }
  e.note = ev.kind == ws::EventKind::kClosed ? "closed " + std::to_string(ev.close_code)
                                             : "no message in 2 s";
  return NotSupported(
      "the platform accepts the upgrade for an unknown id instead of refusing it with 404 (the "
      "404 is this project's assumption)",
      {e});
}

CheckResult BadGenerateBody(Context& ctx) {
  return ExpectStatus(
      {
          ctx.PostJson("/api/generate", kNotJson, Auth::kToken, {}, "body not JSON"),
          ctx.PostJson("/api/generate", R"({"prompt": "   "})", Auth::kToken, {}, "blank prompt"),
          ctx.PostJson("/api/generate", R"({"prompt": 42})", Auth::kToken, {},
                       "prompt not a string"),
      },
      400);
}

CheckResult BadDeployBody(Context& ctx) {
  return ExpectStatus(
      {
          ctx.PostJson("/api/deploy", kNotJson, Auth::kToken, {}, "body not JSON"),
          ctx.PostJson("/api/deploy", "[]", Auth::kToken, {}, "body a JSON array"),
      },
      400);
}

}  // namespace

std::vector<Check> AuthAndErrorChecks() {
  return {
      AlwaysRun("auth.no_token",
                "Without a token, /api/auth/verify, /api/status, /api/generate and "
                "/api/deploy answer 401",
                NoToken),
      AlwaysRun("auth.bad_token", "With an unknown bearer token, verify and status answer 401",
                BadToken),
      NeedsToken("auth.verify",
                 "GET /api/auth/verify accepts the run's token: 200 {\"valid\": true}", Verify),
      NeedsToken("ext.verify_user", "Extension: verify also names the user (userId, email)",
                 VerifyUser),
      AlwaysRun("auth.callback_missing_code", "GET /api/auth/callback without ?code= answers 400",
                CallbackMissingCode),
      NeedsToken("status.unknown_id",
                 "GET /api/status/{id} of a deployment that does not exist answers 404",
                 UnknownStatus),
      NeedsToken("ws.unknown_id",
                 "The WebSocket upgrade for a deployment that does not exist is refused "
                 "with 404",
                 UnknownWs),
      NeedsToken("errors.bad_body.generate",
                 "POST /api/generate answers 400 to a body that is not JSON, a blank prompt "
                 "and a prompt that is not a string",
                 BadGenerateBody),
      NeedsToken("errors.bad_body.deploy",
                 "POST /api/deploy answers 400 to a body that is not JSON and to a JSON "
                 "array (bodies no platform could deploy, so this runs under --read-only)",
                 BadDeployBody),
  };
}

}  // namespace bim::conformance
