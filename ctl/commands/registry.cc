// Every top-level command of backend-im, in the order `backend-im --help` lists them: its name
// (argv[1]) and the function in ctl/commands/<file>.cc that adds it to the command line.
// Adding a command is its file and one line in BIM_CTL_COMMANDS.
#include "ctl/commands/command.h"

#define BIM_CTL_COMMANDS(X)                 \
  X("auth", AddAuthCommand)                 \
  X("generate", AddGenerateCommand)         \
  X("deploy", AddDeployCommand)             \
  X("watch", AddWatchCommand)               \
  X("status", AddStatusCommand)             \
  X("history", AddHistoryCommand)           \
  X("logs", AddLogsCommand)                 \
  X("rollback", AddRollbackCommand)         \
  X("restore", AddRestoreCommand)           \
  X("diff", AddDiffCommand)                 \
  X("promote", AddPromoteCommand)           \
  X("environments", AddEnvironmentsCommand) \
  X("env", AddEnvCommand)                   \
  X("domains", AddDomainsCommand)           \
  X("dev", AddDevCommand)                   \
  X("daemon", AddDaemonCommand)             \
  X("version", AddVersionCommand)           \
  X("mcp", AddMcpCommand)

namespace bim::ctl {

#define BIM_DECLARE_COMMAND(name, add) void add(CommandLine& cli);
BIM_CTL_COMMANDS(BIM_DECLARE_COMMAND)
#undef BIM_DECLARE_COMMAND

std::span<const Command> Commands() {
#define BIM_COMMAND_ENTRY(name, add) Command{name, add},
  static constexpr Command kCommands[] = {BIM_CTL_COMMANDS(BIM_COMMAND_ENTRY)};
#undef BIM_COMMAND_ENTRY
  return kCommands;
}

}  // namespace bim::ctl
