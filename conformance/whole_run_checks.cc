// ext.error_body, ext.www_authenticate and ext.retry_after: judged over every answer the run
// received (Context::history, retried ones included), which is why they run last. Each is an
// extension of the seed's contract, so a platform without it is not-supported, and so is one
// that has something like it but not as the contract says (its own error codes, a body on some
// errors only): the seed promises neither. Only what breaks an RFC fails: a Retry-After that is
// neither seconds nor an HTTP date, or some 401s without WWW-Authenticate (RFC 9110 asks every
// 401 for it; a platform that sends it on none is let off as not-supported, since clients know
// the scheme anyway).

#include <map>
#include <regex>
#include <set>

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

bool IsApi(const Exchange& ex) { return ex.path.rfind("/api/", 0) == 0; }

// The error code docs/API_CONTRACTS.md §2 gives each status.
const std::map<long, std::string>& CodeForStatus() {
  static const std::map<long, std::string> kCodes = {
      {400, "invalid_request"},    {401, "unauthorized"},           {404, "not_found"},
      {405, "method_not_allowed"}, {422, "idempotency_key_reused"}, {429, "rate_limited"},
      {503, "unavailable"},
  };
  return kCodes;
}

// Whether code is the contract's for status: the code of §2, or for a 404 one of the codes the
// extensions give their own (environment_not_found, domain_not_found, ...; §6.1-6.3).
bool IsContractCode(long status, const std::string& code) {
  auto want = CodeForStatus().find(status);
  if (want == CodeForStatus().end() || code == want->second) return true;
  return status == 404 &&
         (contract::IsEnvironmentsNotFoundCode(code) || contract::IsDomainsNotFoundCode(code) ||
          contract::IsLogsNotFoundCode(code));
}

// One piece of evidence per (status, request line), so repeats do not crowd the report.
void AddDistinct(std::vector<Evidence>& evidence, std::set<std::string>& seen, const Exchange& ex,
                 size_t max = 8) {
  std::string key = std::to_string(ex.answer.status) + " " + ex.Line();
  if (evidence.size() >= max || !seen.insert(key).second) return;
  evidence.push_back(ex.ToEvidence());
}

CheckResult ErrorBody(Context& ctx) {
  // The errors that lack the extension, one line per (status, request line).
  std::vector<std::string> lacking;
  std::vector<Evidence> evidence;
  std::set<std::string> seen;
  int errors = 0, without = 0;
  for (const Exchange& ex : ctx.history()) {
    if (!IsApi(ex) || ex.answer.status < 400) continue;
    ++errors;
    std::string why;
    auto shape = shapes::ErrorBody().CheckBody(ex.answer.body);
    if (!shape.empty()) {
      why = "without the body (" + shape.front() + ")";
    } else {
      std::string code = ex.Json()["error"].get<std::string>();
      if (!IsContractCode(ex.answer.status, code)) {
        why = "with error " + Quoted(code) + " (the contract's code is " +
              Quoted(CodeForStatus().at(ex.answer.status)) + ")";
      }
    }
    if (why.empty()) continue;
    ++without;
    size_t before = evidence.size();
    AddDistinct(evidence, seen, ex);
    if (evidence.size() > before) {
      lacking.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) + " " + why);
    }
  }
  if (errors == 0) return Skipped("no /api/* request of this run got an error answer");
  if (without > 0) {
    return NotSupported(std::to_string(errors - without) + " of the " + std::to_string(errors) +
                            " /api/* errors have the {\"error\", \"message\"} body with the "
                            "contract's code of their status; clients fall back to the HTTP "
                            "status:\n" +
                            Join(lacking, "\n"),
                        std::move(evidence));
  }
  for (const Exchange& ex : ctx.history()) {
    if (IsApi(ex) && ex.answer.status >= 400) AddDistinct(evidence, seen, ex, 4);
  }
  return Pass(std::to_string(errors) +
                  " /api/* errors, each with the error body and the code of its status",
              std::move(evidence));
}

CheckResult WwwAuthenticate(Context& ctx) {
  std::vector<Evidence> evidence;
  std::set<std::string> seen;
  std::vector<std::string> missing;
  int total = 0;
  for (const Exchange& ex : ctx.history()) {
    if (!IsApi(ex) || ex.answer.status != 401) continue;
    ++total;
    std::string v = ex.answer.Header("www-authenticate");
    std::string scheme = v.substr(0, 6);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer") continue;
    missing.push_back(ex.Line() + (v.empty() ? " has no WWW-Authenticate"
                                             : " has WWW-Authenticate " + Quoted(v)));
    AddDistinct(evidence, seen, ex);
  }
  if (total == 0) return Skipped("no /api/* request of this run got a 401");
  if (static_cast<int>(missing.size()) == total) {
    return NotSupported("no 401 carries \"WWW-Authenticate: Bearer\"", std::move(evidence));
  }
  if (missing.empty()) {
    for (const Exchange& ex : ctx.history()) {
      if (IsApi(ex) && ex.answer.status == 401) AddDistinct(evidence, seen, ex, 2);
    }
  }
  if (!missing.empty()) {
    missing.insert(missing.begin(), "RFC 9110 asks every 401 for WWW-Authenticate, and " +
                                        std::to_string(total - static_cast<int>(missing.size())) +
                                        " of the " + std::to_string(total) +
                                        " had it; these did not:");
  }
  return FromProblems(
      missing, std::move(evidence),
      std::to_string(total) + " answers of 401, each with WWW-Authenticate: Bearer");
}

CheckResult RetryAfter(Context& ctx) {
  static const std::regex kSeconds("^[0-9]+$");
  static const std::regex kHttpDate(
      "^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$");
  std::vector<std::string> problems;
  std::vector<Evidence> evidence;
  std::set<std::string> seen;
  int total = 0, with_header = 0;
  for (const Exchange& ex : ctx.history()) {
    if (ex.answer.status != 429 && ex.answer.status != 503) continue;
    ++total;
    AddDistinct(evidence, seen, ex);
    std::string v = ex.answer.Header("retry-after");
    if (v.empty()) continue;
    ++with_header;
    if (!std::regex_match(v, kSeconds) && !std::regex_match(v, kHttpDate)) {
      problems.push_back(ex.Line() + " answered " + std::to_string(ex.answer.status) +
                         " with Retry-After " + Quoted(v) +
                         ", which is neither seconds nor an HTTP date (RFC 9110 section "
                         "10.2.3)");
    }
  }
  if (total == 0) {
    return Skipped("no 429 or 503 answer was seen during the run, so there was nothing to judge");
  }
  if (with_header == 0) {
    return NotSupported("none of the " + std::to_string(total) +
                            " answers of 429 or 503 carries Retry-After; clients use their own "
                            "backoff",
                        std::move(evidence));
  }
  return FromProblems(problems, std::move(evidence),
                      std::to_string(with_header) + " of " + std::to_string(total) +
                          " answers of 429 or 503 carried a valid Retry-After (the suite retried "
                          "them)");
}

}  // namespace

std::vector<Check> WholeRunChecks() {
  return {
      AlwaysRun("ext.error_body",
                "Extension: every /api/* error has the body {\"error\", \"message\"} with "
                "the code of its status (401 unauthorized, 400 invalid_request, 404 "
                "not_found, ...)",
                ErrorBody),
      AlwaysRun("ext.www_authenticate", "Extension: every 401 carries WWW-Authenticate: Bearer",
                WwwAuthenticate),
      AlwaysRun("ext.retry_after",
                "Extension: 429 and 503 answers carry a valid Retry-After (judged when "
                "seen)",
                RetryAfter),
  };
}

}  // namespace bim::conformance
