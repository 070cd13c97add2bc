#pragma once
// AgentApi: the agent's API as the ctl sees it, one call per RPC of agent.proto
// (service backend_im.v1.Agent), each failure already classified (OpError). Operations
// (ctl/operations.h) are written against it, never against a transport:
//   - WireAgentApi (ctl/wire_agent_api.h) is the real one: the agent on its Unix socket, started
//     when none listens, followed to a replacement when it goes away mid-stream;
//   - tests/support/fake_agent_api.h keeps an agent in memory, so that every operation, command
//     and MCP tool is tested without a process.
//
// Every call takes the operation's CancelToken; a cancel ends the call in flight at once and
// the call returns OpFailure::kCancelled.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "backend_im/v1/agent.pb.h"
#include "common/result.h"
#include "ctl/cancel_token.h"
#include "ctl/op_result.h"

namespace bim::ctl {

class AgentApi {
 public:
  virtual ~AgentApi() = default;

  virtual OpResult<backend_im::v1::AgentInfo> GetInfo(CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::AuthStatusReply> AuthStatus(
      const backend_im::v1::AuthStatusRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::AuthStatusReply> LoginWithToken(
      const backend_im::v1::LoginWithTokenRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::LoginStartReply> LoginStart(CancelToken& cancel) = 0;
  // Held by the agent until the login's state changes or request.wait_seconds pass.
  virtual OpResult<backend_im::v1::LoginCheckReply> LoginCheck(
      const backend_im::v1::LoginCheckRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::LogoutReply> Logout(CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::GenerateReply> Generate(
      const backend_im::v1::GenerateRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::DeployReply> Deploy(const backend_im::v1::DeployRequest& request,
                                                       CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::DeployReply> Rollback(
      const backend_im::v1::RollbackRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::Deployment> Status(const backend_im::v1::StatusRequest& request,
                                                      CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::HistoryReply> History(
      const backend_im::v1::HistoryRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::FilesReply> GetFiles(
      const backend_im::v1::GetFilesRequest& request, CancelToken& cancel) = 0;
  // Environments, variables and promote (an extension of the platform: on one without it, a
  // kPlatform error that says so). ListVariables carries values only when asked for.
  virtual OpResult<backend_im::v1::ListEnvironmentsReply> ListEnvironments(
      const backend_im::v1::ListEnvironmentsRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::AddEnvironmentReply> AddEnvironment(
      const backend_im::v1::AddEnvironmentRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::RemoveEnvironmentReply> RemoveEnvironment(
      const backend_im::v1::RemoveEnvironmentRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::ListVariablesReply> ListVariables(
      const backend_im::v1::ListVariablesRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::SetVariableReply> SetVariable(
      const backend_im::v1::SetVariableRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::UnsetVariableReply> UnsetVariable(
      const backend_im::v1::UnsetVariableRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::DeployReply> Promote(
      const backend_im::v1::PromoteRequest& request, CancelToken& cancel) = 0;
  // Custom domains (an extension of the platform: on one without it, a kPlatform error that
  // says so). VerifyDomain carries the agent's own lookup of each record beside the platform's.
  virtual OpResult<backend_im::v1::AddDomainReply> AddDomain(
      const backend_im::v1::AddDomainRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::ListDomainsReply> ListDomains(
      const backend_im::v1::ListDomainsRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::VerifyDomainReply> VerifyDomain(
      const backend_im::v1::VerifyDomainRequest& request, CancelToken& cancel) = 0;
  virtual OpResult<backend_im::v1::RemoveDomainReply> RemoveDomain(
      const backend_im::v1::RemoveDomainRequest& request, CancelToken& cancel) = 0;

  // The Watch stream of one deployment, from request.after_seq on.
  struct StreamHooks {
    // Each message as it arrives: events (seq > 0) and the agent's notices (seq 0).
    std::function<void(const backend_im::v1::DeploymentEvent&)> on_message;
    // Before the stream waits for its next message (not between messages that came together).
    std::function<void()> before_wait;
    // The agent went away before a terminal event and another took its place; the stream goes
    // on there after the last event delivered.
    std::function<void()> on_reattach;
  };
  // Reads the stream until the agent ends it: false then; true when `deadline` came first.
  virtual OpResult<bool> Watch(const backend_im::v1::WatchRequest& request,
                               std::optional<std::chrono::steady_clock::time_point> deadline,
                               const StreamHooks& hooks, CancelToken& cancel) = 0;

  // Runtime logs (an extension of the platform: on one without it, a kPlatform error that says
  // so and points at `status`).
  virtual OpResult<backend_im::v1::GetLogsReply> GetLogs(
      const backend_im::v1::GetLogsRequest& request, CancelToken& cancel) = 0;
  struct LogHooks {
    // Each item as it arrives: start (once, first), lines, skipped counts, notices, the end.
    std::function<void(const backend_im::v1::LogItem&)> on_item;
    // Before the stream waits for its next item.
    std::function<void()> before_wait;
    // The agent went away and another took its place; the follow goes on there, after the
    // last line delivered (no line twice, none lost that the platform still keeps).
    std::function<void()> on_reattach;
  };
  // Reads the FollowLogs stream until its end item (true) or the agent ends it (false).
  virtual OpResult<bool> FollowLogs(const backend_im::v1::FollowLogsRequest& request,
                                    const LogHooks& hooks, CancelToken& cancel) = 0;

  // ---- the agent's process (`daemon status`, `daemon stop`, `version`) ----
  // Where the agent listens (or would), for messages.
  virtual const std::string& socket_path() const = 0;
  // Whether an agent listens, never starting one: false when nothing does; an error (what to
  // do) when what listens is not the user's agent.
  virtual Result<bool> Running() = 0;
  // The running agent's info in one quick call, never starting one; nullopt when none of the
  // user's answers.
  virtual std::optional<backend_im::v1::AgentInfo> RunningInfo() = 0;
  // Asks the agent to stop and waits until its process is gone.
  virtual bim::Status Stop(std::chrono::milliseconds timeout) = 0;
  // Once the command is done: an outdated agent that a ctl started is replaced.
  virtual void Finish() = 0;
};

}  // namespace bim::ctl
