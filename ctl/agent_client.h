#pragma once
// The ctl's connection to the agent over its Unix socket, in gRPC's wire protocol through the
// ctl's own client (ctl/grpc_wire.h), not gRPC C++: a quick command must not pay for starting
// gRPC core (docs/PERFORMANCE.md). Each call opens its own connection; between calls nothing is
// held.
//
// Which socket: BACKEND_IM_SOCKET when set; else the one the running agent recorded in its
// lock file (AgentRecord), so that clients with different environments (a terminal, an MCP
// host that passes no XDG_RUNTIME_DIR) share one agent per state folder; else the default path.
//
// Before anything is sent, the agent is verified (VerifyPeer): the socket's folder is the
// user's and writable by nobody else, the socket is the user's, and the process listening on it
// runs as the user (SO_PEERCRED). Otherwise nothing is sent: a token or a project must never
// reach an impostor that created the socket in a folder another user could write. Every call
// through channel() is verified that way on its own connection, right after connecting (so a
// call needs no probe connection before it); CheckAgent() verifies with a connection of its own.
//
// Connect() runs only when a call found nothing listening: it looks for the agent again (its
// record may name another socket) and, when nothing listens there either, starts backend-imd
// itself, detached and with the same environment, and waits at most ~3 s for its READY=1 on a
// notify socket of its own (BACKEND_IM_NO_AUTOSTART=1 turns this off). An agent that refuses
// to start says why on that socket, and Connect() fails with that reason at once. After each
// call, CheckReply() compares the agent's version (from the reply's metadata) with the ctl's:
// on a difference it says so, and an agent that a ctl started is asked to stop, so the next
// command starts the new one.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "backend_im/v1/agent.pb.h"
#include "common/result.h"
#include "ctl/agent_methods.h"
#include "ctl/client_settings.h"
#include "ctl/grpc_wire.h"
#include "ctl/op_result.h"

namespace bim::ctl {

class AgentClient {
 public:
  // Settings from the process environment (ReadClientSettings); their warnings go to stderr.
  AgentClient();
  explicit AgentClient(ClientSettings settings);

  // Makes sure an agent listens (starting one if allowed) and that it is the user's.
  Status Connect();
  // Verifies the agent on socket_path() as the header comment says; kPermissionDenied with
  // what to do when it is not the user's, kUnavailable when nothing listens.
  Status CheckAgent() const;
  // The same check on fd, a connection to socket_path on which nothing was sent yet: OK, or
  // kPermissionDenied with what to do.
  static Status VerifyPeer(int fd, const std::string& socket_path);
  const std::string& socket_path() const { return socket_path_; }
  // Where calls go: the agent on socket_path(). Cheap; holds no connection. Each call verifies
  // its connection's peer (VerifyPeer) before it sends anything; one that is refused ends with
  // wire::Code::kPermissionDenied, the message saying why, and ctx.connected() false.
  wire::Channel channel() const;
  // One unary call to the agent on socket_path(), without Connect() or CheckReply().
  template <typename Request, typename Reply>
  wire::CallStatus Call(const rpc::Unary<Request, Reply>& method,
                        const std::type_identity_t<Request>& request, Reply* reply,
                        wire::CallContext& ctx) const {
    return channel().Unary(method.path, request, reply, ctx);
  }

  // A context with a deadline (none when timeout is zero). BACKEND_IM_CALL_TIMEOUT_MS, when set,
  // caps every deadline, so that a command gives up sooner (tests use it to outlast a platform
  // made slow on purpose without waiting for the 30 s default).
  std::unique_ptr<wire::CallContext> NewContext(std::chrono::milliseconds timeout) const;
  // Looks at a finished call's metadata for version skew.
  void CheckReply(const wire::CallContext& ctx);
  // Stops an outdated agent that a ctl started, and starts this version's; called once the
  // command is done.
  void RestartIfOutdated();
  // Asks the agent to stop and waits until its process is gone, not merely its socket: the
  // agent holds its lock (and finishes its database writes) until it exits, so a new agent
  // started any earlier would find the lock still taken.
  Status StopAgent(std::chrono::milliseconds timeout);

  // True when a call failed because the agent went away (not because of the platform).
  static bool AgentGone(const wire::CallContext& ctx, const wire::CallStatus& status);
  // Waits up to the settings' reattach_grace for an agent to listen again (never starting one),
  // and points the client at it; false when none came.
  bool Reconnect();

  // True when a socket accepts connections at path.
  static bool Listening(const std::string& path);
  // The socket to talk to, as the header comment says.
  std::string DiscoverSocket() const;

 private:
  // Talks to the agent on path from now on.
  Status StartAgent();

  ClientSettings settings_;
  std::string socket_path_;
  bool outdated_autostarted_ = false;
  bool warned_ = false;
};

}  // namespace bim::ctl
