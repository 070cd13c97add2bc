#pragma once
// The backend-im command line: parses it (CLI11), runs the command against the agent and
// returns the exit code (ExitCode in agent_client.h).

namespace bim::ctl {

int RunCtl(int argc, char** argv);

}  // namespace bim::ctl
