#include "mock-api/deployment_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/commit_hash.h"

namespace bim::mock {

using contract::Stage;

DeploymentRunner::DeploymentRunner(ws::HttpWsServer& server, const MockOptions& options,
                                   Random& random, Environments& environments, const Clock& clock)
    : server_(server),
      options_(options),
      breaks_(options),
      random_(random),
      environments_(environments),
      clock_(clock),
      logs_(server) {
  if (options_.run_apps) {
    AppSupervisorOptions o;
    o.python = options_.app_python;
    o.root = options_.apps_dir;
    o.health_timeout = std::chrono::seconds(options_.app_health_timeout_s);
    o.limits.address_space_bytes = static_cast<uint64_t>(options_.app_memory_mb) << 20;
    // Stamped when read, on the supervisor's thread; numbered on the server's.
    o.on_output = [this](AppOutput out) {
      int64_t read_at = clock_.NowUnixMs();
      server_.Post([this, read_at, out = std::move(out)]() mutable {
        size_t bytes = out.bytes;
        logs_.OnOutput(std::move(out), read_at);
        if (apps_) apps_->OutputTaken(bytes);
      });
    };
    apps_ = std::make_unique<AppSupervisor>(std::move(o));
  }
}

// The supervisor goes first: its thread stops every app and ends before the deployments it
// reports on do.
DeploymentRunner::~DeploymentRunner() { apps_.reset(); }

contract::DeployResponse DeploymentRunner::Create(const contract::DeployRequest& request,
                                                  const std::string& ws_base) {
  Deployment d;
  d.id = NewUuid(random_);
  d.project_id = request.project_id.empty()
                     ? fmt::format("proj-{:08x}", static_cast<uint32_t>(random_.Next64()))
                     : request.project_id;
  d.environment = request.environment.empty() ? Environments::kProduction : request.environment;
  environments_.Ensure(d.project_id);
  d.commit_hash = breaks_.CommitHash(request.files);
  d.file_count = request.files.size();
  for (const auto& [path, content] : request.files) d.bytes += content.size();
  d.has_requirements = request.files.count("requirements.txt") > 0;
  auto last = last_commit_.find(d.project_id);
  if (last != last_commit_.end() && last->second != d.commit_hash) d.previous_commit = last->second;
  last_commit_[d.project_id] = d.commit_hash;

  // The stage it fails at, if any: the earlier of a missing main.py (caught when building)
  // and --fail-at.
  std::optional<Stage> fail_at = options_.fail_at;
  if (!request.files.count("main.py")) {
    std::string found;
    int shown = 0;
    for (const auto& [path, content] : request.files) {
      if (shown == 5) {
        found += ", ...";
        break;
      }
      found += (shown++ ? ", " : "") + path;
    }
    d.failure =
        "Build failed: main.py is missing at the project root. The image runs "
        "`uvicorn main:app`, so upload a top-level main.py that defines `app` "
        "(received: " +
        found + ")";
    if (!fail_at || contract::StageRank(*fail_at) > contract::StageRank(Stage::kBuilding)) {
      fail_at = Stage::kBuilding;
    }
  } else if (fail_at) {
    d.failure = fmt::format("Stage {} failed (simulated by backend-im-mock --fail-at {})",
                            contract::StageName(*fail_at), contract::StageName(*fail_at));
  }
  for (Stage s : contract::SuccessPath()) {
    d.plan.push_back(s);
    if (fail_at && s == *fail_at) {
      d.plan.push_back(Stage::kFailed);
      break;
    }
  }
  d.plan = breaks_.Plan(std::move(d.plan));
  // A deployment that fails on purpose (--fail-at, no main.py) or walks the stages out of order
  // (--break status-order) stays on timers.
  d.real = apps_ && d.failure.empty() && !options_.break_status_order;
  if (d.real) d.files = request.files;

  return Begin(std::move(d), ws_base);
}

contract::DeployResponse DeploymentRunner::Promote(const std::string& source,
                                                   const std::string& environment,
                                                   const std::string& ws_base) {
  const Deployment& from = deployments_.at(source);
  Deployment d;
  d.id = NewUuid(random_);
  d.project_id = from.project_id;
  d.environment = environment;
  d.commit_hash = from.commit_hash;
  d.file_count = from.file_count;
  d.bytes = from.bytes;
  d.has_requirements = from.has_requirements;
  d.promoted_from = from.id;
  // Nothing is committed or built again. (With --fail-at no deployment completes, so none is
  // promoted.)
  for (Stage s : contract::SuccessPath()) {
    if (s != Stage::kCommitting && s != Stage::kBuilding) d.plan.push_back(s);
  }
  d.plan = breaks_.Plan(std::move(d.plan));
  d.real = from.real && !options_.break_status_order;
  if (d.real) d.variables = environments_.Variables(d.project_id, environment);
  return Begin(std::move(d), ws_base);
}

contract::DeployResponse DeploymentRunner::Begin(Deployment d, const std::string& ws_base) {
  contract::DeployResponse r;
  r.deployment_id = d.id;
  r.project_id = d.project_id;
  r.commit_hash = d.commit_hash;
  r.status = Stage::kQueued;
  r.websocket_url = ws_base + "/ws?deploymentId=" + d.id;
  if (!options_.seed_only) r.environment = d.environment;

  std::string id = d.id;
  order_.push_back(id);
  Deployment& stored = deployments_.emplace(id, std::move(d)).first->second;
  logs_.Add(id);
  if (!stored.real) {
    logs_.NoApp(id, apps_ ? "this deployment runs no app: it stays on the platform's timers"
                          : "the platform runs no apps (backend-im-mock without --run-apps)");
  }
  Emit(stored, stored.plan[0]);
  server_.RunAfter(std::chrono::milliseconds(options_.stage_delay_ms), [this, id] { Advance(id); });
  return r;
}

bool DeploymentRunner::Exists(const std::string& id) const { return deployments_.count(id) > 0; }

std::optional<contract::StatusResponse> DeploymentRunner::Status(const std::string& id) const {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return std::nullopt;
  const Deployment& d = it->second;
  contract::StatusResponse s;
  s.id = d.id;
  s.project_id = d.project_id;
  s.commit_hash = d.commit_hash;
  const auto& latest = d.messages.back();
  s.status = latest.status;
  s.url = latest.url;
  for (const auto& m : d.messages) s.logs.insert(s.logs.end(), m.logs.begin(), m.logs.end());
  if (!options_.seed_only) s.seq = latest.seq;
  return s;
}

void DeploymentRunner::Advance(const std::string& id) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return;
  Deployment& d = it->second;
  if (++d.next >= d.plan.size()) return;
  Stage stage = d.plan[d.next];
  Emit(d, stage);
  if (contract::IsTerminal(stage)) return;
  if (d.real && (stage == Stage::kCommitting || stage == Stage::kBuilding ||
                 stage == Stage::kDeploying || stage == Stage::kHealthCheck)) {
    return Work(d, stage);
  }
  server_.RunAfter(std::chrono::milliseconds(options_.stage_delay_ms), [this, id] { Advance(id); });
}

void DeploymentRunner::Work(Deployment& d, Stage stage) {
  // The supervisor answers on its own thread; the answer is taken on the server's.
  auto then = [this, id = d.id](AppStep step) {
    server_.Post([this, id, step = std::move(step)]() mutable { StepDone(id, std::move(step)); });
  };
  switch (stage) {
    case Stage::kCommitting:
      apps_->Keep(d.id, d.project_id, d.environment,
                  environments_.Variables(d.project_id, d.environment), d.files, then);
      d.files.clear();
      return;
    case Stage::kBuilding:
      return apps_->Build(d.id, then);
    case Stage::kDeploying:
      if (d.promoted_from.empty()) return apps_->Start(d.id, then);
      // A promote starts from the files its source kept, kept again as its own. (The plain
      // pointer as below.)
      apps_->KeepFrom(d.id, d.promoted_from, d.project_id, d.environment, std::move(d.variables),
                      [apps = apps_.get(), id = d.id, then](AppStep kept) {
                        if (!kept.ok) return then(std::move(kept));
                        apps->Start(id, [kept, then](AppStep started) {
                          started.logs.insert(started.logs.begin(), kept.logs.begin(),
                                              kept.logs.end());
                          then(std::move(started));
                        });
                      });
      d.variables.clear();
      return;
    case Stage::kHealthCheck:
      // Healthy: it becomes the project's app at once, so that `complete` names a URL that
      // answers.
      // (On the supervisor's thread, which may run while apps_ is being reset: hence the plain
      // pointer, valid until that thread has ended.)
      return apps_->CheckHealth(d.id, [apps = apps_.get(), id = d.id, then](AppStep health) {
        if (!health.ok) return then(std::move(health));
        apps->Serve(id, [health, then](AppStep serving) {
          serving.logs.insert(serving.logs.begin(), health.logs.begin(), health.logs.end());
          then(std::move(serving));
        });
      });
    default:
      return;
  }
}

void DeploymentRunner::StepDone(const std::string& id, AppStep step) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return;
  Deployment& d = it->second;
  if (!step.ok) {
    const std::string stage(contract::StageName(d.plan[d.next]));
    d.failure_logs = std::move(step.logs);
    d.plan.resize(d.next + 1);
    d.plan.push_back(Stage::kFailed);
    apps_->Discard(id, "its deployment failed at " + stage);
    logs_.NoApp(id, "the deployment failed at " + stage + " before its app started");
  } else {
    d.carried = std::move(step.logs);
    if (!step.url.empty()) d.url = step.url;
  }
  Advance(id);
}

std::vector<std::string> DeploymentRunner::LogsFor(const Deployment& d, Stage stage) const {
  if (!d.real) return SimulatedLogs(d, stage);
  std::vector<std::string> logs = d.carried;
  switch (stage) {
    case Stage::kBuilding:
      logs.push_back(
          fmt::format("Checking the project with {}: the Python compiles, "
                      "requirements.txt is met",
                      options_.app_python));
      return logs;
    case Stage::kDeploying:
      logs.push_back("Starting the app: uvicorn main:app");
      return logs;
    case Stage::kHealthCheck:
      logs.push_back(fmt::format("Asking the app GET /health (else /), for up to {} s",
                                 options_.app_health_timeout_s));
      return logs;
    case Stage::kComplete:
      logs.push_back("Deployment complete: " + d.url);
      return logs;
    case Stage::kFailed:
      logs.insert(logs.end(), d.failure_logs.begin(), d.failure_logs.end());
      return logs;
    default:
      break;  // the rest is simulated, as without --run-apps
  }
  auto simulated = SimulatedLogs(d, stage);
  logs.insert(logs.end(), simulated.begin(), simulated.end());
  return logs;
}

std::vector<std::string> DeploymentRunner::SimulatedLogs(const Deployment& d, Stage stage) const {
  const std::string ns = d.project_id + "-" + d.commit_hash;
  switch (stage) {
    case Stage::kQueued:
      if (!d.promoted_from.empty()) {
        return {fmt::format(
            "Deployment {} queued: promotes deployment {} (commit {}) to {} without a new build, "
            "project {}",
            d.id, d.promoted_from, d.commit_hash, d.environment, d.project_id)};
      }
      return {fmt::format("Deployment {} queued: {} file{}, {} bytes, project {}", d.id,
                          d.file_count, d.file_count == 1 ? "" : "s", d.bytes, d.project_id)};
    case Stage::kCommitting:
      return {fmt::format("Committing {} file{} to the project repository", d.file_count,
                          d.file_count == 1 ? "" : "s"),
              fmt::format("Created commit {}", d.commit_hash)};
    case Stage::kCreatingNamespace: {
      std::vector<std::string> logs;
      if (d.previous_commit) {
        logs.push_back(
            fmt::format("Deleting the previous namespace {}-{}", d.project_id, *d.previous_commit));
      }
      logs.push_back(fmt::format("Creating Kubernetes namespace {}", ns));
      return logs;
    }
    case Stage::kCreatingPvc:
      return {fmt::format("Creating PersistentVolumeClaim {} (1Gi, ReadWriteOnce)", ns),
              fmt::format("PersistentVolumeClaim {} is Bound", ns)};
    case Stage::kBuilding:
      return {fmt::format("Building image registry.backend.im/{}:{}", d.project_id, d.commit_hash),
              d.has_requirements ? "Installing dependencies from requirements.txt"
                                 : "No requirements.txt; installing fastapi and uvicorn only"};
    case Stage::kDeploying:
      return {fmt::format("Rolling out {} in namespace {}", d.project_id, ns),
              "1/1 replicas ready"};
    case Stage::kHealthCheck:
      return {fmt::format("GET http://{}.{}.svc.cluster.local:8000/health", d.project_id, ns),
              "Health check passed (200 OK)"};
    case Stage::kComplete:
      return {fmt::format("Deployment complete: https://{}.backend.im", d.commit_hash)};
    case Stage::kFailed:
      return {d.failure};
  }
  return {};
}

void DeploymentRunner::Emit(Deployment& d, Stage stage) {
  contract::StageMessage m;
  m.deployment_id = d.id;
  m.project_id = d.project_id;
  m.commit_hash = d.commit_hash;
  m.status = stage;
  m.logs = LogsFor(d, stage);
  d.carried.clear();
  if (stage == Stage::kComplete) {
    m.url = d.real ? d.url : "https://" + d.commit_hash + ".backend.im";
    environments_.Serve(d.project_id, d.environment, d.id, *m.url);
  }
  m.seq = static_cast<int64_t>(d.messages.size()) + 1;
  d.messages.push_back(m);
  if (options_.log_sends) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::fprintf(stderr, "sent %s seq=%lld status=%s unix_us=%lld\n", d.id.c_str(),
                 static_cast<long long>(*m.seq), std::string(contract::StageName(stage)).c_str(),
                 static_cast<long long>(us.count()));
  }
  for (auto& w : d.watchers) Deliver(w, m);
  d.watchers.erase(std::remove_if(d.watchers.begin(), d.watchers.end(),
                                  [&](const Watcher& w) {
                                    bool gone = !w.session->IsOpen();
                                    if (gone) watched_.erase(w.session->id());
                                    return gone;
                                  }),
                   d.watchers.end());
}

std::string DeploymentRunner::WireJson(const contract::StageMessage& m) const {
  if (!options_.seed_only) return breaks_.Wire(contract::ToJson(m));
  contract::StageMessage seed = m;
  seed.seq.reset();
  return breaks_.Wire(contract::ToJson(seed));
}

void DeploymentRunner::SendMalformed(Watcher& w) {
  if (options_.ws_malformed_after < 0 || w.malformed_sent || w.sent < options_.ws_malformed_after) {
    return;
  }
  w.malformed_sent = true;
  w.session->Send(
      "{\"deploymentId\": this frame is not JSON (backend-im-mock --ws-malformed-after)");
}

void DeploymentRunner::Deliver(Watcher& w, const contract::StageMessage& m) {
  if (!w.session->IsOpen()) return;
  w.session->Send(WireJson(m));
  ++w.sent;
  SendMalformed(w);
  if (w.drop && w.sent >= options_.ws_drop_after) {
    w.session->Drop();
    return;
  }
  if (contract::IsTerminal(m.status)) {
    w.session->Close(1000, std::string("deployment ") + std::string(contract::StageName(m.status)));
  }
}

void DeploymentRunner::Watch(const std::shared_ptr<ws::WsSession>& session, const std::string& id,
                             std::optional<int64_t> since) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) {
    session->Close(1008, "unknown deployment");
    return;
  }
  Deployment& d = it->second;
  Watcher w;
  w.session = session;
  ++ws_connections_;
  w.drop = options_.ws_drop_after >= 0 &&
           (options_.ws_drop_times == 0 || ws_connections_ <= options_.ws_drop_times);
  if (w.drop && options_.ws_drop_after == 0) {
    session->Drop();
    return;
  }
  SendMalformed(w);
  if (options_.seed_only) since.reset();
  for (const auto& m : d.messages) {
    if (since && m.seq.value_or(0) <= *since) continue;
    Deliver(w, m);
    if (!session->IsOpen()) return;
  }
  if (contract::IsTerminal(d.messages.back().status)) {
    // Everything after `since` was already sent and there is nothing more to come.
    session->Close(1000, std::string("deployment ") +
                             std::string(contract::StageName(d.messages.back().status)));
    return;
  }
  watched_[session->id()] = id;
  d.watchers.push_back(std::move(w));
}

void DeploymentRunner::Unwatch(uint64_t session_id) {
  auto it = watched_.find(session_id);
  if (it == watched_.end()) return;
  auto d = deployments_.find(it->second);
  watched_.erase(it);
  if (d == deployments_.end()) return;
  auto& ws = d->second.watchers;
  ws.erase(std::remove_if(ws.begin(), ws.end(),
                          [&](const Watcher& w) { return w.session->id() == session_id; }),
           ws.end());
}

void DeploymentRunner::DropAll() {
  for (auto& [id, d] : deployments_) {
    for (auto& w : d.watchers) w.session->Drop();
  }
  logs_.DropAll();
}

std::string DeploymentRunner::SummaryJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& id : order_) {
    const Deployment& d = deployments_.at(id);
    list.push_back({{"id", d.id},
                    {"projectId", d.project_id},
                    {"environment", d.environment},
                    {"commitHash", d.commit_hash},
                    {"status", contract::StageName(d.messages.back().status)},
                    {"seq", d.messages.back().seq.value_or(0)},
                    {"watchers", d.watchers.size()},
                    {"logStreams", logs_.Streams(d.id)}});
  }
  return list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DeploymentRunner::AppsJson() const {
  nlohmann::json list = nlohmann::json::array();
  if (!apps_) return list.dump();
  for (const auto& a : apps_->Apps()) {
    list.push_back({{"deploymentId", a.deployment_id},
                    {"projectId", a.project_id},
                    {"environment", a.environment},
                    {"pid", a.pid},
                    {"serving", a.serving},
                    {"url", a.url}});
  }
  return list.dump();
}

}  // namespace bim::mock
