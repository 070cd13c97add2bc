#include "tests/support/fake_platform.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/commit_hash.h"

namespace bim::test {

using contract::Stage;
using std::chrono::milliseconds;

namespace {

Error HttpError(int status, const std::string& what) {
  std::string msg = fmt::format("the platform answered {} to {}", status, what);
  switch (status) {
    case 401:
      return Error(ErrorCode::kUnauthenticated, msg);
    case 404:
      return Error(ErrorCode::kNotFound, msg);
    case 429:
      return Error(ErrorCode::kRateLimited, msg);
    default:
      return Error(ErrorCode::kUnavailable, msg);
  }
}

Error Unreachable(const std::string& what) {
  return Error(ErrorCode::kUnavailable, what + ": Couldn't connect to server");
}

}  // namespace

// A stream reads the platform's state under its mutex; it never waits in real time. What it
// would wait for (the next stage, a fault, a keepalive giving up) moves the clock instead.
class FakePlatform::Stream final : public daemon::EventStream {
 public:
  Stream(FakePlatform& p, std::string id, int64_t cursor, milliseconds keepalive, int drop_after)
      : p_(p),
        id_(std::move(id)),
        cursor_(cursor),
        keepalive_(keepalive),
        drop_after_(drop_after) {}

  daemon::StreamItem Next(milliseconds /*timeout*/) override {
    using Kind = daemon::StreamItem::Kind;
    std::lock_guard lock(p_.mu_);
    if (closed_) return Closed(closed_why_.empty() ? "closed" : closed_why_);
    const Deployment& d = p_.deployments_.at(id_);
    if (drop_after_ > 0 && sent_ >= drop_after_) {
      return Closed("the platform dropped the connection (1006)");
    }
    if (p_.stalled_) {
      // Pings go unanswered: the keepalive gives up after its ping and pong intervals.
      p_.clock_.Advance(2 * keepalive_);
      return Closed("no pong within the keepalive: the connection stalled");
    }
    if (held_) {
      auto m = std::move(held_);
      held_.reset();
      return Deliver(std::move(m));
    }
    size_t total = p_.PathLocked().size();
    if (static_cast<size_t>(cursor_) >= total) return Closed("the deployment has ended");
    // Wait (in simulated time) for the next message, or for two when reordering.
    size_t want = static_cast<size_t>(cursor_);
    if (p_.reorder_ && want + 1 < total) ++want;
    int64_t due = p_.StageTimeLocked(d, want);
    int64_t now = p_.NowMs();
    if (p_.outage_from_ms_ >= 0 && p_.outage_from_ms_ <= std::max(due, now) &&
        now < p_.outage_until_ms_) {
      if (now < p_.outage_from_ms_) p_.clock_.Advance(milliseconds(p_.outage_from_ms_ - now));
      return Closed("connection reset by peer");
    }
    if (due > now) p_.clock_.Advance(milliseconds(due - now));
    if (junk_sent_ < p_.junk_per_message_) {
      ++junk_sent_;
      ++p_.junk_sent_;
      daemon::StreamItem item;
      item.kind = Kind::kSkipped;
      item.detail = "not JSON";
      return item;
    }
    junk_sent_ = 0;
    if (want > static_cast<size_t>(cursor_)) {
      // The newer first; the older is held for the next call.
      held_ = p_.MessageLocked(d, static_cast<size_t>(cursor_));
      auto newer = p_.MessageLocked(d, want);
      cursor_ = static_cast<int64_t>(want) + 1;
      return Deliver(std::move(newer));
    }
    auto m = p_.MessageLocked(d, static_cast<size_t>(cursor_));
    ++cursor_;
    return Deliver(std::move(m));
  }

  void Close() override {
    std::lock_guard lock(p_.mu_);
    closed_ = true;
  }
  void Cut() override { Close(); }

 private:
  daemon::StreamItem Closed(std::string why) {
    closed_ = true;
    if (closed_why_.empty()) closed_why_ = why;
    daemon::StreamItem item;
    item.kind = daemon::StreamItem::Kind::kClosed;
    item.detail = std::move(why);
    return item;
  }

  daemon::StreamItem Deliver(std::optional<contract::StageMessage> m) {
    daemon::StreamItem item;
    item.kind = daemon::StreamItem::Kind::kMessage;
    item.message = std::move(*m);
    ++sent_;
    return item;
  }

  FakePlatform& p_;
  const std::string id_;
  int64_t cursor_;  // index of the next message to send
  const milliseconds keepalive_;
  const int drop_after_;  // 0: never
  int sent_ = 0;
  bool closed_ = false;
  int junk_sent_ = 0;  // before the next message
  std::string closed_why_;
  std::optional<contract::StageMessage> held_;
};

FakePlatform::FakePlatform(FakeClock& clock, Options options)
    : clock_(clock), options_(std::move(options)) {}

FakePlatform::~FakePlatform() = default;

int64_t FakePlatform::NowMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.Steady().time_since_epoch()).count();
}

std::vector<Stage> FakePlatform::PathLocked() const {
  std::vector<Stage> path;
  for (Stage s : contract::SuccessPath()) {
    if (options_.fail_at && s == *options_.fail_at) {
      path.push_back(s);
      path.push_back(Stage::kFailed);
      return path;
    }
    path.push_back(s);
  }
  return path;
}

int64_t FakePlatform::StageTimeLocked(const Deployment& d, size_t index) const {
  return d.created_ms + static_cast<int64_t>(index) * options_.stage_time.count();
}

size_t FakePlatform::ReachedLocked(const Deployment& d, int64_t ms) const {
  size_t total = PathLocked().size();
  if (ms < d.created_ms) return 0;
  auto n =
      static_cast<size_t>((ms - d.created_ms) / std::max<int64_t>(1, options_.stage_time.count())) +
      1;
  return std::min(n, total);
}

contract::StageMessage FakePlatform::MessageLocked(const Deployment& d, size_t index) const {
  Stage s = PathLocked().at(index);
  contract::StageMessage m;
  m.deployment_id = d.id;
  m.project_id = d.project_id;
  m.commit_hash = d.commit_hash;
  m.status = s;
  m.logs = {fmt::format("{}: {}", d.id, contract::StageName(s))};
  if (s == Stage::kComplete) m.url = "https://" + d.commit_hash + ".backend.im";
  if (!options_.seed_only) m.seq = static_cast<int64_t>(index) + 1;
  return m;
}

bool FakePlatform::DownLocked(int64_t ms) const {
  return outage_from_ms_ >= 0 && ms >= outage_from_ms_ && ms < outage_until_ms_;
}

bim::Status FakePlatform::GateLocked(const std::string& token, const std::string& what) {
  if (DownLocked(NowMs())) return Unreachable(what);
  if (fail_next_ > 0) {
    --fail_next_;
    return HttpError(fail_status_, what);
  }
  if (token.empty()) return OkStatus();  // an OAuth endpoint: no bearer token
  auto it = access_.find(token);
  if (it == access_.end() || (it->second.expires_ms != 0 && NowMs() >= it->second.expires_ms)) {
    return HttpError(401, what);
  }
  return OkStatus();
}

contract::TokenResponse FakePlatform::IssueLocked() {
  contract::TokenResponse t;
  t.access_token = fmt::format("fake-access-{}", next_token_);
  t.refresh_token = fmt::format("fake-refresh-{}", next_token_);
  ++next_token_;
  t.token_type = "Bearer";
  t.expires_in = options_.token_ttl.count();
  access_[t.access_token] = Token{NowMs() + options_.token_ttl.count() * 1000};
  refresh_.insert(*t.refresh_token);
  newest_access_ = t.access_token;
  return t;
}

void FakePlatform::ScheduleOutage(milliseconds after, milliseconds length) {
  std::lock_guard lock(mu_);
  outage_from_ms_ = NowMs() + after.count();
  outage_until_ms_ = outage_from_ms_ + length.count();
}

void FakePlatform::FailNext(int n, int http_status) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_status_ = http_status;
}

void FakePlatform::DropStreamsAfter(int messages, int streams) {
  std::lock_guard lock(mu_);
  drop_after_ = messages;
  drop_streams_ = streams == 0 ? -1 : streams;
}

void FakePlatform::RefuseStreams(int n) { Set(refuse_streams_, n); }

void FakePlatform::StallStreams(bool stalled) { Set(stalled_, stalled); }

void FakePlatform::ReorderStreams(bool reorder) { Set(reorder_, reorder); }

void FakePlatform::SendJunkFrames(int per_message) { Set(junk_per_message_, per_message); }

void FakePlatform::RevokeAccessTokens() {
  std::lock_guard lock(mu_);
  access_.clear();
}

void FakePlatform::RefuseRefresh(bool refuse) { Set(refuse_refresh_, refuse); }

void FakePlatform::AddToken(const std::string& token) {
  std::lock_guard lock(mu_);
  access_[token] = Token{0};
}

void FakePlatform::ApproveDeviceLogin() { Set(device_approved_, true); }

int FakePlatform::deploy_calls() const { return Get(deploy_calls_); }
int FakePlatform::deployments() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(deployments_.size());
}
int FakePlatform::status_calls() const { return Get(status_calls_); }
int FakePlatform::stream_opens() const { return Get(stream_opens_); }

int FakePlatform::junk_frames_sent() const { return Get(junk_sent_); }
int FakePlatform::refreshes() const { return Get(refreshes_); }
std::vector<int64_t> FakePlatform::stream_since() const {
  std::lock_guard lock(mu_);
  return stream_since_;
}
std::string FakePlatform::newest_access_token() const {
  std::lock_guard lock(mu_);
  return newest_access_;
}

std::vector<contract::StageMessage> FakePlatform::Reached(const std::string& id) const {
  std::lock_guard lock(mu_);
  std::vector<contract::StageMessage> out;
  const Deployment& d = deployments_.at(id);
  for (size_t i = 0; i < ReachedLocked(d, NowMs()); ++i) out.push_back(MessageLocked(d, i));
  return out;
}

Result<contract::GenerateResponse> FakePlatform::Generate(
    const std::string& token, const std::string& prompt, daemon::Deadline,
    const std::function<bim::Status()>& before_answer) {
  {
    std::lock_guard lock(mu_);
    if (auto s = GateLocked(token, "POST /api/generate"); !s.ok()) return s.error();
  }
  if (before_answer) {
    if (auto s = before_answer(); !s.ok()) return s.error();
  }
  std::lock_guard lock(mu_);
  contract::GenerateResponse r;
  r.files["main.py"] = "# " + prompt + "\nfrom fastapi import FastAPI\napp = FastAPI()\n";
  r.files["requirements.txt"] = "fastapi\n";
  r.project_id = "proj-fake";
  return r;
}

Result<contract::DeployResponse> FakePlatform::Deploy(const std::string& token,
                                                      const contract::DeployRequest& request,
                                                      const std::string& idempotency_key,
                                                      daemon::Deadline) {
  std::lock_guard lock(mu_);
  ++deploy_calls_;
  if (auto s = GateLocked(token, "POST /api/deploy"); !s.ok()) return s.error();
  std::string environment = options_.seed_only ? "" : request.environment;
  if (!environment.empty()) {
    auto envs = EnvironmentsLocked(request.project_id);
    if (!envs.ok()) return envs.error();
    if (!(*envs)->count(environment)) {
      return Error(ErrorCode::kNotFound,
                   "the platform answered 404 to POST /api/deploy: "
                   "environment_not_found");
    }
  }
  std::string id;
  if (auto it = by_key_.find(idempotency_key); it != by_key_.end() && !options_.seed_only) {
    id = it->second;
  } else {
    Deployment d;
    d.environment = environment.empty() && !options_.seed_only ? "production" : environment;
    d.id = fmt::format("dep-{}", next_id_++);
    d.project_id = request.project_id.empty() ? "proj-" + d.id : request.project_id;
    d.commit_hash = CommitHash(request.files);
    d.created_ms = NowMs();
    id = d.id;
    deployments_[id] = d;
    by_key_[idempotency_key] = id;
  }
  return DeployAnswerLocked(deployments_.at(id));
}

contract::DeployResponse FakePlatform::DeployAnswerLocked(const Deployment& d) const {
  contract::DeployResponse r;
  r.deployment_id = d.id;
  r.project_id = d.project_id;
  r.commit_hash = d.commit_hash;
  r.status = PathLocked().at(ReachedLocked(d, NowMs()) - 1);
  if (!d.environment.empty()) r.environment = d.environment;
  return r;
}

Result<std::map<std::string, std::map<std::string, std::string>>*> FakePlatform::EnvironmentsLocked(
    const std::string& project) {
  if (options_.seed_only) {
    return Error(ErrorCode::kRejected, "this platform does not offer environments");
  }
  auto& envs = environments_[project];
  if (envs.empty()) {
    envs["production"];
    envs["staging"];
  }
  return &envs;
}

namespace {

Error NoEnvironment(const std::string& name) {
  return Error(ErrorCode::kNotFound,
               "the platform answered 404: environment_not_found: no environment " + name);
}

}  // namespace

Result<contract::EnvironmentList> FakePlatform::ListEnvironments(const std::string& token,
                                                                 const std::string& project_id,
                                                                 daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "GET environments"); !s.ok()) return s.error();
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  contract::EnvironmentList l;
  l.project_id = project_id;
  for (const auto& [name, vars] : **envs) {
    contract::EnvironmentInfo e;
    e.name = name;
    e.variables = static_cast<int64_t>(vars.size());
    // What it serves: its newest complete deployment.
    auto path = PathLocked();
    int64_t newest = -1;
    for (const auto& [id, d] : deployments_) {
      if (d.project_id != project_id || d.environment != name || d.created_ms < newest) continue;
      if (ReachedLocked(d, NowMs()) == path.size() && path.back() == contract::Stage::kComplete) {
        e.deployment_id = id;
        newest = d.created_ms;
      }
    }
    l.environments.push_back(std::move(e));
  }
  return l;
}

bim::Status FakePlatform::AddEnvironment(const std::string& token, const std::string& project_id,
                                         const std::string& name, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "POST environments"); !s.ok()) return s;
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  if (!(*envs)->emplace(name, std::map<std::string, std::string>{}).second) {
    return Error(ErrorCode::kConflict, "the platform answered 409: environment_exists");
  }
  return OkStatus();
}

bim::Status FakePlatform::RemoveEnvironment(const std::string& token, const std::string& project_id,
                                            const std::string& name, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "DELETE environment"); !s.ok()) return s;
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  if (name == "production") {
    return Error(ErrorCode::kConflict, "the platform answered 409: environment_protected");
  }
  if ((*envs)->erase(name) == 0) return NoEnvironment(name);
  return OkStatus();
}

Result<contract::VariableList> FakePlatform::ListVariables(const std::string& token,
                                                           const std::string& project_id,
                                                           const std::string& environment,
                                                           bool with_values, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "GET variables"); !s.ok()) return s.error();
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  auto env = (*envs)->find(environment);
  if (env == (*envs)->end()) return NoEnvironment(environment);
  contract::VariableList l{project_id, environment, {}};
  for (const auto& [key, value] : env->second) {
    contract::Variable v{key, std::nullopt};
    if (with_values && !withhold_values_) v.value = value;
    l.variables.push_back(std::move(v));
  }
  return l;
}

bim::Status FakePlatform::SetVariable(const std::string& token, const std::string& project_id,
                                      const std::string& environment, const std::string& key,
                                      const std::string& value, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "PUT variable"); !s.ok()) return s;
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  auto env = (*envs)->find(environment);
  if (env == (*envs)->end()) return NoEnvironment(environment);
  if (echo_values_) {
    return Error(
        ErrorCode::kInvalidArgument,
        "the platform answered 400: invalid_request: the value \"" + value + "\" is not allowed");
  }
  env->second[key] = value;
  return OkStatus();
}

bim::Status FakePlatform::UnsetVariable(const std::string& token, const std::string& project_id,
                                        const std::string& environment, const std::string& key,
                                        daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "DELETE variable"); !s.ok()) return s;
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  auto env = (*envs)->find(environment);
  if (env == (*envs)->end()) return NoEnvironment(environment);
  if (env->second.erase(key) == 0) {
    return Error(ErrorCode::kNotFound, "the platform answered 404: variable_not_found");
  }
  return OkStatus();
}

Result<contract::DeployResponse> FakePlatform::Promote(const std::string& token,
                                                       const std::string& deployment_id,
                                                       const std::string& environment,
                                                       const std::string& idempotency_key,
                                                       daemon::Deadline) {
  std::lock_guard lock(mu_);
  ++promote_calls_;
  if (auto s = GateLocked(token, "POST promote"); !s.ok()) return s.error();
  auto src = deployments_.find(deployment_id);
  if (options_.seed_only || src == deployments_.end()) {
    if (options_.seed_only) return Error(ErrorCode::kRejected, "does not offer environments");
    return Error(ErrorCode::kNotFound, "the platform answered 404: deployment_not_found");
  }
  auto envs = EnvironmentsLocked(src->second.project_id);
  if (!envs.ok()) return envs.error();
  if (!(*envs)->count(environment)) return NoEnvironment(environment);
  auto path = PathLocked();
  if (ReachedLocked(src->second, NowMs()) != path.size() ||
      path.back() != contract::Stage::kComplete) {
    return Error(ErrorCode::kConflict, "the platform answered 409: deployment_not_complete");
  }
  std::string id;
  if (auto it = by_key_.find(idempotency_key); it != by_key_.end()) {
    id = it->second;
  } else {
    Deployment d = src->second;
    d.id = fmt::format("dep-{}", next_id_++);
    d.created_ms = NowMs();
    d.environment = environment;
    id = d.id;
    deployments_[id] = d;
    by_key_[idempotency_key] = id;
  }
  return DeployAnswerLocked(deployments_.at(id));
}

std::optional<std::string> FakePlatform::VariableValue(const std::string& project,
                                                       const std::string& environment,
                                                       const std::string& key) const {
  std::lock_guard lock(mu_);
  auto p = environments_.find(project);
  if (p == environments_.end()) return std::nullopt;
  auto e = p->second.find(environment);
  if (e == p->second.end()) return std::nullopt;
  auto v = e->second.find(key);
  if (v == e->second.end()) return std::nullopt;
  return v->second;
}

void FakePlatform::EchoValuesInErrors(bool echo) { Set(echo_values_, echo); }
void FakePlatform::WithholdValues(bool withhold) { Set(withhold_values_, withhold); }
int FakePlatform::promote_calls() const { return Get(promote_calls_); }

Result<contract::StatusResponse> FakePlatform::Status(const std::string& token,
                                                      const std::string& id, daemon::Deadline) {
  std::lock_guard lock(mu_);
  ++status_calls_;
  if (auto s = GateLocked(token, "GET /api/status"); !s.ok()) return s.error();
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return HttpError(404, "GET /api/status");
  const Deployment& d = it->second;
  contract::StatusResponse r;
  r.id = d.id;
  r.project_id = d.project_id;
  r.commit_hash = d.commit_hash;
  size_t reached = ReachedLocked(d, NowMs());
  for (size_t i = 0; i < reached; ++i) {
    auto m = MessageLocked(d, i);
    r.logs.insert(r.logs.end(), m.logs.begin(), m.logs.end());
    r.status = m.status;
    r.url = m.url;
    r.seq = m.seq;
  }
  return r;
}

Result<contract::VerifyResponse> FakePlatform::Verify(const std::string& token, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "GET /api/auth/verify"); !s.ok()) return s.error();
  return contract::VerifyResponse{true, "user-fake", "fake@example.test"};
}

Result<contract::DeviceCodeResponse> FakePlatform::StartDeviceLogin(const std::string&) {
  std::lock_guard lock(mu_);
  if (options_.seed_only) {
    return Error(ErrorCode::kRejected, "this platform does not offer the device login");
  }
  if (auto s = GateLocked("", "POST /oauth/device/code"); !s.ok()) return s.error();
  return contract::DeviceCodeResponse{
      "fake-device-code", "FAKE-CODE", "https://fake.backend.im/device", std::nullopt, 600, 5};
}

Result<daemon::DevicePollResult> FakePlatform::PollDeviceLogin(const std::string&,
                                                               const std::string& device_code) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked("", "POST /oauth/token"); !s.ok()) return s.error();
  if (device_code != "fake-device-code") {
    return daemon::DevicePollResult(contract::OAuthError{"invalid_grant", ""});
  }
  if (!device_approved_) {
    return daemon::DevicePollResult(contract::OAuthError{"authorization_pending", ""});
  }
  return daemon::DevicePollResult(IssueLocked());
}

Result<contract::TokenResponse> FakePlatform::Refresh(const std::string&,
                                                      const std::string& refresh_token) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked("", "POST /oauth/token"); !s.ok()) return s.error();
  ++refreshes_;
  if (refuse_refresh_ || !refresh_.erase(refresh_token)) {
    return Error(ErrorCode::kUnauthenticated,
                 "the platform refused to refresh the login (invalid_grant); run `backend-im "
                 "auth login`");
  }
  return IssueLocked();
}

Result<std::unique_ptr<daemon::EventStream>> FakePlatform::OpenEventStream(
    const std::string& token, const std::string& deployment_id, int64_t since,
    milliseconds keepalive) {
  std::lock_guard lock(mu_);
  ++stream_opens_;
  stream_since_.push_back(since);
  if (auto s = GateLocked(token, "WebSocket /ws"); !s.ok()) return s.error();
  if (refuse_streams_ > 0) {
    --refuse_streams_;
    return HttpError(503, "WebSocket /ws");
  }
  if (!deployments_.count(deployment_id)) return HttpError(404, "WebSocket /ws");
  // A platform without seq cannot resume: it replays from the first message.
  int64_t cursor = options_.seed_only ? 0 : std::max<int64_t>(since, 0);
  int drop_after = 0;
  if (drop_streams_ != 0) {
    drop_after = drop_after_;
    if (drop_streams_ > 0) --drop_streams_;
  }
  return std::unique_ptr<daemon::EventStream>(
      std::make_unique<Stream>(*this, deployment_id, cursor, keepalive, drop_after));
}

// ---- Custom domains ----------------------------------------------------------------------------

namespace {

Error NotOfferedDomains() {
  return Error(ErrorCode::kRejected, "this platform does not offer custom domains");
}

Error NoDomain(const std::string& name) {
  return Error(ErrorCode::kNotFound,
               "the platform answered 404: domain_not_found: no domain " + name);
}

}  // namespace

Result<contract::Domain> FakePlatform::DomainNowLocked(const std::string& project,
                                                       const std::string& domain, bool verify) {
  auto it = domains_.find(domain);
  if (it == domains_.end() || it->second.domain.project_id != project) return NoDomain(domain);
  if (verify) ++verify_domain_calls_;
  contract::Domain d = it->second.domain;
  FakeDomain::State now;
  for (const auto& s : scheduled_[domain]) {
    if (s.from_ms <= NowMs()) now = s;
  }
  d.dns = now.dns;
  d.certificate = now.certificate;
  d.detail = now.detail;
  d.checked_at = clock_.NowUnixMs();
  for (auto& r : d.records) {
    r.found.clear();
    if (now.dns == contract::DnsState::kValid) {
      r.found.push_back(r.value);
    } else if (now.dns == contract::DnsState::kInvalid && r.type == "A") {
      r.found.push_back("192.0.2.99");
    }
    r.ok = now.dns == contract::DnsState::kValid ||
           (now.dns == contract::DnsState::kInvalid && r.type != "A");
  }
  return d;
}

Result<contract::Domain> FakePlatform::AddDomain(const std::string& token,
                                                 const std::string& project_id,
                                                 const contract::AddDomainRequest& request,
                                                 daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "POST domains"); !s.ok()) return s.error();
  if (options_.seed_only) return NotOfferedDomains();
  if (auto bad = contract::ValidateDomainName(request.domain); !bad.ok()) {
    return Error(ErrorCode::kInvalidArgument, "the platform answered 400: " + bad.error().message);
  }
  std::string environment = request.environment.empty() ? "production" : request.environment;
  auto envs = EnvironmentsLocked(project_id);
  if (!envs.ok()) return envs.error();
  if (!(*envs)->count(environment)) return NoEnvironment(environment);
  if (auto it = domains_.find(request.domain); it != domains_.end()) {
    return Error(ErrorCode::kConflict, it->second.domain.project_id == project_id
                                           ? "the platform answered 409: domain_exists"
                                           : "the platform answered 409: domain_taken");
  }
  FakeDomain& f = domains_[request.domain];
  f.domain.domain = request.domain;
  f.domain.project_id = project_id;
  f.domain.environment = environment;
  f.domain.records = {
      {"TXT", "_backend-im." + request.domain, "backend-im-verify=tok-" + request.domain, {}, {}},
      {"A", request.domain, "127.0.0.1", {}, {}}};
  return f.domain;
}

Result<contract::DomainList> FakePlatform::ListDomains(const std::string& token,
                                                       const std::string& project_id,
                                                       daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "GET domains"); !s.ok()) return s.error();
  if (options_.seed_only) return NotOfferedDomains();
  contract::DomainList l;
  l.project_id = project_id;
  for (const auto& [name, f] : domains_) {
    if (f.domain.project_id != project_id) continue;
    auto d = DomainNowLocked(project_id, name, false);
    if (d.ok()) l.domains.push_back(std::move(*d));
  }
  return l;
}

Result<contract::Domain> FakePlatform::GetDomain(const std::string& token,
                                                 const std::string& project_id,
                                                 const std::string& domain, daemon::Deadline) {
  std::lock_guard lock(mu_);
  domain_checks_[domain].push_back(NowMs());
  if (auto s = GateLocked(token, "GET domain"); !s.ok()) return s.error();
  if (options_.seed_only) return NotOfferedDomains();
  return DomainNowLocked(project_id, domain, false);
}

Result<contract::Domain> FakePlatform::VerifyDomain(const std::string& token,
                                                    const std::string& project_id,
                                                    const std::string& domain, daemon::Deadline) {
  std::lock_guard lock(mu_);
  domain_checks_[domain].push_back(NowMs());
  if (auto s = GateLocked(token, "POST domain verify"); !s.ok()) return s.error();
  if (options_.seed_only) return NotOfferedDomains();
  return DomainNowLocked(project_id, domain, true);
}

bim::Status FakePlatform::RemoveDomain(const std::string& token, const std::string& project_id,
                                       const std::string& domain, daemon::Deadline) {
  std::lock_guard lock(mu_);
  if (auto s = GateLocked(token, "DELETE domain"); !s.ok()) return s;
  if (options_.seed_only) return NotOfferedDomains();
  auto it = domains_.find(domain);
  if (it == domains_.end() || it->second.domain.project_id != project_id) return NoDomain(domain);
  domains_.erase(it);
  scheduled_.erase(domain);
  return OkStatus();
}

void FakePlatform::ScheduleDomainState(const std::string& domain, std::chrono::milliseconds after,
                                       contract::DnsState dns,
                                       contract::CertificateState certificate,
                                       const std::string& detail) {
  std::lock_guard lock(mu_);
  scheduled_[domain].push_back({NowMs() + after.count(), dns, certificate, detail});
}

std::vector<int64_t> FakePlatform::DomainChecks(const std::string& domain) const {
  std::lock_guard lock(mu_);
  auto it = domain_checks_.find(domain);
  return it == domain_checks_.end() ? std::vector<int64_t>{} : it->second;
}

int FakePlatform::verify_domain_calls() const { return Get(verify_domain_calls_); }

// A log stream: the lines after its cursor, then whatever is appended, until the log ends, the
// stream is dropped (DropLogStreams) or closed.
class FakePlatform::LogStreamImpl final : public daemon::LogStream {
 public:
  LogStreamImpl(FakePlatform& p, std::string id, int64_t cursor, int generation)
      : p_(p), id_(std::move(id)), cursor_(cursor), generation_(generation) {}
  ~LogStreamImpl() override { Close(); }

  daemon::LogStreamItem Next(milliseconds timeout) override {
    using Kind = daemon::LogStreamItem::Kind;
    std::unique_lock lock(p_.mu_);
    // Real time, but only as a bound: every change a test makes wakes the wait at once.
    p_.logs_changed_.wait_for(lock, std::min(timeout, milliseconds(200)),
                              [&] { return ReadyLocked(); });
    daemon::LogStreamItem item;
    if (!ReadyLocked()) return item;  // kTimeout
    if (closed_ || generation_ != p_.log_generation_) {
      CloseLocked();
      item.kind = Kind::kClosed;
      item.detail = "the platform dropped the connection (1006)";
      return item;
    }
    const AppLog& log = p_.logs_.at(id_);
    item.kind = Kind::kMessage;
    int64_t first = log.lines.empty() ? log.next_seq : log.lines.front().seq;
    if (cursor_ + 1 < first) {
      item.message.type = contract::LogStreamMessage::Type::kSkipped;
      item.message.skipped = first - cursor_ - 1;
      item.message.next = first;
      cursor_ = first - 1;
      return item;
    }
    if (cursor_ + 1 < log.next_seq) {
      item.message.line = log.lines.at(static_cast<size_t>(cursor_ + 1 - first));
      cursor_ = item.message.line.seq;
      return item;
    }
    item.message.type = contract::LogStreamMessage::Type::kEnd;
    item.message.reason = log.end_reason;
    CloseLocked();
    return item;
  }

  void Close() override {
    std::lock_guard lock(p_.mu_);
    CloseLocked();
    p_.logs_changed_.notify_all();
  }
  void Cut() override { Close(); }

 private:
  bool ReadyLocked() const {
    if (closed_ || generation_ != p_.log_generation_) return true;
    const AppLog& log = p_.logs_.at(id_);
    return cursor_ + 1 < log.next_seq || log.ended;
  }
  void CloseLocked() {
    if (counted_) --p_.open_log_streams_;
    counted_ = false;
    closed_ = true;
  }

  FakePlatform& p_;
  const std::string id_;
  int64_t cursor_;  // guarded by p_.mu_: the seq of the last line sent
  const int generation_;
  bool closed_ = false;  // guarded by p_.mu_
  bool counted_ = true;  // guarded by p_.mu_: among open_log_streams_
};

Result<FakePlatform::AppLog*> FakePlatform::AppLogLocked(const std::string& deployment_id,
                                                         const std::string& what) {
  if (options_.seed_only) {
    return Error(ErrorCode::kRejected,
                 "this platform does not offer app logs (" + what +
                     " is 404); `backend-im status ID` shows the deployment's own logs");
  }
  auto it = logs_.find(deployment_id);
  if (it != logs_.end()) return &it->second;
  if (!deployments_.count(deployment_id)) {
    return Error(ErrorCode::kNotFound,
                 "the platform answered 404 to " + what + ": deployment_not_found");
  }
  return &logs_[deployment_id];
}

Result<contract::LogPage> FakePlatform::Logs(const std::string& token,
                                             const std::string& deployment_id,
                                             const daemon::LogQuery& query, daemon::Deadline) {
  std::lock_guard lock(mu_);
  log_queries_.push_back(query);
  if (auto s = GateLocked(token, "GET /api/deployments/ID/logs"); !s.ok()) return s.error();
  auto log = AppLogLocked(deployment_id, "GET /api/deployments/ID/logs");
  if (!log.ok()) return log.error();
  const auto& lines = (*log)->lines;
  contract::LogPage page;
  page.deployment_id = deployment_id;
  page.cursor = (*log)->next_seq - 1;
  page.first = lines.empty() ? (*log)->next_seq : lines.front().seq;
  auto matches = [&](const contract::LogLine& l) {
    return (!query.since || l.timestamp >= *query.since) &&
           (!query.level || l.level >= *query.level);
  };
  if (query.after) {
    size_t limit = static_cast<size_t>(query.limit.value_or(500));
    for (const auto& l : lines) {
      if (l.seq <= *query.after || !matches(l)) continue;
      if (page.lines.size() == limit) {
        page.more = true;
        break;
      }
      page.lines.push_back(l);
    }
  } else {
    size_t tail = static_cast<size_t>(query.tail.value_or(100));
    for (auto it = lines.rbegin(); it != lines.rend() && page.lines.size() < tail; ++it) {
      if (matches(*it)) page.lines.insert(page.lines.begin(), *it);
    }
  }
  return page;
}

Result<std::unique_ptr<daemon::LogStream>> FakePlatform::OpenLogStream(
    const std::string& token, const std::string& deployment_id, int64_t after, milliseconds) {
  std::lock_guard lock(mu_);
  ++log_stream_opens_;
  log_stream_after_.push_back(after);
  if (auto s = GateLocked(token, "WebSocket /ws/logs"); !s.ok()) return s.error();
  if (refuse_streams_ > 0) {
    --refuse_streams_;
    return HttpError(503, "WebSocket /ws/logs");
  }
  auto log = AppLogLocked(deployment_id, "GET /ws/logs");
  if (!log.ok()) return log.error();
  ++open_log_streams_;
  int64_t cursor = after > 0 ? std::max<int64_t>(after - replay_on_resume_, 0) : after;
  return std::unique_ptr<daemon::LogStream>(
      std::make_unique<LogStreamImpl>(*this, deployment_id, cursor, log_generation_));
}

int64_t FakePlatform::AppendLog(const std::string& deployment_id, contract::LogLevel level,
                                const std::string& text, const std::string& source) {
  int64_t seq;
  {
    std::lock_guard lock(mu_);
    AppLog& log = logs_[deployment_id];
    seq = log.next_seq++;
    log.lines.push_back(contract::LogLine{seq, clock_.NowUnixMs(), level, source, text});
    while (log.lines.size() > keep_lines_) log.lines.erase(log.lines.begin());
  }
  logs_changed_.notify_all();
  return seq;
}

void FakePlatform::EndLog(const std::string& deployment_id, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    AppLog& log = logs_[deployment_id];
    log.ended = true;
    log.end_reason = reason;
  }
  logs_changed_.notify_all();
}

void FakePlatform::KeepLogLines(size_t n) {
  std::lock_guard lock(mu_);
  keep_lines_ = n;
  for (auto& [id, log] : logs_) {
    while (log.lines.size() > n) log.lines.erase(log.lines.begin());
  }
}

void FakePlatform::DropLogStreams() {
  {
    std::lock_guard lock(mu_);
    ++log_generation_;
  }
  logs_changed_.notify_all();
}

void FakePlatform::ReplayOnResume(int64_t n) { Set(replay_on_resume_, n); }
int FakePlatform::log_stream_opens() const { return Get(log_stream_opens_); }
int FakePlatform::open_log_streams() const { return Get(open_log_streams_); }
std::vector<int64_t> FakePlatform::log_stream_after() const {
  std::lock_guard lock(mu_);
  return log_stream_after_;
}
std::vector<daemon::LogQuery> FakePlatform::log_queries() const {
  std::lock_guard lock(mu_);
  return log_queries_;
}

}  // namespace bim::test
