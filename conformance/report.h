#pragma once
// The outcome of one run: every check that ran (or was skipped) with its result and evidence,
// and what the run created. Renders as text for people (each check with its evidence, then the
// summary line "conformance: N passed, N failed, N not supported, N skipped") or as one JSON
// document for machines. The exit code follows from it: 1 when any check failed, else 0.
//
// Plain value; built by the Suite on one thread, read afterwards from any.

#include <string>
#include <vector>

#include "conformance/check.h"

namespace bim::conformance {

struct ReportEntry {
  std::string id;
  std::string description;
  CheckResult result;
};

class Report {
 public:
  Report(std::string api_url, std::string label, bool read_only);

  void Add(const Check& check, CheckResult result);
  void SetCreatedDeployments(std::vector<std::string> ids) { created_ = std::move(ids); }

  const std::vector<ReportEntry>& entries() const { return entries_; }
  const ReportEntry* Find(const std::string& id) const;
  int Count(Outcome outcome) const;
  // 1 when any check failed (a contract violation), else 0.
  int ExitCode() const;

  std::string SummaryLine() const;
  std::string Text() const;
  std::string Json() const;

 private:
  std::string api_url_;
  std::string label_;
  bool read_only_;
  std::vector<ReportEntry> entries_;
  std::vector<std::string> created_;
};

}  // namespace bim::conformance
