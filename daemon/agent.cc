#include "daemon/agent.h"

#include <fmt/format.h>

#include "common/commit_hash.h"
#include "common/log.h"

namespace bim::daemon {

Agent::Agent(AgentDeps deps) : deps_(deps) {}

Agent::~Agent() { StopWatching(); }

void Agent::ResumeWatching() {
  auto active = deps_.store.ListActive();
  if (!active.ok()) {
    log::Error("cannot list deployments to resume: {}", active.error().message);
    return;
  }
  for (const auto& d : *active) {
    if (d.api_url != api_url()) {
      log::Warn("not resuming deployment {}: it belongs to {}, the agent now talks to {}", d.id,
                d.api_url, api_url());
      continue;
    }
    log::Info("resuming deployment {} ({})", d.id, d.status);
    EnsureWatching(d);
  }
}

void Agent::StopWatching() {
  std::map<std::string, std::unique_ptr<DeploymentWatcher>> watchers;
  {
    std::lock_guard lock(mu_);
    watchers.swap(watchers_);
  }
  for (auto& [id, w] : watchers) w->Stop();
}

void Agent::EnsureWatching(const DeploymentRecord& record) {
  // With a refused platform URL a watcher could only fail; the records wait for a good one.
  if (record.terminal || deps_.stop.stopped() || !deps_.platform.url_problem().ok()) return;
  std::lock_guard lock(mu_);
  // Reap watchers whose deployments have ended.
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (it->second->finished()) {
      it->second->Stop();
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
  if (watchers_.count(record.id)) return;
  // The caller's record may be older than the store: a watcher that finished (and was reaped
  // just now) may have stored the terminal event since it was read. A watcher started from a
  // stale record would take the platform's replay of what is already stored as new. Start from
  // what the store holds now; the watcher that could change it is gone, and mu_ is held.
  auto current = deps_.store.Get(record.id);
  if (!current.ok()) {
    log::Error("deployment {}: cannot read it to follow it: {}", record.id,
               current.error().message);
    return;
  }
  if (!*current || (*current)->terminal) return;
  WatcherDeps wd{deps_.store,
                 deps_.hub,
                 deps_.platform,
                 deps_.auth,
                 deps_.connector,
                 deps_.random,
                 deps_.stop,
                 deps_.keepalive,
                 std::chrono::seconds(30),
                 [this] {
                   --active_;
                   ReportStatus();
                 }};
  auto w = std::make_unique<DeploymentWatcher>(wd, **current);
  ++active_;  // before Start, so the watcher's own decrement can never come first
  w->Start();
  watchers_[record.id] = std::move(w);
  ReportStatus();
}

// Lock-free: watcher threads call it as they end, possibly while EnsureWatching holds mu_ and
// waits to join them.
void Agent::ReportStatus() {
  if (!deps_.report_status) return;
  int n = active_.load();
  deps_.report_status(n == 0 ? std::string("idle, no deployments to watch")
                             : fmt::format("watching {} deployment{}", n, n == 1 ? "" : "s"));
}

std::vector<std::string> Agent::WatchedDeployments() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& [id, w] : watchers_) {
    if (!w->finished()) out.push_back(id);
  }
  return out;
}

Result<contract::GenerateResponse> Agent::Generate(const std::string& prompt) {
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "the prompt is empty: say what the backend should do");
  }
  return deps_.auth.Call<contract::GenerateResponse>(
      [&](const std::string& token) { return deps_.platform.Generate(token, prompt); });
}

Result<DeploymentRecord> Agent::Deploy(const contract::FileMap& files,
                                       const std::string& project_id,
                                       const std::string& directory) {
  if (files.empty()) {
    return Error(ErrorCode::kInvalidArgument, "there are no files to deploy");
  }
  // One key for every retry of this one deploy: the platform makes at most one deployment.
  std::string key = NewUuid(deps_.random);
  contract::DeployRequest req{files, project_id};
  auto r = deps_.auth.Call<contract::DeployResponse>(
      [&](const std::string& token) { return deps_.platform.Deploy(token, req, key); });
  if (!r.ok()) return r.error();
  if (auto s = contract::ValidateId(r->deployment_id); !s.ok()) {
    return Error(ErrorCode::kProtocol,
                 "the platform returned a bad deployment id: " + s.error().message);
  }
  std::string expected = CommitHash(files);
  if (r->commit_hash != expected) {
    log::Warn("deployment {}: the platform's commit hash {} differs from the local {}",
              r->deployment_id, r->commit_hash, expected);
  }
  DeploymentRecord d;
  d.id = r->deployment_id;
  d.project_id = r->project_id;
  d.commit_hash = r->commit_hash;
  d.status = std::string(contract::StageName(r->status));
  d.directory = directory;
  d.api_url = api_url();
  d.created_at_ms = d.updated_at_ms = deps_.clock.NowUnixMs();
  d.terminal = contract::IsTerminal(r->status);
  if (auto s = deps_.store.Insert(d); !s.ok()) {
    // The deployment exists on the platform; say so rather than hide it.
    return Error(s.error().code, fmt::format("deployment {} started, but the agent cannot record "
                                             "it: {}",
                                             d.id, s.error().message));
  }
  log::Info("deployment {} created for project {} (commit {})", d.id, d.project_id, d.commit_hash);
  EnsureWatching(d);
  return d;
}

Result<DeploymentRecord> Agent::Find(const std::string& id) {
  if (auto s = contract::ValidateId(id); !s.ok()) return s.error();
  auto local = deps_.store.Get(id);
  if (!local.ok()) return local.error();
  if (*local) {
    EnsureWatching(**local);
    return **local;
  }
  auto s = deps_.auth.Call<contract::StatusResponse>(
      [&](const std::string& token) { return deps_.platform.Status(token, id); });
  if (!s.ok()) {
    if (s.error().code == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("no deployment {} here or on {}", id, api_url()));
    }
    return s.error();
  }
  DeploymentRecord d;
  d.id = id;
  d.project_id = s->project_id;
  d.commit_hash = s->commit_hash;
  d.status = "queued";
  d.api_url = api_url();
  d.created_at_ms = d.updated_at_ms = deps_.clock.NowUnixMs();
  if (auto st = deps_.store.Insert(d); !st.ok()) return st.error();
  // Record what the platform said as the first event, then follow it from there.
  NewEvent first{std::string(contract::StageName(s->status)), s->logs, s->url.value_or(""), "poll",
                 s->seq};
  if (auto ev = deps_.store.Append(id, first); !ev.ok()) return ev.error();
  auto stored = deps_.store.Get(id);
  if (!stored.ok()) return stored.error();
  EnsureWatching(**stored);
  return **stored;
}

}  // namespace bim::daemon
