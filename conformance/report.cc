#include "conformance/report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace bim::conformance {
namespace {

// Indents every line of text after the first by `indent` spaces.
std::string Indented(const std::string& text, size_t indent) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out += std::string(indent, ' ');
  }
  return out;
}

}  // namespace

Report::Report(std::string api_url, std::string label, bool read_only)
    : api_url_(std::move(api_url)), label_(std::move(label)), read_only_(read_only) {}

void Report::Add(const Check& check, CheckResult result) {
  entries_.push_back({check.id, check.description, std::move(result)});
}

const ReportEntry* Report::Find(const std::string& id) const {
  for (const auto& e : entries_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

int Report::Count(Outcome outcome) const {
  int n = 0;
  for (const auto& e : entries_) n += e.result.outcome == outcome;
  return n;
}

int Report::ExitCode() const { return Count(Outcome::kFail) > 0 ? 1 : 0; }

std::string Report::SummaryLine() const {
  return fmt::format("conformance: {} passed, {} failed, {} not supported, {} skipped",
                     Count(Outcome::kPass), Count(Outcome::kFail), Count(Outcome::kNotSupported),
                     Count(Outcome::kSkipped));
}

std::string Report::Text() const {
  std::string out = fmt::format("backend-im-contract-test against {} ({}; projectId label {})\n",
                                api_url_, read_only_ ? "read-only" : "full run", label_);
  out +=
      "PASS: as the contract says. FAIL: a contract violation. N/S: an optional extension "
      "the platform lacks. SKIP: not run.\n\n";
  for (const auto& e : entries_) {
    out += fmt::format("{}  {}  {}\n", OutcomeTag(e.result.outcome), e.id, e.description);
    if (!e.result.detail.empty()) out += "      " + Indented(e.result.detail, 6) + "\n";
    for (const auto& ev : e.result.evidence) {
      std::string status = ev.status ? std::to_string(ev.status) : "no answer";
      out += fmt::format("      > {} -> {}", ev.request, status);
      if (!ev.note.empty()) out += " (" + ev.note + ")";
      if (!ev.body.empty()) out += ": " + Indented(ev.body, 8);
      out += "\n";
    }
  }
  out += "\n";
  if (created_.empty()) {
    out += "deployments created: none\n";
  } else {
    out += fmt::format("deployments created: {} (projectId {}; the suite deletes no deployment):\n",
                       created_.size(), label_);
    for (const auto& id : created_) out += "  " + id + "\n";
  }
  out += SummaryLine() + "\n";
  return out;
}

std::string Report::Json() const {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json evidence = nlohmann::json::array();
    for (const auto& ev : e.result.evidence) {
      evidence.push_back(
          {{"request", ev.request}, {"status", ev.status}, {"body", ev.body}, {"note", ev.note}});
    }
    checks.push_back({{"id", e.id},
                      {"description", e.description},
                      {"outcome", OutcomeName(e.result.outcome)},
                      {"detail", e.result.detail},
                      {"evidence", evidence}});
  }
  nlohmann::json doc = {
      {"api", api_url_},
      {"label", label_},
      {"readOnly", read_only_},
      {"checks", checks},
      {"deploymentsCreated", created_},
      {"summary",
       {{"passed", Count(Outcome::kPass)},
        {"failed", Count(Outcome::kFail)},
        {"notSupported", Count(Outcome::kNotSupported)},
        {"skipped", Count(Outcome::kSkipped)}}},
      {"exitCode", ExitCode()},
  };
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace bim::conformance
