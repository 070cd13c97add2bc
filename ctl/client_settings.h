#pragma once
// What the ctl takes from its environment, read once in one place (the agent's counterpart is
// daemon/agent_settings.h). Every variable is optional; a value that does not parse is ignored
// with a warning that names it, and its default applies.
//
//   BACKEND_IM_SOCKET            the agent's socket (default: AgentClient::DiscoverSocket)
//   BACKEND_IMD                  the agent binary to start on demand
//   BACKEND_IM_NO_AUTOSTART=1    never start an agent
//   BACKEND_IM_CALL_TIMEOUT_MS   caps every call's deadline (never lengthens one)
//   BACKEND_IM_REATTACH_GRACE_MS how long a watch whose agent went away waits for another one
//                                (default 5000: systemd restarts the unit's agent after 2 s)

#include <chrono>
#include <string>
#include <vector>

#include "common/environment.h"

namespace bim::ctl {

struct ClientSettings {
  std::string socket;        // empty: discover
  std::string agent_binary;  // empty: next to this binary, else on PATH
  bool autostart = true;
  std::chrono::milliseconds call_timeout_cap{0};  // 0: none
  std::chrono::milliseconds reattach_grace{5000};
  std::vector<std::string> warnings;  // one per value ignored
};

ClientSettings ReadClientSettings(const Environment& env);

}  // namespace bim::ctl
