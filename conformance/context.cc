#include "conformance/context.h"

#include <algorithm>
#include <charconv>

#include "conformance/deployment_observer.h"
#include "conformance/sample_project.h"

namespace bim::conformance {
namespace {

// The HTTP status of a refused WebSocket upgrade, from the connector's error
// ("... handshake answered HTTP 404: ...").
long RefusedStatus(const Error& e) {
  static constexpr std::string_view kMarker = "answered HTTP ";
  auto pos = e.message.find(kMarker);
  if (pos != std::string::npos) {
    long status = 0;
    const char* begin = e.message.data() + pos + kMarker.size();
    std::from_chars(begin, e.message.data() + e.message.size(), status);
    if (status > 0) return status;
  }
  if (e.code == ErrorCode::kUnauthenticated) return 401;
  if (e.code == ErrorCode::kNotFound) return 404;
  return 0;
}

}  // namespace

nlohmann::json Exchange::Json() const {
  return nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
}

std::string Exchange::Line() const {
  std::string line = method + " " + path;
  if (!variant.empty()) line += " [" + variant + "]";
  return line;
}

Evidence Exchange::ToEvidence(std::string note) const {
  Evidence e;
  e.request = Line();
  e.status = answer.status;
  e.body = answer.status == 0 ? "no answer: " + answer.error : EvidenceBody(answer.body);
  std::string retry_after = answer.Header("retry-after");
  if (!retry_after.empty()) {
    note += (note.empty() ? "" : "; ") + std::string("Retry-After: ") + retry_after;
  }
  if (attempts > 1) {
    note +=
        (note.empty() ? "" : "; ") + std::string("after ") + std::to_string(attempts) + " attempts";
  }
  e.note = std::move(note);
  return e;
}

Context::Context(SuiteOptions options, HttpTransport& http, ws::Connector& connector,
                 const Clock& clock, Sleeper& sleeper, Random& random)
    : options_(std::move(options)),
      http_(http, sleeper, options_.max_attempts, options_.max_retry_wait),
      connector_(connector),
      clock_(clock),
      sleeper_(sleeper),
      random_(random) {}

std::string Context::NewId() { return NewUuid(random_); }

Headers Context::AuthHeaders(Auth auth) {
  if (auth == Auth::kToken && has_token()) return {{"Authorization", "Bearer " + options_.token}};
  if (auth == Auth::kInvalid) {
    return {{"Authorization", "Bearer conformance-invalid-token-" + NewId()}};
  }
  return {};
}

Exchange Context::Send(std::string method, const std::string& path, std::string body,
                       std::string content_type, Headers headers, std::string variant) {
  HttpCall call;
  call.method = method;
  call.url = options_.api_url + path;
  call.body = std::move(body);
  call.timeout = options_.request_timeout;
  call.headers.emplace_back("Accept", "application/json");
  if (!content_type.empty()) call.headers.emplace_back("Content-Type", content_type);
  for (auto& h : headers) call.headers.push_back(std::move(h));

  Exchange ex;
  ex.method = std::move(method);
  ex.path = path;
  ex.variant = std::move(variant);
  auto answers = http_.SendAll(call);
  for (size_t i = 0; i < answers.size(); ++i) {
    ex.answer = std::move(answers[i]);
    ex.attempts = static_cast<int>(i) + 1;
    history_.push_back(ex);
  }
  return ex;
}

Exchange Context::Get(const std::string& path, Auth auth, std::string variant) {
  return Send("GET", path, "", "", AuthHeaders(auth), std::move(variant));
}

Exchange Context::GetWithBearer(const std::string& path, const std::string& token,
                                std::string variant) {
  return Send("GET", path, "", "", {{"Authorization", "Bearer " + token}}, std::move(variant));
}

Exchange Context::PostJson(const std::string& path, std::string body, Auth auth, Headers extra,
                           std::string variant) {
  Headers headers = AuthHeaders(auth);
  for (auto& h : extra) headers.push_back(std::move(h));
  return Send("POST", path, std::move(body), "application/json", std::move(headers),
              std::move(variant));
}

Exchange Context::PostForm(const std::string& path, std::string body, std::string variant) {
  return Send("POST", path, std::move(body), "application/x-www-form-urlencoded", {},
              std::move(variant));
}

Exchange Context::PutJson(const std::string& path, std::string body, std::string variant) {
  return Send("PUT", path, std::move(body), "application/json", AuthHeaders(Auth::kToken),
              std::move(variant));
}

Exchange Context::Delete(const std::string& path, std::string variant) {
  return Send("DELETE", path, "", "", AuthHeaders(Auth::kToken), std::move(variant));
}

std::string Context::WsPath(const std::string& deployment_id, std::optional<int64_t> since) const {
  std::string path = "/ws?deploymentId=" + contract::PercentEncode(deployment_id);
  if (since) path += "&since=" + std::to_string(*since);
  return path;
}

std::string Context::WsUrl(const std::string& deployment_id, std::optional<int64_t> since) const {
  return WsUrlOf(WsPath(deployment_id, since));
}
std::string Context::WsUrlOf(const std::string& path) const {
  // http://x -> ws://x, https://x -> wss://x; main accepts only those two schemes.
  return "ws" + options_.api_url.substr(4) + path;
}

WsAttempt Context::OpenWs(const std::string& url, Auth auth) {
  ws::ConnectOptions o;
  o.connect_timeout = std::chrono::milliseconds(10000);
  o.headers = AuthHeaders(auth);
  WsAttempt attempt;
  auto c = connector_.Connect(url, o);
  if (c.ok()) {
    attempt.connection = std::move(c).value();
  } else {
    attempt.error = c.error().message;
    attempt.refused_status = RefusedStatus(c.error());
  }
  return attempt;
}

bool Context::MayCreateDeployment() const {
  return static_cast<int>(created_.size()) < options_.max_deployments;
}

void Context::NoteDeployment(const std::string& id) {
  if (std::find(created_.begin(), created_.end(), id) == created_.end()) created_.push_back(id);
}

const CreatedDeployment* Context::Deployment() {
  if (deployment_tried_) return deployment_ ? &*deployment_ : nullptr;
  deployment_tried_ = true;
  if (options_.read_only) {
    why_ = "--read-only: the run creates no deployment";
    return nullptr;
  }
  if (!has_token()) {
    why_ = "no token: pass --token or --device-login";
    return nullptr;
  }
  if (!MayCreateDeployment()) {
    why_ = "the run already created " + std::to_string(created_.size()) + " deployments";
    return nullptr;
  }
  CreatedDeployment d;
  d.files = SampleProject(options_.label);
  d.request_body = contract::ToJson(contract::DeployRequest{d.files, options_.label, ""});
  d.idempotency_key = NewId();
  Progress("deploying the sample project as " + options_.label);
  d.exchange = PostJson("/api/deploy", d.request_body, Auth::kToken,
                        {{"Idempotency-Key", d.idempotency_key}});
  d.answer = d.exchange.Json();
  if (d.exchange.answer.status == 200 && d.answer.is_object()) {
    auto id = d.answer.find("deploymentId");
    if (id != d.answer.end() && id->is_string()) d.id = id->get<std::string>();
  }
  if (!d.id.empty()) {
    NoteDeployment(d.id);
  } else {
    why_ = "POST /api/deploy answered " + std::to_string(d.exchange.answer.status) +
           " without a deploymentId";
  }
  deployment_ = std::move(d);
  return &*deployment_;
}

const Observation* Context::Watch() {
  if (observation_) return &*observation_;
  const CreatedDeployment* d = Deployment();
  if (!d || d->id.empty()) return nullptr;
  Progress("watching deployment " + d->id + " over the WebSocket and by polling");
  observation_ = DeploymentObserver(*this).Watch(d->id);
  return &*observation_;
}

const Exchange& Context::GenerateAnswer() {
  if (!generate_) {
    generate_ = PostJson("/api/generate",
                         contract::ToJson(contract::GenerateRequest{SamplePrompt(options_.label)}));
  }
  return *generate_;
}

const Exchange& Context::DeviceCodeAnswer() {
  if (!device_code_) {
    device_code_ =
        PostForm("/oauth/device/code",
                 contract::FormEncode({{"client_id", options_.client_id}, {"scope", "deploy"}}));
  }
  return *device_code_;
}

const Exchange* Context::IdempotentReplay() {
  if (replay_tried_) return replay_ ? &*replay_ : nullptr;
  replay_tried_ = true;
  const CreatedDeployment* d = Deployment();
  if (!d || d->id.empty()) {
    if (d) why_ = "the sample deploy made no deployment to replay";
    return nullptr;
  }
  // On a platform without the extension the replay makes a second deployment.
  if (!MayCreateDeployment()) {
    why_ = "the run already created " + std::to_string(created_.size()) + " deployments";
    return nullptr;
  }
  replay_ = PostJson("/api/deploy", d->request_body, Auth::kToken,
                     {{"Idempotency-Key", d->idempotency_key}}, "same Idempotency-Key and body");
  auto j = replay_->Json();
  if (replay_->answer.status == 200 && j.is_object() && j.contains("deploymentId") &&
      j["deploymentId"].is_string()) {
    NoteDeployment(j["deploymentId"].get<std::string>());
  }
  return &*replay_;
}

std::string Context::EnvironmentsPath(const std::string& name) const {
  std::string path = "/api/projects/" + contract::PercentEncode(options_.label) + "/environments";
  if (!name.empty()) path += "/" + contract::PercentEncode(name);
  return path;
}

const Exchange& Context::EnvironmentsAnswer() {
  if (!environments_) environments_ = Get(EnvironmentsPath());
  return *environments_;
}

const Exchange& Context::LogsProbeAnswer() {
  if (!logs_probe_) {
    logs_probe_ = Get("/api/deployments/" + contract::PercentEncode(NewId()) + "/logs",
                      Auth::kToken, "unknown deployment");
  }
  return *logs_probe_;
}

const MadeEnvironment* Context::Environment() {
  if (environment_tried_) return environment_ ? &*environment_ : nullptr;
  environment_tried_ = true;
  if (options_.read_only) {
    why_ = "--read-only: the run makes no environment";
    return nullptr;
  }
  if (!has_token()) {
    why_ = "no token: pass --token or --device-login";
    return nullptr;
  }
  MadeEnvironment e;
  e.name = "conformance-" + NewId().substr(0, 8);
  Progress("making environment " + e.name + " in project " + options_.label);
  e.exchange = PostJson(EnvironmentsPath(), nlohmann::json{{"name", e.name}}.dump());
  e.made = e.exchange.answer.status >= 200 && e.exchange.answer.status < 300;
  environment_ = std::move(e);
  return &*environment_;
}

void Context::NoteEnvironmentRemoved() {
  if (environment_) environment_->removed = true;
}

std::string Context::DomainsPath(const std::string& name) const {
  std::string path = "/api/projects/" + contract::PercentEncode(options_.label) + "/domains";
  if (!name.empty()) path += "/" + contract::PercentEncode(name);
  return path;
}

const Exchange& Context::DomainsAnswer() {
  if (!domains_) domains_ = Get(DomainsPath());
  return *domains_;
}

const MadeDomain* Context::Domain() {
  if (domain_tried_) return domain_ ? &*domain_ : nullptr;
  domain_tried_ = true;
  if (options_.read_only) {
    why_ = "--read-only: the run adds no domain";
    return nullptr;
  }
  if (!has_token()) {
    why_ = "no token: pass --token or --device-login";
    return nullptr;
  }
  MadeDomain d;
  // Under example.com (RFC 2606), whose names have no records, so it stays pending.
  d.name = NewId().substr(0, 8) + "." + options_.label + ".example.com";
  Progress("adding domain " + d.name + " to project " + options_.label);
  d.exchange = PostJson(DomainsPath(), contract::ToJson(contract::AddDomainRequest{d.name, ""}));
  d.made = d.exchange.answer.status >= 200 && d.exchange.answer.status < 300;
  domain_ = std::move(d);
  return &*domain_;
}

void Context::NoteDomainRemoved() {
  if (domain_) domain_->removed = true;
}

void Context::CleanUp() {
  if (domain_ && domain_->made && !domain_->removed) {
    Progress("removing domain " + domain_->name);
    Exchange ex = Delete(DomainsPath(domain_->name), "cleaning up");
    if (ex.answer.status >= 200 && ex.answer.status < 300) {
      domain_->removed = true;
    } else {
      Progress("could not remove domain " + domain_->name + " of project " + options_.label +
               ": DELETE answered " + std::to_string(ex.answer.status));
    }
  }
  if (!environment_ || !environment_->made || environment_->removed) return;
  Progress("removing environment " + environment_->name);
  Exchange ex = Delete(EnvironmentsPath(environment_->name), "cleaning up");
  if (ex.answer.status >= 200 && ex.answer.status < 300) {
    environment_->removed = true;
  } else {
    Progress("could not remove environment " + environment_->name + " of project " +
             options_.label + ": DELETE answered " + std::to_string(ex.answer.status));
  }
}

}  // namespace bim::conformance
