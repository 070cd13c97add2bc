#pragma once
// Runs backend-imd: resolves paths and settings, takes the instance lock, opens the store,
// serves gRPC on the Unix socket until SIGTERM/SIGINT or a Shutdown call, then stops cleanly.

#include <string>

namespace bim::daemon {

struct DaemonOptions {
  std::string socket_path;      // empty: paths::SocketPath()
  std::string state_dir;        // empty: paths::StateDir()
  std::string api_url;          // empty: env, config, default
  std::string log_level;        // empty: env, config, info
  std::string log_max_mb;       // empty: env, config, default (see agent_settings.h)
  std::string snapshot_keep;    // empty: env, config, default (see agent_settings.h)
  std::string snapshot_max_mb;  // empty: env, config, default
};

// Returns the process exit code.
// Called first in main: unless it already did, or whoever started it passed the settings in
// GLIBC_TUNABLES (common/malloc_tunables.h; the ctl and the systemd unit do), re-executes the
// agent (same pid, arguments and descriptors) with glibc's allocator told to wipe every block it
// frees (no per-thread cache,
// freed bytes overwritten), so no copy of a token outlives its buffer: without it three copies
// stayed in the agent's memory after `auth logout` (request buffers of gRPC and libcurl that we
// cannot wipe ourselves). Not under sanitizers, which bring their own allocator.
void WipeFreedMemory(char** argv);

int RunDaemon(const DaemonOptions& options);

}  // namespace bim::daemon
