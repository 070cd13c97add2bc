#include "conformance/check.h"

#include <nlohmann/json.hpp>

namespace bim::conformance {
namespace {

// Masks the secrets a JSON object holds: the OAuth flows' tokens and codes, and a variable's
// value (environments extension), alone or in a list of variables. Whether it masked any.
bool MaskSecrets(nlohmann::json& j) {
  bool masked = false;
  if (!j.is_object()) return false;
  for (const char* key : {"access_token", "refresh_token", "device_code", "value"}) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null()) {
      *it = "<redacted>";
      masked = true;
    }
  }
  auto variables = j.find("variables");
  if (variables != j.end() && variables->is_array()) {
    for (auto& v : *variables) masked = MaskSecrets(v) || masked;
  }
  return masked;
}

// An outcome's name in the JSON report and its tag in the text report.
struct OutcomeWords {
  Outcome outcome;
  std::string_view name;
  std::string_view tag;
};

constexpr OutcomeWords kOutcomeWords[] = {
    {Outcome::kPass, "pass", "PASS"},
    {Outcome::kFail, "fail", "FAIL"},
    {Outcome::kNotSupported, "not-supported", "N/S "},
    {Outcome::kSkipped, "skipped", "SKIP"},
};

const OutcomeWords* WordsOf(Outcome outcome) {
  for (const auto& w : kOutcomeWords) {
    if (w.outcome == outcome) return &w;
  }
  return nullptr;
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  const OutcomeWords* w = WordsOf(outcome);
  return w ? w->name : "unknown";
}

std::string_view OutcomeTag(Outcome outcome) {
  const OutcomeWords* w = WordsOf(outcome);
  return w ? w->tag : "????";
}

Check AlwaysRun(std::string id, std::string description, std::function<CheckResult(Context&)> run) {
  return {.id = std::move(id), .description = std::move(description), .run = std::move(run)};
}
Check NeedsToken(std::string id, std::string description,
                 std::function<CheckResult(Context&)> run) {
  Check c = AlwaysRun(std::move(id), std::move(description), std::move(run));
  c.needs_token = true;
  return c;
}
Check Creates(std::string id, std::string description, std::function<CheckResult(Context&)> run) {
  Check c = NeedsToken(std::move(id), std::move(description), std::move(run));
  c.creates = true;
  return c;
}

CheckResult Pass(std::string detail, std::vector<Evidence> evidence) {
  return {Outcome::kPass, std::move(detail), std::move(evidence)};
}
CheckResult Fail(std::string detail, std::vector<Evidence> evidence) {
  return {Outcome::kFail, std::move(detail), std::move(evidence)};
}
CheckResult NotSupported(std::string detail, std::vector<Evidence> evidence) {
  return {Outcome::kNotSupported, std::move(detail), std::move(evidence)};
}
CheckResult Skipped(std::string detail, std::vector<Evidence> evidence) {
  return {Outcome::kSkipped, std::move(detail), std::move(evidence)};
}

std::string EvidenceBody(std::string_view body, size_t max_bytes) {
  std::string text(body);
  auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (MaskSecrets(j)) text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back up over UTF-8 continuation bytes so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace bim::conformance
