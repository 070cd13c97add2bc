#pragma once
// The Backend.im platform API contract as C++ types (docs/API_CONTRACTS.md).
//
// Parse* functions take bytes from the network, so they never throw and never trust:
// anything outside the contract comes back as an ErrorCode::kProtocol Error naming the field.
// Unknown fields are ignored, so a platform may add fields freely. Optional fields of ours
// (extensions beyond the seed's contract) are std::optional and may be absent.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/percent_encoding.h"
#include "common/result.h"

namespace bim::contract {

// Deployment status values, in the order a deployment passes through them.
enum class Stage {
  kQueued,
  kCommitting,
  kCreatingNamespace,
  kCreatingPvc,
  kBuilding,
  kDeploying,
  kHealthCheck,
  kComplete,
  kFailed,
};

// The stages a successful deployment passes, in order (ends with kComplete).
const std::vector<Stage>& SuccessPath();
std::string_view StageName(Stage s);
std::optional<Stage> ParseStage(std::string_view name);
bool IsTerminal(Stage s);
// Position in the lifecycle; kFailed ranks after every stage because it ends the deployment.
int StageRank(Stage s);

using FileMap = std::map<std::string, std::string>;  // path -> content; byte-wise path order

struct ErrorBody {
  std::string error;    // machine-readable code, e.g. "unauthorized"
  std::string message;  // for people
};

struct GenerateRequest {
  std::string prompt;
};

struct GenerateResponse {
  FileMap files;
  std::optional<std::string> project_id;  // extension
};

struct DeployRequest {
  FileMap files;
  std::string project_id;   // empty: the platform makes one
  std::string environment;  // EXTENSION; empty: the platform's default (production)
};

struct DeployResponse {
  std::string deployment_id;
  std::string project_id;
  std::string commit_hash;
  Stage status = Stage::kQueued;
  std::optional<std::string> websocket_url;
  // EXTENSION: the environment the deployment goes to, as the platform names it.
  std::optional<std::string> environment;
};

// What the platform says about a deployment's progress, typed: the part of a stage message (and
// of a status answer) that the agent stores as an event and shows. It travels as it is from the
// frame parser through the store (as JSON: EventBodyJson) to the proto (proto/convert.h) and the
// presenters, so a field the platform adds is added here, in ReadStageEvent/WriteStageEvent
// (contract.cc), in the proto and in the presenters, and nowhere in between.
struct StageEvent {
  Stage status = Stage::kQueued;
  std::vector<std::string> logs;
  std::optional<std::string> url;
};

struct StatusResponse : StageEvent {
  std::string id;
  std::string project_id;
  std::string commit_hash;
  std::optional<int64_t> seq;  // extension: seq of the newest stage message
};

// One WebSocket message on /ws?deploymentId=.
struct StageMessage : StageEvent {
  std::string deployment_id;
  std::string project_id;
  std::string commit_hash;
  std::optional<int64_t> seq;  // extension: 1, 2, 3... per deployment
};

// An event as the store keeps it beside its log lines (which it keeps on their own, within
// budgets): every field but the logs, as a JSON object; and back, with the logs given.
std::string EventBodyJson(const StageEvent& e);
Result<StageEvent> ParseEventBody(std::string_view body, std::vector<std::string> logs);

struct VerifyResponse {
  bool valid = false;
  std::string user_id;
  std::string email;
};

// RFC 8628 §3.2.
struct DeviceCodeResponse {
  std::string device_code;
  std::string user_code;
  std::string verification_uri;
  std::optional<std::string> verification_uri_complete;
  int64_t expires_in = 0;
  int64_t interval = 5;
};

// RFC 6749 §5.1 (also /api/auth/callback's body).
struct TokenResponse {
  std::string access_token;
  std::string token_type;
  std::optional<int64_t> expires_in;
  std::optional<std::string> refresh_token;
};

// RFC 6749 §5.2 error response of the token endpoint.
struct OAuthError {
  std::string error;  // authorization_pending, slow_down, expired_token, access_denied, ...
  std::string error_description;
};

// ---- Environments, variables and promote: an EXTENSION (docs/API_CONTRACTS.md §6.1) ----

struct EnvironmentInfo {
  std::string name;
  int64_t variables = 0;      // how many it has
  std::string deployment_id;  // what it serves now; empty: nothing yet
  std::string url;
};

struct EnvironmentList {
  std::string project_id;
  std::vector<EnvironmentInfo> environments;
};

struct Variable {
  std::string key;
  std::optional<std::string> value;  // only in an answer to ?values=true
};

struct VariableList {
  std::string project_id;
  std::string environment;
  std::vector<Variable> variables;
};

// POST /api/deployments/{id}/promote.
struct PromoteRequest {
  std::string environment;
};

// The error codes the extension's own 404s carry. Any other 404 on its paths means the
// platform does not offer the extension (a seed-only platform answers its generic one).
bool IsEnvironmentsNotFoundCode(std::string_view error_code);

// A variable's name as the extension allows it: a letter or '_', then letters, digits and
// '_', at most 128 bytes. The platform may refuse more (names it sets itself).
Status ValidateVariableKey(std::string_view key);
// An environment's name: 1 to 32 of a-z, 0-9 and '-', starting with a letter.
Status ValidateEnvironmentName(std::string_view name);

std::string ToJson(const EnvironmentList& v);
std::string ToJson(const VariableList& v);
std::string ToJson(const PromoteRequest& v);
Result<EnvironmentList> ParseEnvironmentList(std::string_view body);
Result<VariableList> ParseVariableList(std::string_view body);
Result<PromoteRequest> ParsePromoteRequest(std::string_view body);

// ---- Runtime logs: an EXTENSION (docs/API_CONTRACTS.md §6.2) ----

enum class LogLevel { kDebug, kInfo, kWarning, kError };
std::string_view LogLevelName(LogLevel level);  // "debug", "info", "warning", "error"
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// One line a deployment's app printed (or the platform printed about it).
struct LogLine {
  int64_t seq = 0;        // 1, 2, 3... per deployment; never reused
  int64_t timestamp = 0;  // Unix time in ms, when the platform read the line
  LogLevel level = LogLevel::kInfo;
  std::string source;  // "app" (its output), "access" (a request it answered), "platform"
  std::string text;    // one line, without its newline
};

// GET /api/deployments/{id}/logs.
struct LogPage {
  std::string deployment_id;
  std::vector<LogLine> lines;  // oldest first
  int64_t cursor = 0;          // seq of the newest line the platform has, matching or not
  int64_t first = 1;           // seq of the oldest line it still keeps (cursor + 1: none yet)
  bool more = false;           // with ?after=: the page was cut at its limit
};

// One message on /ws/logs?deploymentId=: a line, lines that will not come (no longer kept, or
// the follower fell too far behind), or the end of the app's output.
struct LogStreamMessage {
  enum class Type { kLine, kSkipped, kEnd };
  Type type = Type::kLine;
  LogLine line;         // kLine
  int64_t skipped = 0;  // kSkipped: how many lines
  int64_t next = 0;     // kSkipped: the seq the stream goes on from
  std::string reason;   // kEnd: why (e.g. "the deployment was replaced")
};

// The error code the extension's own 404 carries; any other 404 on its paths means the
// platform does not offer runtime logs.
bool IsLogsNotFoundCode(std::string_view error_code);

std::string ToJson(const LogLine& v);  // with "type": "line", as the stream sends it
std::string ToJson(const LogPage& v);
std::string ToJson(const LogStreamMessage& v);
Result<LogPage> ParseLogPage(std::string_view body);
Result<LogStreamMessage> ParseLogStreamMessage(std::string_view body);

// ---- Custom domains: an EXTENSION (docs/API_CONTRACTS.md §6.3) ----

enum class DnsState { kPending, kValid, kInvalid };
enum class CertificateState { kPending, kIssued, kFailed };
std::string_view DnsStateName(DnsState s);
std::string_view CertificateStateName(CertificateState s);
std::optional<DnsState> ParseDnsState(std::string_view name);
std::optional<CertificateState> ParseCertificateState(std::string_view name);

// A record the domain's owner creates: type is "A", "AAAA", "CNAME" or "TXT"; name is a fully
// qualified name without the trailing dot.
struct DnsRecord {
  std::string type;
  std::string name;
  std::string value;
  std::vector<std::string> found;  // what the platform's last lookup found at name
  std::optional<bool> ok;          // whether found holds value; absent before any lookup
};

struct Domain {
  std::string domain;
  std::string project_id;
  std::string environment;
  DnsState dns = DnsState::kPending;
  CertificateState certificate = CertificateState::kPending;
  std::vector<DnsRecord> records;
  std::optional<int64_t> checked_at;  // Unix ms of the platform's last lookup
  std::string detail;                 // why dns is invalid or the certificate failed
};

struct DomainList {
  std::string project_id;
  std::vector<Domain> domains;
};

// POST /api/projects/{projectId}/domains.
struct AddDomainRequest {
  std::string domain;
  std::string environment;  // empty: production
};

// The codes the extension's own 404s carry (domain_not_found, environment_not_found).
bool IsDomainsNotFoundCode(std::string_view error_code);

// A host name a domain may have: lower case letters, digits and '-' in labels of 1 to 63 that
// neither start nor end with '-', at least two labels, at most 253 bytes, no trailing dot.
// Upper case is refused, not folded: NormalizeDomain does that first.
Status ValidateDomainName(std::string_view domain);
// Lower case, without one trailing dot.
std::string NormalizeDomain(std::string_view domain);
// Whether a value a lookup found is the record's value: names (CNAME) compare without case and
// trailing dot, addresses as written, TXT exactly.
bool RecordValueMatches(const std::string& type, std::string_view expected, std::string_view found);

std::string ToJson(const Domain& v);
std::string ToJson(const DomainList& v);
std::string ToJson(const AddDomainRequest& v);
Result<Domain> ParseDomain(std::string_view body);
Result<DomainList> ParseDomainList(std::string_view body);
Result<AddDomainRequest> ParseAddDomainRequest(std::string_view body);

std::string ToJson(const ErrorBody& v);
std::string ToJson(const GenerateRequest& v);
std::string ToJson(const GenerateResponse& v);
std::string ToJson(const DeployRequest& v);
std::string ToJson(const DeployResponse& v);
std::string ToJson(const StatusResponse& v);
std::string ToJson(const StageMessage& v);
std::string ToJson(const VerifyResponse& v);
std::string ToJson(const DeviceCodeResponse& v);
std::string ToJson(const TokenResponse& v);
std::string ToJson(const OAuthError& v);

Result<ErrorBody> ParseErrorBody(std::string_view body);
Result<GenerateRequest> ParseGenerateRequest(std::string_view body);
Result<GenerateResponse> ParseGenerateResponse(std::string_view body);
Result<DeployRequest> ParseDeployRequest(std::string_view body);
Result<DeployResponse> ParseDeployResponse(std::string_view body);
Result<StatusResponse> ParseStatusResponse(std::string_view body);
Result<StageMessage> ParseStageMessage(std::string_view body);
Result<VerifyResponse> ParseVerifyResponse(std::string_view body);
Result<DeviceCodeResponse> ParseDeviceCodeResponse(std::string_view body);
Result<TokenResponse> ParseTokenResponse(std::string_view body);
Result<OAuthError> ParseOAuthError(std::string_view body);

// Checks an id (deployment, login) before it goes into a URL or a database key: 1 to 128
// letters, digits, '-', '_' or '.', and not only dots, so it can never name a path like "..".
Status ValidateId(std::string_view id, std::string_view what = "deployment id");

// The one check of every URL the platform gives that a person or an assistant will open: a
// deployment's URL (shown as "Deployed"), the device login's page, anything a later command
// shows. https, or plain http to this machine only (localhost, 127.0.0.0/8, [::1]); then a host
// of letters, digits, '-' and '.' (or a bracketed IPv6 address) with an optional port, no user
// info ("https://backend.im@evil.example"), only printable ASCII (no spaces or controls; an
// international name comes as punycode), at most 2048 bytes. Anything else (javascript:, file:,
// http to another host, no host, an empty string) is a kProtocol error that says why, names the
// URL as `what` ("deployment URL", "login URL") and never repeats it: the agent stores no such
// URL and passes none on, to a terminal, an MCP result or an elicitation.
Status CheckUrlToOpen(std::string_view url, std::string_view what);

// localhost, 127.0.0.0/8 in dotted decimal, or [::1], in any case: hosts that every resolver on
// this machine answers the same for, and that never leave it; the only ones plain http may go
// to (the platform's URL, a URL to open).
bool IsLoopbackHost(std::string_view host);

// application/x-www-form-urlencoded, as the OAuth endpoints take it.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);
std::map<std::string, std::string> FormDecode(std::string_view body);
// Percent-encoding of ids in URLs: common/percent_encoding.h.
using ::bim::PercentDecode;
using ::bim::PercentEncode;

}  // namespace bim::contract
