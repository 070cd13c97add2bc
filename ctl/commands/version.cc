// backend-im version
#include "common/version.h"

#include "ctl/commands/command.h"

namespace bim::ctl {
namespace {

int Version(CommandContext& c) {
  // The running agent's version, when one of the user's answers; none is started for it.
  auto info = c.agent().RunningInfo();
  std::string agent_version = info ? info->version() : "";
  if (c.json()) {
    nlohmann::json j{{"version", kVersion}};
    if (!agent_version.empty()) j["agentVersion"] = agent_version;
    PrintJson(j);
  } else {
    Print("backend-im {}\n", kVersion);
    if (!agent_version.empty()) Print("agent      {}\n", agent_version);
  }
  return kExitOk;
}

}  // namespace

void AddVersionCommand(CommandLine& cli) { cli.OnRun(cli.Add("version"), Version); }

}  // namespace bim::ctl
