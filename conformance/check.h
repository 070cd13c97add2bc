#pragma once
// A conformance check as data: an id such as "deploy.commit_hash", a sentence saying what it
// proves, whether it creates anything on the platform, and a function that runs it against a
// Context and says pass, fail, not-supported or skipped, with the evidence (request line,
// status, trimmed body) a person needs to see why.
//
// Outcomes:
//   pass          the platform does what docs/API_CONTRACTS.md says
//   fail          a contract violation; the only outcome that makes the run exit non-zero. For
//                 an extension (ext.*), only a break of the seed's contract or of an RFC
//   not-supported one of the contract's optional extensions is absent, or not there as the
//                 contract describes it; reported, not failed
//   skipped       not run: --read-only, no token, or what it needs is missing
//
// Plain values; no threads.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bim::conformance {

class Context;

enum class Outcome { kPass, kFail, kNotSupported, kSkipped };

// "pass", "fail", "not-supported", "skipped": the words of the report and its JSON.
std::string_view OutcomeName(Outcome outcome);
// "PASS", "FAIL", "N/S ", "SKIP": the same in the text report, each four columns wide.
std::string_view OutcomeTag(Outcome outcome);

struct Evidence {
  std::string request;  // e.g. "POST /api/deploy [no Authorization]", "WS /ws?deploymentId=..."
  long status = 0;      // HTTP status; 101 for a WebSocket message; 0 when nothing answered
  std::string body;     // trimmed, with tokens and device codes masked
  std::string note;     // e.g. "Retry-After: 1", "message 3", "closed 1000"
};

struct CheckResult {
  Outcome outcome = Outcome::kPass;
  std::string detail;  // why, for people; names the field, status or endpoint at fault
  std::vector<Evidence> evidence;
};

struct Check {
  std::string id;
  std::string description;
  bool creates = false;      // creates or changes something, or runs the generator: not --read-only
  bool needs_token = false;  // skipped without --token or --device-login
  std::function<CheckResult(Context&)> run;
};

// The catalogs' three kinds of check: one every run makes; one that needs the run's token; one
// that also creates or changes something on the platform (a deployment, an environment) or runs
// the generator, so also not with --read-only.
Check AlwaysRun(std::string id, std::string description, std::function<CheckResult(Context&)> run);
Check NeedsToken(std::string id, std::string description, std::function<CheckResult(Context&)> run);
Check Creates(std::string id, std::string description, std::function<CheckResult(Context&)> run);

CheckResult Pass(std::string detail = "", std::vector<Evidence> evidence = {});
CheckResult Fail(std::string detail, std::vector<Evidence> evidence = {});
CheckResult NotSupported(std::string detail, std::vector<Evidence> evidence = {});
CheckResult Skipped(std::string detail, std::vector<Evidence> evidence = {});

// A body as evidence shows it: values of access_token, refresh_token and device_code masked, and
// variables' values (a "value", alone or in "variables"), cut to max_bytes at a UTF-8 boundary
// with the full size noted.
std::string EvidenceBody(std::string_view body, size_t max_bytes = 300);

}  // namespace bim::conformance
