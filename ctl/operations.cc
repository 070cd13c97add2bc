#include "ctl/operations.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <set>

#include "common/path_policy.h"
#include "ctl/dotenv.h"
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

// The largest dotenv file `env import` reads: more than the platform's 200 variables of 32 KiB.
constexpr uint64_t kMaxDotenvBytes = 8 * 1024 * 1024;

// "A, B and C".
std::string Listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

// Why the platform would refuse key as a variable's name, if it would. A "name" with '=' in it
// is most likely KEY=VALUE, so it is never shown.
std::optional<OpError> RefusedKey(const std::string& key) {
  if (key.find('=') != std::string::npos) {
    return OpFail(OpFailure::kUsage,
                  "a variable's name has no '='; give the name alone (env set reads the value "
                  "from standard input)");
  }
  if (auto s = contract::ValidateVariableKey(key); !s.ok()) {
    return OpFail(OpFailure::kUsage, s.error().message);
  }
  return std::nullopt;
}

// Why the platform would refuse value for key, if it would; never shows the value.
std::optional<OpError> RefusedValue(const std::string& key, const std::string& value) {
  if (value.empty()) {
    return OpFail(OpFailure::kUsage,
                  fmt::format("the value of {} is empty; a variable is removed with unset", key));
  }
  if (value.size() > kMaxVariableValueBytes) {
    return OpFail(OpFailure::kUsage,
                  fmt::format("the value of {} is {} bytes; the platform keeps at most {}", key,
                              value.size(), kMaxVariableValueBytes));
  }
  if (value.find('\0') != std::string::npos) {
    return OpFail(
        OpFailure::kUsage,
        fmt::format("the value of {} holds a NUL character, which the platform refuses", key));
  }
  if (!IsValidUtf8(value)) {
    return OpFail(OpFailure::kUsage, fmt::format("the value of {} is not UTF-8 text", key));
  }
  return std::nullopt;
}

// file's path relative to dir when it lies inside it (its folder must exist), else nullopt.
std::optional<std::string> InsideFolder(const std::string& dir, const std::string& file) {
  const size_t slash = file.find_last_of('/');
  const std::string parent = slash == 0 ? "/" : file.substr(0, slash);
  char dir_real[PATH_MAX];
  char parent_real[PATH_MAX];
  if (!::realpath(dir.c_str(), dir_real) || !::realpath(parent.c_str(), parent_real)) {
    return std::nullopt;
  }
  std::string root = dir_real;
  std::string at = parent_real;
  const std::string name = file.substr(slash + 1);
  if (at == root) return name;
  if (root != "/") root += '/';
  if (at.compare(0, root.size(), root) != 0) return std::nullopt;
  return at.substr(root.size()) + "/" + name;
}

}  // namespace

OpResult<std::string> Operations::ProjectOf(const std::string& dir, const std::string& project_id) {
  if (!project_id.empty()) return project_id;
  if (auto meta = LoadProjectMeta(dir.empty() ? "." : dir); meta && !meta->project_id.empty()) {
    return meta->project_id;
  }
  return OpFail(OpFailure::kUsage,
                fmt::format("{} remembers no project (.backend-im/project.json); name one with "
                            "--project",
                            AbsolutePath(dir.empty() ? "." : dir)));
}

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
                                           const std::string& environment, CancelToken& cancel) {
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
  req.set_environment(environment);
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
                                              const std::string& to, const std::string& environment,
                                              CancelToken& cancel) {
  pb::RollbackRequest req;
  std::string project = project_id;
  // An environment is rolled back within its project, which --to alone does not need.
  if (project.empty() && (to.empty() || !environment.empty())) {
    auto named = ProjectOf(dir, "");
    if (!named.ok()) {
      if (!to.empty()) return named.error();
      return OpFail(OpFailure::kUsage, named.error().message + ", or a deployment with --to");
    }
    project = *named;
  }
  req.set_project_id(project);
  req.set_to_deployment_id(to);
  req.set_environment(environment);
  auto reply = agent_.Rollback(req, cancel);
  if (!reply.ok()) return reply.error();
  return reply->deployment();
}

OpResult<pb::Deployment> Operations::Promote(const std::string& id, const std::string& environment,
                                             CancelToken& cancel) {
  pb::PromoteRequest req;
  req.set_deployment_id(id);
  req.set_environment(environment);
  auto reply = agent_.Promote(req, cancel);
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
  auto list = History(project_id, 1, "", cancel);
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
                                                          const std::string& environment,
                                                          CancelToken& cancel) {
  pb::HistoryRequest req;
  req.set_project_id(project_id);
  req.set_limit(limit);
  req.set_environment(environment);
  auto reply = agent_.History(req, cancel);
  if (!reply.ok()) return reply.error();
  return std::vector<pb::Deployment>(reply->deployments().begin(), reply->deployments().end());
}

// ---- runtime logs ------------------------------------------------------------------------------

OpResult<int64_t> Operations::SinceUnixMs(const std::string& text, int64_t now_ms) {
  auto bad = [&] {
    return OpFail(OpFailure::kUsage,
                  fmt::format("--since takes a duration back from now, e.g. 30s, 15m, 2h or 1d, "
                              "or a Unix time in ms; not \"{}\"",
                              text.substr(0, 40)));
  };
  if (text.empty() || text.size() > 19) return bad();
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return bad();
  const int64_t n = std::stoll(text.substr(0, digits));
  if (digits == text.size()) return n;  // Unix ms
  if (digits + 1 != text.size()) return bad();
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 24 * 3600 * 1000;
      break;
    default:
      return bad();
  }
  if (n > now_ms / unit) return bad();
  return now_ms - n * unit;
}

namespace {

// The fields both log requests share, checked.
template <typename Request>
std::optional<OpError> FillLogsRequest(const LogsQuery& q, const std::string& project,
                                       Request& req) {
  req.set_deployment_id(q.id);
  req.set_project_id(project);
  req.set_environment(q.environment);
  if (!q.level.empty() && !contract::ParseLogLevel(q.level)) {
    return OpFail(OpFailure::kUsage, fmt::format("--level takes debug, info, warning or error; "
                                                 "not \"{}\"",
                                                 q.level.substr(0, 40)));
  }
  req.set_level(q.level);
  req.set_grep(q.grep);
  if (!q.since.empty()) {
    const int64_t now = std::chrono::duration_cast<milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto since = Operations::SinceUnixMs(q.since, now);
    if (!since.ok()) return since.error();
    req.set_since_unix_ms(*since);
  }
  return std::nullopt;
}

}  // namespace

OpResult<pb::GetLogsReply> Operations::Logs(const LogsQuery& query, CancelToken& cancel) {
  if (query.tail < 1 || query.tail > 1000) {
    return OpFail(OpFailure::kUsage, "-n takes 1 to 1000 lines");
  }
  std::string project;
  if (query.id.empty()) {
    auto p = ProjectOf(query.dir, query.project_id);
    if (!p.ok()) return p.error();
    project = *p;
  }
  pb::GetLogsRequest req;
  if (auto bad = FillLogsRequest(query, project, req)) return *bad;
  req.set_tail(query.tail);
  return agent_.GetLogs(req, cancel);
}

OpResult<bool> Operations::FollowLogs(const LogsQuery& query, const AgentApi::LogHooks& hooks,
                                      CancelToken& cancel) {
  if (query.tail < 0 || query.tail > 1000) {
    return OpFail(OpFailure::kUsage, "-n takes 0 to 1000 lines when following");
  }
  std::string project;
  if (query.id.empty()) {
    auto p = ProjectOf(query.dir, query.project_id);
    if (!p.ok()) return p.error();
    project = *p;
  }
  pb::FollowLogsRequest req;
  if (auto bad = FillLogsRequest(query, project, req)) return *bad;
  req.set_tail(query.tail);
  return agent_.FollowLogs(req, hooks, cancel);
}

namespace {

// What an assistant is given stays within a number of lines and of bytes.
struct Budget {
  size_t lines;
  size_t bytes;
  bool Take(size_t n) {
    if (lines == 0 || n > bytes) return false;
    --lines;
    bytes -= n;
    return true;
  }
};

// The oldest of lines that fit; how many did not.
template <typename T, typename Size>
int64_t KeepOldest(std::vector<T>& lines, Budget& budget, Size size) {
  size_t keep = 0;
  for (auto it = lines.begin(); it != lines.end() && budget.Take(size(*it)); ++it) ++keep;
  const int64_t left_out = static_cast<int64_t>(lines.size() - keep);
  lines.resize(keep);
  return left_out;
}

// The newest of lines that fit, oldest first; how many did not.
template <typename T, typename Size>
int64_t KeepNewest(std::vector<T>& lines, Budget& budget, Size size) {
  size_t keep = 0;
  for (auto it = lines.rbegin(); it != lines.rend() && budget.Take(size(*it)); ++it) ++keep;
  const int64_t left_out = static_cast<int64_t>(lines.size() - keep);
  lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(keep));
  return left_out;
}

}  // namespace

OpResult<LogsReport> Operations::LogsForAssistant(const LogsQuery& query, size_t max_lines,
                                                  size_t max_bytes, CancelToken& cancel) {
  LogsQuery q = query;
  // One more than fits, so that a cut shows.
  q.tail = static_cast<int>(std::clamp<size_t>(max_lines + 1, 1, 1000));
  auto logs = Logs(q, cancel);
  if (!logs.ok()) return logs.error();
  LogsReport r;
  Budget budget{max_lines, max_bytes};
  auto line_bytes = [](const pb::LogLine& l) { return l.text().size(); };
  if (proto::StageOf(logs->deployment()) == contract::Stage::kFailed) {
    // Why it failed first, each part within its share of the caps so that none crowds out the
    // others: the stage it failed at and the platform's logs from that stage on, oldest first
    // (the reason comes before what the platform quotes of the app); then the app's newest
    // error lines (a traceback ends with its exception); then the lines asked for.
    std::vector<pb::DeploymentEvent> events;
    WatchHooks hooks;
    hooks.outcome_only = true;
    hooks.on_event = [&](const pb::DeploymentEvent& e) { events.push_back(e); };
    auto watched = Watch(logs->deployment().id(), 0, seconds(10), hooks, cancel);
    if (!watched.ok()) return watched.error();
    size_t from = events.size();
    while (from > 0 && events[from - 1].terminal()) --from;
    if (from > 0) {
      --from;
      r.failed_stage = events[from].status();
    }
    std::vector<std::string> stage;
    for (size_t i = std::min(from, events.size()); i < events.size(); ++i) {
      stage.insert(stage.end(), events[i].logs().begin(), events[i].logs().end());
    }
    Budget stage_budget{std::clamp<size_t>(budget.lines / 3, 1, 40), budget.bytes / 3};
    const Budget stage_share = stage_budget;
    r.lines_left_out +=
        KeepOldest(stage, stage_budget, [](const std::string& s) { return s.size(); });
    budget.lines -= stage_share.lines - stage_budget.lines;
    budget.bytes -= stage_share.bytes - stage_budget.bytes;
    pb::Deployment failed = logs->deployment();
    failed.clear_logs();
    for (auto& l : stage) failed.add_logs(std::move(l));
    r.failure = std::move(failed);
    LogsQuery eq = q;
    eq.level = "error";
    eq.since.clear();
    eq.grep.clear();
    eq.id = logs->deployment().id();
    auto errors = Logs(eq, cancel);
    if (errors.ok()) {
      r.errors.assign(errors->lines().begin(), errors->lines().end());
      const size_t error_lines = std::min(budget.lines, budget.lines / 2 + 1);
      Budget error_budget{error_lines, budget.bytes / 2};
      r.lines_left_out += KeepNewest(r.errors, error_budget, line_bytes);
      budget.lines -= error_lines - error_budget.lines;
      budget.bytes -= budget.bytes / 2 - error_budget.bytes;
    }
  }
  std::vector<pb::LogLine> lines(logs->lines().begin(), logs->lines().end());
  // The error lines given above are not given twice.
  if (!r.errors.empty()) {
    std::set<int64_t> given;
    for (const auto& l : r.errors) given.insert(l.seq());
    std::erase_if(lines, [&](const pb::LogLine& l) { return given.count(l.seq()) > 0; });
  }
  r.lines_left_out += KeepNewest(lines, budget, line_bytes);
  logs->clear_lines();
  for (auto& l : lines) *logs->add_lines() = std::move(l);
  r.logs = std::move(*logs);
  r.cut = r.lines_left_out > 0;
  return r;
}

// ---- environments and variables -------------------------------------------------------------

OpResult<pb::ListEnvironmentsReply> Operations::Environments(const std::string& dir,
                                                             const std::string& project_id,
                                                             CancelToken& cancel) {
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::ListEnvironmentsRequest req;
  req.set_project_id(*project);
  auto reply = agent_.ListEnvironments(req, cancel);
  if (!reply.ok()) return reply.error();
  if (reply->project_id().empty()) reply->set_project_id(*project);
  return reply;
}

OpResult<EnvironmentChange> Operations::AddEnvironment(const std::string& dir,
                                                       const std::string& project_id,
                                                       const std::string& name,
                                                       CancelToken& cancel) {
  if (auto s = contract::ValidateEnvironmentName(name); !s.ok()) {
    return OpFail(OpFailure::kUsage, s.error().message);
  }
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::AddEnvironmentRequest req;
  req.set_project_id(*project);
  req.set_name(name);
  auto reply = agent_.AddEnvironment(req, cancel);
  if (!reply.ok()) return reply.error();
  return EnvironmentChange{*project, name, ""};
}

OpResult<EnvironmentChange> Operations::RemoveEnvironment(const std::string& dir,
                                                          const std::string& project_id,
                                                          const std::string& name,
                                                          CancelToken& cancel) {
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::RemoveEnvironmentRequest req;
  req.set_project_id(*project);
  req.set_name(name);
  auto reply = agent_.RemoveEnvironment(req, cancel);
  if (!reply.ok()) return reply.error();
  return EnvironmentChange{*project, name, ""};
}

OpResult<VariablesOutcome> Operations::Variables(const std::string& dir,
                                                 const std::string& project_id,
                                                 const std::string& environment, bool with_values,
                                                 CancelToken& cancel) {
  VariablesOutcome out;
  std::vector<std::string> names;
  if (environment.empty()) {
    auto envs = Environments(dir, project_id, cancel);
    if (!envs.ok()) return envs.error();
    out.project_id = envs->project_id();
    for (const auto& e : envs->environments()) names.push_back(e.name());
  } else {
    auto project = ProjectOf(dir, project_id);
    if (!project.ok()) return project.error();
    out.project_id = *project;
    names.push_back(environment);
  }
  for (const auto& name : names) {
    pb::ListVariablesRequest req;
    req.set_project_id(out.project_id);
    req.set_environment(name);
    req.set_with_values(with_values);
    auto reply = agent_.ListVariables(req, cancel);
    if (!reply.ok()) return reply.error();
    if (reply->environment().empty()) reply->set_environment(name);
    out.environments.push_back(std::move(*reply));
  }
  return out;
}

OpResult<pb::ListVariablesReply> Operations::Values(const std::string& dir,
                                                    const std::string& project_id,
                                                    const std::string& environment,
                                                    CancelToken& cancel) {
  auto got = Variables(dir, project_id, environment, /*with_values=*/true, cancel);
  if (!got.ok()) return got.error();
  pb::ListVariablesReply reply = std::move(got->environments.front());
  reply.set_project_id(got->project_id);
  std::vector<std::string> withheld;
  for (const auto& v : reply.variables()) {
    if (!v.has_value()) withheld.push_back(v.key());
  }
  if (!withheld.empty()) {
    return OpFail(OpFailure::kPlatform,
                  fmt::format("the platform withheld the value{} of {} in {} (it gave the "
                              "name{} only)",
                              withheld.size() == 1 ? "" : "s", Listed(withheld), environment,
                              withheld.size() == 1 ? "" : "s"));
  }
  return reply;
}

OpResult<EnvironmentChange> Operations::SetVariable(const std::string& dir,
                                                    const std::string& project_id,
                                                    const std::string& environment,
                                                    const std::string& key,
                                                    const std::string& value, CancelToken& cancel) {
  if (auto refused = RefusedKey(key)) return *refused;
  if (auto refused = RefusedValue(key, value)) return *refused;
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::SetVariableRequest req;
  req.set_project_id(*project);
  req.set_environment(environment);
  req.set_key(key);
  req.set_value(value);
  auto reply = agent_.SetVariable(req, cancel);
  if (!reply.ok()) return reply.error();
  return EnvironmentChange{*project, environment, key};
}

OpResult<EnvironmentChange> Operations::UnsetVariable(const std::string& dir,
                                                      const std::string& project_id,
                                                      const std::string& environment,
                                                      const std::string& key, CancelToken& cancel) {
  if (auto refused = RefusedKey(key)) return *refused;
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::UnsetVariableRequest req;
  req.set_project_id(*project);
  req.set_environment(environment);
  req.set_key(key);
  auto reply = agent_.UnsetVariable(req, cancel);
  if (!reply.ok()) return reply.error();
  return EnvironmentChange{*project, environment, key};
}

OpResult<VariableFileOutcome> Operations::Pull(const std::string& dir,
                                               const std::string& project_id,
                                               const std::string& environment,
                                               const std::string& file, bool force,
                                               CancelToken& cancel) {
  if (file.empty()) {  // the name is made from the environment's: it must be one
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) {
      return OpFail(OpFailure::kUsage, s.error().message);
    }
  }
  VariableFileOutcome out;
  out.environment = environment;
  out.file = AbsolutePath(file.empty() ? dir + "/.env." + environment : file);
  // A usage error comes before the platform is asked. dir is the project's folder when it
  // names the project, or remembers one (with --project alone, "." may be any folder).
  const bool project_folder = project_id.empty() || LoadProjectMeta(dir).has_value();
  if (auto rel = InsideFolder(dir, out.file); project_folder && rel && WouldUpload(dir, *rel)) {
    return OpFail(OpFailure::kUsage,
                  fmt::format("{} is in the project folder, and deploy would upload it; write the "
                              "variables to a file deploy leaves out, such as .env.{}",
                              out.file, environment));
  }
  // Before the values are fetched: none is asked for that would not be written. (The write
  // itself refuses an existing file too, so a file made meanwhile is not replaced either.)
  struct stat st {};
  if (!force && ::lstat(out.file.c_str(), &st) == 0) {
    return OpFail(
        OpFailure::kConflict,
        fmt::format("{} exists; nothing was written. Pass --force to replace it", out.file));
  }
  auto values = Values(dir, project_id, environment, cancel);
  if (!values.ok()) {
    OpError e = values.error();
    if (e.kind == OpFailure::kPlatform) e.message += "; nothing was written";
    return e;
  }
  out.project_id = values->project_id();
  std::string text;
  for (const auto& v : values->variables()) {
    auto line = DotenvLine(v.key(), v.value());
    if (!line.ok()) {
      return OpFail(OpFailure::kPlatform, line.error().message + "; nothing was written");
    }
    text += *line;
    out.keys.push_back(v.key());
    if (HasExpansion(v.value())) out.expanded.push_back(v.key());
  }
  if (auto s = WritePrivateFile(out.file, text, force); !s.ok()) return Local(s.error());
  return out;
}

OpResult<VariableFileOutcome> Operations::Import(const std::string& dir,
                                                 const std::string& project_id,
                                                 const std::string& environment,
                                                 const std::string& file, CancelToken& cancel) {
  VariableFileOutcome out;
  out.environment = environment;
  out.file = AbsolutePath(file);
  auto text = ReadLocalFile(out.file, kMaxDotenvBytes);
  if (!text.ok()) return Local(text.error());
  auto entries = ParseDotenv(*text);
  if (!entries.ok()) {
    return OpFail(OpFailure::kUsage,
                  fmt::format("{}: {}; nothing was set", out.file, entries.error().message));
  }
  if (entries->empty()) {
    return OpFail(OpFailure::kUsage, fmt::format("{} sets no variable", out.file));
  }
  for (const auto& e : *entries) {
    if (auto refused = RefusedValue(e.key, e.value)) {
      return OpFail(OpFailure::kUsage,
                    fmt::format("{}: {}; nothing was set", out.file, refused->message));
    }
  }
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  out.project_id = *project;
  for (const auto& e : *entries) {
    auto set = SetVariable(dir, *project, environment, e.key, e.value, cancel);
    if (!set.ok()) {
      OpError failed = set.error();
      failed.message = fmt::format("setting {}: {}", e.key, failed.message);
      if (!out.keys.empty())
        failed.message += fmt::format(" (set before it: {})", Listed(out.keys));
      return failed;
    }
    out.keys.push_back(e.key);
  }
  return out;
}

// ---- custom domains ---------------------------------------------------------------------------

OpResult<std::string> Operations::DomainName(const std::string& typed) {
  std::string name = contract::NormalizeDomain(typed);
  if (auto s = contract::ValidateDomainName(name); !s.ok()) {
    return OpFail(OpFailure::kUsage, s.error().message);
  }
  return name;
}

OpResult<pb::Domain> Operations::AddDomain(const std::string& dir, const std::string& project_id,
                                           const std::string& domain,
                                           const std::string& environment, CancelToken& cancel) {
  auto name = DomainName(domain);
  if (!name.ok()) return name.error();
  if (!environment.empty()) {
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) {
      return OpFail(OpFailure::kUsage, s.error().message);
    }
  }
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::AddDomainRequest req;
  req.set_project_id(*project);
  req.set_domain(*name);
  req.set_environment(environment);
  auto reply = agent_.AddDomain(req, cancel);
  if (!reply.ok()) return reply.error();
  return reply->domain();
}

OpResult<pb::ListDomainsReply> Operations::Domains(const std::string& dir,
                                                   const std::string& project_id,
                                                   const std::string& environment,
                                                   CancelToken& cancel) {
  if (!environment.empty()) {
    if (auto s = contract::ValidateEnvironmentName(environment); !s.ok()) {
      return OpFail(OpFailure::kUsage, s.error().message);
    }
  }
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::ListDomainsRequest req;
  req.set_project_id(*project);
  req.set_environment(environment);
  auto reply = agent_.ListDomains(req, cancel);
  if (!reply.ok()) return reply.error();
  if (reply->project_id().empty()) reply->set_project_id(*project);
  return reply;
}

OpResult<pb::VerifyDomainReply> Operations::VerifyDomain(const std::string& dir,
                                                         const std::string& project_id,
                                                         const std::string& domain,
                                                         CancelToken& cancel) {
  auto name = DomainName(domain);
  if (!name.ok()) return name.error();
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::VerifyDomainRequest req;
  req.set_project_id(*project);
  req.set_domain(*name);
  return agent_.VerifyDomain(req, cancel);
}

OpResult<DomainChange> Operations::RemoveDomain(const std::string& dir,
                                                const std::string& project_id,
                                                const std::string& domain, CancelToken& cancel) {
  auto name = DomainName(domain);
  if (!name.ok()) return name.error();
  auto project = ProjectOf(dir, project_id);
  if (!project.ok()) return project.error();
  pb::RemoveDomainRequest req;
  req.set_project_id(*project);
  req.set_domain(*name);
  auto reply = agent_.RemoveDomain(req, cancel);
  if (!reply.ok()) return reply.error();
  return DomainChange{*project, *name};
}

}  // namespace bim::ctl
