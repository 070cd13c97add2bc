#include "ctl/operations.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/path_policy.h"
#include "ctl/interrupt.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string AbsolutePath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return p == "." ? std::string(cwd) : std::string(cwd) + "/" + p;
}

// A local error (files, folders) in the operations' terms.
OpError Local(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kPermissionDenied:
      return OpFail(OpFailure::kUsage, e.message);
    case ErrorCode::kConflict:
      return OpFail(OpFailure::kConflict, e.message);
    default:
      return OpFail(OpFailure::kLocalFiles, e.message);
  }
}

}  // namespace

Result<void, OpError> Operations::FinalOutcome(const pb::Deployment& d) {
  auto stage = proto::StageOf(d);
  if (stage == contract::Stage::kFailed) {
    return OpFail(OpFailure::kDeployFailed, fmt::format("deployment {} failed", d.id()));
  }
  if (stage == contract::Stage::kComplete) {
    if (auto s = contract::CheckUrlToOpen(d.url(), "deployment URL"); !s.ok()) {
      std::string why = !d.stream_problem().empty() ? d.stream_problem()
                        : d.url().empty()           ? std::string("the platform gave no URL")
                                                    : s.error().message;
      return OpFail(OpFailure::kPlatform,
                    fmt::format("deployment {} is complete on the platform, but it has no usable "
                                "URL: {}",
                                d.id(), why));
    }
  }
  return {};
}

// ---- auth -----------------------------------------------------------------------------------

OpResult<pb::AuthStatusReply> Operations::AuthStatus(bool verify, CancelToken& cancel) {
  pb::AuthStatusRequest req;
  req.set_verify(verify);
  return agent_.AuthStatus(req, cancel);
}

OpResult<pb::AuthStatusReply> Operations::LoginWithToken(const std::string& token,
                                                         CancelToken& cancel) {
  pb::LoginWithTokenRequest req;
  req.set_access_token(token);
  return agent_.LoginWithToken(req, cancel);
}

OpResult<pb::LoginStartReply> Operations::LoginStart(CancelToken& cancel) {
  return agent_.LoginStart(cancel);
}

OpResult<pb::LoginCheckReply> Operations::AwaitLogin(
    const std::string& login_id, std::optional<std::chrono::steady_clock::time_point> deadline,
    CancelToken& cancel, const std::function<void()>& on_pending) {
  while (true) {
    int wait = 20;
    if (deadline) {
      auto left = std::chrono::duration_cast<seconds>(*deadline - std::chrono::steady_clock::now());
      wait = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 10));
    }
    auto r = LoginCheck(login_id, wait, cancel);
    if (!r.ok()) return r.error();
    if (r->state() != pb::LoginCheckReply::PENDING || (deadline && wait == 0)) return r;
    if (on_pending) on_pending();
  }
}

OpResult<pb::LoginCheckReply> Operations::LoginCheck(const std::string& login_id, int wait_seconds,
                                                     CancelToken& cancel) {
  pb::LoginCheckRequest req;
  req.set_login_id(login_id);
  req.set_wait_seconds(wait_seconds);
  auto r = agent_.LoginCheck(req, cancel);
  if (!r.ok() && r.error().kind == OpFailure::kNotFound) {
    return OpFail(OpFailure::kNotFound,
                  fmt::format("no login {} is in progress (the agent may have restarted); start "
                              "again",
                              login_id));
  }
  return r;
}

OpResult<bool> Operations::Logout(CancelToken& cancel) {
  auto r = agent_.Logout(cancel);
  if (!r.ok()) return r.error();
  return r->was_logged_in();
}

// ---- generate -------------------------------------------------------------------------------

OpResult<GenerateOutcome> Operations::Generate(const std::string& prompt, const std::string& dir,
                                               bool force, CancelToken& cancel) {
  // gRPC strings must be UTF-8; protobuf would otherwise log an error and send nothing useful.
  if (!IsValidUtf8(prompt)) {
    return OpFail(OpFailure::kUsage,
                  "the prompt is not valid UTF-8; check your terminal's encoding (locale)");
  }
  // Before the platform is asked: a refused folder would waste the generate.
  if (auto s = CheckOutputFolder(dir); !s.ok()) return OpFail(OpFailure::kUsage, s.error().message);
  pb::GenerateRequest req;
  req.set_prompt(prompt);
  auto reply = agent_.Generate(req, cancel);
  if (!reply.ok()) return reply.error();

  GenerateOutcome out;
  out.directory = AbsolutePath(dir);
  out.project_id = reply->project_id();
  for (const auto& f : reply->files()) out.files[f.path()] = f.content();
  if (static_cast<int>(out.files.size()) != reply->files_size()) {
    return OpFail(OpFailure::kPlatform,
                  "the platform's answer names a file twice; nothing was written");
  }
  // Ctrl-C now waits until the files and the project's metadata are in place, so it never
  // leaves a staging folder or half a project behind.
  interrupt::Deferred whole;
  auto written = WriteProjectFiles(dir, out.files, force);
  if (!written.ok()) {
    // An unsafe name came from the platform, not from the caller.
    if (written.error().code == ErrorCode::kInvalidArgument) {
      return OpFail(OpFailure::kPlatform, written.error().message);
    }
    return Local(written.error());
  }
  out.report = std::move(*written);
  if (!out.project_id.empty()) {
    if (auto s = SaveProjectMeta(dir, {out.project_id}); !s.ok()) {
      return OpFail(OpFailure::kLocalFiles,
                    "wrote the files but cannot remember the project: " + s.error().message);
    }
  }
  return out;
}

// ---- deploy ---------------------------------------------------------------------------------

OpResult<DeployOutcome> Operations::Deploy(const std::string& dir, const std::string& project_id,
                                           CancelToken& cancel) {
  DeployOutcome out;
  out.directory = AbsolutePath(dir);
  auto snap = ReadProjectFiles(dir);
  if (!snap.ok()) return Local(snap.error());
  if (snap->files.empty()) {
    return OpFail(OpFailure::kUsage,
                  fmt::format("nothing to upload in {} (hidden files, caches and secrets are left "
                              "out); generate a project first, or use the folder that holds "
                              "main.py",
                              out.directory));
  }
  std::string project = project_id;
  if (project.empty()) {
    if (auto meta = LoadProjectMeta(dir)) project = meta->project_id;
  }
  pb::DeployRequest req;
  for (const auto& [path, content] : snap->files) {
    auto* f = req.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  req.set_project_id(project);
  req.set_directory(out.directory);
  auto reply = agent_.Deploy(req, cancel);
  if (!reply.ok()) return reply.error();
  out.deployment = reply->deployment();
  out.snapshot = std::move(*snap);
  const auto& d = out.deployment;
  if (!d.project_id().empty() && d.project_id() != project) {
    if (auto s = SaveProjectMeta(dir, {d.project_id()}); !s.ok()) {
      out.note = "cannot remember the project id: " + s.error().message;
    }
  }
  return out;
}

// ---- snapshots: rollback, restore, diff -----------------------------------------------------

OpResult<pb::Deployment> Operations::Rollback(const std::string& dir, const std::string& project_id,
                                              const std::string& to, CancelToken& cancel) {
  pb::RollbackRequest req;
  std::string project = project_id;
  if (project.empty() && to.empty()) {
    if (auto meta = LoadProjectMeta(dir)) project = meta->project_id;
    if (project.empty()) {
      return OpFail(OpFailure::kUsage,
                    fmt::format("{} remembers no project (.backend-im/project.json); name one with "
                                "--project, or a deployment with --to",
                                AbsolutePath(dir)));
    }
  }
  req.set_project_id(project);
  req.set_to_deployment_id(to);
  auto reply = agent_.Rollback(req, cancel);
  if (!reply.ok()) return reply.error();
  return reply->deployment();
}

OpResult<FilesOutcome> Operations::Files(const std::string& id, CancelToken& cancel) {
  pb::GetFilesRequest req;
  req.set_deployment_id(id);
  auto reply = agent_.GetFiles(req, cancel);
  if (!reply.ok()) return reply.error();
  FilesOutcome out;
  out.deployment = reply->deployment();
  for (const auto& f : reply->files()) out.files[f.path()] = f.content();
  if (static_cast<int>(out.files.size()) != reply->files_size()) {
    return OpFail(OpFailure::kAgent, "the agent's answer names a file twice");
  }
  return out;
}

OpResult<RestoreOutcome> Operations::Restore(const std::string& id, const std::string& dir,
                                             bool force, CancelToken& cancel) {
  if (auto s = CheckOutputFolder(dir); !s.ok()) return OpFail(OpFailure::kUsage, s.error().message);
  auto got = Files(id, cancel);
  if (!got.ok()) return got.error();
  RestoreOutcome out;
  out.deployment = std::move(got->deployment);
  out.files = std::move(got->files);
  out.directory = AbsolutePath(dir);
  interrupt::Deferred whole;
  auto written = WriteProjectFiles(dir, out.files, force);
  if (!written.ok()) return Local(written.error());
  out.report = std::move(*written);
  if (!LoadProjectMeta(dir) && !out.deployment.project_id().empty()) {
    (void)SaveProjectMeta(dir, {out.deployment.project_id()});
  }
  return out;
}

OpResult<std::optional<FilesOutcome>> Operations::LastDeployment(const std::string& project_id,
                                                                 CancelToken& cancel) {
  auto list = History(project_id, 1, cancel);
  if (!list.ok()) return list.error();
  if (list->empty()) return std::optional<FilesOutcome>();
  const pb::Deployment& last = list->front();
  if (!last.restorable()) return std::optional<FilesOutcome>(FilesOutcome{last, {}});
  auto files = Files(last.id(), cancel);
  if (!files.ok()) return files.error();
  return std::optional<FilesOutcome>(std::move(*files));
}

OpResult<DiffOutcome> Operations::Diff(const std::string& from_id, const std::string& to_id,
                                       const std::string& dir, CancelToken& cancel) {
  DiffOutcome out;
  contract::FileMap from_files;
  if (from_id.empty()) {
    auto meta = LoadProjectMeta(dir);
    if (!meta || meta->project_id.empty()) {
      return OpFail(OpFailure::kUsage,
                    fmt::format("{} remembers no project (.backend-im/project.json); name the "
                                "deployments to compare",
                                AbsolutePath(dir)));
    }
    auto last = LastDeployment(meta->project_id, cancel);
    if (!last.ok()) return last.error();
    if (!*last) {
      return OpFail(OpFailure::kNotFound,
                    fmt::format("project {} has no deployment in this agent's history yet",
                                meta->project_id));
    }
    if (!(*last)->deployment.restorable()) {
      return OpFail(OpFailure::kNotFound,
                    fmt::format("the files of deployment {}, the last of project {}, are no longer "
                                "kept",
                                (*last)->deployment.id(), meta->project_id));
    }
    out.from = (*last)->deployment.id();
    from_files = std::move((*last)->files);
  } else {
    auto got = Files(from_id, cancel);
    if (!got.ok()) return got.error();
    out.from = from_id;
    from_files = std::move(got->files);
  }
  contract::FileMap to_files;
  if (!to_id.empty()) {
    auto got = Files(to_id, cancel);
    if (!got.ok()) return got.error();
    out.to = to_id;
    to_files = std::move(got->files);
  } else {
    auto snap = ReadProjectFiles(dir);
    if (!snap.ok()) return Local(snap.error());
    out.to = dir;
    to_files = std::move(snap->files);
  }
  out.diff = DiffTrees(from_files, to_files, out.from, out.to);
  return out;
}

// ---- watch, status, history -----------------------------------------------------------------

OpResult<WatchOutcome> Operations::Watch(const std::string& id, int64_t after_seq,
                                         milliseconds timeout, const WatchHooks& hooks,
                                         CancelToken& cancel) {
  WatchOutcome out;
  bool ended = false;
  pb::DeploymentEvent last;  // the terminal event
  pb::WatchRequest req;
  req.set_deployment_id(id);
  req.set_after_seq(after_seq);
  AgentApi::StreamHooks stream;
  stream.before_wait = hooks.before_wait;
  stream.on_reattach = hooks.on_reattach;
  stream.on_message = [&](const pb::DeploymentEvent& ev) {
    if (ev.seq() == 0) {
      if (hooks.on_notice) hooks.on_notice(ev.notice());
      return;
    }
    hooks.on_event(ev);
    if (ev.terminal()) {
      ended = true;
      last = ev;
    }
  };
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout.count() > 0) deadline = std::chrono::steady_clock::now() + timeout;
  auto streamed = agent_.Watch(req, deadline, stream, cancel);
  if (!streamed.ok()) return streamed.error();
  out.timed_out = *streamed && !ended;
  if (!ended && !out.timed_out) {
    return OpFail(OpFailure::kAgent,
                  fmt::format("the stream of {} ended before the deployment did", id));
  }
  if (hooks.outcome_only && ended) {
    pb::Deployment& d = out.deployment;
    d.set_id(id);
    d.set_status(last.status());
    d.set_stage(last.stage());
    d.set_url(last.url());
    d.set_terminal(true);
    d.set_last_seq(last.seq());
    auto final = FinalOutcome(d);
    if (final.ok() || final.error().kind == OpFailure::kDeployFailed) return out;
  }
  // The agent's store has the whole story, logs included, whatever the stream delivered.
  auto d = Status(id, cancel);
  if (!d.ok()) return d.error();
  out.deployment = std::move(*d);
  return out;
}

OpResult<pb::AgentInfo> Operations::Info(CancelToken& cancel) { return agent_.GetInfo(cancel); }

OpResult<pb::Deployment> Operations::Status(const std::string& id, CancelToken& cancel) {
  pb::StatusRequest req;
  req.set_deployment_id(id);
  return agent_.Status(req, cancel);
}

OpResult<std::vector<pb::Deployment>> Operations::History(const std::string& project_id, int limit,
                                                          CancelToken& cancel) {
  pb::HistoryRequest req;
  req.set_project_id(project_id);
  req.set_limit(limit);
  auto reply = agent_.History(req, cancel);
  if (!reply.ok()) return reply.error();
  return std::vector<pb::Deployment>(reply->deployments().begin(), reply->deployments().end());
}

}  // namespace bim::ctl
