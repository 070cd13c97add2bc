#include "common/contract.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/limits.h"
#include "common/terminal_text.h"

namespace bim::contract {
namespace {

using json = nlohmann::json;

constexpr std::array<std::pair<Stage, std::string_view>, 9> kStageNames{{
    {Stage::kQueued, "queued"},
    {Stage::kCommitting, "committing"},
    {Stage::kCreatingNamespace, "creating_namespace"},
    {Stage::kCreatingPvc, "creating_pvc"},
    {Stage::kBuilding, "building"},
    {Stage::kDeploying, "deploying"},
    {Stage::kHealthCheck, "health_check"},
    {Stage::kComplete, "complete"},
    {Stage::kFailed, "failed"},
}};

// Invalid UTF-8 in a string would make dump() throw; callers validate content before they
// upload (see deploy's project reader), so replacement here only guards against a crash.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Error ProtocolError(std::string what) {
  return Error(ErrorCode::kProtocol, "response outside the API contract: " + std::move(what));
}

// Field readers: each names the field in its error so a contract break is easy to find.
class Reader {
 public:
  // Files() moves the contents out of j, so that a whole project is not held twice.
  explicit Reader(json& j) : j_(j) {}

  std::string Str(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_string()) {
      Fail(std::string("missing or non-string field \"") + key + "\"");
      return {};
    }
    return it->get<std::string>();
  }
  std::optional<std::string> OptStr(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      Fail(std::string("field \"") + key + "\" is not a string");
      return std::nullopt;
    }
    return it->get<std::string>();
  }
  std::optional<int64_t> OptInt(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
      Fail(std::string("field \"") + key + "\" is not an integer");
      return std::nullopt;
    }
    return it->get<int64_t>();
  }
  std::optional<bool> OptBool(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
      Fail(std::string("field \"") + key + "\" is not a boolean");
      return std::nullopt;
    }
    return it->get<bool>();
  }
  // A string field that must be one of a set of names: parse maps a name to its value.
  template <typename T, typename ParseName>
  T NamedField(const char* key, T fallback, ParseName parse) {
    std::string name = Str(key);
    if (!error_.empty()) return fallback;
    auto v = parse(name);
    if (!v) {
      Fail(std::string("unknown ") + key + " \"" + name.substr(0, 64) + "\"");
      return fallback;
    }
    return *v;
  }
  bool Bool(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_boolean()) {
      Fail(std::string("missing or non-boolean field \"") + key + "\"");
      return false;
    }
    return it->get<bool>();
  }
  Stage StageField(const char* key) {
    std::string name = Str(key);
    if (!error_.empty()) return Stage::kQueued;
    auto s = ParseStage(name);
    if (!s) {
      Fail(std::string("unknown status \"") + name.substr(0, 64) + "\"");
      return Stage::kQueued;
    }
    return *s;
  }
  std::vector<std::string> StrList(const char* key, bool required) {
    std::vector<std::string> out;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) Fail(std::string("missing field \"") + key + "\"");
      return out;
    }
    if (!it->is_array()) {
      Fail(std::string("field \"") + key + "\" is not an array");
      return out;
    }
    for (const auto& e : *it) {
      if (!e.is_string()) {
        Fail(std::string("field \"") + key + "\" holds a non-string");
        return {};
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  FileMap Files(const char* key) {
    FileMap out;
    auto it = j_.find(key);
    if (it == j_.end() || !it->is_object()) {
      Fail(std::string("missing or non-object field \"") + key + "\"");
      return out;
    }
    for (auto& [path, content] : it->items()) {
      if (!content.is_string()) {
        Fail(std::string("file \"") + path.substr(0, 200) + "\" has non-string content");
        return {};
      }
      out[path] = std::move(content.get_ref<std::string&>());
    }
    return out;
  }

  // Each object of an array field, read by each(Reader&); required: the field must be there.
  template <typename Each>
  void Objects(const char* key, bool required, Each each) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) Fail(std::string("missing field \"") + key + "\"");
      return;
    }
    if (!it->is_array()) {
      Fail(std::string("field \"") + key + "\" is not an array");
      return;
    }
    for (auto& e : *it) {
      if (!e.is_object()) {
        Fail(std::string("field \"") + key + "\" holds a non-object");
        return;
      }
      Reader inner(e);
      each(inner);
      if (!inner.ok()) {
        Fail(std::string(key) + ": " + inner.error_);
        return;
      }
    }
  }

  // Records what is wrong with the object (the first such report wins).
  void Invalid(std::string what) { Fail(std::move(what)); }

  bool ok() const { return error_.empty(); }
  Error error() const { return ProtocolError(error_); }

 private:
  void Fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }
  json& j_;
  std::string error_;
};

// About how many values a JSON text holds, without parsing it: each array element and object
// member but the first of its container follows a comma, and each container opens once.
size_t CountJsonValues(std::string_view body) {
  size_t n = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == '[' || c == '{') {
      ++n;
    }
  }
  return n;
}

// Parses a JSON object and hands it to fill; any failure becomes a kProtocol error.
template <typename T, typename Fill>
Result<T> ParseObject(std::string_view body, const char* what, Fill fill) {
  // Before the parser builds a tree of them (limits::kMaxJsonValues says why).
  if (CountJsonValues(body) > limits::kMaxJsonValues) {
    return ProtocolError(std::string(what) + " holds more than " +
                         std::to_string(limits::kMaxJsonValues) + " JSON values");
  }
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ProtocolError(std::string(what) + " is not valid JSON");
  if (!j.is_object()) return ProtocolError(std::string(what) + " is not a JSON object");
  try {
    Reader r(j);
    T out = fill(r);
    if (!r.ok()) return r.error();
    return out;
  } catch (const json::exception& e) {
    return ProtocolError(std::string(what) + ": " + e.what());
  }
}

json FilesJson(const FileMap& files) {
  json f = json::object();
  for (const auto& [path, content] : files) f[path] = content;
  return f;
}

}  // namespace

const std::vector<Stage>& SuccessPath() {
  static const std::vector<Stage> kPath = {
      Stage::kQueued,   Stage::kCommitting, Stage::kCreatingNamespace, Stage::kCreatingPvc,
      Stage::kBuilding, Stage::kDeploying,  Stage::kHealthCheck,       Stage::kComplete};
  return kPath;
}

std::string_view StageName(Stage s) {
  for (const auto& [stage, name] : kStageNames) {
    if (stage == s) return name;
  }
  return "unknown";
}

std::optional<Stage> ParseStage(std::string_view name) {
  for (const auto& [stage, n] : kStageNames) {
    if (n == name) return stage;
  }
  return std::nullopt;
}

bool IsTerminal(Stage s) { return s == Stage::kComplete || s == Stage::kFailed; }

int StageRank(Stage s) { return static_cast<int>(s); }

std::string ToJson(const ErrorBody& v) {
  return Dump(json{{"error", v.error}, {"message", v.message}});
}

std::string ToJson(const GenerateRequest& v) { return Dump(json{{"prompt", v.prompt}}); }

std::string ToJson(const GenerateResponse& v) {
  json j{{"files", FilesJson(v.files)}};
  if (v.project_id) j["projectId"] = *v.project_id;
  return Dump(j);
}

std::string ToJson(const DeployRequest& v) {
  json j{{"files", FilesJson(v.files)}};
  if (!v.project_id.empty()) j["projectId"] = v.project_id;
  if (!v.environment.empty()) j["environment"] = v.environment;
  return Dump(j);
}

std::string ToJson(const DeployResponse& v) {
  json j{{"deploymentId", v.deployment_id},
         {"projectId", v.project_id},
         {"commitHash", v.commit_hash},
         {"status", StageName(v.status)}};
  if (v.websocket_url) j["websocketUrl"] = *v.websocket_url;
  if (v.environment) j["environment"] = *v.environment;
  return Dump(j);
}

namespace {

// The StageEvent's fields on the wire. with_logs false: all but the logs (the store's body).
void WriteStageEvent(const StageEvent& e, json& j, bool with_logs = true) {
  j["status"] = StageName(e.status);
  if (with_logs) j["logs"] = e.logs;
  if (e.url) j["url"] = *e.url;
}

}  // namespace

std::string ToJson(const StatusResponse& v) {
  json j{{"id", v.id}, {"projectId", v.project_id}, {"commitHash", v.commit_hash}};
  WriteStageEvent(v, j);
  if (v.seq) j["seq"] = *v.seq;
  return Dump(j);
}

std::string ToJson(const StageMessage& v) {
  json j{{"deploymentId", v.deployment_id},
         {"projectId", v.project_id},
         {"commitHash", v.commit_hash}};
  WriteStageEvent(v, j);
  if (v.seq) j["seq"] = *v.seq;
  return Dump(j);
}

std::string EventBodyJson(const StageEvent& e) {
  json j = json::object();
  WriteStageEvent(e, j, /*with_logs=*/false);
  return Dump(j);
}

std::string ToJson(const VerifyResponse& v) {
  return Dump(json{{"valid", v.valid}, {"userId", v.user_id}, {"email", v.email}});
}

std::string ToJson(const DeviceCodeResponse& v) {
  json j{{"device_code", v.device_code},
         {"user_code", v.user_code},
         {"verification_uri", v.verification_uri},
         {"expires_in", v.expires_in},
         {"interval", v.interval}};
  if (v.verification_uri_complete) j["verification_uri_complete"] = *v.verification_uri_complete;
  return Dump(j);
}

std::string ToJson(const TokenResponse& v) {
  json j{{"access_token", v.access_token}, {"token_type", v.token_type}};
  if (v.expires_in) j["expires_in"] = *v.expires_in;
  if (v.refresh_token) j["refresh_token"] = *v.refresh_token;
  return Dump(j);
}

std::string ToJson(const OAuthError& v) {
  json j{{"error", v.error}};
  if (!v.error_description.empty()) j["error_description"] = v.error_description;
  return Dump(j);
}

Result<ErrorBody> ParseErrorBody(std::string_view body) {
  return ParseObject<ErrorBody>(body, "error body", [](Reader& r) {
    ErrorBody b;
    b.error = r.Str("error");
    b.message = r.OptStr("message").value_or("");
    return b;
  });
}

Result<GenerateRequest> ParseGenerateRequest(std::string_view body) {
  return ParseObject<GenerateRequest>(body, "generate request",
                                      [](Reader& r) { return GenerateRequest{r.Str("prompt")}; });
}

Result<GenerateResponse> ParseGenerateResponse(std::string_view body) {
  return ParseObject<GenerateResponse>(body, "generate response", [](Reader& r) {
    GenerateResponse g;
    g.files = r.Files("files");
    g.project_id = r.OptStr("projectId");
    return g;
  });
}

Result<DeployRequest> ParseDeployRequest(std::string_view body) {
  return ParseObject<DeployRequest>(body, "deploy request", [](Reader& r) {
    DeployRequest d;
    d.files = r.Files("files");
    d.project_id = r.OptStr("projectId").value_or("");
    d.environment = r.OptStr("environment").value_or("");
    return d;
  });
}

Result<DeployResponse> ParseDeployResponse(std::string_view body) {
  return ParseObject<DeployResponse>(body, "deploy response", [](Reader& r) {
    DeployResponse d;
    d.deployment_id = r.Str("deploymentId");
    d.project_id = r.Str("projectId");
    d.commit_hash = r.Str("commitHash");
    d.status = r.StageField("status");
    d.websocket_url = r.OptStr("websocketUrl");
    d.environment = r.OptStr("environment");
    return d;
  });
}

namespace {

// The StageEvent's fields, from a stage message, a status answer or the store's body.
void ReadStageEvent(Reader& r, StageEvent& e, bool with_logs = true) {
  e.status = r.StageField("status");
  if (with_logs) e.logs = r.StrList("logs", /*required=*/false);
  e.url = r.OptStr("url");
}

}  // namespace

Result<StatusResponse> ParseStatusResponse(std::string_view body) {
  return ParseObject<StatusResponse>(body, "status response", [](Reader& r) {
    StatusResponse s;
    s.id = r.Str("id");
    s.project_id = r.Str("projectId");
    s.commit_hash = r.Str("commitHash");
    ReadStageEvent(r, s);
    s.seq = r.OptInt("seq");
    return s;
  });
}

Result<StageMessage> ParseStageMessage(std::string_view body) {
  return ParseObject<StageMessage>(body, "stage message", [](Reader& r) {
    StageMessage m;
    m.deployment_id = r.Str("deploymentId");
    m.project_id = r.OptStr("projectId").value_or("");
    m.commit_hash = r.OptStr("commitHash").value_or("");
    ReadStageEvent(r, m);
    m.seq = r.OptInt("seq");
    return m;
  });
}

Result<StageEvent> ParseEventBody(std::string_view body, std::vector<std::string> logs) {
  auto e = ParseObject<StageEvent>(body, "stored event", [](Reader& r) {
    StageEvent e;
    ReadStageEvent(r, e, /*with_logs=*/false);
    return e;
  });
  if (e.ok()) e->logs = std::move(logs);
  return e;
}

Result<VerifyResponse> ParseVerifyResponse(std::string_view body) {
  return ParseObject<VerifyResponse>(body, "verify response", [](Reader& r) {
    VerifyResponse v;
    v.valid = r.Bool("valid");  // the seed's only field; the others are read when present
    v.user_id = r.OptStr("userId").value_or("");
    v.email = r.OptStr("email").value_or("");
    return v;
  });
}

Result<DeviceCodeResponse> ParseDeviceCodeResponse(std::string_view body) {
  return ParseObject<DeviceCodeResponse>(body, "device code response", [](Reader& r) {
    DeviceCodeResponse d;
    d.device_code = r.Str("device_code");
    d.user_code = r.Str("user_code");
    d.verification_uri = r.Str("verification_uri");
    d.verification_uri_complete = r.OptStr("verification_uri_complete");
    d.expires_in = r.OptInt("expires_in").value_or(0);
    d.interval = r.OptInt("interval").value_or(5);  // RFC 8628 §3.2: default 5 s
    return d;
  });
}

Result<TokenResponse> ParseTokenResponse(std::string_view body) {
  return ParseObject<TokenResponse>(body, "token response", [](Reader& r) {
    TokenResponse t;
    t.access_token = r.Str("access_token");
    t.token_type = r.OptStr("token_type").value_or("Bearer");
    t.expires_in = r.OptInt("expires_in");
    t.refresh_token = r.OptStr("refresh_token");
    return t;
  });
}

Result<OAuthError> ParseOAuthError(std::string_view body) {
  return ParseObject<OAuthError>(body, "OAuth error", [](Reader& r) {
    OAuthError e;
    e.error = r.Str("error");
    e.error_description = r.OptStr("error_description").value_or("");
    return e;
  });
}

bool IsEnvironmentsNotFoundCode(std::string_view error_code) {
  return error_code == "environment_not_found" || error_code == "variable_not_found" ||
         error_code == "deployment_not_found";
}

namespace {

std::string Shown(std::string_view text) {
  std::string shown(text.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return shown;
}

}  // namespace

Status ValidateVariableKey(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 128 && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key) {
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (ok) return OkStatus();
  return Error(ErrorCode::kInvalidArgument,
               "\"" + Shown(key) +
                   "\" is not a variable name (a letter or '_', then letters, digits and '_', at "
                   "most 128)");
}

Status ValidateEnvironmentName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 32 && name[0] >= 'a' && name[0] <= 'z';
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (ok) return OkStatus();
  return Error(ErrorCode::kInvalidArgument,
               "\"" + Shown(name) +
                   "\" is not an environment name (1 to 32 of a-z, 0-9 and '-', starting with a "
                   "letter)");
}

std::string ToJson(const EnvironmentList& v) {
  json list = json::array();
  for (const auto& e : v.environments) {
    json o{{"name", e.name}, {"variables", e.variables}};
    if (!e.deployment_id.empty()) o["deploymentId"] = e.deployment_id;
    if (!e.url.empty()) o["url"] = e.url;
    list.push_back(std::move(o));
  }
  return Dump(json{{"projectId", v.project_id}, {"environments", std::move(list)}});
}

std::string ToJson(const VariableList& v) {
  json list = json::array();
  for (const auto& e : v.variables) {
    json o{{"key", e.key}};
    if (e.value) o["value"] = *e.value;
    list.push_back(std::move(o));
  }
  return Dump(json{
      {"projectId", v.project_id}, {"environment", v.environment}, {"variables", std::move(list)}});
}

std::string ToJson(const PromoteRequest& v) { return Dump(json{{"environment", v.environment}}); }

Result<EnvironmentList> ParseEnvironmentList(std::string_view body) {
  return ParseObject<EnvironmentList>(body, "environments answer", [](Reader& r) {
    EnvironmentList l;
    l.project_id = r.OptStr("projectId").value_or("");
    r.Objects("environments", /*required=*/true, [&](Reader& e) {
      EnvironmentInfo info;
      info.name = e.Str("name");
      info.variables = e.OptInt("variables").value_or(0);
      info.deployment_id = e.OptStr("deploymentId").value_or("");
      info.url = e.OptStr("url").value_or("");
      l.environments.push_back(std::move(info));
    });
    return l;
  });
}

Result<VariableList> ParseVariableList(std::string_view body) {
  return ParseObject<VariableList>(body, "variables answer", [](Reader& r) {
    VariableList l;
    l.project_id = r.OptStr("projectId").value_or("");
    l.environment = r.OptStr("environment").value_or("");
    r.Objects("variables", /*required=*/true, [&](Reader& e) {
      Variable v;
      v.key = e.Str("key");
      v.value = e.OptStr("value");
      l.variables.push_back(std::move(v));
    });
    return l;
  });
}

// ---- Runtime logs ----

namespace {

constexpr std::string_view kLogLevelNames[] = {"debug", "info", "warning", "error"};
constexpr std::string_view kDnsStateNames[] = {"pending", "valid", "invalid"};
constexpr std::string_view kCertificateStateNames[] = {"pending", "issued", "failed"};

template <typename E, size_t N>
std::optional<E> FromName(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

json LineJson(const LogLine& v) {
  return json{{"type", "line"},           {"seq", v.seq},
              {"timestamp", v.timestamp}, {"level", LogLevelName(v.level)},
              {"source", v.source},       {"text", v.text}};
}

LogLine ReadLine(Reader& r) {
  LogLine l;
  l.seq = r.OptInt("seq").value_or(0);
  if (l.seq <= 0) r.Invalid("a line's \"seq\" is an integer from 1");
  l.timestamp = r.OptInt("timestamp").value_or(0);
  l.level = r.NamedField("level", LogLevel::kInfo, ParseLogLevel);
  l.source = r.OptStr("source").value_or("app");
  l.text = r.Str("text");
  return l;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kLogLevelNames[static_cast<int>(level)]; }

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  return FromName<LogLevel>(kLogLevelNames, name);
}

bool IsLogsNotFoundCode(std::string_view error_code) {
  return error_code == "deployment_not_found";
}

std::string ToJson(const LogLine& v) { return Dump(LineJson(v)); }

std::string ToJson(const LogPage& v) {
  json lines = json::array();
  for (const auto& l : v.lines) {
    json o = LineJson(l);
    o.erase("type");
    lines.push_back(std::move(o));
  }
  return Dump(json{{"deploymentId", v.deployment_id},
                   {"lines", std::move(lines)},
                   {"cursor", v.cursor},
                   {"first", v.first},
                   {"more", v.more}});
}

std::string ToJson(const LogStreamMessage& v) {
  switch (v.type) {
    case LogStreamMessage::Type::kLine:
      return ToJson(v.line);
    case LogStreamMessage::Type::kSkipped:
      return Dump(json{{"type", "skipped"}, {"count", v.skipped}, {"next", v.next}});
    case LogStreamMessage::Type::kEnd:
      break;
  }
  return Dump(json{{"type", "end"}, {"reason", v.reason}});
}

Result<LogPage> ParseLogPage(std::string_view body) {
  return ParseObject<LogPage>(body, "logs answer", [](Reader& r) {
    LogPage p;
    p.deployment_id = r.OptStr("deploymentId").value_or("");
    r.Objects("lines", /*required=*/true, [&](Reader& e) { p.lines.push_back(ReadLine(e)); });
    p.cursor = r.OptInt("cursor").value_or(p.lines.empty() ? 0 : p.lines.back().seq);
    p.first = r.OptInt("first").value_or(1);
    p.more = r.OptBool("more").value_or(false);
    return p;
  });
}

Result<LogStreamMessage> ParseLogStreamMessage(std::string_view body) {
  return ParseObject<LogStreamMessage>(body, "log message", [](Reader& r) {
    LogStreamMessage m;
    std::string type = r.OptStr("type").value_or("line");
    if (type == "line") {
      m.line = ReadLine(r);
    } else if (type == "skipped") {
      m.type = LogStreamMessage::Type::kSkipped;
      m.skipped = r.OptInt("count").value_or(0);
      m.next = r.OptInt("next").value_or(0);
    } else if (type == "end") {
      m.type = LogStreamMessage::Type::kEnd;
      m.reason = r.OptStr("reason").value_or("");
    } else {
      r.Invalid("unknown type \"" + type.substr(0, 64) + "\"");
    }
    return m;
  });
}

// ---- Custom domains ----

std::string_view DnsStateName(DnsState s) { return kDnsStateNames[static_cast<int>(s)]; }
std::string_view CertificateStateName(CertificateState s) {
  return kCertificateStateNames[static_cast<int>(s)];
}
std::optional<DnsState> ParseDnsState(std::string_view name) {
  return FromName<DnsState>(kDnsStateNames, name);
}
std::optional<CertificateState> ParseCertificateState(std::string_view name) {
  return FromName<CertificateState>(kCertificateStateNames, name);
}

bool IsDomainsNotFoundCode(std::string_view error_code) {
  return error_code == "domain_not_found" || error_code == "environment_not_found";
}

Status ValidateDomainName(std::string_view domain) {
  auto invalid = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + Shown(domain) + "\" is not a domain name (" + std::string(why) + ")");
  };
  if (domain.empty() || domain.size() > 253) return invalid("1 to 253 bytes");
  size_t labels = 0;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63) return invalid("each label is 1 to 63 bytes");
    if (label.front() == '-' || label.back() == '-') {
      return invalid("a label neither starts nor ends with '-'");
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return invalid("lower-case letters, digits, '-' and '.' only");
      }
    }
    ++labels;
    start = end + 1;
  }
  if (labels < 2) return invalid("at least two labels, e.g. api.example.com");
  return OkStatus();
}

std::string NormalizeDomain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool RecordValueMatches(const std::string& type, std::string_view expected,
                        std::string_view found) {
  if (type == "CNAME") return NormalizeDomain(expected) == NormalizeDomain(found);
  return expected == found;
}

namespace {

json DomainJson(const Domain& v) {
  json records = json::array();
  for (const auto& r : v.records) {
    json o{{"type", r.type}, {"name", r.name}, {"value", r.value}, {"found", r.found}};
    if (r.ok) o["ok"] = *r.ok;
    records.push_back(std::move(o));
  }
  json o{{"domain", v.domain},
         {"projectId", v.project_id},
         {"environment", v.environment},
         {"dns", DnsStateName(v.dns)},
         {"certificate", CertificateStateName(v.certificate)},
         {"records", std::move(records)}};
  if (v.checked_at) o["checkedAt"] = *v.checked_at;
  if (!v.detail.empty()) o["detail"] = v.detail;
  return o;
}

Domain ReadDomain(Reader& r) {
  Domain d;
  d.domain = r.Str("domain");
  d.project_id = r.OptStr("projectId").value_or("");
  d.environment = r.OptStr("environment").value_or("");
  d.dns = r.NamedField("dns", DnsState::kPending, ParseDnsState);
  d.certificate = r.NamedField("certificate", CertificateState::kPending, ParseCertificateState);
  r.Objects("records", /*required=*/true, [&](Reader& e) {
    DnsRecord rec;
    rec.type = e.Str("type");
    rec.name = e.Str("name");
    rec.value = e.Str("value");
    rec.found = e.StrList("found", /*required=*/false);
    rec.ok = e.OptBool("ok");
    d.records.push_back(std::move(rec));
  });
  d.checked_at = r.OptInt("checkedAt");
  d.detail = r.OptStr("detail").value_or("");
  return d;
}

}  // namespace

std::string ToJson(const Domain& v) { return Dump(DomainJson(v)); }

std::string ToJson(const DomainList& v) {
  json list = json::array();
  for (const auto& d : v.domains) list.push_back(DomainJson(d));
  return Dump(json{{"projectId", v.project_id}, {"domains", std::move(list)}});
}

std::string ToJson(const AddDomainRequest& v) {
  json o{{"domain", v.domain}};
  if (!v.environment.empty()) o["environment"] = v.environment;
  return Dump(o);
}

Result<Domain> ParseDomain(std::string_view body) {
  return ParseObject<Domain>(body, "domain answer", [](Reader& r) { return ReadDomain(r); });
}

Result<DomainList> ParseDomainList(std::string_view body) {
  return ParseObject<DomainList>(body, "domains answer", [](Reader& r) {
    DomainList l;
    l.project_id = r.OptStr("projectId").value_or("");
    r.Objects("domains", /*required=*/true, [&](Reader& e) { l.domains.push_back(ReadDomain(e)); });
    return l;
  });
}

Result<AddDomainRequest> ParseAddDomainRequest(std::string_view body) {
  return ParseObject<AddDomainRequest>(body, "domain request", [](Reader& r) {
    return AddDomainRequest{r.Str("domain"), r.OptStr("environment").value_or("")};
  });
}

Result<PromoteRequest> ParsePromoteRequest(std::string_view body) {
  return ParseObject<PromoteRequest>(
      body, "promote request", [](Reader& r) { return PromoteRequest{r.Str("environment")}; });
}

Status ValidateId(std::string_view id, std::string_view what) {
  auto invalid = [&] {
    std::string shown(id.substr(0, 64));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + shown + "\" is not a " + std::string(what) +
                     " (1 to 128 letters, digits, '-', '_' or '.', not only dots)");
  };
  if (id.empty() || id.size() > 128) return invalid();
  bool all_dots = true;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return invalid();
    all_dots = all_dots && c == '.';
  }
  if (all_dots) return invalid();
  return OkStatus();
}

namespace {

bool StartsWithNoCase(std::string_view text, std::string_view lower_prefix) {
  return text.size() >= lower_prefix.size() &&
         std::equal(lower_prefix.begin(), lower_prefix.end(), text.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host == "[::1]") return true;
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost") return true;
  int parts = 0;
  size_t at = 0;
  while (at <= lower.size()) {
    size_t dot = std::min(lower.find('.', at), lower.size());
    std::string_view part = std::string_view(lower).substr(at, dot - at);
    int value = 0;
    for (char c : part) value = c >= '0' && c <= '9' ? value * 10 + (c - '0') : 1000;
    if (part.empty() || part.size() > 3 || value > 255 || (parts == 0 && part != "127")) {
      return false;
    }
    ++parts;
    at = dot + 1;
  }
  return parts == 4;
}

Status CheckUrlToOpen(std::string_view url, std::string_view what) {
  // The URL itself is never repeated: it may be meant to harm whoever reads the message.
  auto refuse = [&](std::string_view why) {
    return Error(ErrorCode::kProtocol,
                 "the platform's " + std::string(what) + " is refused: it " + std::string(why));
  };
  if (url.empty()) return refuse("is empty");
  if (url.size() > limits::kMaxUrlBytes) return refuse("is over 2048 bytes");
  for (char c : url) {
    if (c <= 0x20 || c >= 0x7f) return refuse("holds a space, a control or a non-ASCII character");
  }
  bool https = StartsWithNoCase(url, "https://");
  if (!https && !StartsWithNoCase(url, "http://")) return refuse("is not an https:// URL");
  std::string_view rest = url.substr(https ? 8 : 7);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return refuse("holds user info");
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return refuse("has an unclosed IPv6 address");
    std::string_view address = host.substr(1, close - 1);
    if (address.empty() ||
        address.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return refuse("has a bad IPv6 address");
    }
    std::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty()) {
      if (after.front() != ':' || after.size() == 1) return refuse("has a bad port");
      port = after.substr(1);
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return refuse("has a bad port");
    }
    if (host.empty()) return refuse("has no host");
    if (host.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
            std::string_view::npos ||
        host.front() == '.' || host.front() == '-' || host.find("..") != std::string_view::npos) {
      return refuse("has a bad host name");
    }
  }
  if (!port.empty() &&
      (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)) {
    return refuse("has a bad port");
  }
  if (!https && !IsLoopbackHost(host)) return refuse("is plain http to a host off this machine");
  return OkStatus();
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

namespace {

// A form's '+' is a space (a literal '+' comes as %2B); the rest is percent-decoding.
std::string FormComponent(std::string_view s) {
  std::string spaced(s);
  for (char& c : spaced) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(spaced);
}

}  // namespace

std::map<std::string, std::string> FormDecode(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out[FormComponent(pair)] = "";
      } else {
        out[FormComponent(pair.substr(0, eq))] = FormComponent(pair.substr(eq + 1));
      }
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace bim::contract
