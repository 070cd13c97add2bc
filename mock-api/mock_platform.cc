#include "mock-api/mock_platform.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>

#include "common/commit_hash.h"
#include "common/contract.h"
#include "common/log.h"
#include "mock-api/fastapi_generator.h"
#include "mock-api/responses.h"

namespace bim::mock {
namespace {

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A file path the platform would accept into a repository: relative, no "..", no oddities.
std::optional<std::string> BadPath(const std::string& path) {
  if (path.empty()) return "an empty file path";
  if (path.size() > 1024) return "a file path longer than 1024 bytes";
  if (path.front() == '/') return "an absolute file path \"" + path.substr(0, 100) + "\"";
  if (path.find('\\') != std::string::npos || path.find('\0') != std::string::npos) {
    return "a file path with a backslash or NUL \"" + path.substr(0, 100) + "\"";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg(path.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return "a file path with an empty, \".\" or \"..\" segment \"" + path.substr(0, 100) + "\"";
    }
    start = end + 1;
  }
  return std::nullopt;
}

// The deployment id of /api/deployments/{id}/SUFFIX, decoded; nullopt for any other path.
std::optional<std::string> DeploymentPath(const std::string& path, std::string_view suffix) {
  static constexpr std::string_view kPrefix = "/api/deployments/";
  if (!StartsWith(path, kPrefix) || path.size() <= kPrefix.size() + suffix.size() ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  std::string id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - suffix.size());
  if (id.find('/') != std::string::npos) return std::nullopt;
  return contract::PercentDecode(id);
}

std::string Trimmed(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

constexpr std::string_view kLogsStreamPath = "/ws/logs";

// The 404 of the extensions' paths for a deployment that does not exist.
ws::HttpResponse UnknownDeployment(const std::string& id) {
  return ErrorResponse(404, "deployment_not_found",
                       "no deployment with id \"" + id.substr(0, 100) + "\"");
}

bool NonNegativeInteger(const std::string& s) {
  int64_t v = -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && ptr == s.data() + s.size() && v >= 0;
}

ws::HttpResponse Unauthorized() {
  auto r = ErrorResponse(401, "unauthorized",
                         "missing, unknown or expired bearer token: send "
                         "\"Authorization: Bearer <token>\" with a token from `backend-im auth "
                         "login`");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// --seed-only: an /api/* error in words of the platform's own. The codes of the error body are
// one of our extensions (docs/API_CONTRACTS.md section 2); the seed promises only the status, so
// a seed-only platform names its errors as it likes. This one takes the HTTP reason phrase
// (400 is "bad_request", not the extension's "invalid_request"), so the agent and the
// conformance suite meet a platform that has an error body but not our vocabulary.
ws::HttpResponse InSeedWords(ws::HttpResponse r) {
  static const std::map<int, const char*> kReasonCodes = {
      {400, "bad_request"}, {429, "too_many_requests"}, {503, "service_unavailable"}};
  auto code = kReasonCodes.find(r.status);
  if (code == kReasonCodes.end()) return r;  // 401, 404, 405: the reason phrase is our code
  auto body = contract::ParseErrorBody(r.body);
  if (!body.ok()) return r;
  r.body = contract::ToJson(contract::ErrorBody{code->second, body->message});
  return r;
}

// The resolver of --dns-server, which ParseMockOptions checked.
std::unique_ptr<dns::Resolver> MakeDnsResolver(const MockOptions& options) {
  auto r = dns::MakeResolver(options.dns_server);
  if (!r.ok()) throw std::invalid_argument("--dns-server: " + r.error().message);
  return std::move(r.value());
}

}  // namespace

MockPlatform::MockPlatform(ws::HttpWsServer& server, const MockOptions& options, const Clock& clock,
                           Random& ids, Random& faults, ShiftableClock* test_clock)
    : server_(server),
      options_(options),
      clock_(clock),
      test_clock_(test_clock),
      faults_(faults),
      breaks_(options),
      auth_(options, clock, ids),
      runner_(server, options, ids, environments_, clock),
      domains_(server, options, clock, ids, environments_, MakeDnsResolver(options)),
      idempotency_(clock) {
  server_.SetServerName("backend-im-mock");
  server_.SetHttpHandler(
      [this](const ws::HttpRequest& req, std::shared_ptr<ws::HttpResponder> responder) {
        OnHttp(req, std::move(responder));
      });
  ws::WsHandlers h;
  h.validate = [this](const ws::HttpRequest& req) { return ValidateUpgrade(req); };
  h.on_open = [this](const std::shared_ptr<ws::WsSession>& s) {
    const auto& q = s->request().query;
    if (s->request().path == kLogsStreamPath) {
      std::optional<int64_t> after;
      if (auto it = q.find("after"); it != q.end()) after = std::stoll(it->second);  // validated
      runner_.logs().Follow(s, q.at("deploymentId"), after);
      return;
    }
    std::optional<int64_t> since;
    if (auto it = q.find("since"); it != q.end() && !options_.seed_only) {
      since = std::stoll(it->second);  // validated in ValidateUpgrade
    }
    runner_.Watch(s, q.at("deploymentId"), since);
  };
  h.on_close = [this](const std::shared_ptr<ws::WsSession>& s, int) {
    runner_.Unwatch(s->id());
    runner_.logs().Unfollow(s->id());
  };
  server_.SetWsHandlers(std::move(h));
  if (options_.outage_start_ms >= 0) {
    server_.RunAfter(std::chrono::milliseconds(options_.outage_start_ms), [this] {
      log::Info("outage begins: answering 503 for {} ms", options_.outage_duration_ms);
      runner_.DropAll();
    });
  }
}

bool MockPlatform::InOutage() const {
  if (options_.outage_start_ms < 0) return false;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started_)
                .count();
  return ms >= options_.outage_start_ms &&
         ms < options_.outage_start_ms + options_.outage_duration_ms;
}

void MockPlatform::SetListenAddress(const std::string& host, int port) {
  listen_address_ =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void MockPlatform::LogRequest(const std::string& method, const std::string& path,
                              const std::string& outcome,
                              std::chrono::steady_clock::time_point start) const {
  if (!options_.log_requests) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Steady() - start);
  // The path only: queries can carry codes, and headers carry tokens.
  log::Info("{} {} {} {}ms", method.substr(0, 16), path.substr(0, 200), outcome, ms.count());
}

void MockPlatform::OnHttp(const ws::HttpRequest& req,
                          std::shared_ptr<ws::HttpResponder> responder) {
  auto start = clock_.Steady();
  Reply reply = Handle(req);
  if (reply.later) {
    reply.later(
        [this, responder, start, method = req.method, path = req.path](ws::HttpResponse response) {
          int status = response.status;
          responder->Respond(std::move(response));
          LogRequest(method, path, std::to_string(status), start);
        });
    return;
  }
  if (options_.seed_only && StartsWith(req.path, "/api/")) {
    reply.response = InSeedWords(std::move(reply.response));
  }
  auto finish = [this, responder, start, method = req.method, path = req.path,
                 reply = std::move(reply)]() mutable {
    if (reply.drop) {
      responder->Abort();
      LogRequest(method, path, "(response dropped)", start);
    } else {
      int status = reply.response.status;
      responder->Respond(std::move(reply.response));
      LogRequest(method, path, std::to_string(status), start);
    }
  };
  if (options_.delay_ms > 0 && Delayed(req.path)) {
    server_.RunAfter(std::chrono::milliseconds(options_.delay_ms), std::move(finish));
  } else {
    finish();
  }
}

namespace {

// Whether path starts with one of prefixes; an empty list takes every path.
bool AnyPrefix(const std::vector<std::string>& prefixes, const std::string& path) {
  return prefixes.empty() ||
         std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return StartsWith(path, prefix); });
}

}  // namespace

bool MockPlatform::Delayed(const std::string& path) const {
  return AnyPrefix(options_.delay_paths, path);
}

bool MockPlatform::InjectFault(const std::string& path) {
  if (!AnyPrefix(options_.fault_paths, path)) return false;
  ++faultable_requests_;
  if (faultable_requests_ <= options_.fault_first) return true;
  return options_.fault_rate > 0 && faults_.Uniform() < options_.fault_rate;
}

ws::HttpResponse MockPlatform::FaultResponse() const {
  bool limited = options_.fault_status == 429;
  auto r = ErrorResponse(
      options_.fault_status, limited ? "rate_limited" : "unavailable",
      fmt::format("{} (injected by backend-im-mock); retry after {} s",
                  limited ? "too many requests" : "the platform is temporarily unavailable",
                  options_.retry_after_s));
  r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
  return r;
}

std::string MockPlatform::BaseUrl(const ws::HttpRequest& req, const char* scheme) const {
  std::string host = req.Header("host");
  bool ok = !host.empty() && host.size() < 256;
  for (unsigned char c : host) {
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) ok = false;
  }
  return std::string(scheme) + "://" + (ok ? host : listen_address_);
}

MockPlatform::Reply MockPlatform::Handle(const ws::HttpRequest& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  const bool api = StartsWith(p, "/api/");
  const bool oauth = StartsWith(p, "/oauth/") || p == "/device";

  if (p == "/healthz") {
    if (m != "GET") return {MethodNotAllowed("GET")};
    return {JsonResponse(200, R"({"ok":true})")};
  }
  if (p == "/mock/deployments") {
    if (m != "GET") return {MethodNotAllowed("GET")};
    return {JsonResponse(200, runner_.SummaryJson())};
  }
  if (p == "/mock/apps") {
    if (m != "GET") return {MethodNotAllowed("GET")};
    return {JsonResponse(200, runner_.AppsJson())};
  }
  if (p == "/mock/clock/advance" && test_clock_) {
    if (m != "POST") return {MethodNotAllowed("POST")};
    auto ms = req.query.find("ms");
    char* end = nullptr;
    long long n = ms == req.query.end() ? -1 : std::strtoll(ms->second.c_str(), &end, 10);
    if (ms == req.query.end() || end == ms->second.c_str() || *end != '\0' || n < 0) {
      return {ErrorResponse(400, "bad_request", "say how far: ?ms=N, N >= 0")};
    }
    test_clock_->Advance(std::chrono::milliseconds(n));
    return {JsonResponse(200, R"({"ok":true})")};
  }
  if (p == kLogsStreamPath && !options_.seed_only) {
    return {ErrorResponse(426, "upgrade_required",
                          "/ws/logs is a WebSocket endpoint: connect with a WebSocket client, e.g. "
                          "backend-im-mock --ws-cat 'ws://HOST:PORT/ws/logs?deploymentId=ID'")};
  }
  if (p == "/ws") {
    return {ErrorResponse(426, "upgrade_required",
                          "/ws is a WebSocket endpoint: connect with a WebSocket client, e.g. "
                          "backend-im-mock --ws-cat 'ws://HOST:PORT/ws?deploymentId=ID'")};
  }
  if (oauth && options_.seed_only) {
    return {ErrorResponse(404, "not_found", "no such endpoint (--seed-only: no device flow)")};
  }
  if ((api || StartsWith(p, "/oauth/")) && (InOutage() || InjectFault(p))) return {FaultResponse()};

  if (api) {
    if (p == "/api/auth/callback") {
      if (m != "GET") return {MethodNotAllowed("GET")};
      return {auth_.Callback(req)};
    }
    if (!auth_.IsAuthorized(req.Header("authorization"))) return {Unauthorized()};
    if (p == "/api/generate") {
      if (m != "POST") return {MethodNotAllowed("POST")};
      return Generate(req);
    }
    if (p == "/api/deploy") {
      if (m != "POST") return {MethodNotAllowed("POST")};
      return Deploy(req);
    }
    if (StartsWith(p, "/api/status/") && p.size() > std::string("/api/status/").size()) {
      if (m != "GET") return {MethodNotAllowed("GET")};
      return StatusOf(contract::PercentDecode(p.substr(std::string("/api/status/").size())));
    }
    if (p == "/api/auth/verify") {
      if (m != "GET") return {MethodNotAllowed("GET")};
      return {auth_.Verify()};
    }
    // Extensions: a platform with only the seed's contract answers 404 here.
    if (!options_.seed_only) {
      if (auto source = DeploymentPath(p, "/promote")) {
        if (m != "POST") return {MethodNotAllowed("POST")};
        return Promote(req, *source);
      }
      if (auto id = DeploymentPath(p, "/logs")) {
        if (m != "GET") return {MethodNotAllowed("GET")};
        return Logs(req, *id);
      }
      if (auto r = environments_.Handle(req)) return {std::move(*r)};
      if (auto r = domains_.Handle(req))
        return {std::move(r->response), false, std::move(r->later)};
    }
  } else if (oauth) {
    if (p == "/oauth/device/code") {
      if (m != "POST") return {MethodNotAllowed("POST")};
      return {auth_.DeviceCode(req, BaseUrl(req, "http"))};
    }
    if (p == "/oauth/token") {
      if (m != "POST") return {MethodNotAllowed("POST")};
      return {auth_.Token(req)};
    }
    if (p == "/oauth/device/approve" || p == "/oauth/device/deny") {
      if (m != "POST") return {MethodNotAllowed("POST")};
      return {auth_.Decide(req, p == "/oauth/device/approve")};
    }
    if (p == "/device") {
      if (m != "GET") return {MethodNotAllowed("GET")};
      return {auth_.DevicePage(req)};
    }
  }
  return {ErrorResponse(404, "not_found", "no such endpoint: " + p.substr(0, 200))};
}

MockPlatform::Reply MockPlatform::Generate(const ws::HttpRequest& req) {
  auto parsed = contract::ParseGenerateRequest(req.body);
  if (!parsed.ok()) {
    return {ErrorResponse(400, "invalid_request",
                          "the body must be JSON of the form {\"prompt\": \"...\"}")};
  }
  std::string prompt = Trimmed(parsed->prompt);
  if (prompt.empty()) {
    return {ErrorResponse(400, "invalid_request",
                          "the prompt is empty: describe the API to generate, e.g. \"a REST API "
                          "for users and orders\"")};
  }
  contract::GenerateResponse g;
  g.files = FastApiGenerator::Generate(prompt);
  if (!options_.seed_only) g.project_id = FastApiGenerator::ProjectId(prompt);
  return {JsonResponse(200, contract::ToJson(g))};
}

MockPlatform::Reply MockPlatform::Deploy(const ws::HttpRequest& req) {
  auto parsed = contract::ParseDeployRequest(req.body);
  if (!parsed.ok()) {
    return {ErrorResponse(400, "invalid_request",
                          "the body must be JSON of the form {\"files\": {\"path\": \"content\", "
                          "...}, \"projectId\": \"...\"}")};
  }
  if (parsed->files.empty()) {
    return {ErrorResponse(400, "invalid_request", "files is empty: upload at least main.py")};
  }
  for (const auto& [path, content] : parsed->files) {
    if (auto bad = BadPath(path)) {
      return {ErrorResponse(400, "invalid_request", "the upload has " + *bad)};
    }
  }
  if (options_.seed_only) parsed->environment.clear();  // not in the seed's contract
  if (!parsed->environment.empty() &&
      !environments_.Exists(parsed->project_id, parsed->environment)) {
    return {ErrorResponse(404, "environment_not_found",
                          "no environment \"" + parsed->environment.substr(0, 64) +
                              "\" in this project: GET /api/projects/{projectId}/environments "
                              "lists them")};
  }
  Reply reply = Idempotent(req, Sha256Hex(contract::ToJson(*parsed)), [&] {
    return breaks_.Wire(contract::ToJson(runner_.Create(*parsed, BaseUrl(req, "ws"))));
  });
  if (reply.response.status == 200 && deploy_responses_++ < options_.drop_deploy_response_first) {
    reply.drop = true;
  }
  return reply;
}

MockPlatform::Reply MockPlatform::Promote(const ws::HttpRequest& req, const std::string& source) {
  auto parsed = contract::ParsePromoteRequest(req.body);
  if (!parsed.ok()) {
    return {ErrorResponse(400, "invalid_request",
                          "the body must be JSON of the form {\"environment\": \"NAME\"}")};
  }
  if (auto valid = contract::ValidateEnvironmentName(parsed->environment); !valid.ok()) {
    return {ErrorResponse(400, "invalid_request", valid.error().message)};
  }
  auto from = runner_.Status(source);
  if (!from) return {UnknownDeployment(source)};
  if (!environments_.Exists(from->project_id, parsed->environment)) {
    return {ErrorResponse(404, "environment_not_found",
                          "no environment \"" + parsed->environment + "\" in project " +
                              from->project_id.substr(0, 64) +
                              ": GET /api/projects/{projectId}/environments lists them")};
  }
  if (from->status != contract::Stage::kComplete) {
    return {ErrorResponse(409, "deployment_not_complete",
                          fmt::format("deployment {} is {}: only a complete deployment can be "
                                      "promoted",
                                      source.substr(0, 100), contract::StageName(from->status)))};
  }
  // The source is part of the request: the same body for another source is another request.
  std::string fingerprint = Sha256Hex("promote " + source + " " + contract::ToJson(*parsed));
  return Idempotent(req, fingerprint, [&] {
    return breaks_.Wire(
        contract::ToJson(runner_.Promote(source, parsed->environment, BaseUrl(req, "ws"))));
  });
}

MockPlatform::Reply MockPlatform::Idempotent(const ws::HttpRequest& req,
                                             const std::string& fingerprint,
                                             const std::function<std::string()>& create) {
  std::string key = options_.seed_only ? std::string() : req.Header("idempotency-key");
  if (key.size() > 255) {
    return {ErrorResponse(400, "invalid_request", "Idempotency-Key is longer than 255 bytes")};
  }
  std::string body;
  if (!key.empty()) {
    switch (idempotency_.Lookup(key, fingerprint, body)) {
      case IdempotencyCache::Outcome::kConflict:
        return {ErrorResponse(422, "idempotency_key_reused",
                              "this Idempotency-Key was already used for a different request; "
                              "use a new key for a new deployment")};
      case IdempotencyCache::Outcome::kReplay:
        break;
      case IdempotencyCache::Outcome::kMiss:
        body.clear();
        break;
    }
  }
  if (body.empty()) {
    body = create();
    if (!key.empty()) idempotency_.Store(key, fingerprint, body);
  }
  return {JsonResponse(200, body)};
}

MockPlatform::Reply MockPlatform::Logs(const ws::HttpRequest& req, const std::string& id) {
  if (!runner_.Exists(id)) return {UnknownDeployment(id)};
  auto query = ParseLogQuery(req.query);
  if (!query.ok()) return {ErrorResponse(400, "invalid_request", query.error().message)};
  return {JsonResponse(200, contract::ToJson(runner_.logs().Page(id, *query)))};
}

MockPlatform::Reply MockPlatform::StatusOf(const std::string& id) {
  auto s = runner_.Status(id);
  if (!s) {
    return {ErrorResponse(404, "not_found", "no deployment with id \"" + id.substr(0, 100) + "\"")};
  }
  return {JsonResponse(200, breaks_.Wire(contract::ToJson(*s)))};
}

std::optional<ws::HttpResponse> MockPlatform::ValidateUpgrade(const ws::HttpRequest& req) {
  auto start = clock_.Steady();
  // A WebSocket's log line names its deployment (ids are not secrets), so a log shows how
  // many streams each deployment had.
  std::string target = req.path;
  if (auto id = req.query.find("deploymentId"); id != req.query.end()) {
    target += "?deploymentId=" + contract::PercentEncode(id->second.substr(0, 100));
  }
  for (const char* name : {"since", "after"}) {
    if (auto v = req.query.find(name); v != req.query.end()) {
      target += (target.find('?') == std::string::npos ? "?" : "&") + std::string(name) + "=" +
                contract::PercentEncode(v->second.substr(0, 20));
    }
  }
  auto reject = [&](ws::HttpResponse r) {
    LogRequest(req.method, target, std::to_string(r.status), start);
    return std::optional<ws::HttpResponse>(std::move(r));
  };
  const bool logs = req.path == kLogsStreamPath && !options_.seed_only;
  if (req.path != "/ws" && !logs)
    return reject(ErrorResponse(404, "not_found", "no WebSocket endpoint here; use /ws"));
  if (InOutage()) return reject(FaultResponse());
  if (!auth_.IsAuthorized(req.Header("authorization"))) return reject(Unauthorized());
  auto id = req.query.find("deploymentId");
  if (id == req.query.end() || id->second.empty()) {
    return reject(ErrorResponse(400, "invalid_request", "missing ?deploymentId="));
  }
  if (logs) {
    if (auto after = req.query.find("after"); after != req.query.end()) {
      if (!NonNegativeInteger(after->second)) {
        return reject(ErrorResponse(400, "invalid_request",
                                    "after must be a non-negative integer (a log line's seq)"));
      }
    }
    if (!runner_.Exists(id->second)) return reject(UnknownDeployment(id->second));
    LogRequest(req.method, target, "101", start);
    return std::nullopt;
  }
  if (auto since = req.query.find("since"); since != req.query.end() && !options_.seed_only) {
    if (!NonNegativeInteger(since->second)) {
      return reject(ErrorResponse(400, "invalid_request",
                                  "since must be a non-negative integer (a seq number)"));
    }
  }
  if (!runner_.Exists(id->second)) {
    return reject(ErrorResponse(404, "not_found",
                                "no deployment with id \"" + id->second.substr(0, 100) + "\""));
  }
  LogRequest(req.method, target, "101", start);
  return std::nullopt;
}

}  // namespace bim::mock
