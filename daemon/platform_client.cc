#include "daemon/platform_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/backoff.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secret.h"

namespace bim::daemon {
namespace {

// Longer than any retry budget: a Retry-After past it is only compared, never waited.
constexpr std::chrono::seconds kLongestWait = std::chrono::hours(24);

bool Retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

std::string Host(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.find(':'));
}

}  // namespace

Status ValidateApiUrl(const std::string& url) {
  bool https = url.rfind("https://", 0) == 0;
  bool http = url.rfind("http://", 0) == 0;
  if (!https && !http) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("API URL \"{}\" must start with https://", url));
  }
  std::string host = Host(url);
  if (host.empty()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("API URL \"{}\" has no host", url));
  }
  if (http && !contract::IsLoopbackHost(host)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("API URL \"{}\" uses plain http to a non-loopback host; https is "
                             "required (plain http is allowed only for localhost/127.0.0.1/[::1])",
                             url));
  }
  return OkStatus();
}

PlatformClient::PlatformClient(std::string base_url, HttpClient& http, ws::Connector& connector,
                               const Clock& clock, Random& random, StopSignal& stop,
                               RetryPolicy policy, const std::string& url_source)
    : base_url_(std::move(base_url)),
      http_(http),
      connector_(connector),
      clock_(clock),
      random_(random),
      stop_(stop),
      policy_(policy) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (auto s = ValidateApiUrl(base_url_); !s.ok()) {
    url_problem_ = Error(
        ErrorCode::kInvalidArgument,
        fmt::format("the agent refuses its platform URL: {}{}. Fix it, then run `backend-im daemon "
                    "stop` so that the next command starts the agent with the new value",
                    s.error().message, url_source.empty() ? "" : " (from " + url_source + ")"));
  }
}

namespace {

// Wipes a request's body (which carries a secret) when the request goes.
struct WipeBody {
  HttpRequest& request;
  bool armed;
  ~WipeBody() {
    if (armed) Wipe(request.body);
  }
};

}  // namespace

Result<HttpResponse> PlatformClient::Execute(HttpRequest request, Deadline deadline,
                                             std::string_view secret) {
  WipeBody wipe{request, !secret.empty()};
  if (!url_problem_.ok()) return url_problem_.error();
  Backoff backoff(policy_.base_delay, policy_.max_delay, random_);
  const auto started = clock_.Steady();
  // Retries end with the budget, or sooner when the caller stops waiting.
  const Deadline give_up = std::min(deadline, started + policy_.total_budget);
  const std::chrono::milliseconds own_timeout = request.timeout;
  auto timed_out = [&] {
    auto waited = std::chrono::ceil<std::chrono::seconds>(clock_.Steady() - started);
    return Error(ErrorCode::kTimeout,
                 fmt::format("the platform did not answer {} {} within {} s, which is as long as "
                             "this command waits; try again later",
                             request.method, request.url, std::max<int64_t>(waited.count(), 1)));
  };
  Error last(ErrorCode::kUnavailable, "no attempt made");
  for (int attempt = 1;; ++attempt) {
    bool cut = false;  // this attempt ends at the caller's deadline, before its own timeout
    if (deadline != kNoDeadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_.Steady());
      if (left <= std::chrono::milliseconds(0)) return attempt == 1 ? timed_out() : last;
      cut = left < own_timeout;
      request.timeout = std::min(own_timeout, left);
    }
    auto r = http_.Send(request);
    std::chrono::milliseconds delay = backoff.Next();
    std::optional<int64_t> asked;  // the wait the platform asked for, in seconds
    if (r.ok()) {
      if (!Retryable(r->status)) return r;
      if (r->retry_after_seconds) {
        // "Retry at once" would only bring the same answer back sooner.
        asked = std::max<int64_t>(*r->retry_after_seconds, 1);
        delay = std::chrono::seconds(std::min<int64_t>(*asked, kLongestWait.count()));
      }
      last = ErrorFromResponse(*r, request.method + " " + request.url, secret);
    } else {
      // An answer outside the contract or over a limit would come again: never asked twice.
      if (r.error().code == ErrorCode::kProtocol) return r.error();
      if (cut && r.error().code == ErrorCode::kTimeout) return timed_out();
      last = r.error();
    }
    if (attempt >= policy_.max_attempts || clock_.Steady() + delay >= give_up) {
      // Retrying sooner than asked would be refused again, and the caller is not kept waiting
      // past the budget: say when the platform will take the request, so the user can decide.
      if (asked) last.message += fmt::format("; the platform asks to retry in {} s", *asked);
      break;
    }
    log::Info("{} {}: {}; retry {} in {} ms", request.method, request.url, last.message, attempt,
              delay.count());
    if (!clock_.SleepFor(stop_, delay)) {
      return Error(ErrorCode::kCancelled, "the agent is stopping");
    }
  }
  return last;
}

Error PlatformClient::ErrorFromResponse(const HttpResponse& r, const std::string& what,
                                        std::string_view secret) const {
  std::string detail;
  if (auto body = contract::ParseErrorBody(r.body); body.ok()) {
    detail = body->message.empty() ? body->error : body->error + ": " + body->message;
  } else if (auto oauth = contract::ParseOAuthError(r.body); oauth.ok()) {
    detail = oauth->error_description.empty() ? oauth->error
                                              : oauth->error + ": " + oauth->error_description;
  } else {
    detail = r.body.substr(0, 200);
  }
  // A platform that echoes a value it was sent must not put it into logs or errors.
  HideSecret(detail, secret);
  // The platform's own message goes into logs and gRPC trailers: bounded, cut at a character.
  detail.resize(limits::Utf8CutPoint(detail, limits::kMaxPlatformMessageBytes));
  std::string msg = fmt::format("the platform answered {} to {}{}{}", r.status, what,
                                detail.empty() ? "" : ": ", detail);
  switch (r.status) {
    case 400:
      return Error(ErrorCode::kInvalidArgument, msg);
    case 401:
      return Error(ErrorCode::kUnauthenticated, msg);
    case 403:
      return Error(ErrorCode::kPermissionDenied, msg);
    case 404:
      return Error(ErrorCode::kNotFound, msg);
    case 409:
    case 422:
      return Error(ErrorCode::kConflict, msg);
    case 429:
      return Error(ErrorCode::kRateLimited, msg);
    default:
      if (r.status >= 500) return Error(ErrorCode::kUnavailable, msg);
      return Error(ErrorCode::kRejected, msg);
  }
}

namespace {

HttpRequest JsonRequest(std::string method, std::string url, const std::string& token,
                        std::string body = "") {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.headers.emplace_back("Authorization", "Bearer " + token);
  req.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  return req;
}

HttpRequest FormRequest(std::string url, std::string body) {
  HttpRequest req;
  req.method = "POST";
  req.url = std::move(url);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  req.body = std::move(body);
  return req;
}

template <typename T, typename Parse>
Result<T> Decode(const Result<HttpResponse>& r, Parse parse) {
  if (!r.ok()) return r.error();
  return parse(r->body);
}

}  // namespace

Result<contract::GenerateResponse> PlatformClient::Generate(
    const std::string& token, const std::string& prompt, Deadline deadline,
    const std::function<bim::Status()>& before_answer) {
  auto req = JsonRequest("POST", base_url_ + "/api/generate", token,
                         contract::ToJson(contract::GenerateRequest{prompt}));
  req.timeout = std::chrono::minutes(5);                 // generation by a model can take a while
  req.max_body_bytes = limits::kMaxGenerateAnswerBytes;  // a whole project
  req.before_body = before_answer;
  auto r = Execute(std::move(req), deadline);
  if (r.ok() && r->status != 200) return ErrorFromResponse(*r, "POST /api/generate");
  return Decode<contract::GenerateResponse>(r, contract::ParseGenerateResponse);
}

Result<contract::DeployResponse> PlatformClient::Deploy(const std::string& token,
                                                        const contract::DeployRequest& request,
                                                        const std::string& idempotency_key,
                                                        Deadline deadline) {
  auto req = JsonRequest("POST", base_url_ + "/api/deploy", token, contract::ToJson(request));
  req.headers.emplace_back("Idempotency-Key", idempotency_key);
  req.timeout = std::chrono::minutes(5);
  auto r = Execute(std::move(req), deadline);
  if (r.ok() && r->status != 200 && r->status != 201 && r->status != 202) {
    return ErrorFromResponse(*r, "POST /api/deploy");
  }
  return Decode<contract::DeployResponse>(r, contract::ParseDeployResponse);
}

Result<contract::StatusResponse> PlatformClient::Status(const std::string& token,
                                                        const std::string& id, Deadline deadline) {
  auto r =
      Execute(JsonRequest("GET", base_url_ + "/api/status/" + contract::PercentEncode(id), token),
              deadline);
  if (r.ok() && r->status != 200) return ErrorFromResponse(*r, "GET /api/status");
  return Decode<contract::StatusResponse>(r, contract::ParseStatusResponse);
}

Result<contract::VerifyResponse> PlatformClient::Verify(const std::string& token,
                                                        Deadline deadline) {
  auto r = Execute(JsonRequest("GET", base_url_ + "/api/auth/verify", token), deadline);
  if (r.ok() && r->status != 200) return ErrorFromResponse(*r, "GET /api/auth/verify");
  return Decode<contract::VerifyResponse>(r, contract::ParseVerifyResponse);
}

Result<contract::DeviceCodeResponse> PlatformClient::StartDeviceLogin(
    const std::string& client_id) {
  auto r =
      Execute(FormRequest(base_url_ + "/oauth/device/code",
                          contract::FormEncode({{"client_id", client_id}, {"scope", "deploy"}})));
  if (r.ok() && r->status == 404) {
    return Error(ErrorCode::kRejected,
                 "this platform does not offer the device login (POST /oauth/device/code is "
                 "404); log in with a token instead: backend-im auth login --with-token");
  }
  if (r.ok() && r->status != 200) return ErrorFromResponse(*r, "POST /oauth/device/code");
  return Decode<contract::DeviceCodeResponse>(r, contract::ParseDeviceCodeResponse);
}

Result<DevicePollResult> PlatformClient::PollDeviceLogin(const std::string& client_id,
                                                         const std::string& device_code) {
  auto r = Execute(FormRequest(
      base_url_ + "/oauth/token",
      contract::FormEncode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                            {"device_code", device_code},
                            {"client_id", client_id}})));
  if (!r.ok()) return r.error();
  if (r->status == 200) {
    auto t = contract::ParseTokenResponse(r->body);
    if (!t.ok()) return t.error();
    return DevicePollResult(std::move(*t));
  }
  if (r->status == 400 || r->status == 401) {
    if (auto e = contract::ParseOAuthError(r->body); e.ok()) return DevicePollResult(std::move(*e));
  }
  return ErrorFromResponse(*r, "POST /oauth/token");
}

Result<contract::TokenResponse> PlatformClient::Refresh(const std::string& client_id,
                                                        const std::string& refresh_token) {
  auto r = Execute(FormRequest(base_url_ + "/oauth/token",
                               contract::FormEncode({{"grant_type", "refresh_token"},
                                                     {"refresh_token", refresh_token},
                                                     {"client_id", client_id}})));
  if (!r.ok()) return r.error();
  if (r->status == 400 || r->status == 401) {
    auto e = contract::ParseOAuthError(r->body);
    return Error(ErrorCode::kUnauthenticated,
                 fmt::format("the platform refused to refresh the login ({}); run `backend-im "
                             "auth login`",
                             e.ok() ? e->error : std::to_string(r->status)));
  }
  if (r->status != 200) return ErrorFromResponse(*r, "POST /oauth/token");
  return contract::ParseTokenResponse(r->body);
}

namespace {

// A platform WebSocket whose every text message is one Message of the contract, parsed by
// parse: the deployment's stage messages (/ws) and its runtime log (/ws/logs).
template <typename Message, Result<Message> (*parse)(std::string_view)>
class WsStream final : public BasicStream<Message> {
 public:
  using Item = BasicStreamItem<Message>;
  explicit WsStream(std::unique_ptr<ws::Connection> conn) : conn_(std::move(conn)) {}
  ~WsStream() override { conn_->Close(); }

  Item Next(std::chrono::milliseconds timeout) override {
    ws::Event ev = conn_->Receive(timeout);
    Item item;
    switch (ev.kind) {
      case ws::EventKind::kTimeout:
        item.kind = Item::Kind::kTimeout;
        return item;
      case ws::EventKind::kClosed:
        item.kind = Item::Kind::kClosed;
        item.detail = ev.payload.empty() ? "closed" : std::move(ev.payload);
        item.cut = ev.close_code == ws::kPolicyClose;
        return item;
      case ws::EventKind::kMessage:
        break;
    }
    auto m = parse(ev.payload);
    if (!m.ok()) {
      item.kind = Item::Kind::kSkipped;
      item.detail = m.error().message;
      return item;
    }
    item.kind = Item::Kind::kMessage;
    item.message = std::move(*m);
    return item;
  }

  void Close() override { conn_->Close(); }
  void Cut() override { conn_->Cut(); }

 private:
  std::unique_ptr<ws::Connection> conn_;
};

using WsEventStream = WsStream<contract::StageMessage, contract::ParseStageMessage>;
using WsLogStream = WsStream<contract::LogStreamMessage, contract::ParseLogStreamMessage>;

}  // namespace

namespace {

std::string EnvironmentsPath(const std::string& project_id) {
  return "/api/projects/" + contract::PercentEncode(project_id) + "/environments";
}

std::string EnvironmentPath(const std::string& project_id, const std::string& name) {
  return EnvironmentsPath(project_id) + "/" + contract::PercentEncode(name);
}

std::string VariablePath(const std::string& project_id, const std::string& environment,
                         const std::string& key) {
  return EnvironmentPath(project_id, environment) + "/variables/" + contract::PercentEncode(key);
}

}  // namespace

Result<HttpResponse> PlatformClient::EnvironmentsCall(HttpRequest request,
                                                      std::initializer_list<long> ok,
                                                      Deadline deadline, std::string_view secret) {
  // The path relative to the API, for messages.
  std::string what = request.method + " " + request.url.substr(base_url_.size());
  auto r = Execute(std::move(request), deadline, secret);
  if (!r.ok()) return r.error();
  if (std::find(ok.begin(), ok.end(), r->status) != ok.end()) return r;
  if (r->status == 404) {
    auto body = contract::ParseErrorBody(r->body);
    if (!body.ok() || !contract::IsEnvironmentsNotFoundCode(body->error)) {
      return Error(ErrorCode::kRejected,
                   fmt::format("this platform does not offer environments and variables ({} is "
                               "404); they are an extension of the Backend.im API that {} does "
                               "not implement. Deploys work as before, without --env",
                               what, base_url_));
    }
  }
  return ErrorFromResponse(*r, what, secret);
}

Result<contract::EnvironmentList> PlatformClient::ListEnvironments(const std::string& token,
                                                                   const std::string& project_id,
                                                                   Deadline deadline) {
  auto r = EnvironmentsCall(JsonRequest("GET", base_url_ + EnvironmentsPath(project_id), token),
                            {200}, deadline);
  return Decode<contract::EnvironmentList>(r, contract::ParseEnvironmentList);
}

bim::Status PlatformClient::AddEnvironment(const std::string& token, const std::string& project_id,
                                           const std::string& name, Deadline deadline) {
  nlohmann::json body{{"name", name}};
  auto r = EnvironmentsCall(
      JsonRequest("POST", base_url_ + EnvironmentsPath(project_id), token, body.dump()), {200, 201},
      deadline);
  if (!r.ok()) return r.error();
  return OkStatus();
}

bim::Status PlatformClient::RemoveEnvironment(const std::string& token,
                                              const std::string& project_id,
                                              const std::string& name, Deadline deadline) {
  auto r =
      EnvironmentsCall(JsonRequest("DELETE", base_url_ + EnvironmentPath(project_id, name), token),
                       {200, 204}, deadline);
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<contract::VariableList> PlatformClient::ListVariables(const std::string& token,
                                                             const std::string& project_id,
                                                             const std::string& environment,
                                                             bool with_values, Deadline deadline) {
  std::string url = base_url_ + EnvironmentPath(project_id, environment) + "/variables";
  if (with_values) url += "?values=true";
  auto r = EnvironmentsCall(JsonRequest("GET", url, token), {200}, deadline);
  if (!r.ok()) return r.error();
  auto list = contract::ParseVariableList(r->body);
  Wipe(r->body);
  return list;
}

bim::Status PlatformClient::SetVariable(const std::string& token, const std::string& project_id,
                                        const std::string& environment, const std::string& key,
                                        const std::string& value, Deadline deadline) {
  nlohmann::json body{{"value", value}};
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The json's own copy of the value goes with it; the text is wiped by Execute.
  body["value"].get_ref<std::string&>().assign(value.size(), '\0');
  auto r =
      EnvironmentsCall(JsonRequest("PUT", base_url_ + VariablePath(project_id, environment, key),
                                   token, std::move(text)),
                       {200, 201, 204}, deadline, value);
  if (!r.ok()) return r.error();
  return OkStatus();
}

bim::Status PlatformClient::UnsetVariable(const std::string& token, const std::string& project_id,
                                          const std::string& environment, const std::string& key,
                                          Deadline deadline) {
  auto r = EnvironmentsCall(
      JsonRequest("DELETE", base_url_ + VariablePath(project_id, environment, key), token),
      {200, 204}, deadline);
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<contract::DeployResponse> PlatformClient::Promote(const std::string& token,
                                                         const std::string& deployment_id,
                                                         const std::string& environment,
                                                         const std::string& idempotency_key,
                                                         Deadline deadline) {
  auto req = JsonRequest(
      "POST", base_url_ + "/api/deployments/" + contract::PercentEncode(deployment_id) + "/promote",
      token, contract::ToJson(contract::PromoteRequest{environment}));
  req.headers.emplace_back("Idempotency-Key", idempotency_key);
  req.timeout = std::chrono::minutes(5);
  auto r = EnvironmentsCall(std::move(req), {200, 201, 202}, deadline);
  return Decode<contract::DeployResponse>(r, contract::ParseDeployResponse);
}

Result<std::unique_ptr<ws::Connection>> PlatformClient::ConnectWebSocket(
    const std::string& token, const std::string& url, std::chrono::milliseconds keepalive) {
  if (!url_problem_.ok()) return url_problem_.error();
  ws::ConnectOptions options;
  options.headers.emplace_back("Authorization", "Bearer " + token);
  options.ping_interval = keepalive;
  options.pong_timeout = std::min(keepalive, options.pong_timeout);
  return connector_.Connect(url, options);
}

Result<std::unique_ptr<EventStream>> PlatformClient::OpenEventStream(
    const std::string& token, const std::string& deployment_id, int64_t since,
    std::chrono::milliseconds keepalive) {
  auto conn = ConnectWebSocket(token, WebSocketUrl(deployment_id, since), keepalive);
  if (!conn.ok()) return conn.error();
  return std::unique_ptr<EventStream>(std::make_unique<WsEventStream>(std::move(*conn)));
}

namespace {

std::string DomainsPath(const std::string& project_id) {
  return "/api/projects/" + contract::PercentEncode(project_id) + "/domains";
}

std::string DomainPath(const std::string& project_id, const std::string& domain) {
  return DomainsPath(project_id) + "/" + contract::PercentEncode(domain);
}

}  // namespace

Result<HttpResponse> PlatformClient::DomainsCall(HttpRequest request,
                                                 std::initializer_list<long> ok,
                                                 Deadline deadline) {
  std::string what = request.method + " " + request.url.substr(base_url_.size());
  auto r = Execute(std::move(request), deadline);
  if (!r.ok()) return r.error();
  if (std::find(ok.begin(), ok.end(), r->status) != ok.end()) return r;
  if (r->status == 404) {
    auto body = contract::ParseErrorBody(r->body);
    if (!body.ok() || !contract::IsDomainsNotFoundCode(body->error)) {
      return Error(ErrorCode::kRejected,
                   fmt::format("this platform does not offer custom domains ({} is 404); they "
                               "are an extension of the Backend.im API that {} does not "
                               "implement. The deployment's own URL works as before",
                               what, base_url_));
    }
  }
  return ErrorFromResponse(*r, what);
}

Result<contract::Domain> PlatformClient::AddDomain(const std::string& token,
                                                   const std::string& project_id,
                                                   const contract::AddDomainRequest& request,
                                                   Deadline deadline) {
  auto r = DomainsCall(
      JsonRequest("POST", base_url_ + DomainsPath(project_id), token, contract::ToJson(request)),
      {200, 201}, deadline);
  return Decode<contract::Domain>(r, contract::ParseDomain);
}

Result<contract::DomainList> PlatformClient::ListDomains(const std::string& token,
                                                         const std::string& project_id,
                                                         Deadline deadline) {
  auto r =
      DomainsCall(JsonRequest("GET", base_url_ + DomainsPath(project_id), token), {200}, deadline);
  return Decode<contract::DomainList>(r, contract::ParseDomainList);
}

Result<contract::Domain> PlatformClient::GetDomain(const std::string& token,
                                                   const std::string& project_id,
                                                   const std::string& domain, Deadline deadline) {
  auto r = DomainsCall(JsonRequest("GET", base_url_ + DomainPath(project_id, domain), token), {200},
                       deadline);
  return Decode<contract::Domain>(r, contract::ParseDomain);
}

Result<contract::Domain> PlatformClient::VerifyDomain(const std::string& token,
                                                      const std::string& project_id,
                                                      const std::string& domain,
                                                      Deadline deadline) {
  auto r = DomainsCall(
      JsonRequest("POST", base_url_ + DomainPath(project_id, domain) + "/verify", token), {200},
      deadline);
  return Decode<contract::Domain>(r, contract::ParseDomain);
}

bim::Status PlatformClient::RemoveDomain(const std::string& token, const std::string& project_id,
                                         const std::string& domain, Deadline deadline) {
  auto r = DomainsCall(JsonRequest("DELETE", base_url_ + DomainPath(project_id, domain), token),
                       {200, 204}, deadline);
  if (!r.ok()) return r.error();
  return OkStatus();
}

std::string PlatformClient::WebSocketBase() const {
  if (base_url_.rfind("https://", 0) == 0) return "wss://" + base_url_.substr(8);
  if (base_url_.rfind("http://", 0) == 0) return "ws://" + base_url_.substr(7);
  return base_url_;
}

std::string PlatformClient::WebSocketUrl(const std::string& deployment_id, int64_t since) const {
  std::string url = WebSocketBase() + "/ws?deploymentId=" + contract::PercentEncode(deployment_id);
  if (since > 0) url += "&since=" + std::to_string(since);
  return url;
}

namespace {

// How the platform says that it does not offer runtime logs; what stands for them instead.
Error NoAppLogs(const std::string& what, const std::string& base_url) {
  return Error(ErrorCode::kRejected,
               fmt::format("this platform does not offer app logs ({} is 404: runtime logs are an "
                           "extension of the Backend.im API that {} does not implement); "
                           "`backend-im status ID` shows the deployment's own logs",
                           what, base_url));
}

}  // namespace

Result<contract::LogPage> PlatformClient::Logs(const std::string& token,
                                               const std::string& deployment_id,
                                               const LogQuery& query, Deadline deadline) {
  std::vector<std::pair<std::string, std::string>> params;
  if (query.after) {
    params.emplace_back("after", std::to_string(*query.after));
    if (query.limit) params.emplace_back("limit", std::to_string(*query.limit));
  } else if (query.tail) {
    params.emplace_back("tail", std::to_string(*query.tail));
  }
  if (query.since) params.emplace_back("since", std::to_string(*query.since));
  if (query.level) params.emplace_back("level", std::string(contract::LogLevelName(*query.level)));
  std::string path = "/api/deployments/" + contract::PercentEncode(deployment_id) + "/logs";
  std::string url = base_url_ + path;
  if (!params.empty()) url += "?" + contract::FormEncode(params);
  auto r = Execute(JsonRequest("GET", url, token), deadline);
  if (!r.ok()) return r.error();
  if (r->status == 404) {
    auto body = contract::ParseErrorBody(r->body);
    if (!body.ok() || !contract::IsLogsNotFoundCode(body->error)) {
      return NoAppLogs("GET " + path, base_url_);
    }
  }
  if (r->status != 200) return ErrorFromResponse(*r, "GET " + path);
  return contract::ParseLogPage(r->body);
}

Result<std::unique_ptr<LogStream>> PlatformClient::OpenLogStream(
    const std::string& token, const std::string& deployment_id, int64_t after,
    std::chrono::milliseconds keepalive) {
  std::string url = WebSocketBase() +
                    "/ws/logs?deploymentId=" + contract::PercentEncode(deployment_id) +
                    "&after=" + std::to_string(std::max<int64_t>(after, 0));
  auto conn = ConnectWebSocket(token, url, keepalive);
  if (!conn.ok()) {
    // The upgrade's answer: the connector keeps the start of its body in the message.
    if (conn.error().code == ErrorCode::kNotFound &&
        conn.error().message.find("deployment_not_found") == std::string::npos) {
      return NoAppLogs("GET /ws/logs", base_url_);
    }
    return conn.error();
  }
  return std::unique_ptr<LogStream>(std::make_unique<WsLogStream>(std::move(*conn)));
}

}  // namespace bim::daemon
