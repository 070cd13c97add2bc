#pragma once
// Runs backend-imd: resolves paths and settings, takes the instance lock, opens the store,
// serves gRPC on the Unix socket until SIGTERM/SIGINT or a Shutdown call, then stops cleanly.

#include <string>

namespace bim::daemon {

struct DaemonOptions {
  std::string socket_path;  // empty: paths::SocketPath()
  std::string state_dir;    // empty: paths::StateDir()
  std::string api_url;      // empty: env, config, default
  std::string log_level;    // empty: env, config, info
};

// Returns the process exit code.
int RunDaemon(const DaemonOptions& options);

}  // namespace bim::daemon
