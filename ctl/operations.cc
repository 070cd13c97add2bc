#include "ctl/operations.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/agent_wire.h"
#include "common/path_policy.h"
#include "ctl/interrupt.h"
#include "ctl/output.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kQuick = seconds(30);
constexpr milliseconds kSlow = std::chrono::minutes(10);

OpError Fail(OpFailure kind, std::string message) { return OpError{kind, std::move(message)}; }
OpError Cancelled() { return Fail(OpFailure::kCancelled, "cancelled"); }

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
      return Fail(OpFailure::kUsage, e.message);
    case ErrorCode::kConflict:
      return Fail(OpFailure::kConflict, e.message);
    default:
      return Fail(OpFailure::kLocalFiles, e.message);
  }
}

}  // namespace

int ExitCodeFor(OpFailure kind) {
  switch (kind) {
    case OpFailure::kUsage:
      return kExitUsage;
    case OpFailure::kAuth:
      return kExitAuth;
    case OpFailure::kAgent:
      return kExitAgent;
    case OpFailure::kPlatform:
      return kExitPlatform;
    case OpFailure::kLocalFiles:
    case OpFailure::kConflict:
      return kExitLocalFiles;
    case OpFailure::kNotFound:
      return kExitNotFound;
    case OpFailure::kDeployFailed:
      return kExitDeployFailed;
    case OpFailure::kCancelled:
      return kExitInterrupted;
  }
  return kExitPlatform;
}

std::string ToolErrorText(const OpError& e, const std::string& what) {
  constexpr const char* kLoginHint =
      "not logged in: ask the user to run `backend-im auth login` in a terminal, or log in from "
      "here with auth_login_start and auth_login_check";
  switch (e.kind) {
    case OpFailure::kAuth:
      if (e.message.rfind("not logged in", 0) == 0) return fmt::format("{}: {}", what, kLoginHint);
      return fmt::format("{}: {} (the agent said: {})", what, kLoginHint, e.message);
    case OpFailure::kNotFound:
      return fmt::format(
          "{} failed: {}. Check the id: list_deployments shows the deployments made here.", what,
          e.message);
    case OpFailure::kAgent:
      return fmt::format(
          "{} failed: {} (the backend-im agent); call the tool again, and if it keeps failing "
          "ask the user to run `backend-im daemon status`",
          what, e.message);
    case OpFailure::kConflict:
      return fmt::format(
          "{} wrote nothing: {}. Call {} again with force true to overwrite them, or choose "
          "another directory.",
          what, e.message, what);
    case OpFailure::kCancelled:
      return "cancelled by the client";
    case OpFailure::kDeployFailed:
      return fmt::format("{}: {}", what, e.message);
    default:
      return fmt::format("{} failed: {}", what, e.message);
  }
}

// ---- the model ------------------------------------------------------------------------------

json DeploymentModel(const pb::Deployment& d) {
  json j{{"deploymentId", d.id()},
         {"projectId", d.project_id()},
         {"commitHash", d.commit_hash()},
         {"status", d.status()},
         {"terminal", d.terminal()},
         {"createdAt", FormatIso(d.created_at_unix_ms())},
         {"updatedAt", FormatIso(d.updated_at_unix_ms())},
         {"lastSeq", d.last_seq()}};
  if (!d.url().empty()) j["url"] = d.url();
  if (!d.directory().empty()) j["directory"] = d.directory();
  if (!d.stream_problem().empty()) j["streamProblem"] = d.stream_problem();
  if (d.logs_size() > 0) j["logs"] = std::vector<std::string>(d.logs().begin(), d.logs().end());
  if (d.logs_truncated()) j["logsTruncated"] = true;
  if (!d.restored_of().empty()) j["restoredOf"] = d.restored_of();
  j["restorable"] = d.restorable();
  return j;
}

json DeploymentModelSchema() {
  auto str = [](const char* description) {
    return json{{"type", "string"}, {"description", description}};
  };
  json properties{
      {"deploymentId", str("The deployment's id")},
      {"projectId", str("The project it belongs to")},
      {"commitHash", str("Hash of the uploaded files; the URL is https://<commitHash>.backend.im")},
      {"status", str("queued, committing, creating_namespace, creating_pvc, building, "
                     "deploying, health_check, complete or failed")},
      {"terminal", {{"type", "boolean"}, {"description", "True once complete or failed"}}},
      {"createdAt", str("When it was created (ISO 8601, UTC)")},
      {"updatedAt", str("When it last changed (ISO 8601, UTC)")},
      {"lastSeq", {{"type", "integer"}, {"description", "The number of its newest event"}}},
      {"url", str("The live URL (https); present once complete")},
      {"directory", str("The local folder it was deployed from, when known")},
      {"streamProblem", str("Present while the agent cannot follow the platform's live stream, "
                            "or when the platform said something unusable")},
      {"logs",
       {{"type", "array"},
        {"items", {{"type", "string"}}},
        {"description",
         "The platform's log lines, oldest first; absent when there are none "
         "(history leaves them out)"}}},
      {"logsTruncated",
       {{"type", "boolean"},
        {"description", "Present (true) when the logs were too long to return whole"}}},
      {"restoredOf", str("Present on a rollback: the deployment whose files it deployed again")},
      {"restorable",
       {{"type", "boolean"},
        {"description",
         "True when the agent keeps its files, so it can be rolled back to, restored and "
         "diffed"}}}};
  return json{{"type", "object"},
              {"properties", std::move(properties)},
              {"required",
               {"deploymentId", "projectId", "commitHash", "status", "terminal", "createdAt",
                "updatedAt", "lastSeq", "restorable"}}};
}

json EventModel(const pb::DeploymentEvent& e) {
  json j{{"deploymentId", e.deployment_id()},
         {"seq", e.seq()},
         {"status", e.status()},
         {"logs", std::vector<std::string>(e.logs().begin(), e.logs().end())},
         {"terminal", e.terminal()},
         {"source", e.source()},
         {"receivedAt", FormatIso(e.received_at_unix_ms())}};
  if (!e.url().empty()) j["url"] = e.url();
  return j;
}

json AuthModel(const pb::AuthStatusReply& a) {
  json j{{"loggedIn", a.logged_in()}, {"apiUrl", a.api_url()}};
  if (!a.logged_in()) return j;
  j["canRefresh"] = a.can_refresh();
  j["verified"] = a.verified();
  if (!a.source().empty()) j["source"] = a.source();
  if (!a.user_id().empty()) j["userId"] = a.user_id();
  if (!a.email().empty()) j["email"] = a.email();
  if (a.expires_at_unix_ms() > 0) j["expiresAt"] = FormatIso(a.expires_at_unix_ms());
  return j;
}

json GenerateModel(const GenerateOutcome& g) {
  json files = json::array();
  for (const auto& [path, content] : g.files) {
    files.push_back({{"path", path}, {"bytes", content.size()}});
  }
  json j{{"directory", g.directory},
         {"files", std::move(files)},
         {"written", g.report.written},
         {"unchanged", g.report.unchanged}};
  if (!g.project_id.empty()) j["projectId"] = g.project_id;
  return j;
}

json RestoreModel(const RestoreOutcome& r) {
  json files = json::array();
  for (const auto& [path, content] : r.files) {
    files.push_back({{"path", path}, {"bytes", content.size()}});
  }
  return json{{"deploymentId", r.deployment.id()},
              {"directory", r.directory},
              {"files", std::move(files)},
              {"written", r.report.written},
              {"unchanged", r.report.unchanged}};
}

json DiffModel(const DiffOutcome& d) {
  json files = json::array();
  for (const auto& c : d.diff.changes) {
    files.push_back({{"path", c.path}, {"change", ChangeName(c.kind)}, {"binary", c.binary}});
  }
  return json{{"from", d.from},
              {"to", d.to},
              {"same", d.diff.same()},
              {"files", std::move(files)},
              {"diff", d.diff.Unified()}};
}

json DeployModel(const DeployOutcome& d) {
  json j = DeploymentModel(d.deployment);
  json skipped = json::array();
  for (const auto& s : d.snapshot.skipped) {
    skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  }
  j["directory"] = d.directory;
  j["fileCount"] = d.snapshot.files.size();
  j["totalBytes"] = d.snapshot.total_bytes;
  j["skipped"] = std::move(skipped);
  return j;
}

// ---- plumbing -------------------------------------------------------------------------------

wire::Channel Operations::QuickChannel() {
  std::lock_guard lock(client_mu_);
  return client_.channel();
}

OpResult<wire::Channel> Operations::Connect() {
  std::lock_guard lock(client_mu_);
  if (auto s = client_.Connect(); !s.ok()) return Fail(OpFailure::kAgent, s.error().message);
  return client_.channel();
}

Operations::Unconnected Operations::WhenUnconnected(const wire::CallStatus& status,
                                                    CancelToken& cancel) {
  if (status.code == wire::Code::kPermissionDenied) return Unconnected::kRefused;
  if (status.code == wire::Code::kUnavailable && !cancel.cancelled()) return Unconnected::kRetry;
  return Unconnected::kClassify;
}

OpError Operations::Classify(const wire::CallContext& ctx, const wire::CallStatus& status,
                             CancelToken& cancel) const {
  if (cancel.cancelled()) return Cancelled();
  const std::string& msg = status.message;
  const std::string platform_code = wire::First(ctx.trailing_metadata(), bim::wire::kErrorCodeKey);
  switch (status.code) {
    case wire::Code::kInvalidArgument:
      return Fail(OpFailure::kUsage, msg);
    case wire::Code::kUnauthenticated:
    case wire::Code::kPermissionDenied:
      return Fail(OpFailure::kAuth, msg);
    case wire::Code::kNotFound:
      return Fail(OpFailure::kNotFound, msg);
    case wire::Code::kDeadlineExceeded:
      if (!platform_code.empty()) return Fail(OpFailure::kPlatform, msg);
      return Fail(OpFailure::kAgent, "the agent did not answer in time");
    case wire::Code::kUnavailable:
    case wire::Code::kCancelled:
      if (AgentClient::AgentGone(ctx, status)) {
        return Fail(OpFailure::kAgent, fmt::format("lost the connection to the agent on {} ({})",
                                                   client_.socket_path(), msg));
      }
      return Fail(OpFailure::kPlatform,
                  fmt::format("Backend.im could not be reached ({}); try again in a minute", msg));
    default:
      return Fail(OpFailure::kPlatform, msg);
  }
}

template <typename Request, typename Reply>
OpResult<Reply> Operations::Unary(const rpc::Unary<Request, Reply>& method,
                                  const std::type_identity_t<Request>& request,
                                  milliseconds timeout, CancelToken& cancel) {
  // The first try goes straight to the socket the client found (one connection, verified before
  // anything is sent); only when nothing listened there does Connect() look again and start an
  // agent, and the call is made once more.
  wire::Channel channel = QuickChannel();
  for (bool first = true;; first = false) {
    auto ctx = client_.NewContext(timeout);
    if (!cancel.Attach(ctx.get())) return Cancelled();
    Reply reply;
    wire::CallStatus status = channel.Unary(method.path, request, &reply, *ctx);
    cancel.Detach();
    if (!status.ok() && !ctx->connected()) {
      Unconnected next = WhenUnconnected(status, cancel);
      if (next == Unconnected::kRefused) return Fail(OpFailure::kAgent, status.message);
      if (next == Unconnected::kRetry && first) {
        auto connected = Connect();
        if (!connected.ok()) return connected.error();
        channel = std::move(*connected);
        continue;
      }
    }
    {
      std::lock_guard lock(client_mu_);
      client_.CheckReply(*ctx);
    }
    if (!status.ok()) return Classify(*ctx, status, cancel);
    if (cancel.cancelled()) return Cancelled();
    return reply;
  }
}

Result<void, OpError> Operations::FinalOutcome(const pb::Deployment& d) {
  auto stage = proto::StageOf(d);
  if (stage == contract::Stage::kFailed) {
    return Fail(OpFailure::kDeployFailed, fmt::format("deployment {} failed", d.id()));
  }
  if (stage == contract::Stage::kComplete) {
    if (auto s = contract::CheckUrlToOpen(d.url(), "deployment URL"); !s.ok()) {
      std::string why = !d.stream_problem().empty() ? d.stream_problem()
                        : d.url().empty()           ? std::string("the platform gave no URL")
                                                    : s.error().message;
      return Fail(OpFailure::kPlatform,
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
  return Unary(rpc::kAuthStatus, req, kQuick, cancel);
}

OpResult<pb::AuthStatusReply> Operations::LoginWithToken(const std::string& token,
                                                         CancelToken& cancel) {
  pb::LoginWithTokenRequest req;
  req.set_access_token(token);
  return Unary(rpc::kLoginWithToken, req, kQuick, cancel);
}

OpResult<pb::LoginStartReply> Operations::LoginStart(CancelToken& cancel) {
  return Unary(rpc::kLoginStart, pb::LoginStartRequest(), kQuick, cancel);
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
  auto r = Unary(rpc::kLoginCheck, req, seconds(wait_seconds) + kQuick, cancel);
  if (!r.ok() && r.error().kind == OpFailure::kNotFound) {
    return Fail(OpFailure::kNotFound,
                fmt::format("no login {} is in progress (the agent may have restarted); start "
                            "again",
                            login_id));
  }
  return r;
}

OpResult<bool> Operations::Logout(CancelToken& cancel) {
  auto r = Unary(rpc::kLogout, pb::LogoutRequest(), kQuick, cancel);
  if (!r.ok()) return r.error();
  return r->was_logged_in();
}

// ---- generate -------------------------------------------------------------------------------

OpResult<GenerateOutcome> Operations::Generate(const std::string& prompt, const std::string& dir,
                                               bool force, CancelToken& cancel) {
  // gRPC strings must be UTF-8; protobuf would otherwise log an error and send nothing useful.
  if (!IsValidUtf8(prompt)) {
    return Fail(OpFailure::kUsage,
                "the prompt is not valid UTF-8; check your terminal's encoding (locale)");
  }
  // Before the platform is asked: a refused folder would waste the generate.
  if (auto s = CheckOutputFolder(dir); !s.ok()) return Fail(OpFailure::kUsage, s.error().message);
  pb::GenerateRequest req;
  req.set_prompt(prompt);
  auto reply = Unary(rpc::kGenerate, req, kSlow, cancel);
  if (!reply.ok()) return reply.error();

  GenerateOutcome out;
  out.directory = AbsolutePath(dir);
  out.project_id = reply->project_id();
  for (const auto& f : reply->files()) out.files[f.path()] = f.content();
  if (static_cast<int>(out.files.size()) != reply->files_size()) {
    return Fail(OpFailure::kPlatform,
                "the platform's answer names a file twice; nothing was written");
  }
  // Ctrl-C now waits until the files and the project's metadata are in place, so it never
  // leaves a staging folder or half a project behind.
  interrupt::Deferred whole;
  auto written = WriteProjectFiles(dir, out.files, force);
  if (!written.ok()) {
    // An unsafe name came from the platform, not from the caller.
    if (written.error().code == ErrorCode::kInvalidArgument) {
      return Fail(OpFailure::kPlatform, written.error().message);
    }
    return Local(written.error());
  }
  out.report = std::move(*written);
  if (!out.project_id.empty()) {
    if (auto s = SaveProjectMeta(dir, {out.project_id}); !s.ok()) {
      return Fail(OpFailure::kLocalFiles,
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
    return Fail(OpFailure::kUsage,
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
  auto reply = Unary(rpc::kDeploy, req, kSlow, cancel);
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
      return Fail(OpFailure::kUsage,
                  fmt::format("{} remembers no project (.backend-im/project.json); name one with "
                              "--project, or a deployment with --to",
                              AbsolutePath(dir)));
    }
  }
  req.set_project_id(project);
  req.set_to_deployment_id(to);
  auto reply = Unary(rpc::kRollback, req, kSlow, cancel);
  if (!reply.ok()) return reply.error();
  return reply->deployment();
}

OpResult<FilesOutcome> Operations::Files(const std::string& id, CancelToken& cancel) {
  pb::GetFilesRequest req;
  req.set_deployment_id(id);
  auto reply = Unary(rpc::kGetFiles, req, kQuick, cancel);
  if (!reply.ok()) return reply.error();
  FilesOutcome out;
  out.deployment = reply->deployment();
  for (const auto& f : reply->files()) out.files[f.path()] = f.content();
  if (static_cast<int>(out.files.size()) != reply->files_size()) {
    return Fail(OpFailure::kAgent, "the agent's answer names a file twice");
  }
  return out;
}

OpResult<RestoreOutcome> Operations::Restore(const std::string& id, const std::string& dir,
                                             bool force, CancelToken& cancel) {
  if (auto s = CheckOutputFolder(dir); !s.ok()) return Fail(OpFailure::kUsage, s.error().message);
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
      return Fail(OpFailure::kUsage,
                  fmt::format("{} remembers no project (.backend-im/project.json); name the "
                              "deployments to compare",
                              AbsolutePath(dir)));
    }
    auto last = LastDeployment(meta->project_id, cancel);
    if (!last.ok()) return last.error();
    if (!*last) {
      return Fail(OpFailure::kNotFound,
                  fmt::format("project {} has no deployment in this agent's history yet",
                              meta->project_id));
    }
    if (!(*last)->deployment.restorable()) {
      return Fail(OpFailure::kNotFound,
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
  // As Unary: the first stream goes straight to the socket the client found, and only when
  // nothing listened there does Connect() look again (and start an agent).
  wire::Channel channel = QuickChannel();
  bool first = true;
  const bool limited = timeout.count() > 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  WatchOutcome out;
  bool ended = false;
  pb::DeploymentEvent last;  // the terminal event
  for (;;) {
    pb::WatchRequest req;
    req.set_deployment_id(id);
    req.set_after_seq(after_seq);
    auto ctx = client_.NewContext(milliseconds(0));
    if (limited) ctx->set_deadline(deadline);
    if (!cancel.Attach(ctx.get())) return Cancelled();
    auto reader = channel.ServerStream(rpc::kWatch.path, req, *ctx);
    pb::DeploymentEvent ev;
    bool checked = false;
    for (;;) {
      if (hooks.before_wait && !reader->Ready()) hooks.before_wait();
      if (!reader->Read(&ev)) break;
      if (!checked) {
        std::lock_guard lock(client_mu_);
        client_.CheckReply(*ctx);
        checked = true;
      }
      if (ev.seq() == 0) {
        if (hooks.on_notice) hooks.on_notice(ev.notice());
        continue;
      }
      hooks.on_event(ev);
      after_seq = ev.seq();
      if (ev.terminal()) {
        ended = true;
        last = ev;
      }
    }
    wire::CallStatus st = reader->Finish();
    cancel.Detach();
    if (cancel.cancelled()) return Cancelled();
    if (!st.ok() && !ctx->connected()) {
      Unconnected next = WhenUnconnected(st, cancel);
      if (next == Unconnected::kRefused) return Fail(OpFailure::kAgent, st.message);
      if (next == Unconnected::kRetry && first) {
        first = false;
        auto connected = Connect();
        if (!connected.ok()) return connected.error();
        channel = std::move(*connected);
        continue;
      }
    }
    first = false;
    if (st.code == wire::Code::kDeadlineExceeded && limited) {
      out.timed_out = !ended;
      break;
    }
    // The agent went away mid-stream: when another takes its place (the systemd unit taking
    // over, or restarting it), follow on there from the last event seen.
    if (!st.ok() && !ended && AgentClient::AgentGone(*ctx, st)) {
      std::lock_guard lock(client_mu_);
      if (client_.Reconnect()) {
        channel = client_.channel();
        if (hooks.on_reattach) hooks.on_reattach();
        continue;
      }
    }
    if (!st.ok()) return Classify(*ctx, st, cancel);
    break;
  }
  if (!ended && !out.timed_out) {
    return Fail(OpFailure::kAgent,
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

OpResult<pb::AgentInfo> Operations::Info(CancelToken& cancel) {
  return Unary(rpc::kGetInfo, pb::GetInfoRequest(), kQuick, cancel);
}

OpResult<pb::Deployment> Operations::Status(const std::string& id, CancelToken& cancel) {
  pb::StatusRequest req;
  req.set_deployment_id(id);
  return Unary(rpc::kStatus, req, kQuick, cancel);
}

OpResult<std::vector<pb::Deployment>> Operations::History(const std::string& project_id, int limit,
                                                          CancelToken& cancel) {
  pb::HistoryRequest req;
  req.set_project_id(project_id);
  req.set_limit(limit);
  auto reply = Unary(rpc::kHistory, req, kQuick, cancel);
  if (!reply.ok()) return reply.error();
  return std::vector<pb::Deployment>(reply->deployments().begin(), reply->deployments().end());
}

}  // namespace bim::ctl
