#pragma once
// WireAgentApi: AgentApi on the real agent, through AgentClient (ctl/agent_client.h) and the
// ctl's own wire client.
//
// A call's first try goes straight to the socket the client found (one connection, verified
// before anything is sent); only when nothing listened there does AgentClient::Connect() look
// again and start an agent, and the call is made once more. After each call, the reply's
// metadata is checked for version skew (AgentClient::CheckReply). Watch and FollowLogs follow a
// replacement agent when the agent goes away mid-stream (AgentClient::Reconnect); FollowLogs,
// which has no end of its own but the app's, starts one when none comes back.
//
// Thread-safety: MCP runs operations on several threads at once. A call needs no lock: it runs
// on a channel copied under mu_, on a connection of its own; mu_ guards the client's own state.

#include <chrono>
#include <mutex>
#include <type_traits>

#include "ctl/agent_api.h"
#include "ctl/agent_client.h"
#include "ctl/agent_methods.h"

namespace bim::ctl {

class WireAgentApi final : public AgentApi {
 public:
  // Settings from the process environment (ReadClientSettings); their warnings go to stderr.
  WireAgentApi() = default;
  explicit WireAgentApi(ClientSettings settings) : client_(std::move(settings)) {}

  OpResult<backend_im::v1::AgentInfo> GetInfo(CancelToken& cancel) override;
  OpResult<backend_im::v1::AuthStatusReply> AuthStatus(
      const backend_im::v1::AuthStatusRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::AuthStatusReply> LoginWithToken(
      const backend_im::v1::LoginWithTokenRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::LoginStartReply> LoginStart(CancelToken& cancel) override;
  OpResult<backend_im::v1::LoginCheckReply> LoginCheck(
      const backend_im::v1::LoginCheckRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::LogoutReply> Logout(CancelToken& cancel) override;
  OpResult<backend_im::v1::GenerateReply> Generate(const backend_im::v1::GenerateRequest& request,
                                                   CancelToken& cancel) override;
  OpResult<backend_im::v1::DeployReply> Deploy(const backend_im::v1::DeployRequest& request,
                                               CancelToken& cancel) override;
  OpResult<backend_im::v1::DeployReply> Rollback(const backend_im::v1::RollbackRequest& request,
                                                 CancelToken& cancel) override;
  OpResult<backend_im::v1::Deployment> Status(const backend_im::v1::StatusRequest& request,
                                              CancelToken& cancel) override;
  OpResult<backend_im::v1::HistoryReply> History(const backend_im::v1::HistoryRequest& request,
                                                 CancelToken& cancel) override;
  OpResult<backend_im::v1::FilesReply> GetFiles(const backend_im::v1::GetFilesRequest& request,
                                                CancelToken& cancel) override;
  OpResult<backend_im::v1::ListEnvironmentsReply> ListEnvironments(
      const backend_im::v1::ListEnvironmentsRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::AddEnvironmentReply> AddEnvironment(
      const backend_im::v1::AddEnvironmentRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::RemoveEnvironmentReply> RemoveEnvironment(
      const backend_im::v1::RemoveEnvironmentRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::ListVariablesReply> ListVariables(
      const backend_im::v1::ListVariablesRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::SetVariableReply> SetVariable(
      const backend_im::v1::SetVariableRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::UnsetVariableReply> UnsetVariable(
      const backend_im::v1::UnsetVariableRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::DeployReply> Promote(const backend_im::v1::PromoteRequest& request,
                                                CancelToken& cancel) override;
  OpResult<backend_im::v1::AddDomainReply> AddDomain(
      const backend_im::v1::AddDomainRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::ListDomainsReply> ListDomains(
      const backend_im::v1::ListDomainsRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::VerifyDomainReply> VerifyDomain(
      const backend_im::v1::VerifyDomainRequest& request, CancelToken& cancel) override;
  OpResult<backend_im::v1::RemoveDomainReply> RemoveDomain(
      const backend_im::v1::RemoveDomainRequest& request, CancelToken& cancel) override;
  OpResult<bool> Watch(const backend_im::v1::WatchRequest& request,
                       std::optional<std::chrono::steady_clock::time_point> deadline,
                       const StreamHooks& hooks, CancelToken& cancel) override;
  OpResult<backend_im::v1::GetLogsReply> GetLogs(const backend_im::v1::GetLogsRequest& request,
                                                 CancelToken& cancel) override;
  OpResult<bool> FollowLogs(const backend_im::v1::FollowLogsRequest& request, const LogHooks& hooks,
                            CancelToken& cancel) override;

  const std::string& socket_path() const override { return client_.socket_path(); }
  Result<bool> Running() override;
  std::optional<backend_im::v1::AgentInfo> RunningInfo() override;
  bim::Status Stop(std::chrono::milliseconds timeout) override;
  void Finish() override;

 private:
  // The channel for a call's first try: the agent's socket as the client found it.
  wire::Channel QuickChannel();
  // client_.Connect() (which starts an agent when none listens and that is allowed), and the
  // channel to the agent it found: for the second try of a call whose first found nothing
  // listening.
  OpResult<wire::Channel> Connect();
  // After a call that failed before its connection was verified (ctx.connected() false): true
  // when nothing listened on the first try and Connect() found or started an agent (channel
  // now goes there: try once more); false when the call's status stands (classify it: a
  // cancel, the deadline while connecting, a second try); an agent error when the peer is not
  // the user's agent or none could be started.
  OpResult<bool> Reconnected(const wire::CallStatus& status, const wire::CallContext& ctx,
                             bool first, wire::Channel& channel, CancelToken& cancel);
  // One unary call (a method of ctl/agent_methods.h) under the cancel token.
  template <typename Request, typename Reply>
  OpResult<Reply> Unary(const rpc::Unary<Request, Reply>& method,
                        const std::type_identity_t<Request>& request,
                        std::chrono::milliseconds timeout, CancelToken& cancel);
  OpError Classify(const wire::CallContext& ctx, const wire::CallStatus& status,
                   CancelToken& cancel) const;
  void CheckReply(const wire::CallContext& ctx);

  AgentClient client_;
  std::mutex mu_;  // guards client_'s own state (Connect, CheckReply, Reconnect)
};

}  // namespace bim::ctl
