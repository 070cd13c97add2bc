// backend-im daemon status | stop
#include <algorithm>

#include "common/version.h"
#include "ctl/commands/command.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using std::chrono::milliseconds;

nlohmann::json InfoModel(const pb::AgentInfo& info, int64_t uptime_s) {
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
  return j;
}

void PrintInfo(const CommandContext& c, const pb::AgentInfo& info, int64_t uptime_s) {
  Print("Agent       running, pid {}, version {}{}\n", info.pid(), info.version(),
        info.version() == kVersion ? "" : fmt::format(" (this ctl is {})", kVersion));
  Print("Uptime      {}h{:02}m{:02}s\n", uptime_s / 3600, (uptime_s / 60) % 60, uptime_s % 60);
  Print("Platform    {}\n", info.api_url());
  if (!info.platform_problem().empty()) {
    Print("            {}\n", c.style().Red(info.platform_problem()));
  }
  Print("Login       {}\n", info.logged_in() ? "logged in" : "not logged in");
  Print("Watching    {} deployment(s), {} watch stream(s)\n", info.watched_deployments_size(),
        info.watchers());
  for (const auto& id : info.watched_deployments()) Print("  {}\n", id);
  Print("Managed by  {}\n", info.systemd_managed() ? "systemd"
                            : info.autostarted()   ? "backend-im (started on demand)"
                                                   : "nobody (started by hand)");
  Print("Socket      {}\nState       {}\n", info.socket_path(), info.state_dir());
}

int Status(CommandContext& c) {
  auto running = c.agent().Running();
  if (running.ok() && !*running) {
    if (c.json()) {
      PrintJson(nlohmann::json{{"running", false}, {"socket", c.agent().socket_path()}});
    } else {
      Print("No agent is running (socket {}).\n", c.agent().socket_path());
    }
    return kExitAgent;
  }
  if (!running.ok()) {
    PrintErr("backend-im: daemon status: {}\n", running.error().message);
    return kExitAgent;
  }
  auto got = c.ops().Info(c.cancel());
  if (!got.ok()) return c.Failed(got.error(), "daemon status");
  int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int64_t uptime_s = std::max<int64_t>(0, (now_ms - got->started_at_unix_ms()) / 1000);
  if (c.json()) {
    PrintJson(InfoModel(*got, uptime_s));
  } else {
    PrintInfo(c, *got, uptime_s);
  }
  return kExitOk;
}

int Stop(CommandContext& c) {
  auto running = c.agent().Running();
  if (running.ok() && !*running) {
    Print("No agent is running.\n");
    return kExitOk;
  }
  if (!running.ok()) {
    PrintErr("backend-im: daemon stop: {}\n", running.error().message);
    return kExitAgent;
  }
  if (auto stopped = c.agent().Stop(std::chrono::seconds(10)); !stopped.ok()) {
    PrintErr("backend-im: daemon stop: {}\n", stopped.error().message);
    return kExitAgent;
  }
  Print("Agent stopped.\n");
  return kExitOk;
}

}  // namespace

void AddDaemonCommand(CommandLine& cli) {
  cli.Add("daemon")->require_subcommand(1);
  cli.OnRun(cli.Add("daemon status"), Status);
  cli.OnRunWithoutJson(cli.Add("daemon stop"), Stop);
}

}  // namespace bim::ctl
