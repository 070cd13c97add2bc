#include "ctl/commands.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "common/contract.h"
#include "common/limits.h"
#include "common/path_policy.h"
#include "common/version.h"
#include "ctl/agent_client.h"
#include "ctl/editor.h"
#include "ctl/interrupt.h"
#include "ctl/mcp_command.h"
#include "ctl/operations.h"
#include "ctl/output.h"
#include "ctl/project_files.h"
#include "ctl/tree_diff.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

class Ctl {
 public:
  bool json = false;

  Ctl() : ops_(client_) {}

  AgentClient& client() { return client_; }
  const Style& style() const { return style_; }

  void Finish() { client_.RestartIfOutdated(); }

  // Prints why an operation failed and returns its exit code.
  // what: the command and its argument as typed ("status ID"), cut to 80 bytes: an argument
  // of any length (a 10 KB id) must not fill the error line.
  int Failed(const OpError& e, const std::string& what) {
    size_t cut = limits::Utf8CutPoint(what, 80);
    PrintErr("backend-im: {}{}: {}\n", what.substr(0, cut), cut < what.size() ? "…" : "",
             Lines{e.message});
    return ExitCodeFor(e.kind);
  }

  // ---- auth -------------------------------------------------------------------------------
  int AuthLogin(bool with_token) {
    if (with_token) {
      std::string token((std::istreambuf_iterator<char>(std::cin)),
                        std::istreambuf_iterator<char>());
      if (token.find_first_not_of(" \t\r\n") == std::string::npos) {
        PrintErr(
            "backend-im: auth login --with-token reads the token from standard input, e.g.\n"
            "  echo \"$BACKEND_IM_TOKEN\" | backend-im auth login --with-token\n");
        return kExitUsage;
      }
      auto reply = ops_.LoginWithToken(token, cancel_);
      if (!reply.ok()) return Failed(reply.error(), "login failed");
      return PrintLoggedIn(*reply);
    }
    auto start = ops_.LoginStart(cancel_);
    if (!start.ok()) return Failed(start.error(), "cannot start the login");
    if (json) {
      nlohmann::json j{{"verificationUri", start->verification_uri()},
                       {"userCode", start->user_code()},
                       {"expiresInSeconds", start->expires_in_seconds()}};
      if (!start->verification_uri_complete().empty()) {
        j["verificationUriComplete"] = start->verification_uri_complete();
      }
      PrintJson(j);
    } else {
      Print("To log in, open {}\nand enter the code {}\n", style_.Bold(start->verification_uri()),
            style_.Bold(start->user_code()));
      if (!start->verification_uri_complete().empty()) {
        Print("(or open {} directly)\n", start->verification_uri_complete());
      }
      Print("Waiting for you to approve...\n");
    }
    std::fflush(stdout);
    auto reply = ops_.AwaitLogin(start->login_id(), std::nullopt, cancel_);
    if (!reply.ok()) return Failed(reply.error(), "login failed");
    if (reply->state() == pb::LoginCheckReply::APPROVED) return PrintLoggedIn(reply->auth());
    PrintErr("backend-im: login failed: {}\n", reply->message());
    return kExitAuth;
  }

  int PrintLoggedIn(const pb::AuthStatusReply& a) {
    if (json) {
      PrintJson(AuthModel(a));
    } else {
      std::string who = a.email().empty() ? a.user_id() : a.email();
      Print("{} Logged in to {}{}\n", style_.Green("✓"), a.api_url(),
            who.empty() ? "" : " as " + who);
    }
    return kExitOk;
  }

  int AuthStatus() {
    auto reply = ops_.AuthStatus(/*verify=*/true, cancel_);
    if (!reply.ok()) return Failed(reply.error(), "cannot check the login");
    if (json) {
      PrintJson(AuthModel(*reply));
      return reply->logged_in() ? kExitOk : kExitAuth;
    }
    if (!reply->logged_in()) {
      PrintErr("Not logged in to {}. Run `backend-im auth login`.\n", reply->api_url());
      return kExitAuth;
    }
    std::string who = reply->email().empty() ? reply->user_id() : reply->email();
    Print("Logged in to {}{}\n", reply->api_url(), who.empty() ? "" : " as " + who);
    if (!reply->user_id().empty()) Print("  user id:  {}\n", reply->user_id());
    Print("  via:      {}\n", reply->source() == "device"        ? "device login"
                              : reply->source() == "environment" ? "BACKEND_IM_TOKEN"
                                                                 : "token");
    if (reply->expires_at_unix_ms() > 0) {
      Print("  token expires {}{}\n", FormatTime(reply->expires_at_unix_ms()),
            reply->can_refresh() ? " (renewed automatically)" : "");
    }
    return kExitOk;
  }

  int AuthLogout() {
    auto was = ops_.Logout(cancel_);
    if (!was.ok()) return Failed(was.error(), "logout failed");
    if (json) {
      PrintJson(nlohmann::json{{"wasLoggedIn", *was}});
    } else {
      Print("{}\n", *was ? "Logged out; the stored credentials are erased." : "Was not logged in.");
    }
    return kExitOk;
  }

  // ---- generate ---------------------------------------------------------------------------
  int Generate(const std::string& prompt, std::string dir, bool force, bool editor_flag,
               const std::string& editor) {
    if (dir.empty()) dir = FolderNameForPrompt(prompt);
    if (!json && IsValidUtf8(prompt)) PrintErr("Generating...\n");
    auto done = ops_.Generate(prompt, dir, force, cancel_);
    if (!done.ok()) {
      return Failed(done.error(),
                    done.error().kind == OpFailure::kUsage ? "generate" : "generate failed");
    }
    std::string editor_note;
    if (editor_flag) {
      auto opened = OpenEditor(editor, dir);
      editor_note = opened.ok() ? *opened : "warning: " + opened.error().message;
    }
    if (json) {
      nlohmann::json j = GenerateModel(*done);
      if (!editor_note.empty()) j["editor"] = editor_note;
      PrintJson(j);
    } else {
      Print("{} Generated {} files in {}\n", style_.Green("✓"), done->files.size(), dir);
      for (const auto& [path, content] : done->files) Print("  {}\n", path);
      if (!done->report.unchanged.empty()) {
        Print("  ({} already up to date)\n", done->report.unchanged.size());
      }
      if (!editor_note.empty()) PrintErr("{}\n", editor_note);
      Print("Next: edit the files, then `cd {} && backend-im deploy --watch`\n", dir);
    }
    return kExitOk;
  }

  // ---- deploy -----------------------------------------------------------------------------
  int Deploy(const std::string& dir, const std::string& project_flag, bool watch, bool dry_run) {
    if (dry_run) {
      auto snap = ReadProjectFiles(dir);
      if (!snap.ok()) {
        return Failed(
            OpError{snap.error().code == ErrorCode::kInvalidArgument ? OpFailure::kUsage
                                                                     : OpFailure::kLocalFiles,
                    snap.error().message},
            "deploy");
      }
      return PrintDryRun(*snap, LastKept(dir, project_flag));
    }
    auto done = ops_.Deploy(dir, project_flag, cancel_);
    if (!done.ok()) return Failed(done.error(), "deploy failed");
    const auto& d = done->deployment;
    if (!done->note.empty()) PrintErr("warning: {}\n", done->note);
    if (json) {
      PrintJson(DeployModel(*done));
    } else {
      Print("Deploying {} files ({} bytes) to project {}\n", done->snapshot.files.size(),
            done->snapshot.total_bytes, d.project_id());
      Print("  deployment {}  commit {}\n", style_.Bold(d.id()), d.commit_hash());
    }
    std::fflush(stdout);
    if (!watch) {
      if (!json) Print("Follow it with: backend-im watch {}\n", d.id());
      return kExitOk;
    }
    return Watch(d.id());
  }

  // The newest deployment of the folder's project with its files, for deploy --dry-run to
  // compare with; nullopt (and a note on stderr) when there is none or it cannot be had.
  std::optional<FilesOutcome> LastKept(const std::string& dir, const std::string& project_flag) {
    std::string project = project_flag;
    if (project.empty()) {
      if (auto meta = LoadProjectMeta(dir)) project = meta->project_id;
    }
    if (project.empty()) return std::nullopt;
    auto last = ops_.LastDeployment(project, cancel_);
    if (!last.ok()) {
      PrintErr("note: cannot compare with the last deployment: {}\n", Lines{last.error().message});
      return std::nullopt;
    }
    if (*last && !(*last)->deployment.restorable()) {
      PrintErr("note: the files of {}, the last deployment of {}, are no longer kept\n",
               (*last)->deployment.id(), project);
      return std::nullopt;
    }
    return std::move(*last);
  }

  int PrintDryRun(const ProjectSnapshot& snap, const std::optional<FilesOutcome>& last) {
    std::optional<TreeDiff> changes;
    if (last) changes = DiffTrees(last->files, snap.files, last->deployment.id(), ".");
    if (json) {
      nlohmann::json j{{"files", nlohmann::json::array()},
                       {"skipped", nlohmann::json::array()},
                       {"fileCount", snap.files.size()},
                       {"totalBytes", snap.total_bytes}};
      for (const auto& [path, content] : snap.files) {
        j["files"].push_back({{"path", path}, {"bytes", content.size()}});
      }
      for (const auto& s : snap.skipped)
        j["skipped"].push_back({{"path", s.path}, {"reason", s.reason}});
      if (changes) {
        nlohmann::json c{{"against", last->deployment.id()},
                         {"added", nlohmann::json::array()},
                         {"changed", nlohmann::json::array()},
                         {"removed", nlohmann::json::array()}};
        for (const auto& f : changes->changes) c[ChangeName(f.kind)].push_back(f.path);
        j["changes"] = std::move(c);
      }
      PrintJson(j);
      return kExitOk;
    }
    Print("Would upload:\n");
    for (const auto& [path, content] : snap.files) Print("  {:>9}  {}\n", content.size(), path);
    Print("  {:>9}  in {} files\n", snap.total_bytes, snap.files.size());
    if (!snap.skipped.empty()) {
      Print("Left out:\n");
      for (const auto& s : snap.skipped) Print("  {}  ({})\n", s.path, s.reason);
    }
    if (changes) {
      if (changes->same()) {
        Print("Same files as the last deployment, {}.\n", last->deployment.id());
      } else {
        Print("Against the last deployment, {}:\n", last->deployment.id());
        for (const auto& f : changes->changes) Print("  {:<8} {}\n", ChangeName(f.kind), f.path);
      }
    }
    return kExitOk;
  }

  // ---- rollback / restore / diff ----------------------------------------------------------
  int Rollback(const std::string& dir, const std::string& project, const std::string& to,
               bool watch) {
    auto done = ops_.Rollback(dir, project, to, cancel_);
    if (!done.ok()) {
      return Failed(done.error(),
                    done.error().kind == OpFailure::kUsage ? "rollback" : "rollback failed");
    }
    const auto& d = *done;
    if (json) {
      PrintJson(DeploymentModel(d));
    } else {
      Print("Rolling project {} back to the files of {}\n", d.project_id(), d.restored_of());
      Print("  deployment {}  commit {}\n", style_.Bold(d.id()), d.commit_hash());
    }
    std::fflush(stdout);
    if (!watch) {
      if (!json) Print("Follow it with: backend-im watch {}\n", d.id());
      return kExitOk;
    }
    return Watch(d.id());
  }

  int Restore(const std::string& id, const std::string& dir, bool force) {
    auto done = ops_.Restore(id, dir, force, cancel_);
    if (!done.ok()) return Failed(done.error(), "restore " + id);
    if (json) {
      PrintJson(RestoreModel(*done));
    } else {
      Print("{} Restored the {} files of {} into {}\n", style_.Green("✓"), done->files.size(), id,
            dir);
      for (const auto& path : done->report.written) Print("  {}\n", path);
      if (!done->report.unchanged.empty()) {
        Print("  ({} already up to date)\n", done->report.unchanged.size());
      }
    }
    return kExitOk;
  }

  // Exit 0 when the two are the same, 1 when they differ (as diff(1)), else the error's code.
  int Diff(const std::string& a, const std::string& b, const std::string& dir) {
    std::string to_id, folder = dir;
    if (!b.empty()) {
      if (IsDirectory(b)) {
        folder = b;
      } else {
        to_id = b;
      }
    }
    auto done = ops_.Diff(a, to_id, folder, cancel_);
    if (!done.ok()) return Failed(done.error(), "diff");
    if (json) {
      PrintJson(DiffModel(*done));
    } else {
      Print("{}", Lines{done->diff.Unified()});
    }
    return done->diff.same() ? kExitOk : kExitDeployFailed;
  }

  static bool IsDirectory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  // ---- watch ------------------------------------------------------------------------------
  int Watch(const std::string& id) {
    // Ctrl-C detaches: the watch's calls end, the deployment goes on. No thread runs for it
    // (a finished watch is a quick command: docs/PERFORMANCE.md).
    interrupt::Interruptible interruptible;
    cancel_.set_interrupt_fd(interruptible.fd());
    Operations::WatchHooks hooks;
    hooks.outcome_only = true;  // below: the status, the URL, and the stream problem if no URL
    hooks.on_event = [this](const pb::DeploymentEvent& ev) { PrintEvent(ev); };
    // Each event shows as soon as it arrives, and the events of a finished deployment, which
    // arrive together, go out in one write.
    hooks.before_wait = [] { std::fflush(stdout); };
    hooks.on_reattach = [&id] {
      PrintErr("backend-im: the agent was replaced; still following {}\n", id);
    };
    // Notices go to stderr, so stdout stays the events (one per line with --json).
    bool noticed = false;
    hooks.on_notice = [&id, &noticed](const std::string& notice) {
      if (!notice.empty()) {
        PrintErr("backend-im: {}: {}\n", id, notice);
        noticed = true;
      } else if (noticed) {
        PrintErr("backend-im: {}: the deployment's events come through again\n", id);
        noticed = false;
      }
    };
    auto done = ops_.Watch(id, 0, std::chrono::milliseconds(0), hooks, cancel_);
    cancel_.set_interrupt_fd(-1);
    if (!done.ok()) {
      if (done.error().kind == OpFailure::kCancelled) {
        PrintErr("\nDetached. Deployment {} goes on; re-attach with: backend-im watch {}\n", id,
                 id);
        return kExitInterrupted;
      }
      int code = Failed(done.error(), "watch " + id);
      if (code == kExitAgent) {
        PrintErr("The deployment goes on. Re-attach with: backend-im watch {}\n", id);
      }
      return code;
    }
    const auto& d = done->deployment;
    auto final = Operations::FinalOutcome(d);
    if (!final.ok() && final.error().kind == OpFailure::kDeployFailed) {
      if (!json) {
        Print("{} Deployment {} failed. See the logs above, or run `backend-im status {}`\n",
              style_.Red("✗"), id, id);
      }
      return kExitDeployFailed;
    }
    if (!final.ok()) return Failed(final.error(), "watch " + id);
    if (!json) Print("{} Deployed: {}\n", style_.Green("✓"), style_.Bold(d.url()));
    return kExitOk;
  }

  void PrintEvent(const pb::DeploymentEvent& ev) {
    if (json) {
      PrintJson(EventModel(ev));
      return;
    }
    std::string padded = fmt::format("{:<19}", ev.status());
    auto stage = proto::StageOf(ev);
    Styled status = stage == contract::Stage::kComplete ? style_.Green(padded)
                    : stage == contract::Stage::kFailed ? style_.Red(padded)
                                                        : style_.Cyan(padded);
    Styled time = style_.Dim(FormatTime(ev.received_at_unix_ms()).substr(11));
    if (ev.logs_size() == 0) {
      Print("{}  {}\n", time, status);
    }
    const Styled no_time = style_.Plain(std::string(8, ' '));
    const Styled no_status = style_.Plain(std::string(19, ' '));
    for (int i = 0; i < ev.logs_size(); ++i) {
      Print("{}  {} {}\n", i == 0 ? time : no_time, i == 0 ? status : no_status, ev.logs(i));
    }
  }

  // ---- status / history -------------------------------------------------------------------
  int Status(const std::string& id) {
    auto found = ops_.Status(id, cancel_);
    if (!found.ok()) return Failed(found.error(), "status " + id);
    const auto& d = *found;
    if (json) {
      PrintJson(DeploymentModel(d));
    } else {
      Print("Deployment  {}\n", d.id());
      Print("Project     {}\n", d.project_id());
      Print("Commit      {}\n", d.commit_hash());
      auto stage = proto::StageOf(d);
      Styled s = stage == contract::Stage::kComplete ? style_.Green(d.status())
                 : stage == contract::Stage::kFailed ? style_.Red(d.status())
                                                     : style_.Plain(d.status());
      Print("Status      {}\n", s);
      if (!d.url().empty()) Print("URL         {}\n", d.url());
      Print("Created     {}\n", FormatTime(d.created_at_unix_ms()));
      if (!d.directory().empty()) Print("Folder      {}\n", d.directory());
      if (!d.restored_of().empty()) Print("Rollback to {}\n", d.restored_of());
      Print("Files kept  {}\n",
            d.restorable() ? "yes (rollback, restore and diff can use them)" : "no");
      if (!d.stream_problem().empty()) {
        Print("Note        {}\n", style_.Yellow(d.stream_problem()));
      }
      if (d.logs_size() > 0) {
        Print("Logs\n");
        for (const auto& l : d.logs()) Print("  {}\n", l);
      }
    }
    auto final = Operations::FinalOutcome(d);
    if (final.ok()) return kExitOk;
    if (final.error().kind == OpFailure::kDeployFailed) return kExitDeployFailed;
    return Failed(final.error(), "status " + id);
  }

  int History(const std::string& project, int limit) {
    if (limit < 1 || limit > 1000) {
      PrintErr("backend-im: history: --limit takes 1 to 1000\n");
      return kExitUsage;
    }
    auto list = ops_.History(project, limit, cancel_);
    if (!list.ok()) return Failed(list.error(), "history");
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& d : *list) arr.push_back(DeploymentModel(d));
      PrintJson(arr);
      return kExitOk;
    }
    if (list->empty()) {
      Print("{}\n",
            project.empty() ? "No deployments yet." : "No deployments of that project yet.");
      return kExitOk;
    }
    Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<36}  {:<8}  {}\n", "CREATED", "STATUS", "PROJECT",
          "COMMIT", "DEPLOYMENT", "RESTORE", "URL");
    for (const auto& d : *list) {
      std::string restore = d.restorable() ? "yes" : "-";
      Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<36}  {:<8}  {}{}\n",
            FormatTime(d.created_at_unix_ms()), d.status(), d.project_id(), d.commit_hash(), d.id(),
            restore, d.url(),
            d.restored_of().empty() ? "" : Terminal("  (rollback to {})", d.restored_of()));
    }
    return kExitOk;
  }

  // ---- daemon -----------------------------------------------------------------------------
  int DaemonStatus() {
    if (!AgentClient::Listening(client_.socket_path())) {
      if (json) {
        PrintJson(nlohmann::json{{"running", false}, {"socket", client_.socket_path()}});
      } else {
        Print("No agent is running (socket {}).\n", client_.socket_path());
      }
      return kExitAgent;
    }
    if (auto s = client_.CheckAgent(); !s.ok()) {
      PrintErr("backend-im: daemon status: {}\n", s.error().message);
      return kExitAgent;
    }
    auto got = ops_.Info(cancel_);
    if (!got.ok()) return Failed(got.error(), "daemon status");
    const pb::AgentInfo& info = *got;
    int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    int64_t uptime_s = std::max<int64_t>(0, (now_ms - info.started_at_unix_ms()) / 1000);
    if (json) {
      nlohmann::json j{
          {"running", true},
          {"pid", info.pid()},
          {"version", info.version()},
          {"ctlVersion", kVersion},
          {"uptimeSeconds", uptime_s},
          {"apiUrl", info.api_url()},
          {"loggedIn", info.logged_in()},
          {"watchedDeployments", std::vector<std::string>(info.watched_deployments().begin(),
                                                          info.watched_deployments().end())},
          {"watchers", info.watchers()},
          {"systemd", info.systemd_managed()},
          {"autostarted", info.autostarted()},
          {"socket", info.socket_path()},
          {"stateDir", info.state_dir()}};
      // Left out without a value, never null (the rule every --json shape follows).
      if (!info.platform_problem().empty()) j["apiUrlProblem"] = info.platform_problem();
      PrintJson(j);
      return kExitOk;
    }
    Print("Agent       running, pid {}, version {}{}\n", info.pid(), info.version(),
          info.version() == kVersion ? "" : fmt::format(" (this ctl is {})", kVersion));
    Print("Uptime      {}h{:02}m{:02}s\n", uptime_s / 3600, (uptime_s / 60) % 60, uptime_s % 60);
    Print("Platform    {}\n", info.api_url());
    if (!info.platform_problem().empty()) {
      Print("            {}\n", style_.Red(info.platform_problem()));
    }
    Print("Login       {}\n", info.logged_in() ? "logged in" : "not logged in");
    Print("Watching    {} deployment(s), {} watch stream(s)\n", info.watched_deployments_size(),
          info.watchers());
    for (const auto& id : info.watched_deployments()) Print("  {}\n", id);
    Print("Managed by  {}\n", info.systemd_managed() ? "systemd"
                              : info.autostarted()   ? "backend-im (started on demand)"
                                                     : "nobody (started by hand)");
    Print("Socket      {}\nState       {}\n", info.socket_path(), info.state_dir());
    return kExitOk;
  }

  int DaemonStop() {
    if (!AgentClient::Listening(client_.socket_path())) {
      Print("No agent is running.\n");
      return kExitOk;
    }
    if (auto s = client_.CheckAgent(); !s.ok()) {
      PrintErr("backend-im: daemon stop: {}\n", s.error().message);
      return kExitAgent;
    }
    auto stopped = client_.StopAgent(seconds(10));
    if (!stopped.ok()) {
      PrintErr("backend-im: daemon stop: {}\n", stopped.error().message);
      return kExitAgent;
    }
    Print("Agent stopped.\n");
    return kExitOk;
  }

  int Version() {
    std::string agent_version;
    {
      // One connection: the call's own is verified before anything is sent; nothing listening
      // or an agent that is not the user's leaves the agent's version out.
      pb::AgentInfo info;
      auto ctx = client_.NewContext(seconds(5));
      if (client_.Call(rpc::kGetInfo, {}, &info, *ctx).ok()) agent_version = info.version();
    }
    if (json) {
      nlohmann::json j{{"version", kVersion}};
      if (!agent_version.empty()) j["agentVersion"] = agent_version;
      PrintJson(j);
    } else {
      Print("backend-im {}\n", kVersion);
      if (!agent_version.empty()) Print("agent      {}\n", agent_version);
    }
    return kExitOk;
  }

 private:
  AgentClient client_;
  Operations ops_;
  CancelToken cancel_;
  Style style_;
};

}  // namespace

int RunCtl(int argc, char** argv) {
  CLI::App app{
      "backend-im: generate a FastAPI backend from a prompt, edit it locally, and deploy "
      "it to Backend.im.\n\n"
      "  backend-im auth login\n"
      "  backend-im generate \"REST API for users\" -o users-api\n"
      "  cd users-api && backend-im deploy --watch\n\n"
      "Exit codes: 0 ok, 1 deployment failed, 2 bad usage or input, 3 not logged in, "
      "4 agent unreachable, 5 platform error, 6 local file problem, 7 not found, "
      "130 detached by Ctrl-C. diff: 0 same, 1 different.",
      "backend-im"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("backend-im ") + kVersion);
  bool json = false;
  auto json_flag = [&json](CLI::App* cmd) {
    cmd->add_flag("--json", json, "Machine-readable JSON output");
  };

  int exit_code = kExitOk;
  std::unique_ptr<Ctl> ctl;
  auto run = [&](auto fn) {
    return [&, fn] {
      ctl = std::make_unique<Ctl>();
      ctl->json = json;
      exit_code = fn(*ctl);
      ctl->Finish();
    };
  };

  bool with_token = false, force = false, watch = false, dry_run = false;
  std::string prompt, out_dir, editor, dir = ".", project, id, to, restore_dir, diff_a, diff_b;
  int limit = 20;
  // Each top-level command and what adds it to app, in the order help lists them. When argv[1]
  // names one, only that one is built: building all of them costs a quick command about 0.15x
  // /bin/true (docs/PERFORMANCE.md). Anything else (--help, --version, a typo) gets
  // them all, so help and CLI11's messages see every command.
  const std::pair<std::string_view, std::function<void()>> commands[] = {
      {"auth",
       [&] {
         auto* auth = app.add_subcommand("auth", "Log in to Backend.im, check or end the login");
         auth->require_subcommand(1);
         auto* login =
             auth->add_subcommand("login",
                                  "Log in with the device flow (open a URL, enter a code), or "
                                  "--with-token to read a token from standard input");
         login->add_flag("--with-token", with_token, "Read an access token from standard input");
         json_flag(login);
         login->callback(run([&](Ctl& c) { return c.AuthLogin(with_token); }));
         auto* auth_status =
             auth->add_subcommand("status", "Show who is logged in (exit 3 when nobody is)");
         json_flag(auth_status);
         auth_status->callback(run([](Ctl& c) { return c.AuthStatus(); }));
         auto* logout = auth->add_subcommand("logout", "Erase the stored credentials");
         json_flag(logout);
         logout->callback(run([](Ctl& c) { return c.AuthLogout(); }));
       }},
      {"generate",
       [&] {
         auto* gen = app.add_subcommand(
             "generate", "Generate a FastAPI backend from a prompt into a local folder");
         gen->add_option("prompt", prompt,
                         "What the backend should do, e.g. \"REST API for users\"")
             ->required();
         gen->add_option("-o,--output", out_dir,
                         "Folder to write to (default: a name made from the prompt)");
         auto* editor_opt =
             gen->add_option(
                    "-e,--editor", editor,
                    "Open the folder in this editor afterwards (no name: $VISUAL, then $EDITOR)")
                 ->expected(0, 1);
         gen->add_flag("--force", force, "Overwrite local files whose content differs");
         json_flag(gen);
         gen->callback(run([&, editor_opt](Ctl& c) {
           return c.Generate(prompt, out_dir, force, editor_opt->count() > 0, editor);
         }));
       }},
      {"deploy",
       [&] {
         auto* dep = app.add_subcommand("deploy", "Upload the project folder and deploy it");
         dep->add_option("-d,--dir", dir, "Project folder (default: the current folder)");
         dep->add_flag("-w,--watch", watch, "Follow the deployment until it completes or fails");
         dep->add_option("--project", project,
                         "Project id (default: from .backend-im/project.json)");
         dep->add_flag("--dry-run", dry_run,
                       "List what would be uploaded, and what changed since the project's last "
                       "deployment; uploads nothing");
         json_flag(dep);
         dep->callback(run([&](Ctl& c) { return c.Deploy(dir, project, watch, dry_run); }));
       }},
      {"watch",
       [&] {
         auto* w =
             app.add_subcommand("watch", "Follow a deployment's stages live; Ctrl-C detaches");
         w->add_option("id", id, "Deployment id")->required();
         json_flag(w);
         w->callback(run([&](Ctl& c) { return c.Watch(id); }));
       }},
      {"status",
       [&] {
         auto* status = app.add_subcommand("status", "Show a deployment's status and logs");
         status->add_option("id", id, "Deployment id")->required();
         json_flag(status);
         status->callback(run([&](Ctl& c) { return c.Status(id); }));
       }},
      {"history",
       [&] {
         auto* hist = app.add_subcommand("history", "List past deployments, newest first");
         hist->add_option("--project", project, "Only this project");
         hist->add_option("--limit", limit, "How many (1-1000, default 20)");
         json_flag(hist);
         hist->callback(run([&](Ctl& c) { return c.History(project, limit); }));
       }},
      {"rollback",
       [&] {
         auto* rb = app.add_subcommand("rollback",
                                       "Deploy the files of an earlier deployment again, as a new "
                                       "deployment: by default those "
                                       "of the newest complete deployment of the project whose "
                                       "files differ from the current one");
         rb->add_option("-d,--dir", dir, "Project folder whose project to roll back (default: .)");
         rb->add_option("--project", project,
                        "Project id (default: from .backend-im/project.json)");
         rb->add_option("--to", to, "Roll back to exactly this deployment");
         rb->add_flag("-w,--watch", watch, "Follow the new deployment until it completes or fails");
         json_flag(rb);
         rb->callback(run([&](Ctl& c) { return c.Rollback(dir, project, to, watch); }));
       }},
      {"restore",
       [&] {
         auto* rs = app.add_subcommand(
             "restore", "Write the files a deployment uploaded into a folder (as generate writes)");
         rs->add_option("deployment", id, "Deployment id (history shows which can be restored)")
             ->required();
         rs->add_option("-o,--output", restore_dir, "Folder to write to")->required();
         rs->add_flag("--force", force, "Overwrite local files whose content differs");
         json_flag(rs);
         rs->callback(run([&](Ctl& c) { return c.Restore(id, restore_dir, force); }));
       }},
      {"diff",
       [&] {
         auto* df = app.add_subcommand(
             "diff",
             "Show how two deployments differ, or a deployment and a folder (unified diff). With "
             "no "
             "deployment: the project folder against its last deployment. Exit 0 when they are the "
             "same, 1 when they differ");
         df->add_option("from", diff_a, "Deployment id (default: the folder's last deployment)");
         df->add_option("to", diff_b,
                        "Another deployment id, or a folder (default: the project folder)");
         df->add_option("-d,--dir", dir, "Project folder (default: the current folder)");
         json_flag(df);
         df->callback(run([&](Ctl& c) { return c.Diff(diff_a, diff_b, dir); }));
       }},
      {"daemon",
       [&] {
         auto* daemon =
             app.add_subcommand("daemon", "Inspect or stop the background agent (backend-imd)");
         daemon->require_subcommand(1);
         auto* dstatus = daemon->add_subcommand(
             "status", "Show the agent's pid, version, uptime, platform, login and watches");
         json_flag(dstatus);
         dstatus->callback(run([](Ctl& c) { return c.DaemonStatus(); }));
         auto* dstop = daemon->add_subcommand("stop", "Stop the agent cleanly");
         dstop->callback(run([](Ctl& c) { return c.DaemonStop(); }));
       }},
      {"version",
       [&] {
         auto* ver = app.add_subcommand(
             "version", "Print the versions of backend-im and of the running agent");
         json_flag(ver);
         ver->callback(run([](Ctl& c) { return c.Version(); }));
       }},
      {"mcp", [&] { AddMcpCommand(app, exit_code); }},
  };
  std::string_view named = argc > 1 ? argv[1] : "";
  bool known = std::any_of(std::begin(commands), std::end(commands),
                           [&](const auto& c) { return c.first == named; });
  for (const auto& [name, add] : commands) {
    if (!known || name == named) add();
  }

  interrupt::Install();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  return exit_code;
}

}  // namespace bim::ctl
