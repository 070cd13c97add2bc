#pragma once
// What the running agent writes about itself into its lock file (state folder/agent.lock), so
// that every client of the same state folder finds it, whatever its own environment says: an
// MCP host that passes no XDG_RUNTIME_DIR computes another default socket path than a terminal,
// but both read the same record. The agent writes it while it holds the lock; a reader still
// checks that the socket listens before trusting it.
//
// The format is a pid file with key=value lines after the pid:
//   4242
//   socket=/run/user/1000/backend-im/agent.sock
//   started_by=systemd
// Unknown keys are ignored, so a newer agent may add some.

#include <optional>
#include <string>
#include <string_view>

namespace bim {

struct AgentRecord {
  long pid = 0;
  std::string socket_path;
  // Who started the agent, which decides who may replace it: a systemd-managed agent takes
  // over from one that a ctl started on demand, never from one a person started.
  std::string started_by;  // kStartedBy*

  static constexpr const char* kStartedBySystemd = "systemd";
  static constexpr const char* kStartedByCtl = "ctl";
  static constexpr const char* kStartedByHand = "hand";
};

std::string FormatAgentRecord(const AgentRecord& record);
// nullopt when the text has no pid; a bare pid (older agents) parses with the rest empty.
std::optional<AgentRecord> ParseAgentRecord(std::string_view text);

// The lock file of the agent that uses state_dir.
std::string AgentLockPath(const std::string& state_dir);
// Reads the record from state_dir's lock file, but only when state_dir and the file belong to
// this user and nobody else can write them: a record in a folder another user controls could
// send the ctl, and its token, to a socket of theirs. Never creates anything.
std::optional<AgentRecord> ReadAgentRecord(const std::string& state_dir);

}  // namespace bim
