#include "conformance/check_helpers.h"

#include "conformance/contract_shapes.h"

namespace bim::conformance {

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"" + std::string(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

CheckResult ExpectStatus(const std::vector<Exchange>& exchanges, long expected) {
  std::vector<std::string> wrong;
  std::vector<Evidence> evidence;
  for (const auto& ex : exchanges) {
    evidence.push_back(ex.ToEvidence());
    if (ex.answer.status == expected) continue;
    wrong.push_back(ex.Line() + " answered " +
                    (ex.answer.status ? std::to_string(ex.answer.status)
                                      : "nothing (" + ex.answer.error + ")") +
                    ", expected " + std::to_string(expected));
  }
  return FromProblems(wrong, std::move(evidence));
}

CheckResult ExpectOAuthError(const Exchange& ex, const std::string& code) {
  if (ex.answer.status == 404) {
    return NotSupported(ex.Line() + " answered 404: the platform has no device flow (an extension)",
                        {ex.ToEvidence()});
  }
  std::vector<std::string> problems;
  if (ex.answer.status != 400) {
    problems.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) +
                       ", expected 400 with error " + Quoted(code));
  }
  auto shape = shapes::OAuthError().CheckBody(ex.answer.body);
  problems.insert(problems.end(), shape.begin(), shape.end());
  if (shape.empty()) {
    std::string got = ex.Json()["error"].get<std::string>();
    if (got != code) problems.push_back("error is " + Quoted(got) + ", expected " + Quoted(code));
  }
  return FromProblems(problems, {ex.ToEvidence()});
}

CheckResult FromProblems(const std::vector<std::string>& problems, std::vector<Evidence> evidence,
                         std::string pass_detail) {
  if (problems.empty()) return Pass(std::move(pass_detail), std::move(evidence));
  return Fail(Join(problems, "\n"), std::move(evidence));
}

CheckResult ExtensionFromProblems(const std::vector<std::string>& problems,
                                  std::vector<Evidence> evidence, std::string pass_detail) {
  if (problems.empty()) return Pass(std::move(pass_detail), std::move(evidence));
  return NotSupported("not as the contract describes the extension, so clients do without it:\n" +
                          Join(problems, "\n"),
                      std::move(evidence));
}

std::string Answered(const Exchange& ex) {
  return ex.Line() + " answered " + std::to_string(ex.answer.status);
}

bool IsForeignNotFound(const Exchange& ex, bool (*is_own_code)(std::string_view)) {
  if (ex.answer.status != 404) return false;
  auto error = contract::ParseErrorBody(ex.answer.body);
  return !error.ok() || !is_own_code(error->error);
}

CheckResult ExtensionAbsent(const Exchange& ex, const std::string& what) {
  auto error = contract::ParseErrorBody(ex.answer.body);
  return NotSupported(Answered(ex) +
                          (error.ok() ? " (error " + Quoted(error->error) + ")" : std::string()) +
                          ": the platform has no " + what,
                      {ex.ToEvidence()});
}

std::optional<std::string> StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int64_t> IntField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string FieldNames(const nlohmann::json& j) {
  if (!j.is_object()) return "(not an object)";
  std::vector<std::string> names;
  for (const auto& [key, value] : j.items()) names.push_back(key);
  return Join(names, ", ");
}

CheckResult NoDeployment(Context& ctx) {
  const CreatedDeployment* d = ctx.Deployment();
  if (!d) return Skipped("needs the sample deployment, and there is none: " + ctx.why());
  return Skipped("needs the sample deployment, and POST /api/deploy made none (answered " +
                 std::to_string(d->exchange.answer.status) + "; see deploy.shape)");
}

std::string StatusName(const nlohmann::json& j) { return StringField(j, "status").value_or(""); }

std::optional<contract::Stage> StageOf(const nlohmann::json& j) {
  return contract::ParseStage(StatusName(j));
}

bool IsTerminalBody(const nlohmann::json& j) {
  auto s = StageOf(j);
  return s && contract::IsTerminal(*s);
}

std::vector<std::string> LogsOf(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains("logs") || !j["logs"].is_array()) return out;
  for (const auto& line : j["logs"]) {
    if (line.is_string()) out.push_back(line.get<std::string>());
  }
  return out;
}

std::optional<nlohmann::json> FinalBody(const Observation& o) {
  for (const auto& frame : o.frames) {
    auto j = nlohmann::json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (IsTerminalBody(j)) return j;
  }
  if (!o.polls.empty() && IsTerminalBody(o.polls.back().Json())) return o.polls.back().Json();
  return std::nullopt;
}

}  // namespace bim::conformance
