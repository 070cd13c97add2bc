#include "ctl/mcp_command.h"

namespace bim::ctl {

void AddMcpCommand(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}

}  // namespace bim::ctl
