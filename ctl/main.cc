// backend-im: the control client. The commands are ctl/commands/; this is their agent (the
// real one, on its socket) and the catch-all.
#include <cstdio>
#include <exception>
#include <memory>

#include "ctl/commands/command.h"
#include "ctl/wire_agent_api.h"

int main(int argc, char** argv) {
  try {
    std::unique_ptr<bim::ctl::WireAgentApi> agent;
    return bim::ctl::RunCommandLine(argc, argv, [&agent]() -> bim::ctl::AgentApi& {
      agent = std::make_unique<bim::ctl::WireAgentApi>();
      return *agent;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backend-im: internal error: %s\n", e.what());
    return 70;
  }
}
