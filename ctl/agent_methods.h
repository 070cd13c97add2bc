#pragma once
// The agent's RPCs (service backend_im.v1.Agent, proto/backend_im/v1/agent.proto) as the ctl calls
// them over its wire client (ctl/grpc_wire.h): each one's path, typed by its request and reply so
// that a call with the wrong messages does not compile, as with a generated stub. A unary method
// and a server-streaming one are different types. tests/unit/ctl/agent_methods_test.cc checks
// this table against agent.proto: every method, its path, its messages and its kind.

#include <string_view>

#include "backend_im/v1/agent.pb.h"

namespace bim::ctl::rpc {

template <typename Request, typename Reply>
struct Unary {
  using RequestType = Request;
  using ReplyType = Reply;
  std::string_view path;  // "/backend_im.v1.Agent/<Method>"
};

template <typename Request, typename Message>
struct ServerStream {
  using RequestType = Request;
  using MessageType = Message;
  std::string_view path;
};

namespace v1 = backend_im::v1;

// Each method once, by its name (its path's last part; its request is <name>Request, as
// agent.proto names them all) and its reply.
#define BIM_AGENT_PATH(name) "/backend_im.v1.Agent/" #name
#define BIM_AGENT_UNARY(name, reply) \
  inline constexpr Unary<v1::name##Request, v1::reply> k##name{BIM_AGENT_PATH(name)};
BIM_AGENT_UNARY(GetInfo, AgentInfo)
BIM_AGENT_UNARY(Shutdown, ShutdownReply)
BIM_AGENT_UNARY(AuthStatus, AuthStatusReply)
BIM_AGENT_UNARY(LoginStart, LoginStartReply)
BIM_AGENT_UNARY(LoginCheck, LoginCheckReply)
BIM_AGENT_UNARY(LoginWithToken, AuthStatusReply)
BIM_AGENT_UNARY(Logout, LogoutReply)
BIM_AGENT_UNARY(Generate, GenerateReply)
BIM_AGENT_UNARY(Deploy, DeployReply)
BIM_AGENT_UNARY(Status, Deployment)
BIM_AGENT_UNARY(History, HistoryReply)
BIM_AGENT_UNARY(Rollback, DeployReply)
BIM_AGENT_UNARY(GetFiles, FilesReply)
BIM_AGENT_UNARY(ListEnvironments, ListEnvironmentsReply)
BIM_AGENT_UNARY(AddEnvironment, AddEnvironmentReply)
BIM_AGENT_UNARY(RemoveEnvironment, RemoveEnvironmentReply)
BIM_AGENT_UNARY(ListVariables, ListVariablesReply)
BIM_AGENT_UNARY(SetVariable, SetVariableReply)
BIM_AGENT_UNARY(UnsetVariable, UnsetVariableReply)
BIM_AGENT_UNARY(Promote, DeployReply)
BIM_AGENT_UNARY(AddDomain, AddDomainReply)
BIM_AGENT_UNARY(ListDomains, ListDomainsReply)
BIM_AGENT_UNARY(VerifyDomain, VerifyDomainReply)
BIM_AGENT_UNARY(RemoveDomain, RemoveDomainReply)
inline constexpr ServerStream<v1::WatchRequest, v1::DeploymentEvent> kWatch{BIM_AGENT_PATH(Watch)};
BIM_AGENT_UNARY(GetLogs, GetLogsReply)
inline constexpr ServerStream<v1::FollowLogsRequest, v1::LogItem> kFollowLogs{
    BIM_AGENT_PATH(FollowLogs)};
#undef BIM_AGENT_UNARY
#undef BIM_AGENT_PATH

}  // namespace bim::ctl::rpc
