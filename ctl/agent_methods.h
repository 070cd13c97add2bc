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

inline constexpr Unary<v1::GetInfoRequest, v1::AgentInfo> kGetInfo{"/backend_im.v1.Agent/GetInfo"};
inline constexpr Unary<v1::ShutdownRequest, v1::ShutdownReply> kShutdown{
    "/backend_im.v1.Agent/Shutdown"};
inline constexpr Unary<v1::AuthStatusRequest, v1::AuthStatusReply> kAuthStatus{
    "/backend_im.v1.Agent/AuthStatus"};
inline constexpr Unary<v1::LoginStartRequest, v1::LoginStartReply> kLoginStart{
    "/backend_im.v1.Agent/LoginStart"};
inline constexpr Unary<v1::LoginCheckRequest, v1::LoginCheckReply> kLoginCheck{
    "/backend_im.v1.Agent/LoginCheck"};
inline constexpr Unary<v1::LoginWithTokenRequest, v1::AuthStatusReply> kLoginWithToken{
    "/backend_im.v1.Agent/LoginWithToken"};
inline constexpr Unary<v1::LogoutRequest, v1::LogoutReply> kLogout{"/backend_im.v1.Agent/Logout"};
inline constexpr Unary<v1::GenerateRequest, v1::GenerateReply> kGenerate{
    "/backend_im.v1.Agent/Generate"};
inline constexpr Unary<v1::DeployRequest, v1::DeployReply> kDeploy{"/backend_im.v1.Agent/Deploy"};
inline constexpr Unary<v1::StatusRequest, v1::Deployment> kStatus{"/backend_im.v1.Agent/Status"};
inline constexpr ServerStream<v1::WatchRequest, v1::DeploymentEvent> kWatch{
    "/backend_im.v1.Agent/Watch"};
inline constexpr Unary<v1::HistoryRequest, v1::HistoryReply> kHistory{
    "/backend_im.v1.Agent/History"};
inline constexpr Unary<v1::RollbackRequest, v1::DeployReply> kRollback{
    "/backend_im.v1.Agent/Rollback"};
inline constexpr Unary<v1::GetFilesRequest, v1::FilesReply> kGetFiles{
    "/backend_im.v1.Agent/GetFiles"};

}  // namespace bim::ctl::rpc
