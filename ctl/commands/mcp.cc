// backend-im mcp [config [--client NAME]]: the MCP server itself is ctl/mcp_command.cc.
#include "ctl/commands/command.h"
#include "ctl/mcp_command.h"

namespace bim::ctl {

void AddMcpCommand(CommandLine& cli) { AddMcpCommand(cli.app(), cli.exit_code()); }

}  // namespace bim::ctl
