#pragma once
// Every setting of backend-imd, resolved in one place, in one order: a command-line flag, then
// the environment, then the config file ($XDG_CONFIG_HOME/backend-im/config), then the default.
// Pure: it reads only what it is given, so the order is tested with a map for an environment.
//
//   setting      flag          environment                  config     default
//   api_url      --api-url     BACKEND_IM_API_URL           api_url    https://api.backend.im
//   log level    --log-level   BACKEND_IM_LOG_LEVEL         log_level  info
//   log size     --log-max-mb  BACKEND_IM_LOG_MAX_MB        log_max_mb 10 (1 .. 1024): agent.log
//                rotates to agent.log.1 past it (log::RotateStderrFile)
//   ca_file                    BACKEND_IM_CA_FILE           ca_file    (the system's CAs)
//   token                      BACKEND_IM_TOKEN                        (none: log in)
//   keepalive                  BACKEND_IM_WS_KEEPALIVE_MS              20 s (100 ms .. 10 min)
//   notify                     BACKEND_IM_NOTIFY            notify     on (desktop notices)
//   snapshots    --snapshot-keep    BACKEND_IM_SNAPSHOT_KEEP  snapshot_keep    20 (0 .. 1000)
//                --snapshot-max-mb  BACKEND_IM_SNAPSHOT_MAX_MB snapshot_max_mb 200 (1 .. 1048576)
//   version                    BACKEND_IM_VERSION_OVERRIDE             the build's (tests only)
//   dns server                 BACKEND_IM_DNS_SERVER                   (the system's resolver):
//                HOST:PORT where `domains verify` looks records up itself; checked at start
//   domain checks              BACKEND_IM_DOMAIN_CHECK_MS              5000 (10 .. 600000): the
//                first wait of a custom domain's background certificate check; it doubles to 10 min
//
// Who started the agent comes from the environment too: BACKEND_IM_AUTOSTARTED=1 (a ctl) or
// INVOCATION_ID (systemd, which sets it for the services it runs). The session bus for desktop
// notices is DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus (where sd_bus_open_user looks),
// else /run/user/UID/bus: an MCP host may start the agent with neither variable set, and that is
// where systemd-logind's runtime folder, and so the user's bus, is.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/environment.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/daemon_main.h"
#include "daemon/snapshot_store.h"

namespace bim::daemon {

inline constexpr int64_t kDefaultLogMaxMiB = 10;

struct AgentSettings {
  std::string api_url;
  // Where api_url came from ("--api-url", "BACKEND_IM_API_URL", "api_url in <file>"; "" for the
  // default), for the message when the URL is refused.
  std::string api_url_source;
  log::Level log_level = log::Level::kInfo;
  uint64_t log_max_bytes = kDefaultLogMaxMiB * 1024 * 1024;
  std::string ca_file;            // "": the system's
  std::string environment_token;  // "": none
  std::chrono::milliseconds keepalive{20000};
  SnapshotPolicy snapshots;
  std::string version;
  bool autostarted = false;      // started by a ctl
  bool systemd_managed = false;  // started by systemd, and not by a ctl
  bool notify = true;            // desktop notices of deployments that end
  std::string session_bus;       // a D-Bus address; "": none
  std::string dns_server;        // "HOST:PORT"; "": the system's resolver
  std::chrono::milliseconds domain_check_first_delay{5000};
};

// A bad value (an unknown log level, a notify that is not on or off, a snapshot setting that is
// not a number in its range) is a kInvalidArgument error that names it.
// uid: the user whose session bus is /run/user/UID/bus when the environment names none.
Result<AgentSettings> ResolveAgentSettings(const DaemonOptions& flags, const Environment& env,
                                           const Config& config, const std::string& config_path,
                                           const std::string& build_version,
                                           uid_t uid = ::getuid());

}  // namespace bim::daemon
