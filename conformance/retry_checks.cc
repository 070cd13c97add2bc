// ext.idempotency_*, errors.deploy_validation and deploy.unsafe_paths: requests a conforming
// platform answers without creating anything, but a non-conforming one may turn into a
// deployment. So they run only without --read-only, every body carries the run's projectId
// label, each counts against the run's deployment cap, and each check stops at the first body
// a platform wrongly accepts: it has its answer, and one extra deployment is enough.

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/sample_project.h"

namespace bim::conformance {
namespace {

using nlohmann::json;

// Records a deployment an answer made, when it made one.
void NoteIfCreated(Context& ctx, const Exchange& ex) {
  if (ex.answer.status != 200) return;
  if (auto id = StringField(ex.Json(), "deploymentId")) ctx.NoteDeployment(*id);
}

struct BadBody {
  std::string variant;
  std::string body;
};

// Sends each body (with a token) and expects 400, stopping at the first one accepted or when
// the deployment cap is reached.
CheckResult ExpectRejected(Context& ctx, const std::vector<BadBody>& bodies) {
  std::vector<std::string> problems;
  std::vector<Evidence> evidence;
  for (const auto& b : bodies) {
    if (!ctx.MayCreateDeployment()) {
      problems.push_back("stopped before " + Quoted(b.variant) +
                         ": the run reached its deployment cap");
      break;
    }
    Exchange ex = ctx.PostJson("/api/deploy", b.body, Auth::kToken, {}, b.variant);
    evidence.push_back(ex.ToEvidence());
    if (ex.answer.status == 400) continue;
    NoteIfCreated(ctx, ex);
    problems.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) +
                       ", expected 400" +
                       (ex.answer.status == 200 ? " (a deployment was created; the check stops "
                                                  "here)"
                                                : ""));
    if (ex.answer.status == 200) break;
  }
  bool capped = !problems.empty() && problems.back().rfind("stopped before", 0) == 0;
  if (capped && problems.size() == 1) {
    return Skipped(problems.front(), std::move(evidence));
  }
  return FromProblems(problems, std::move(evidence));
}

std::string WithLabel(json body, const std::string& label) {
  body["projectId"] = label;
  return body.dump();
}

CheckResult DeployValidation(Context& ctx) {
  const std::string& label = ctx.options().label;
  return ExpectRejected(
      ctx, {
               {"no files", WithLabel(json::object(), label)},
               {"empty files", WithLabel({{"files", json::object()}}, label)},
               {"file content not a string", WithLabel({{"files", {{"main.py", 42}}}}, label)},
           });
}

CheckResult UnsafePaths(Context& ctx) {
  const std::string& label = ctx.options().label;
  auto with_file = [&](const std::string& path) {
    auto files = SampleProject(label);
    files[path] = "print('conformance')\n";
    return contract::ToJson(contract::DeployRequest{files, label, ""});
  };
  return ExpectRejected(ctx, {
                                 {"path with a .. segment", with_file("../escape.py")},
                                 {"absolute path", with_file("/etc/conformance.py")},
                                 {"path with a backslash", with_file("app\\conformance.py")},
                                 {"path with an empty segment", with_file("app//conformance.py")},
                             });
}

CheckResult IdempotencyReplay(Context& ctx) {
  const Exchange* replay = ctx.IdempotentReplay();
  if (!replay) {
    const CreatedDeployment* d = ctx.Deployment();
    return d && d->id.empty() ? NoDeployment(ctx) : Skipped(ctx.why());
  }
  const CreatedDeployment& d = *ctx.Deployment();
  std::vector<Evidence> evidence = {
      d.exchange.ToEvidence("first; Idempotency-Key " + d.idempotency_key),
      replay->ToEvidence("again")};
  auto id = StringField(replay->Json(), "deploymentId");
  if (replay->answer.status != 200) {
    return Fail("the same deploy with the same Idempotency-Key answered " +
                    std::to_string(replay->answer.status) +
                    ", expected 200 (a platform without the extension deploys again; one with "
                    "it replays)",
                std::move(evidence));
  }
  if (id == d.id) {
    return Pass("replayed deployment " + d.id + "; nothing new was created", std::move(evidence));
  }
  return NotSupported(
      "the platform ignores Idempotency-Key: the retry created a second "
      "deployment " +
          Quoted(id.value_or("")) + "; a deploy retried after a lost answer deploys twice",
      std::move(evidence));
}

CheckResult IdempotencyConflict(Context& ctx) {
  const Exchange* replay = ctx.IdempotentReplay();
  if (!replay) return Skipped("needs the replay of ext.idempotency_replay: " + ctx.why());
  const CreatedDeployment& d = *ctx.Deployment();
  if (replay->answer.status != 200 || StringField(replay->Json(), "deploymentId") != d.id) {
    return NotSupported(
        "the platform does not replay an Idempotency-Key (see "
        "ext.idempotency_replay), so it cannot refuse a reused one");
  }
  if (!ctx.MayCreateDeployment()) return Skipped("the run reached its deployment cap");
  const std::string& label = ctx.options().label;
  Exchange ex = ctx.PostJson(
      "/api/deploy",
      contract::ToJson(contract::DeployRequest{ChangedSampleProject(label), label, ""}),
      Auth::kToken, {{"Idempotency-Key", d.idempotency_key}}, "same Idempotency-Key, other files");
  if (ex.answer.status == 422) return Pass("refused with 422", {ex.ToEvidence()});
  NoteIfCreated(ctx, ex);
  // The replay half of the extension is there and this half is not; the seed knows neither.
  return NotSupported("reusing an Idempotency-Key for other files answered " +
                          std::to_string(ex.answer.status) +
                          ", not the extension's 422 idempotency_key_reused",
                      {ex.ToEvidence()});
}

}  // namespace

std::vector<Check> RetryAndValidationChecks() {
  return {
      Creates("ext.idempotency_replay",
              "Extension: the same deploy sent again with the same Idempotency-Key "
              "returns the same deployment and creates nothing",
              IdempotencyReplay),
      Creates("ext.idempotency_conflict",
              "Extension: an Idempotency-Key reused for other files is 422", IdempotencyConflict),
      Creates("errors.deploy_validation",
              "POST /api/deploy answers 400 to a body without files, with empty files, "
              "and with a file whose content is not a string",
              DeployValidation),
      Creates("deploy.unsafe_paths",
              "POST /api/deploy answers 400 to a path with a .. segment, an absolute "
              "path, a backslash, an empty segment",
              UnsafePaths),
  };
}

}  // namespace bim::conformance
