#pragma once
// The gRPC face of the agent (proto/backend_im/v1/agent.proto), on the callback API.
//
// Every reply carries the agent's version in the initial metadata (kVersionKey) and, on
// failure, the bim::ErrorCode name in the trailing metadata (kErrorCodeKey; common/agent_wire.h),
// so the ctl can tell "the platform is unreachable" from "the agent is unreachable".
//
// Calls that reach the platform run on a worker thread of their own, never on gRPC's callback
// threads, and end their platform work by the caller's deadline (less a margin), so a slow
// platform is answered as a platform timeout before the caller gives up on the agent. Watch
// streams are WatchReactors: one write in flight each, fed from the store. A FollowLogs stream
// reads its LogFollower on a worker thread of its own, one write in flight.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <string>

#include "backend_im/v1/agent.grpc.pb.h"
#include "common/agent_wire.h"
#include "common/worker_threads.h"
#include "daemon/agent.h"

namespace bim::daemon {

using wire::kAutostartedKey;
using wire::kErrorCodeKey;
using wire::kVersionKey;

struct ServiceInfo {
  std::string version;
  int64_t started_at_ms = 0;
  bool systemd_managed = false;
  bool autostarted = false;
  std::string socket_path;
  std::string platform_problem;  // why the platform URL was refused; empty when it is usable
  std::string state_dir;
};

class AgentService final : public backend_im::v1::Agent::CallbackService {
 public:
  AgentService(Agent& agent, ServiceInfo info, std::function<void()> request_shutdown);
  ~AgentService() override;

  // Waits (up to timeout) for worker threads still running a call; false when some still are.
  bool DrainWorkers(std::chrono::milliseconds timeout);

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* ctx,
                                    const backend_im::v1::GetInfoRequest* req,
                                    backend_im::v1::AgentInfo* resp) override;
  grpc::ServerUnaryReactor* Shutdown(grpc::CallbackServerContext* ctx,
                                     const backend_im::v1::ShutdownRequest* req,
                                     backend_im::v1::ShutdownReply* resp) override;
  grpc::ServerUnaryReactor* AuthStatus(grpc::CallbackServerContext* ctx,
                                       const backend_im::v1::AuthStatusRequest* req,
                                       backend_im::v1::AuthStatusReply* resp) override;
  grpc::ServerUnaryReactor* LoginStart(grpc::CallbackServerContext* ctx,
                                       const backend_im::v1::LoginStartRequest* req,
                                       backend_im::v1::LoginStartReply* resp) override;
  grpc::ServerUnaryReactor* LoginCheck(grpc::CallbackServerContext* ctx,
                                       const backend_im::v1::LoginCheckRequest* req,
                                       backend_im::v1::LoginCheckReply* resp) override;
  grpc::ServerUnaryReactor* LoginWithToken(grpc::CallbackServerContext* ctx,
                                           const backend_im::v1::LoginWithTokenRequest* req,
                                           backend_im::v1::AuthStatusReply* resp) override;
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* ctx,
                                   const backend_im::v1::LogoutRequest* req,
                                   backend_im::v1::LogoutReply* resp) override;
  grpc::ServerUnaryReactor* Generate(grpc::CallbackServerContext* ctx,
                                     const backend_im::v1::GenerateRequest* req,
                                     backend_im::v1::GenerateReply* resp) override;
  grpc::ServerUnaryReactor* Deploy(grpc::CallbackServerContext* ctx,
                                   const backend_im::v1::DeployRequest* req,
                                   backend_im::v1::DeployReply* resp) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const backend_im::v1::StatusRequest* req,
                                   backend_im::v1::Deployment* resp) override;
  grpc::ServerWriteReactor<backend_im::v1::DeploymentEvent>* Watch(
      grpc::CallbackServerContext* ctx, const backend_im::v1::WatchRequest* req) override;
  grpc::ServerUnaryReactor* History(grpc::CallbackServerContext* ctx,
                                    const backend_im::v1::HistoryRequest* req,
                                    backend_im::v1::HistoryReply* resp) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const backend_im::v1::RollbackRequest* req,
                                     backend_im::v1::DeployReply* resp) override;
  grpc::ServerUnaryReactor* GetFiles(grpc::CallbackServerContext* ctx,
                                     const backend_im::v1::GetFilesRequest* req,
                                     backend_im::v1::FilesReply* resp) override;
  grpc::ServerUnaryReactor* ListEnvironments(grpc::CallbackServerContext* ctx,
                                             const backend_im::v1::ListEnvironmentsRequest* req,
                                             backend_im::v1::ListEnvironmentsReply* resp) override;
  grpc::ServerUnaryReactor* AddEnvironment(grpc::CallbackServerContext* ctx,
                                           const backend_im::v1::AddEnvironmentRequest* req,
                                           backend_im::v1::AddEnvironmentReply* resp) override;
  grpc::ServerUnaryReactor* RemoveEnvironment(
      grpc::CallbackServerContext* ctx, const backend_im::v1::RemoveEnvironmentRequest* req,
      backend_im::v1::RemoveEnvironmentReply* resp) override;
  grpc::ServerUnaryReactor* ListVariables(grpc::CallbackServerContext* ctx,
                                          const backend_im::v1::ListVariablesRequest* req,
                                          backend_im::v1::ListVariablesReply* resp) override;
  grpc::ServerUnaryReactor* SetVariable(grpc::CallbackServerContext* ctx,
                                        const backend_im::v1::SetVariableRequest* req,
                                        backend_im::v1::SetVariableReply* resp) override;
  grpc::ServerUnaryReactor* UnsetVariable(grpc::CallbackServerContext* ctx,
                                          const backend_im::v1::UnsetVariableRequest* req,
                                          backend_im::v1::UnsetVariableReply* resp) override;
  grpc::ServerUnaryReactor* Promote(grpc::CallbackServerContext* ctx,
                                    const backend_im::v1::PromoteRequest* req,
                                    backend_im::v1::DeployReply* resp) override;
  grpc::ServerUnaryReactor* AddDomain(grpc::CallbackServerContext* ctx,
                                      const backend_im::v1::AddDomainRequest* req,
                                      backend_im::v1::AddDomainReply* resp) override;
  grpc::ServerUnaryReactor* ListDomains(grpc::CallbackServerContext* ctx,
                                        const backend_im::v1::ListDomainsRequest* req,
                                        backend_im::v1::ListDomainsReply* resp) override;
  grpc::ServerUnaryReactor* VerifyDomain(grpc::CallbackServerContext* ctx,
                                         const backend_im::v1::VerifyDomainRequest* req,
                                         backend_im::v1::VerifyDomainReply* resp) override;
  grpc::ServerUnaryReactor* RemoveDomain(grpc::CallbackServerContext* ctx,
                                         const backend_im::v1::RemoveDomainRequest* req,
                                         backend_im::v1::RemoveDomainReply* resp) override;
  grpc::ServerUnaryReactor* GetLogs(grpc::CallbackServerContext* ctx,
                                    const backend_im::v1::GetLogsRequest* req,
                                    backend_im::v1::GetLogsReply* resp) override;
  grpc::ServerWriteReactor<backend_im::v1::LogItem>* FollowLogs(
      grpc::CallbackServerContext* ctx, const backend_im::v1::FollowLogsRequest* req) override;

 private:
  // Finishes the call with fn's Status, run on a worker thread, through `reactor` (null: the
  // context's default one).
  grpc::ServerUnaryReactor* OnWorker(grpc::CallbackServerContext* ctx,
                                     std::function<bim::Status()> fn,
                                     grpc::ServerUnaryReactor* reactor = nullptr);
  grpc::ServerUnaryReactor* Inline(grpc::CallbackServerContext* ctx, const bim::Status& s);
  void StampVersion(grpc::CallbackServerContext* ctx);
  void FillAuth(const AuthState& s, backend_im::v1::AuthStatusReply* out);
  void FillDeployment(const DeploymentView& v, backend_im::v1::Deployment* out);
  // The record as Describe shows it, without its logs.
  bim::Status FillDescribed(const DeploymentRecord& d, backend_im::v1::Deployment* out);

  Agent& agent_;
  ServiceInfo info_;
  std::function<void()> request_shutdown_;

  WorkerThreads workers_;  // the calls that reach the platform, and Watch's lookups
};

grpc::Status ToGrpcStatus(const bim::Status& s);

}  // namespace bim::daemon
