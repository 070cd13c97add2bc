#include "ctl/commands.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <climits>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "common/contract.h"
#include "common/path_policy.h"
#include "common/version.h"
#include "ctl/agent_client.h"
#include "ctl/editor.h"
#include "ctl/interrupt.h"
#include "ctl/mcp_command.h"
#include "ctl/output.h"
#include "ctl/project_files.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using Stub = pb::Agent::Stub;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kQuick = seconds(30);
// How long a watch waits for another agent when its agent goes away mid-stream: systemd
// restarts the unit's agent 2 s after a crash (RestartSec=), and a takeover is quicker.
constexpr milliseconds kReattachGrace = seconds(5);
constexpr milliseconds kSlow = std::chrono::minutes(10);

std::string AbsolutePath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return p == "." ? std::string(cwd) : std::string(cwd) + "/" + p;
}

// Maps a local (ctl-side) error to an exit code and prints it.
int LocalFail(const Error& e, const std::string& what) {
  PrintErr("backend-im: {}: {}\n", what, Lines{e.message});
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
      return kExitUsage;
    case ErrorCode::kUnavailable:
      return kExitAgent;
    default:
      return kExitLocalFiles;
  }
}

class Ctl {
 public:
  bool json = false;

  // Connects, or prints why not; returns false then.
  bool Connect(int* exit_code) {
    if (auto s = client_.Connect(); !s.ok()) {
      PrintErr("backend-im: {}\n", s.error().message);
      *exit_code = kExitAgent;
      return false;
    }
    return true;
  }

  AgentClient& client() { return client_; }
  const Style& style() const { return style_; }

  void Finish() { client_.RestartIfOutdated(); }

  // ---- auth -------------------------------------------------------------------------------
  int AuthLogin(bool with_token) {
    int rc;
    if (!Connect(&rc)) return rc;
    if (with_token) {
      std::string token((std::istreambuf_iterator<char>(std::cin)),
                        std::istreambuf_iterator<char>());
      if (token.find_first_not_of(" \t\r\n") == std::string::npos) {
        PrintErr(
            "backend-im: auth login --with-token reads the token from standard input, e.g.\n"
            "  echo \"$BACKEND_IM_TOKEN\" | backend-im auth login --with-token\n");
        return kExitUsage;
      }
      pb::LoginWithTokenRequest req;
      req.set_access_token(token);
      pb::AuthStatusReply reply;
      if (auto failed = client_.Call(&Stub::LoginWithToken, req, &reply, kQuick, "login failed"))
        return *failed;
      return PrintLoggedIn(reply);
    }
    pb::LoginStartReply start;
    if (auto failed = client_.Call(&Stub::LoginStart, pb::LoginStartRequest(), &start, kQuick,
                                   "cannot start the login"))
      return *failed;
    if (json) {
      PrintJson(nlohmann::json{{"verificationUri", start.verification_uri()},
                               {"verificationUriComplete", start.verification_uri_complete()},
                               {"userCode", start.user_code()},
                               {"expiresIn", start.expires_in_seconds()}});
    } else {
      Print("To log in, open {}\nand enter the code {}\n", style_.Bold(start.verification_uri()),
            style_.Bold(start.user_code()));
      if (!start.verification_uri_complete().empty()) {
        Print("(or open {} directly)\n", start.verification_uri_complete());
      }
      Print("Waiting for you to approve...\n");
    }
    std::fflush(stdout);
    while (true) {
      pb::LoginCheckRequest req;
      req.set_login_id(start.login_id());
      req.set_wait_seconds(20);
      pb::LoginCheckReply reply;
      auto c = client_.NewContext(seconds(40));
      auto s = client_.stub().LoginCheck(c.get(), req, &reply);
      if (!s.ok()) return client_.Fail(*c, s, "login failed");
      switch (reply.state()) {
        case pb::LoginCheckReply::PENDING:
          continue;
        case pb::LoginCheckReply::APPROVED:
          return PrintLoggedIn(reply.auth());
        default:
          PrintErr("backend-im: login failed: {}\n", reply.message());
          return kExitAuth;
      }
    }
  }

  int PrintLoggedIn(const pb::AuthStatusReply& a) {
    if (json) {
      PrintJson(AuthJson(a));
    } else {
      std::string who = a.email().empty() ? a.user_id() : a.email();
      Print("{} Logged in to {}{}\n", style_.Green("✓"), a.api_url(),
            who.empty() ? "" : " as " + who);
    }
    return kExitOk;
  }

  int AuthStatus() {
    int rc;
    if (!Connect(&rc)) return rc;
    pb::AuthStatusRequest req;
    req.set_verify(true);
    pb::AuthStatusReply reply;
    if (auto failed =
            client_.Call(&Stub::AuthStatus, req, &reply, kQuick, "cannot check the login"))
      return *failed;
    if (json) {
      PrintJson(AuthJson(reply));
      return reply.logged_in() ? kExitOk : kExitAuth;
    }
    if (!reply.logged_in()) {
      PrintErr("Not logged in to {}. Run `backend-im auth login`.\n", reply.api_url());
      return kExitAuth;
    }
    std::string who = reply.email().empty() ? reply.user_id() : reply.email();
    Print("Logged in to {}{}\n", reply.api_url(), who.empty() ? "" : " as " + who);
    if (!reply.user_id().empty()) Print("  user id:  {}\n", reply.user_id());
    Print("  via:      {}\n", reply.source() == "device"        ? "device login"
                              : reply.source() == "environment" ? "BACKEND_IM_TOKEN"
                                                                : "token");
    if (reply.expires_at_unix_ms() > 0) {
      Print("  token expires {}{}\n", FormatTime(reply.expires_at_unix_ms()),
            reply.can_refresh() ? " (renewed automatically)" : "");
    }
    return kExitOk;
  }

  int AuthLogout() {
    int rc;
    if (!Connect(&rc)) return rc;
    pb::LogoutReply reply;
    if (auto failed =
            client_.Call(&Stub::Logout, pb::LogoutRequest(), &reply, kQuick, "logout failed"))
      return *failed;
    if (json) {
      PrintJson(nlohmann::json{{"wasLoggedIn", reply.was_logged_in()}});
    } else {
      Print("{}\n", reply.was_logged_in() ? "Logged out; the stored credentials are erased."
                                          : "Was not logged in.");
    }
    return kExitOk;
  }

  // ---- generate ---------------------------------------------------------------------------
  int Generate(const std::string& prompt, std::string dir, bool force, bool editor_flag,
               const std::string& editor) {
    // gRPC strings must be UTF-8; protobuf would otherwise log an error and send nothing useful.
    if (!IsValidUtf8(prompt)) {
      PrintErr(
          "backend-im: generate: the prompt is not valid UTF-8; check your terminal's "
          "encoding (locale)\n");
      return kExitUsage;
    }
    if (dir.empty()) dir = FolderNameForPrompt(prompt);
    // Before the platform is asked: a refused folder would waste the generate.
    if (auto s = CheckOutputFolder(dir); !s.ok()) {
      LocalFail(s.error(), "generate");
      return kExitUsage;
    }
    int rc;
    if (!Connect(&rc)) return rc;
    pb::GenerateRequest req;
    req.set_prompt(prompt);
    pb::GenerateReply reply;
    if (!json) PrintErr("Generating...\n");
    if (auto failed = client_.Call(&Stub::Generate, req, &reply, kSlow, "generate failed"))
      return *failed;

    contract::FileMap files;
    for (const auto& f : reply.files()) files[f.path()] = f.content();
    if (static_cast<int>(files.size()) != reply.files_size()) {
      PrintErr(
          "backend-im: generate failed: the platform's answer names a file twice; nothing was "
          "written\n");
      return kExitPlatform;
    }
    Result<WriteReport> written = WriteReport{};
    {
      // Ctrl-C now waits until the files and the project's metadata are in place, so it never
      // leaves a staging folder or half a project behind.
      interrupt::Deferred whole;
      written = WriteProjectFiles(dir, files, force);
      if (!written.ok()) {
        int code = LocalFail(written.error(), "generate");
        // An unsafe name came from the platform, not from the user's command line.
        return written.error().code == ErrorCode::kInvalidArgument ? kExitPlatform : code;
      }
      if (!reply.project_id().empty()) {
        if (auto s = SaveProjectMeta(dir, {reply.project_id()}); !s.ok()) {
          return LocalFail(s.error(), "generate");
        }
      }
    }
    std::string editor_note;
    if (editor_flag) {
      auto opened = OpenEditor(editor, dir);
      editor_note = opened.ok() ? *opened : "warning: " + opened.error().message;
    }
    if (json) {
      nlohmann::json j{
          {"directory", AbsolutePath(dir)},
          {"projectId", reply.project_id().empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(reply.project_id())},
          {"files", nlohmann::json::array()},
          {"written", written->written},
          {"unchanged", written->unchanged}};
      for (const auto& [path, content] : files) {
        j["files"].push_back({{"path", path}, {"bytes", content.size()}});
      }
      if (!editor_note.empty()) j["editor"] = editor_note;
      PrintJson(j);
    } else {
      Print("{} Generated {} files in {}\n", style_.Green("✓"), files.size(), dir);
      for (const auto& [path, content] : files) Print("  {}\n", path);
      if (!written->unchanged.empty()) {
        Print("  ({} already up to date)\n", written->unchanged.size());
      }
      if (!editor_note.empty()) PrintErr("{}\n", editor_note);
      Print("Next: edit the files, then `cd {} && backend-im deploy --watch`\n", dir);
    }
    return kExitOk;
  }

  // ---- deploy -----------------------------------------------------------------------------
  int Deploy(const std::string& dir, const std::string& project_flag, bool watch, bool dry_run) {
    auto snap = ReadProjectFiles(dir);
    if (!snap.ok()) return LocalFail(snap.error(), "deploy");
    if (dry_run) return PrintDryRun(*snap);
    if (snap->files.empty()) {
      PrintErr("backend-im: deploy: nothing to upload in {}\n", dir);
      return kExitUsage;
    }
    std::string project_id = project_flag;
    if (project_id.empty()) {
      if (auto meta = LoadProjectMeta(dir)) project_id = meta->project_id;
    }
    int rc;
    if (!Connect(&rc)) return rc;
    pb::DeployRequest req;
    for (const auto& [path, content] : snap->files) {
      auto* f = req.add_files();
      f->set_path(path);
      f->set_content(content);
    }
    req.set_project_id(project_id);
    req.set_directory(AbsolutePath(dir));
    pb::DeployReply reply;
    if (auto failed = client_.Call(&Stub::Deploy, req, &reply, kSlow, "deploy failed"))
      return *failed;
    const auto& d = reply.deployment();
    if (!d.project_id().empty() && d.project_id() != project_id) {
      if (auto s = SaveProjectMeta(dir, {d.project_id()}); !s.ok()) {
        PrintErr("warning: cannot remember the project id: {}\n", s.error().message);
      }
    }
    if (json) {
      PrintJson(DeploymentJson(d));
    } else {
      Print("Deploying {} files ({} bytes) to project {}\n", snap->files.size(), snap->total_bytes,
            d.project_id());
      Print("  deployment {}  commit {}\n", style_.Bold(d.id()), d.commit_hash());
    }
    std::fflush(stdout);
    if (!watch) {
      if (!json) Print("Follow it with: backend-im watch {}\n", d.id());
      return kExitOk;
    }
    return Watch(d.id());
  }

  int PrintDryRun(const ProjectSnapshot& snap) {
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
    return kExitOk;
  }

  // ---- watch ------------------------------------------------------------------------------
  int Watch(const std::string& id) {
    int rc;
    if (!Connect(&rc)) return rc;
    std::string final_status;
    std::string url;
    int64_t after_seq = 0;  // the last event shown; a re-attached stream goes on from there
    for (;;) {
      pb::WatchRequest req;
      req.set_deployment_id(id);
      req.set_after_seq(after_seq);
      auto ctx = client_.NewContext(milliseconds(0));
      std::atomic<bool> detached{false};
      grpc::ClientContext* raw = ctx.get();
      interrupt::SetHandler([raw, &detached] {
        detached = true;
        raw->TryCancel();
      });
      auto reader = client_.stub().Watch(ctx.get(), req);
      pb::DeploymentEvent ev;
      bool checked = false;
      while (reader->Read(&ev)) {
        if (!checked) {
          client_.CheckReply(*ctx);
          checked = true;
        }
        PrintEvent(ev);
        after_seq = ev.seq();
        if (ev.terminal()) {
          final_status = ev.status();
          url = ev.url();
        }
      }
      grpc::Status st = reader->Finish();
      interrupt::SetHandler(nullptr);
      if (detached) {
        PrintErr("\nDetached. Deployment {} goes on; re-attach with: backend-im watch {}\n", id,
                 id);
        return kExitInterrupted;
      }
      // The agent went away mid-stream: when another takes its place (the systemd unit taking
      // over, or restarting it), follow on there from the last event shown.
      if (!st.ok() && final_status.empty() && client_.AgentGone(*ctx, st) &&
          client_.Reconnect(kReattachGrace)) {
        PrintErr("backend-im: the agent was replaced; still following {}\n", id);
        continue;
      }
      if (!st.ok()) {
        int code = client_.Fail(*ctx, st, "watch " + id);
        if (code == kExitAgent) {
          PrintErr("The deployment goes on. Re-attach with: backend-im watch {}\n", id);
        }
        return code;
      }
      break;
    }
    if (final_status == "complete") {
      if (!contract::CheckDeploymentUrl(url).ok()) {
        // The agent noted why on the deployment; ask for it, to say so.
        pb::StatusRequest req;
        req.set_deployment_id(id);
        pb::Deployment d;
        auto ctx = client_.NewContext(kQuick);
        std::string problem;
        if (client_.stub().Status(ctx.get(), req, &d).ok()) problem = d.stream_problem();
        return CompleteWithoutUrl(id, url, problem);
      }
      if (!json) Print("{} Deployed: {}\n", style_.Green("✓"), style_.Bold(url));
      return kExitOk;
    }
    if (final_status == "failed") {
      if (!json) {
        Print("{} Deployment {} failed. See the logs above, or run `backend-im status {}`\n",
              style_.Red("✗"), id, id);
      }
      return kExitDeployFailed;
    }
    PrintErr(
        "backend-im: the stream of {} ended before the deployment did; re-attach with: "
        "backend-im watch {}\n",
        id, id);
    return kExitAgent;
  }

  void PrintEvent(const pb::DeploymentEvent& ev) {
    if (json) {
      PrintJson(EventJson(ev));
      std::fflush(stdout);
      return;
    }
    std::string padded = fmt::format("{:<19}", ev.status());
    Styled status = ev.status() == "complete" ? style_.Green(padded)
                    : ev.status() == "failed" ? style_.Red(padded)
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
    std::fflush(stdout);
  }

  // ---- status / history -------------------------------------------------------------------
  int Status(const std::string& id) {
    int rc;
    if (!Connect(&rc)) return rc;
    pb::StatusRequest req;
    req.set_deployment_id(id);
    pb::Deployment d;
    if (auto failed = client_.Call(&Stub::Status, req, &d, kQuick, "status " + id)) return *failed;
    if (json) {
      PrintJson(DeploymentJson(d));
    } else {
      Print("Deployment  {}\n", d.id());
      Print("Project     {}\n", d.project_id());
      Print("Commit      {}\n", d.commit_hash());
      Styled s = d.status() == "complete" ? style_.Green(d.status())
                 : d.status() == "failed" ? style_.Red(d.status())
                                          : style_.Plain(d.status());
      Print("Status      {}\n", s);
      if (!d.url().empty()) Print("URL         {}\n", d.url());
      Print("Created     {}\n", FormatTime(d.created_at_unix_ms()));
      if (!d.directory().empty()) Print("Folder      {}\n", d.directory());
      if (!d.stream_problem().empty()) {
        Print("Note        {}\n", style_.Yellow(d.stream_problem()));
      }
      if (d.logs_size() > 0) {
        Print("Logs\n");
        for (const auto& l : d.logs()) Print("  {}\n", l);
      }
    }
    if (d.status() == "failed") return kExitDeployFailed;
    if (d.status() == "complete" && !contract::CheckDeploymentUrl(d.url()).ok()) {
      return CompleteWithoutUrl(d.id(), d.url(), d.stream_problem());
    }
    return kExitOk;
  }

  // The URL policy's last line: a deployment the platform calls complete is shown as deployed
  // only with an https URL (the agent stores no other); without one it is a platform error.
  int CompleteWithoutUrl(const std::string& id, const std::string& url,
                         const std::string& problem) {
    std::string why = !problem.empty() ? problem
                      : url.empty()    ? std::string("the platform gave no URL")
                                       : contract::CheckDeploymentUrl(url).error().message;
    PrintErr(
        "backend-im: deployment {} is complete on the platform, but it has no usable URL: {}\n", id,
        why);
    return kExitPlatform;
  }

  int History(const std::string& project, int limit) {
    if (limit < 1 || limit > 1000) {
      PrintErr("backend-im: history: --limit takes 1 to 1000\n");
      return kExitUsage;
    }
    int rc;
    if (!Connect(&rc)) return rc;
    pb::HistoryRequest req;
    req.set_project_id(project);
    req.set_limit(limit);
    pb::HistoryReply reply;
    if (auto failed = client_.Call(&Stub::History, req, &reply, kQuick, "history")) return *failed;
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& d : reply.deployments()) arr.push_back(DeploymentJson(d));
      PrintJson(arr);
      return kExitOk;
    }
    if (reply.deployments_size() == 0) {
      Print("{}\n",
            project.empty() ? "No deployments yet." : "No deployments of that project yet.");
      return kExitOk;
    }
    Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<36}  {}\n", "CREATED", "STATUS", "PROJECT", "COMMIT",
          "DEPLOYMENT", "URL");
    for (const auto& d : reply.deployments()) {
      Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<36}  {}\n", FormatTime(d.created_at_unix_ms()),
            d.status(), d.project_id(), d.commit_hash(), d.id(), d.url());
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
    pb::AgentInfo info;
    if (auto failed =
            client_.Call(&Stub::GetInfo, pb::GetInfoRequest(), &info, kQuick, "daemon status"))
      return *failed;
    int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    int64_t uptime_s = std::max<int64_t>(0, (now_ms - info.started_at_unix_ms()) / 1000);
    if (json) {
      PrintJson(nlohmann::json{
          {"running", true},
          {"pid", info.pid()},
          {"version", info.version()},
          {"ctlVersion", kVersion},
          {"uptimeSeconds", uptime_s},
          {"apiUrl", info.api_url()},
          {"apiUrlProblem", info.platform_problem().empty()
                                ? nlohmann::json(nullptr)
                                : nlohmann::json(info.platform_problem())},
          {"loggedIn", info.logged_in()},
          {"watchedDeployments", std::vector<std::string>(info.watched_deployments().begin(),
                                                          info.watched_deployments().end())},
          {"watchers", info.watchers()},
          {"systemd", info.systemd_managed()},
          {"autostarted", info.autostarted()},
          {"socket", info.socket_path()},
          {"stateDir", info.state_dir()}});
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
    if (AgentClient::Listening(client_.socket_path()) && client_.CheckAgent().ok()) {
      pb::AgentInfo info;
      auto ctx = client_.NewContext(seconds(5));
      if (client_.stub().GetInfo(ctx.get(), {}, &info).ok()) agent_version = info.version();
    }
    if (json) {
      PrintJson(
          nlohmann::json{{"version", kVersion},
                         {"agentVersion", agent_version.empty() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(agent_version)}});
    } else {
      Print("backend-im {}\n", kVersion);
      if (!agent_version.empty()) Print("agent      {}\n", agent_version);
    }
    return kExitOk;
  }

 private:
  AgentClient client_;
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
      "130 detached by Ctrl-C.",
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

  auto* auth = app.add_subcommand("auth", "Log in to Backend.im, check or end the login");
  auth->require_subcommand(1);
  bool with_token = false;
  auto* login = auth->add_subcommand("login",
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

  std::string prompt, out_dir, editor;
  bool force = false;
  auto* gen = app.add_subcommand("generate",
                                 "Generate a FastAPI backend from a prompt into a local folder");
  gen->add_option("prompt", prompt, "What the backend should do, e.g. \"REST API for users\"")
      ->required();
  gen->add_option("-o,--output", out_dir,
                  "Folder to write to (default: a name made from the prompt)");
  auto* editor_opt =
      gen->add_option("-e,--editor", editor,
                      "Open the folder in this editor afterwards (no name: $VISUAL, then $EDITOR)")
          ->expected(0, 1);
  gen->add_flag("--force", force, "Overwrite local files whose content differs");
  json_flag(gen);
  gen->callback(run(
      [&](Ctl& c) { return c.Generate(prompt, out_dir, force, editor_opt->count() > 0, editor); }));

  std::string dir = ".", project;
  bool watch = false, dry_run = false;
  auto* dep = app.add_subcommand("deploy", "Upload the project folder and deploy it");
  dep->add_option("-d,--dir", dir, "Project folder (default: the current folder)");
  dep->add_flag("-w,--watch", watch, "Follow the deployment until it completes or fails");
  dep->add_option("--project", project, "Project id (default: from .backend-im/project.json)");
  dep->add_flag("--dry-run", dry_run, "List what would be uploaded and contact nobody");
  json_flag(dep);
  dep->callback(run([&](Ctl& c) { return c.Deploy(dir, project, watch, dry_run); }));

  std::string id;
  auto* w = app.add_subcommand("watch", "Follow a deployment's stages live; Ctrl-C detaches");
  w->add_option("id", id, "Deployment id")->required();
  json_flag(w);
  w->callback(run([&](Ctl& c) { return c.Watch(id); }));

  auto* status = app.add_subcommand("status", "Show a deployment's status and logs");
  status->add_option("id", id, "Deployment id")->required();
  json_flag(status);
  status->callback(run([&](Ctl& c) { return c.Status(id); }));

  int limit = 20;
  auto* hist = app.add_subcommand("history", "List past deployments, newest first");
  hist->add_option("--project", project, "Only this project");
  hist->add_option("--limit", limit, "How many (1-1000, default 20)");
  json_flag(hist);
  hist->callback(run([&](Ctl& c) { return c.History(project, limit); }));

  auto* daemon = app.add_subcommand("daemon", "Inspect or stop the background agent (backend-imd)");
  daemon->require_subcommand(1);
  auto* dstatus = daemon->add_subcommand(
      "status", "Show the agent's pid, version, uptime, platform, login and watches");
  json_flag(dstatus);
  dstatus->callback(run([](Ctl& c) { return c.DaemonStatus(); }));
  auto* dstop = daemon->add_subcommand("stop", "Stop the agent cleanly");
  dstop->callback(run([](Ctl& c) { return c.DaemonStop(); }));

  auto* ver =
      app.add_subcommand("version", "Print the versions of backend-im and of the running agent");
  json_flag(ver);
  ver->callback(run([](Ctl& c) { return c.Version(); }));

  AddMcpCommand(app, exit_code);

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
