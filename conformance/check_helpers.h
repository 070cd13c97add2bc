#pragma once
// Small pieces the checks share: expecting a status from several requests and naming each one
// that differs, judging an OAuth error answer, reading fields of parsed bodies, the "skipped" a
// check gives when the sample deployment it needs does not exist, and how a watched deployment
// ended. Free functions, no state.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/check.h"
#include "conformance/context.h"
#include "conformance/shape.h"

namespace bim::conformance {

std::string Join(const std::vector<std::string>& parts, std::string_view separator);
std::string Quoted(std::string_view s);  // "\"s\"", cut at 80 bytes

// Pass when every exchange answered expected; otherwise fail, naming each request that did
// not and what it answered. Every exchange becomes evidence.
CheckResult ExpectStatus(const std::vector<Exchange>& exchanges, long expected);

// An answer of an OAuth endpoint that should be the RFC 6749 §5.2 error `code` with status
// 400: pass when it is, not-supported when the endpoint is 404 (no device flow), fail
// otherwise, naming the status or the error code it got.
CheckResult ExpectOAuthError(const Exchange& exchange, const std::string& code);

// Problems as a failed result, each on its own line; pass (with pass_detail) when there are
// none. Either way the evidence goes with it.
CheckResult FromProblems(const std::vector<std::string>& problems,
                         std::vector<Evidence> evidence = {}, std::string pass_detail = "");

// The same for an extension (ext.*), where problems mean the platform has something like it
// but not as docs/API_CONTRACTS.md describes it: not-supported, never a failure, because the
// seed's contract does not promise the extension (a failure is a break of the seed's contract
// or of an RFC). The detail says so, then lists the problems.
CheckResult ExtensionFromProblems(const std::vector<std::string>& problems,
                                  std::vector<Evidence> evidence = {},
                                  std::string pass_detail = "");

// "GET /path answered 404": an exchange's request line and status.
std::string Answered(const Exchange& ex);
// Whether ex is a 404 that none of an extension's own 404 codes (is_own_code) explains (also one
// without an error body): the platform does not have the extension (docs/API_CONTRACTS.md 9).
bool IsForeignNotFound(const Exchange& ex, bool (*is_own_code)(std::string_view));
// Not-supported, for such a 404: "LINE answered 404 (error "CODE"): the platform has no WHAT".
CheckResult ExtensionAbsent(const Exchange& ex, const std::string& what);

// Fields of a parsed object, when present with the right type.
std::optional<std::string> StringField(const nlohmann::json& j, const char* key);
std::optional<int64_t> IntField(const nlohmann::json& j, const char* key);
// The object's field names, for a detail that shows what was there instead.
std::string FieldNames(const nlohmann::json& j);

// The skip of a check that needs the sample deployment and has none, saying why.
CheckResult NoDeployment(Context& ctx);

// Of a stage message or a status answer: its status ("" without one), as a stage when it is
// one, whether that ends the deployment, and its log lines.
std::string StatusName(const nlohmann::json& j);
std::optional<contract::Stage> StageOf(const nlohmann::json& j);
bool IsTerminalBody(const nlohmann::json& j);
std::vector<std::string> LogsOf(const nlohmann::json& j);
// The final status of a watched deployment: the stream's terminal message, else the last poll;
// nullopt when neither ended.
std::optional<nlohmann::json> FinalBody(const Observation& o);

}  // namespace bim::conformance
