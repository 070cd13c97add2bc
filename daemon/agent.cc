#include "daemon/agent.h"

#include <fmt/format.h>

#include <set>

#include "common/commit_hash.h"
#include "common/log.h"
#include "common/secret.h"

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
    log::Info("resuming deployment {} ({})", d.id, contract::StageName(d.status));
    EnsureWatching(d);
  }
  if (deps_.domain_checker) deps_.domain_checker->Resume();
}

void Agent::StopWatching() {
  std::map<std::string, std::unique_ptr<DeploymentWatcher>> watchers;
  {
    std::lock_guard lock(mu_);
    watchers.swap(watchers_);
  }
  for (auto& [id, w] : watchers) w->Stop();
  if (deps_.domain_checker) deps_.domain_checker->Stop();
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
  // just now) may have stored the terminal event since it was read. Ask the store, which decides
  // what is new in any case (a watcher keeps no copy of that), so that an ended deployment gets
  // no second watcher.
  auto current = deps_.store.Get(record.id);
  if (!current.ok()) {
    log::Error("deployment {}: cannot read it to follow it: {}", record.id,
               current.error().message);
    return;
  }
  if (!*current || (*current)->terminal) return;
  const WatcherServices& services = deps_;
  WatcherDeps wd{services, deps_.keepalive, std::chrono::seconds(30),
                 [this] {
                   --active_;
                   ReportStatus();
                 },
                 [this](const EventRecord& end) { Ended(end); }};
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

namespace {

// A project id from the platform goes into project.json, the history and URLs as it is: the
// same rule as a deployment id, or the answer is refused. Empty: none given.
Status CheckPlatformProjectId(const std::string& id) {
  if (id.empty()) return OkStatus();
  if (auto s = contract::ValidateId(id, "project id"); !s.ok()) {
    return Error(ErrorCode::kProtocol,
                 "the platform returned a bad project id: " + s.error().message);
  }
  return OkStatus();
}

}  // namespace

Result<Generated> Agent::Generate(const std::string& prompt, Deadline deadline) {
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "the prompt is empty: say what the backend should do");
  }
  // Taken when the answer begins to arrive (once: a retry keeps it), given back when the last
  // holder lets go of it.
  std::shared_ptr<void> turn;
  auto take_turn = [&]() -> bim::Status {
    if (turn) return OkStatus();
    if (deadline == kNoDeadline) {
      generate_turn_.acquire();
    } else if (!generate_turn_.try_acquire_until(deadline)) {
      return Error(ErrorCode::kTimeout,
                   "the platform's answer came while the agent was still passing on another "
                   "generated project, which took longer than this command waits; try again");
    }
    turn = std::shared_ptr<void>(this, [this](void*) { generate_turn_.release(); });
    return OkStatus();
  };
  auto g = deps_.auth.Call<contract::GenerateResponse>([&](const std::string& token) {
    return deps_.platform.Generate(token, prompt, deadline, take_turn);
  });
  if (!g.ok()) return g.error();
  if (auto s = CheckPlatformProjectId(g->project_id.value_or("")); !s.ok()) return s.error();
  return Generated{std::move(*g), std::move(turn)};
}

namespace {

// Errors after which the platform certainly made no deployment: the create can be forgotten.
// After the others (unreachable, timed out, stopped) the outcome is unknown, so the create stays
// pending and is sent again, with its key, when the agent next starts.
bool Definitive(const Error& e) {
  switch (e.code) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kRateLimited:
    case ErrorCode::kTimeout:
    case ErrorCode::kCancelled:
    case ErrorCode::kIo:
      return false;
    default:
      return true;
  }
}

}  // namespace

Result<DeploymentRecord> Agent::Deploy(const contract::FileMap& files,
                                       const std::string& project_id, const std::string& directory,
                                       const std::string& environment, Deadline deadline) {
  return DeployTree(files, project_id, directory, environment, "", deadline);
}

Result<PendingDeploy> Agent::Pending(PendingDeploy pending) {
  pending.api_url = api_url();
  // The same create made again while an earlier one is unanswered (the agent died during it,
  // say) reuses its key, so the platform answers with the deployment it made, if it did.
  auto earlier = deps_.store.FindPending(pending);
  if (earlier.ok() && *earlier) {
    log::Info("an earlier create like this one is unanswered; sending it with the same key");
    PendingDeploy again = **earlier;
    again.directory = pending.directory;
    again.restored_of = pending.restored_of;
    return again;
  }
  pending.idempotency_key = NewUuid(deps_.random);
  pending.created_at_ms = deps_.clock.NowUnixMs();
  if (auto s = deps_.store.AddPending(pending); !s.ok()) {
    return Error(s.error().code,
                 "cannot record the deploy before sending it: " + s.error().message);
  }
  return pending;
}

bim::Status Agent::CheckDeployEnvironment(const std::string& project_id,
                                          const std::string& environment, Deadline deadline) {
  if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) return s;
  if (project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "a deploy to an environment needs its project: deploy once without --env (the "
                 "platform makes the project), or name it with --project");
  }
  auto list = Environments(project_id, deadline);
  if (!list.ok()) return list.error();
  std::string names;
  for (const auto& e : list->environments) {
    if (e.name == environment) return OkStatus();
    names += (names.empty() ? "" : ", ") + e.name;
  }
  return Error(ErrorCode::kNotFound,
               fmt::format("project {} has no environment {} (it has: {}); add it with "
                           "`backend-im environments add {}`",
                           project_id, environment, names.empty() ? "none" : names, environment));
}

Result<DeploymentRecord> Agent::DeployTree(const contract::FileMap& files,
                                           const std::string& project_id,
                                           const std::string& directory,
                                           const std::string& environment,
                                           const std::string& restored_of, Deadline deadline) {
  if (files.empty()) {
    return Error(ErrorCode::kInvalidArgument, "there are no files to deploy");
  }
  if (!environment.empty()) {
    // A platform without environments would ignore the name and deploy where it deploys by
    // default: ask it first, so a deploy meant for staging never lands in production.
    if (auto s = CheckDeployEnvironment(project_id, environment, deadline); !s.ok()) {
      return s.error();
    }
  }
  contract::DeployRequest req{files, project_id, environment};
  PendingDeploy pending;
  pending.project_id = project_id;
  pending.commit_hash = CommitHash(files);
  pending.directory = directory;
  pending.environment = environment;
  pending.restored_of = restored_of;
  pending.request = contract::ToJson(req);
  auto p = Pending(std::move(pending));
  if (!p.ok()) return p.error();
  return Create(*p, &req, &req.files, deadline);
}

Result<DeploymentRecord> Agent::Create(const PendingDeploy& pending,
                                       const contract::DeployRequest* req,
                                       const contract::FileMap* files, Deadline deadline) {
  // One key for every retry of this one create: the platform makes at most one deployment.
  auto r = deps_.auth.Call<contract::DeployResponse>([&](const std::string& token) {
    if (req) return deps_.platform.Deploy(token, *req, pending.idempotency_key, deadline);
    return deps_.platform.Promote(token, pending.promoted_of, pending.environment,
                                  pending.idempotency_key, deadline);
  });
  if (!r.ok()) {
    if (Definitive(r.error())) (void)deps_.store.RemovePending(pending.idempotency_key);
    return r.error();
  }
  if (auto s = contract::ValidateId(r->deployment_id); !s.ok()) {
    (void)deps_.store.RemovePending(pending.idempotency_key);
    return Error(ErrorCode::kProtocol,
                 "the platform returned a bad deployment id: " + s.error().message);
  }
  if (auto s = CheckPlatformProjectId(r->project_id); !s.ok()) {
    (void)deps_.store.RemovePending(pending.idempotency_key);
    return s.error();
  }
  std::string environment = pending.environment;
  if (r->environment) {
    if (contract::ValidateEnvironmentName(*r->environment).ok()) {
      environment = *r->environment;
    } else {
      log::Warn("deployment {}: the platform names a bad environment; recorded as {}",
                r->deployment_id, environment.empty() ? "none" : environment);
    }
  }
  if (r->commit_hash != pending.commit_hash) {
    log::Warn("deployment {}: the platform's commit hash {} differs from the local {}",
              r->deployment_id, r->commit_hash, pending.commit_hash);
  }
  DeploymentRecord d;
  d.id = r->deployment_id;
  d.project_id = r->project_id;
  d.commit_hash = r->commit_hash;
  d.status = r->status;
  d.directory = pending.directory;
  d.api_url = api_url();
  d.created_at_ms = d.updated_at_ms = deps_.clock.NowUnixMs();
  d.restored_of = pending.restored_of;
  d.environment = environment;
  d.promoted_of = pending.promoted_of;
  // Terminal only through a stored terminal event: that is what every watch ends on.
  d.terminal = false;
  // The tree first: once the create is forgotten, nothing else holds the files. After a crash
  // in between, the create is sent again and saves the same tree under the same id.
  if (!files) {
    log::Info("deployment {}: its files are not kept here (the promoted deployment's were not)",
              d.id);
  } else if (auto s = deps_.snapshots.Save(d.id, d.project_id, *files); !s.ok()) {
    log::Warn("deployment {}: cannot keep its files for a rollback: {}", d.id, s.error().message);
  }
  if (auto s = deps_.store.RecordCreated(d, pending.idempotency_key); !s.ok()) {
    // The deployment exists on the platform; say so rather than hide it.
    return Error(s.error().code, fmt::format("deployment {} started, but the agent cannot record "
                                             "it: {}",
                                             d.id, s.error().message));
  }
  log::Info("deployment {} created for project {} (commit {}{}{})", d.id, d.project_id,
            d.commit_hash, d.environment.empty() ? "" : ", environment ", d.environment);
  if (contract::IsTerminal(r->status)) RecordEnded(d.id, r->status, deadline);
  EnsureWatching(d);
  auto stored = deps_.store.Get(d.id);
  if (!stored.ok() || !*stored) return d;
  return **stored;
}

// Nothing more will come on the stream of a deployment that has ended, and a watch that waited
// for it would wait for ever. The status answer has the URL and the logs; when it cannot be had,
// a failed answer is stored as it is, and a complete one is left to the watcher, which asks until
// it has the URL (a complete deployment is shown with its URL or as a platform error).
void Agent::RecordEnded(const std::string& id, contract::Stage answered, Deadline deadline) {
  auto s = deps_.auth.Call<contract::StatusResponse>(
      [&](const std::string& token) { return deps_.platform.Status(token, id, deadline); });
  std::optional<NewEvent> end;
  if (s.ok() && contract::IsTerminal(s->status)) {
    end = PlatformEvent(id, *s, EventSource::kPoll, s->seq);
  } else if (answered == contract::Stage::kFailed) {
    if (!s.ok())
      log::Warn("deployment {}: failed, and its logs are unavailable: {}", id, s.error().message);
    end = PlatformEvent(id, contract::StageEvent{answered, {}, std::nullopt}, EventSource::kDeploy,
                        std::nullopt);
  } else {
    log::Warn("deployment {}: answered as {}, but its status says {}; following it", id,
              contract::StageName(answered),
              s.ok() ? std::string(contract::StageName(s->status)) : s.error().message);
    return;
  }
  Result<Appended> ev = Appended{};
  {
    std::lock_guard lock(mu_);
    // A platform that gave this id before may have had its end stored already.
    if (auto current = deps_.store.Get(id); current.ok() && *current && (*current)->terminal) {
      return;
    }
    ev = deps_.store.Append(id, *end);
  }
  if (!ev.ok()) {
    // Not terminal in the store, so the watcher follows it and stores the end itself.
    log::Error("deployment {}: cannot store the {} event: {}", id,
               contract::StageName(end->event.status), ev.error().message);
    return;
  }
  log::Info("deployment {}: {} already when deployed", id, contract::StageName(end->event.status));
  if (ev->skipped == Appended::Skipped::kNo && ev->event && ev->event->terminal) Ended(*ev->event);
}

// Who started a deployment, without a column of its own: only Create (the Deploy path, and a
// create sent again after a restart from pending_deploys, which keeps the folder) records a
// deployment with the folder it was deployed from, which every ctl and MCP deploy names; one
// looked up by id (Find) has none. The record outlives the agent, so an agent that resumes
// following a deployment an earlier one created still knows it.
//
// One notice per deployment: the store takes in one end, and only the agent that stored it gets
// here. An agent that stored the end and stopped before its notice left the notifier loses that
// notice; the next agent never sends it, since the end is stored already. A missed notice is
// better than a second one for a deployment the person already heard about.
void Agent::Ended(const EventRecord& end) {
  if (!deps_.notifier) return;
  auto d = deps_.store.Get(end.deployment_id);
  if (!d.ok() || !*d) return;
  const DeploymentRecord& record = **d;
  if (record.directory.empty()) {
    log::Debug("deployment {}: no desktop notice, it was not deployed through this agent",
               record.id);
    return;
  }
  DeploymentEnd n;
  n.deployment_id = record.id;
  n.project_id = record.project_id;
  n.outcome = end.event.status;
  if (end.event.status == contract::Stage::kComplete) {
    n.url = record.url;
  } else {
    // The stage reached before the failure and the last log line, from the newest events.
    constexpr int kLookBack = 16;
    auto recent =
        deps_.store.EventsAfter(record.id, std::max<int64_t>(0, end.seq - kLookBack), kLookBack);
    std::vector<EventRecord> events;
    if (recent.ok()) events = std::move(*recent);
    bool line_found = false;  // the last line, even when too long to quote
    for (auto it = events.rbegin(); it != events.rend() && !(line_found && !n.failed_stage.empty());
         ++it) {
      const contract::StageEvent& e = it->event;
      if (n.failed_stage.empty() && !contract::IsTerminal(e.status)) {
        n.failed_stage = contract::StageName(e.status);
      }
      for (auto line = e.logs.rbegin(); line != e.logs.rend() && !line_found; ++line) {
        // Blank lines and the agent's own notes say nothing of the failure.
        if (line->empty() || line->rfind("[backend-im]", 0) == 0) continue;
        line_found = true;
        if (line->size() <= kMaxNoticeLogLine) n.last_log_line = *line;
      }
    }
  }
  log::Info("deployment {}: {}; desktop notice queued", record.id,
            contract::StageName(end.event.status));
  deps_.notifier->Notify(n);
}

void Agent::ResumePendingDeploys() {
  auto pending = deps_.store.ListPending();
  if (!pending.ok()) {
    log::Error("cannot list unanswered deploys: {}", pending.error().message);
    return;
  }
  for (const auto& p : *pending) {
    if (deps_.stop.stopped()) return;
    if (p.api_url != api_url()) continue;  // for another platform; kept until the agent uses it
    if (!p.promoted_of.empty()) {
      log::Info("sending an unanswered promote of {} to {} again, with its key", p.promoted_of,
                p.environment);
      auto files = deps_.snapshots.Load(p.promoted_of);
      const contract::FileMap* kept = files.ok() && *files ? &**files : nullptr;
      auto d = Create(p, nullptr, kept, kNoDeadline);
      if (!d.ok()) log::Warn("the unanswered promote is still unanswered: {}", d.error().message);
      continue;
    }
    auto req = contract::ParseDeployRequest(p.request);
    if (!req.ok()) {
      log::Error("dropping an unanswered deploy that cannot be read: {}", req.error().message);
      (void)deps_.store.RemovePending(p.idempotency_key);
      continue;
    }
    log::Info("sending an unanswered deploy of project {} (commit {}) again, with its key",
              p.project_id.empty() ? "(new)" : p.project_id, p.commit_hash);
    auto d = Create(p, &*req, &req->files, kNoDeadline);
    if (!d.ok()) log::Warn("the unanswered deploy is still unanswered: {}", d.error().message);
  }
}

Result<std::optional<DeploymentRecord>> Agent::FindRecorded(const std::string& id) {
  if (auto s = contract::ValidateId(id); !s.ok()) return s.error();
  auto local = deps_.store.Get(id);
  if (!local.ok()) return local.error();
  if (*local && (*local)->terminal && (*local)->last_seq == 0) {
    // Recorded as ended with no event, by an agent before this one (from a deploy answer that
    // said so): store the end as an event now, so that a watch replays it and ends.
    std::lock_guard lock(mu_);
    local = deps_.store.Get(id);
    if (local.ok() && *local && (*local)->last_seq == 0) {
      const DeploymentRecord& d = **local;
      auto end = PlatformEvent(
          id,
          contract::StageEvent{d.status, {}, d.url.empty() ? std::nullopt : std::optional(d.url)},
          EventSource::kDeploy, std::nullopt);
      if (auto ev = deps_.store.Append(id, end); !ev.ok()) return ev.error();
      local = deps_.store.Get(id);
    }
    if (!local.ok()) return local.error();
  }
  if (*local) EnsureWatching(**local);
  return std::move(*local);
}

Result<DeploymentRecord> Agent::Find(const std::string& id, Deadline deadline) {
  auto local = FindRecorded(id);
  if (!local.ok()) return local.error();
  if (*local) return std::move(**local);
  auto s = deps_.auth.Call<contract::StatusResponse>(
      [&](const std::string& token) { return deps_.platform.Status(token, id, deadline); });
  if (!s.ok()) {
    if (s.error().code == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("no deployment {} here or on {}", id, api_url()));
    }
    return s.error();
  }
  if (auto checked = CheckPlatformProjectId(s->project_id); !checked.ok()) return checked.error();
  DeploymentRecord d;
  d.id = id;
  d.project_id = s->project_id;
  d.commit_hash = s->commit_hash;
  d.status = contract::Stage::kQueued;
  d.api_url = api_url();
  d.created_at_ms = d.updated_at_ms = deps_.clock.NowUnixMs();
  if (auto st = deps_.store.Insert(d); !st.ok()) return st.error();
  // Record what the platform said as the first event, then follow it from there.
  NewEvent first = PlatformEvent(id, *s, EventSource::kPoll, s->seq);
  if (auto ev = deps_.store.Append(id, first); !ev.ok()) return ev.error();
  auto stored = deps_.store.Get(id);
  if (!stored.ok()) return stored.error();
  EnsureWatching(**stored);
  return **stored;
}

Error Agent::NotKept(const DeploymentRecord& d) const {
  const SnapshotPolicy& p = deps_.snapshots.policy();
  return Error(ErrorCode::kNotFound,
               fmt::format("the files of deployment {} are no longer kept: the agent keeps those "
                           "of the newest {} deployments of each project, {} MiB in all "
                           "(BACKEND_IM_SNAPSHOT_KEEP, BACKEND_IM_SNAPSHOT_MAX_MB); `backend-im "
                           "history` shows which deployments can be restored",
                           d.id, p.keep_per_project, p.max_bytes / (1024 * 1024)));
}

Result<DeploymentRecord> Agent::Recorded(const std::string& id) {
  if (auto s = contract::ValidateId(id); !s.ok()) return s.error();
  auto d = deps_.store.Get(id);
  if (!d.ok()) return d.error();
  if (!*d) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("no deployment {} in this agent's history (`backend-im history` "
                             "lists them)",
                             id));
  }
  return std::move(**d);
}

Result<DeploymentRecord> Agent::RollbackTarget(const std::string& project_id,
                                               const std::string& to_id,
                                               const std::string& environment) {
  if (!to_id.empty()) {
    auto d = Recorded(to_id);
    if (!d.ok()) return d.error();
    if (!project_id.empty() && d->project_id != project_id) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("deployment {} belongs to project {}, not {}", to_id, d->project_id,
                               project_id));
    }
    return d;
  }
  if (project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "say which project to roll back (a project folder or its id), or which "
                 "deployment to roll back to");
  }
  if (auto s = contract::ValidateId(project_id); !s.ok()) return s.error();
  auto list = deps_.store.List(project_id, 1000, environment);
  if (!list.ok()) return list.error();
  if (environment.empty()) {
    // Each environment serves its own deployment: one must be named when there are several.
    std::set<std::string> environments;
    for (const auto& d : *list) {
      if (d.api_url == api_url() && d.status == contract::Stage::kComplete) {
        environments.insert(d.environment);
      }
    }
    if (environments.size() > 1) {
      std::string names;
      for (const auto& e : environments) {
        names += (names.empty() ? "" : ", ") + (e.empty() ? std::string("(none)") : e);
      }
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("project {} has complete deployments in several environments "
                               "({}); say which one to roll back: --env NAME",
                               project_id, names));
    }
  }
  const DeploymentRecord* current = nullptr;
  for (const auto& d : *list) {
    if (d.api_url != api_url() || d.status != contract::Stage::kComplete) {
      continue;
    }
    if (!current) {
      current = &d;
    } else if (d.commit_hash != current->commit_hash) {
      return d;
    }
  }
  if (!current) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("nothing to roll back: project {} has no complete deployment in "
                             "this agent's history",
                             project_id));
  }
  return Error(ErrorCode::kNotFound,
               fmt::format("nothing to roll back to: project {} has no complete deployment with "
                           "other files before {}",
                           project_id, current->id));
}

Result<DeploymentRecord> Agent::Rollback(const std::string& project_id, const std::string& to_id,
                                         const std::string& environment, Deadline deadline) {
  if (!environment.empty()) {
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) return s.error();
  }
  auto target = RollbackTarget(project_id, to_id, environment);
  if (!target.ok()) return target.error();
  if (target->api_url != api_url()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("deployment {} was made on {}; the agent now talks to {}", target->id,
                             target->api_url, api_url()));
  }
  auto files = deps_.snapshots.Load(target->id);
  if (!files.ok()) return files.error();
  if (!*files) return NotKept(*target);
  log::Info("rolling project {} back to deployment {} (commit {})", target->project_id, target->id,
            target->commit_hash);
  return DeployTree(**files, target->project_id, target->directory,
                    environment.empty() ? target->environment : environment, target->id, deadline);
}

Result<DeploymentRecord> Agent::Promote(const std::string& deployment_id,
                                        const std::string& environment, Deadline deadline) {
  if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) return s.error();
  auto source = Find(deployment_id, deadline);
  if (!source.ok()) return source.error();
  if (source->api_url != api_url()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("deployment {} was made on {}; the agent now talks to {}", source->id,
                             source->api_url, api_url()));
  }
  if (source->status != contract::Stage::kComplete) {
    return Error(ErrorCode::kConflict,
                 fmt::format("deployment {} is {}: only a complete deployment can be promoted",
                             source->id, contract::StageName(source->status)));
  }
  PendingDeploy pending;
  pending.project_id = source->project_id;
  pending.commit_hash = source->commit_hash;
  pending.directory = source->directory;
  pending.environment = environment;
  pending.promoted_of = source->id;
  pending.request = contract::ToJson(contract::PromoteRequest{environment});
  auto p = Pending(std::move(pending));
  if (!p.ok()) return p.error();
  auto files = deps_.snapshots.Load(source->id);
  const contract::FileMap* kept = files.ok() && *files ? &**files : nullptr;
  log::Info("promoting deployment {} (commit {}) to {}", source->id, source->commit_hash,
            environment);
  return Create(*p, nullptr, kept, deadline);
}

namespace {

// Checks what names a project's environment before it goes into a URL.
bim::Status CheckEnvironment(const std::string& project_id, const std::string& environment) {
  if (project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "say which project (a project folder or its id): environments belong to one");
  }
  if (auto s = contract::ValidateId(project_id, "project id"); !s.ok()) return s;
  if (environment.empty()) return OkStatus();
  return contract::ValidateEnvironmentName(environment);
}

// err with every occurrence of value hidden: whatever a platform answers, an error never
// carries a variable's value on (the real client hides it already; this holds for any).
Error WithoutValue(Error err, const std::string& value) {
  HideSecret(err.message, value);
  return err;
}

}  // namespace

bim::Status Agent::CallPlatform(const std::function<bim::Status(const std::string&)>& call) {
  auto r = deps_.auth.Call<bool>([&](const std::string& token) -> Result<bool> {
    if (auto s = call(token); !s.ok()) return s.error();
    return true;
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<contract::EnvironmentList> Agent::Environments(const std::string& project_id,
                                                      Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, ""); !s.ok()) return s.error();
  return deps_.auth.Call<contract::EnvironmentList>([&](const std::string& token) {
    return deps_.platform.ListEnvironments(token, project_id, deadline);
  });
}

bim::Status Agent::AddEnvironment(const std::string& project_id, const std::string& name,
                                  Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, name); !s.ok()) return s;
  if (name.empty()) return Error(ErrorCode::kInvalidArgument, "name the environment to add");
  auto r = CallPlatform([&](const std::string& token) {
    return deps_.platform.AddEnvironment(token, project_id, name, deadline);
  });
  if (!r.ok()) return r;
  log::Info("project {}: environment {} added", project_id, name);
  return OkStatus();
}

bim::Status Agent::RemoveEnvironment(const std::string& project_id, const std::string& name,
                                     Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, name); !s.ok()) return s;
  if (name.empty()) return Error(ErrorCode::kInvalidArgument, "name the environment to remove");
  auto r = CallPlatform([&](const std::string& token) {
    return deps_.platform.RemoveEnvironment(token, project_id, name, deadline);
  });
  if (!r.ok()) return r;
  log::Info("project {}: environment {} removed", project_id, name);
  return OkStatus();
}

Result<contract::VariableList> Agent::Variables(const std::string& project_id,
                                                const std::string& environment, bool with_values,
                                                Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, environment); !s.ok()) return s.error();
  if (environment.empty()) return Error(ErrorCode::kInvalidArgument, "name the environment");
  auto list = deps_.auth.Call<contract::VariableList>([&](const std::string& token) {
    return deps_.platform.ListVariables(token, project_id, environment, with_values, deadline);
  });
  if (list.ok() && !with_values) {
    // Names were asked for: a value the platform sent anyway goes no further.
    for (auto& v : list->variables) {
      if (v.value) Wipe(*v.value);
      v.value.reset();
    }
  }
  return list;
}

bim::Status Agent::SetVariable(const std::string& project_id, const std::string& environment,
                               const std::string& key, const std::string& value,
                               Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, environment); !s.ok()) return s;
  if (environment.empty()) return Error(ErrorCode::kInvalidArgument, "name the environment");
  if (auto s = contract::ValidateVariableKey(key); !s.ok()) return s;
  auto r = CallPlatform([&](const std::string& token) -> bim::Status {
    // Hidden before the error goes anywhere, the login's handling of it included.
    auto s = deps_.platform.SetVariable(token, project_id, environment, key, value, deadline);
    if (!s.ok()) return WithoutValue(s.error(), value);
    return s;
  });
  if (!r.ok()) return r;
  log::Info("project {}: variable {} set in {}", project_id, key, environment);
  return OkStatus();
}

bim::Status Agent::UnsetVariable(const std::string& project_id, const std::string& environment,
                                 const std::string& key, Deadline deadline) {
  if (auto s = CheckEnvironment(project_id, environment); !s.ok()) return s;
  if (environment.empty()) return Error(ErrorCode::kInvalidArgument, "name the environment");
  if (auto s = contract::ValidateVariableKey(key); !s.ok()) return s;
  auto r = CallPlatform([&](const std::string& token) {
    return deps_.platform.UnsetVariable(token, project_id, environment, key, deadline);
  });
  if (!r.ok()) return r;
  log::Info("project {}: variable {} unset in {}", project_id, key, environment);
  return OkStatus();
}

Result<DeploymentFiles> Agent::Files(const std::string& id) {
  auto d = Recorded(id);
  if (!d.ok()) return d.error();
  auto files = deps_.snapshots.Load(id);
  if (!files.ok()) return files.error();
  if (!*files) return NotKept(*d);
  return DeploymentFiles{std::move(*d), std::move(**files)};
}

Result<DeploymentView> Agent::Describe(const DeploymentRecord& d, bool with_logs) {
  DeploymentView v;
  v.record = d;
  auto kept = deps_.snapshots.Has(d.id);
  if (!kept.ok()) return kept.error();
  v.restorable = *kept;
  std::string notice = deps_.hub.Notice(d.id);
  v.problem = notice.empty() ? d.stream_problem : notice;
  if (with_logs) {
    auto logs = deps_.store.Logs(d.id);
    if (!logs.ok()) return logs.error();
    v.logs = std::move(*logs);
  }
  return v;
}

Result<DeploymentView> Agent::Status(const std::string& id, Deadline deadline) {
  auto d = Find(id, deadline);
  if (!d.ok()) return d.error();
  return Describe(*d, /*with_logs=*/true);
}

std::optional<Result<DeploymentView>> Agent::StatusIfRecorded(const std::string& id) {
  auto d = FindRecorded(id);
  if (!d.ok()) return Result<DeploymentView>(d.error());
  if (!*d) return std::nullopt;
  return Describe(**d, /*with_logs=*/true);
}

Result<std::vector<DeploymentView>> Agent::History(const std::string& project_id, int limit,
                                                   const std::string& environment) {
  limit = limit <= 0 ? 20 : std::min(limit, 1000);
  auto list = deps_.store.List(project_id, limit, environment);
  if (!list.ok()) return list.error();
  std::vector<DeploymentView> out;
  for (const auto& d : *list) {
    auto v = Describe(d, /*with_logs=*/false);
    if (!v.ok()) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

std::unique_ptr<Subscription> Agent::Subscribe(const std::string& id, int64_t after_seq,
                                               Subscription::Sink& sink) {
  return std::make_unique<Subscription>(deps_.store, deps_.hub, id, std::max<int64_t>(0, after_seq),
                                        sink);
}

namespace {

void Begin(Subscription& subscription, const Result<DeploymentRecord>& d) {
  std::optional<int64_t> ended_at;
  if (d.ok() && d->terminal) ended_at = d->last_seq;
  subscription.Begin(d.ok() ? OkStatus() : bim::Status(d.error()), ended_at);
}

}  // namespace

void Agent::BeginWatch(Subscription& subscription) {
  Begin(subscription, Find(subscription.deployment_id()));
}

bool Agent::BeginWatchIfRecorded(Subscription& subscription) {
  auto d = FindRecorded(subscription.deployment_id());
  if (!d.ok()) {
    Begin(subscription, d.error());
    return true;
  }
  if (!*d) return false;
  Begin(subscription, std::move(**d));
  return true;
}

Result<AuthState> Agent::AuthStatus(bool verify, Deadline deadline) {
  AuthState s = deps_.auth.State();
  if (verify && s.logged_in) return deps_.auth.Verify(deadline);
  return s;
}

Result<LoginOutcome> Agent::LoginCheck(const std::string& login_id, std::chrono::seconds wait) {
  return deps_.auth.LoginCheck(login_id,
                               std::clamp(wait, std::chrono::seconds(0), std::chrono::seconds(60)));
}

// ---- custom domains ------------------------------------------------------------------------

namespace {

// A domain command's project and domain, checked; the domain normalised in place.
bim::Status CheckDomain(const std::string& project_id, std::string& domain) {
  if (project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "say which project (a project folder or its id): domains belong to one");
  }
  if (auto s = contract::ValidateId(project_id, "project id"); !s.ok()) return s;
  domain = contract::NormalizeDomain(domain);
  if (domain.empty()) return Error(ErrorCode::kInvalidArgument, "name the domain");
  return contract::ValidateDomainName(domain);
}

// How long the agent's own lookup of one record may take.
constexpr std::chrono::seconds kLookupTimeout{5};
// The most records of one domain the agent looks up itself: the platform asks for two.
constexpr size_t kMaxLookups = 16;

}  // namespace

Result<DomainChecker*> Agent::Checker() {
  if (!deps_.domain_checker || !deps_.domain_store) {
    return Error(ErrorCode::kInternal, "this agent was built without custom domains");
  }
  return deps_.domain_checker;
}

Result<contract::Domain> Agent::AddDomain(const std::string& project_id, const std::string& domain,
                                          const std::string& environment, Deadline deadline) {
  std::string name = domain;
  if (auto s = CheckDomain(project_id, name); !s.ok()) return s.error();
  if (!environment.empty()) {
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) return s.error();
  }
  auto checker = Checker();
  if (!checker.ok()) return checker.error();
  auto added = deps_.auth.Call<contract::Domain>([&](const std::string& token) {
    return deps_.platform.AddDomain(token, project_id,
                                    contract::AddDomainRequest{name, environment}, deadline);
  });
  if (!added.ok()) return added.error();
  // What the platform says it added is what the checks ask about.
  added->project_id = project_id;
  if (added->domain != name) {
    return Error(ErrorCode::kProtocol,
                 fmt::format("the platform answered about domain \"{}\" when {} was added",
                             added->domain.substr(0, 64), name));
  }
  if (auto s = deps_.domain_store->Remember(api_url(), *added); !s.ok()) {
    // Added all the same: only the background check and its notice are lost.
    log::Error("domain {}: added, but cannot remember it to check its certificate: {}", name,
               s.error().message);
  }
  (*checker)->Saw(*added);
  log::Info("project {}: domain {} added ({})", project_id, name, added->environment);
  return added;
}

Result<contract::DomainList> Agent::Domains(const std::string& project_id,
                                            const std::string& environment, Deadline deadline) {
  if (project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "say which project (a project folder or its id): domains belong to one");
  }
  if (auto s = contract::ValidateId(project_id, "project id"); !s.ok()) return s.error();
  if (!environment.empty()) {
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) return s.error();
  }
  auto checker = Checker();
  if (!checker.ok()) return checker.error();
  auto list = deps_.auth.Call<contract::DomainList>([&](const std::string& token) {
    return deps_.platform.ListDomains(token, project_id, deadline);
  });
  if (!list.ok()) return list.error();
  list->project_id = project_id;
  std::vector<contract::Domain> shown;
  for (auto& d : list->domains) {
    d.project_id = project_id;
    (*checker)->Saw(d);
    if (environment.empty() || d.environment == environment) shown.push_back(std::move(d));
  }
  list->domains = std::move(shown);
  return list;
}

Result<DomainVerification> Agent::VerifyDomain(const std::string& project_id,
                                               const std::string& domain, Deadline deadline) {
  std::string name = domain;
  if (auto s = CheckDomain(project_id, name); !s.ok()) return s.error();
  auto checker = Checker();
  if (!checker.ok()) return checker.error();
  auto verified = deps_.auth.Call<contract::Domain>([&](const std::string& token) {
    return deps_.platform.VerifyDomain(token, project_id, name, deadline);
  });
  if (!verified.ok()) return verified.error();
  verified->project_id = project_id;
  verified->domain = name;
  (*checker)->Saw(*verified);
  DomainVerification v;
  v.domain = std::move(*verified);
  if (deps_.resolver) v.resolver = deps_.resolver->server();
  for (const contract::DnsRecord& r : v.domain.records) {
    RecordLookup l;
    auto type = dns::ParseRecordType(r.type);
    if (!deps_.resolver) {
      l.error = "the agent has no resolver";
    } else if (v.lookups.size() >= kMaxLookups) {
      l.error = fmt::format("not looked up: the agent looks up at most {} records", kMaxLookups);
    } else if (!type) {
      l.error = "the agent cannot look up a record of type " + r.type.substr(0, 16);
    } else {
      auto found = deps_.resolver->Lookup(r.name, *type, kLookupTimeout);
      if (found.ok()) {
        l.found = std::move(*found);
        for (const auto& f : l.found)
          l.ok = l.ok || contract::RecordValueMatches(r.type, r.value, f);
      } else {
        l.error = found.error().message;
      }
    }
    v.lookups.push_back(std::move(l));
  }
  log::Info("project {}: domain {} verified: dns {}, certificate {}", project_id, name,
            contract::DnsStateName(v.domain.dns),
            contract::CertificateStateName(v.domain.certificate));
  return v;
}

bim::Status Agent::RemoveDomain(const std::string& project_id, const std::string& domain,
                                Deadline deadline) {
  std::string name = domain;
  if (auto s = CheckDomain(project_id, name); !s.ok()) return s;
  auto checker = Checker();
  if (!checker.ok()) return checker.error();
  auto r = CallPlatform([&](const std::string& token) {
    return deps_.platform.RemoveDomain(token, project_id, name, deadline);
  });
  // A domain the platform no longer has is forgotten here too.
  if (!r.ok() && r.error().code != ErrorCode::kNotFound) return r;
  (*checker)->Forget(project_id, name);
  if (auto s = deps_.domain_store->Forget(api_url(), project_id, name); !s.ok()) {
    log::Error("domain {}: removed, but cannot forget it: {}", name, s.error().message);
  }
  if (!r.ok()) return r;
  log::Info("project {}: domain {} removed", project_id, name);
  return OkStatus();
}

std::vector<std::string> Agent::CheckedDomains() {
  if (!deps_.domain_checker) return {};
  return deps_.domain_checker->Checking();
}

Result<LogsSource> Agent::LogsSourceOf(const LogsTarget& target, Deadline deadline) {
  if (!target.deployment_id.empty()) {
    if (!target.project_id.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "name a deployment or a project, not both: a deployment belongs to one project");
    }
    auto d = Find(target.deployment_id, deadline);
    if (!d.ok()) return d.error();
    return LogsSource{std::move(*d), ""};
  }
  if (target.project_id.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "name a deployment, or a project (its folder or its id) whose deployment's logs "
                 "to show");
  }
  const std::string environment =
      target.environment.empty() ? std::string("production") : target.environment;
  auto list = deps_.store.List(target.project_id, 1000, "");
  if (!list.ok()) return list.error();
  // A deployment to a platform without environments names none: it is the project's production.
  auto in_environment = [&](const DeploymentRecord& d) {
    return d.environment == environment || (d.environment.empty() && environment == "production");
  };
  const DeploymentRecord* newest = nullptr;
  for (const auto& d : *list) {  // newest first
    if (!in_environment(d)) continue;
    if (!newest) newest = &d;
    if (d.status == contract::Stage::kComplete) {
      return LogsSource{d, fmt::format("the newest complete deployment of project {} ({})",
                                       target.project_id, environment)};
    }
  }
  if (!newest) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("this agent has no deployment of project {} in {}; name the "
                             "deployment by its id, or see `backend-im history`",
                             target.project_id, environment));
  }
  return LogsSource{*newest, fmt::format("the newest deployment of project {} ({}), which did not "
                                         "complete",
                                         target.project_id, environment)};
}

Result<LogsAnswer> Agent::Logs(const LogsTarget& target, const LogFilter& filter, int tail,
                               Deadline deadline) {
  tail = tail <= 0 ? 100 : std::min(tail, 1000);
  auto source = LogsSourceOf(target, deadline);
  if (!source.ok()) return source.error();
  LogQuery q;
  // grep is the agent's own: ask for as many as a page holds, keep the newest that match.
  q.tail = filter.grep.empty() ? tail : 1000;
  q.since = filter.since;
  q.level = filter.level;
  auto page = deps_.auth.Call<contract::LogPage>([&](const std::string& token) {
    return deps_.platform.Logs(token, source->record.id, q, deadline);
  });
  if (!page.ok()) return page.error();
  LogsAnswer a;
  a.source = std::move(*source);
  a.cursor = page->cursor;
  a.first = page->first;
  for (auto& l : page->lines) {
    if (filter.Matches(l)) a.lines.push_back(std::move(l));
  }
  if (a.lines.size() > static_cast<size_t>(tail)) {
    a.lines.erase(a.lines.begin(), a.lines.end() - tail);
  }
  return a;
}

Result<LogsFollow> Agent::FollowLogs(const LogsTarget& target, const LogFilter& filter, int tail,
                                     std::optional<int64_t> after, Deadline deadline) {
  if (!deps_.log_hub) return Error(ErrorCode::kUnavailable, "this agent does not follow logs");
  LogsFollow f;
  std::vector<LogItem> first;
  if (after) {
    auto source = LogsSourceOf(target, deadline);
    if (!source.ok()) return source.error();
    f.source = std::move(*source);
    f.cursor = std::max<int64_t>(*after, 0);
  } else {
    // The tail's page says where the platform is: following goes on from there.
    auto page = Logs(target, filter, tail <= 0 ? 1 : tail, deadline);
    if (!page.ok()) return page.error();
    f.source = std::move(page->source);
    f.cursor = page->cursor;
    if (tail > 0) {
      for (auto& l : page->lines) {
        LogItem item;
        item.line = std::move(l);
        first.push_back(std::move(item));
      }
    }
  }
  f.follower = deps_.log_hub->Follow(f.source.record.id, f.cursor, filter, std::move(first));
  return f;
}

}  // namespace bim::daemon
