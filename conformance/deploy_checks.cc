// generate.* and deploy.*: the generator's answer and the sample deployment's answer. The
// sample deployment is made once (Context::Deployment), labelled with the run's projectId and
// sent with an Idempotency-Key.

#include <regex>

#include "common/commit_hash.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

// A path the contract lets a project have: relative, forward slashes, no empty, "." or ".."
// segment.
bool SafePath(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg(path.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

CheckResult GenerateShape(Context& ctx) {
  const Exchange& ex = ctx.GenerateAnswer();
  std::vector<std::string> problems;
  if (ex.answer.status != 200) {
    problems.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) +
                       ", expected 200");
  } else {
    problems = shapes::GenerateAnswer().CheckBody(ex.answer.body);
    if (problems.empty()) {
      const auto files = ex.Json()["files"];
      if (files.empty()) problems.push_back("field \"files\" is empty");
      for (const auto& [path, content] : files.items()) {
        if (!SafePath(path)) problems.push_back("file path " + Quoted(path) + " is not relative");
      }
    }
  }
  return FromProblems(problems, {ex.ToEvidence()});
}

CheckResult GenerateProjectId(Context& ctx) {
  const Exchange& ex = ctx.GenerateAnswer();
  if (ex.answer.status != 200) {
    return Skipped("generate answered " + std::to_string(ex.answer.status) +
                   " (see generate.shape)");
  }
  auto j = ex.Json();
  std::vector<Evidence> evidence = {ex.ToEvidence()};
  if (!j.is_object() || !j.contains("projectId") || j["projectId"].is_null()) {
    return NotSupported("generate suggests no projectId; the client deploys without one",
                        std::move(evidence));
  }
  if (!j["projectId"].is_string() || j["projectId"].get<std::string>().empty()) {
    // A field of the platform's own that happens to have the name: the seed allows any field.
    return NotSupported("field \"projectId\" is " + JsonKind(j["projectId"]) +
                            ", not the extension's non-empty string; the client deploys "
                            "without one",
                        std::move(evidence));
  }
  return Pass("projectId " + Quoted(j["projectId"].get<std::string>()), std::move(evidence));
}

// The sample deployment's exchange as evidence, naming its Idempotency-Key.
Evidence DeployEvidence(const CreatedDeployment& d, const std::string& label) {
  return d.exchange.ToEvidence("sent projectId " + Quoted(label) + ", Idempotency-Key " +
                               d.idempotency_key);
}

CheckResult DeployShape(Context& ctx) {
  const CreatedDeployment* d = ctx.Deployment();
  if (!d) return Skipped(ctx.why());
  std::vector<std::string> problems;
  if (d->exchange.answer.status != 200) {
    problems.push_back(d->exchange.Line() + " answered " +
                       std::to_string(d->exchange.answer.status) + ", expected 200");
  } else {
    problems = shapes::DeployAnswer().CheckBody(d->exchange.answer.body);
  }
  return FromProblems(problems, {DeployEvidence(*d, ctx.options().label)});
}

// The checks below judge one field of a deploy answer that has a deploymentId.
template <typename Judge>
CheckResult WithDeployAnswer(Context& ctx, Judge judge) {
  const CreatedDeployment* d = ctx.Deployment();
  if (!d || d->id.empty()) return NoDeployment(ctx);
  CheckResult r = judge(*d);
  r.evidence.insert(r.evidence.begin(), DeployEvidence(*d, ctx.options().label));
  return r;
}

CheckResult DeploymentId(Context& ctx) {
  return WithDeployAnswer(ctx, [](const CreatedDeployment& d) {
    static const std::regex kUuid(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    if (std::regex_match(d.id, kUuid)) return Pass("deploymentId " + Quoted(d.id));
    return Fail("deploymentId " + Quoted(d.id) + " is not a UUID");
  });
}

CheckResult ProjectId(Context& ctx) {
  return WithDeployAnswer(ctx, [&ctx](const CreatedDeployment& d) {
    auto got = StringField(d.answer, "projectId");
    const std::string& sent = ctx.options().label;
    if (!got)
      return Fail("the deploy answer has no string \"projectId\" (fields: " + FieldNames(d.answer) +
                  ")");
    if (*got != sent) {
      return Fail("the deploy answer's projectId " + Quoted(*got) + " is not the one sent, " +
                  Quoted(sent) + "; a client could not deploy the same project again");
    }
    return Pass("projectId " + Quoted(*got) + " kept");
  });
}

CheckResult CommitHashRule(Context& ctx) {
  return WithDeployAnswer(ctx, [](const CreatedDeployment& d) {
    const std::string expected = bim::CommitHash(d.files);
    auto got = StringField(d.answer, "commitHash");
    std::string uploaded;
    for (const auto& [path, content] : d.files) uploaded += (uploaded.empty() ? "" : ", ") + path;
    if (!got) {
      return Fail("the deploy answer has no string \"commitHash\" (fields: " +
                  FieldNames(d.answer) + "); the rule gives " + Quoted(expected));
    }
    if (*got == expected) return Pass("commitHash " + Quoted(*got) + " follows the rule");
    std::string detail = "commitHash " + Quoted(*got) + " is not the rule's " + Quoted(expected) +
                         " (first 12 hex digits of SHA-256 over path + content of every file in "
                         "byte-wise path order: " +
                         uploaded + ")";
    const std::string full = Sha256Hex([&] {
      std::string all;
      for (const auto& [path, content] : d.files) all += path + content;
      return all;
    }());
    if (got->size() > 12 && full.rfind(*got, 0) == 0) {
      detail += "; it is a longer prefix of the same SHA-256";
    }
    return Fail(detail);
  });
}

CheckResult WebsocketUrl(Context& ctx) {
  return WithDeployAnswer(ctx, [](const CreatedDeployment& d) {
    if (!d.answer.contains("websocketUrl") || d.answer["websocketUrl"].is_null()) {
      return NotSupported(
          "the deploy answer has no websocketUrl; clients build the URL from the "
          "API URL");
    }
    auto url = StringField(d.answer, "websocketUrl").value_or("");
    bool scheme = url.rfind("ws://", 0) == 0 || url.rfind("wss://", 0) == 0;
    bool names_it = url.find("deploymentId=" + contract::PercentEncode(d.id)) != std::string::npos;
    if (scheme && names_it) return Pass("websocketUrl " + Quoted(url));
    return Fail("websocketUrl " + Quoted(url) + (scheme ? "" : " is not a ws:// or wss:// URL") +
                (names_it ? "" : " does not name deploymentId=" + d.id));
  });
}

}  // namespace

std::vector<Check> DeployChecks() {
  return {
      Creates("generate.shape",
              "POST /api/generate answers 200 with files (path -> content, relative "
              "paths)",
              GenerateShape),
      Creates("ext.generate_project_id", "Extension: generate suggests a projectId",
              GenerateProjectId),
      Creates("deploy.shape",
              "POST /api/deploy answers 200 with deploymentId, projectId, commitHash, "
              "status (websocketUrl optional)",
              DeployShape),
      Creates("deploy.deployment_id", "The deploymentId is a UUID", DeploymentId),
      Creates("deploy.project_id", "The deploy answer keeps the projectId the client sent",
              ProjectId),
      Creates("deploy.commit_hash",
              "commitHash is the first 12 hex digits of SHA-256 over path + content in "
              "byte-wise path order (bim::CommitHash)",
              CommitHashRule),
      Creates("deploy.websocket_url",
              "websocketUrl, when given, is a ws(s):// URL naming the deployment", WebsocketUrl),
  };
}

}  // namespace bim::conformance
