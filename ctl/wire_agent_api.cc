#include "ctl/wire_agent_api.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/agent_wire.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kQuick = seconds(30);
constexpr milliseconds kSlow = std::chrono::minutes(10);

}  // namespace

wire::Channel WireAgentApi::QuickChannel() {
  std::lock_guard lock(mu_);
  return client_.channel();
}

OpResult<wire::Channel> WireAgentApi::Connect() {
  std::lock_guard lock(mu_);
  if (auto s = client_.Connect(); !s.ok()) return OpFail(OpFailure::kAgent, s.error().message);
  return client_.channel();
}

void WireAgentApi::CheckReply(const wire::CallContext& ctx) {
  std::lock_guard lock(mu_);
  client_.CheckReply(ctx);
}

OpResult<bool> WireAgentApi::Reconnected(const wire::CallStatus& status,
                                         const wire::CallContext& ctx, bool first,
                                         wire::Channel& channel, CancelToken& cancel) {
  if (status.ok() || ctx.connected()) return false;
  // The peer is not the user's agent: an agent problem (exit 4), in CheckAgent's words.
  if (status.code == wire::Code::kPermissionDenied) {
    return OpFail(OpFailure::kAgent, status.message);
  }
  if (status.code != wire::Code::kUnavailable || cancel.cancelled() || !first) return false;
  auto connected = Connect();
  if (!connected.ok()) return connected.error();
  channel = std::move(*connected);
  return true;
}

OpError WireAgentApi::Classify(const wire::CallContext& ctx, const wire::CallStatus& status,
                               CancelToken& cancel) const {
  if (cancel.cancelled()) return OpCancelled();
  const std::string& msg = status.message;
  const std::string platform_code = wire::First(ctx.trailing_metadata(), bim::wire::kErrorCodeKey);
  switch (status.code) {
    case wire::Code::kInvalidArgument:
      return OpFail(OpFailure::kUsage, msg);
    case wire::Code::kUnauthenticated:
    case wire::Code::kPermissionDenied:
      return OpFail(OpFailure::kAuth, msg);
    case wire::Code::kNotFound:
      return OpFail(OpFailure::kNotFound, msg);
    case wire::Code::kDeadlineExceeded:
      if (!platform_code.empty()) return OpFail(OpFailure::kPlatform, msg);
      return OpFail(OpFailure::kAgent, "the agent did not answer in time");
    case wire::Code::kUnavailable:
    case wire::Code::kCancelled:
      if (AgentClient::AgentGone(ctx, status)) {
        return OpFail(OpFailure::kAgent, fmt::format("lost the connection to the agent on {} ({})",
                                                     client_.socket_path(), msg));
      }
      return OpFail(
          OpFailure::kPlatform,
          fmt::format("Backend.im could not be reached ({}); try again in a minute", msg));
    default:
      return OpFail(OpFailure::kPlatform, msg);
  }
}

template <typename Request, typename Reply>
OpResult<Reply> WireAgentApi::Unary(const rpc::Unary<Request, Reply>& method,
                                    const std::type_identity_t<Request>& request,
                                    milliseconds timeout, CancelToken& cancel) {
  wire::Channel channel = QuickChannel();
  for (bool first = true;; first = false) {
    auto ctx = client_.NewContext(timeout);
    if (!cancel.Attach(ctx.get())) return OpCancelled();
    Reply reply;
    wire::CallStatus status = channel.Unary(method.path, request, &reply, *ctx);
    cancel.Detach();
    auto again = Reconnected(status, *ctx, first, channel, cancel);
    if (!again.ok()) return again.error();
    if (*again) continue;
    CheckReply(*ctx);
    if (!status.ok()) return Classify(*ctx, status, cancel);
    if (cancel.cancelled()) return OpCancelled();
    return reply;
  }
}

OpResult<pb::AgentInfo> WireAgentApi::GetInfo(CancelToken& cancel) {
  return Unary(rpc::kGetInfo, pb::GetInfoRequest(), kQuick, cancel);
}

OpResult<pb::AuthStatusReply> WireAgentApi::AuthStatus(const pb::AuthStatusRequest& request,
                                                       CancelToken& cancel) {
  return Unary(rpc::kAuthStatus, request, kQuick, cancel);
}

OpResult<pb::AuthStatusReply> WireAgentApi::LoginWithToken(const pb::LoginWithTokenRequest& request,
                                                           CancelToken& cancel) {
  return Unary(rpc::kLoginWithToken, request, kQuick, cancel);
}

OpResult<pb::LoginStartReply> WireAgentApi::LoginStart(CancelToken& cancel) {
  return Unary(rpc::kLoginStart, pb::LoginStartRequest(), kQuick, cancel);
}

OpResult<pb::LoginCheckReply> WireAgentApi::LoginCheck(const pb::LoginCheckRequest& request,
                                                       CancelToken& cancel) {
  return Unary(rpc::kLoginCheck, request, seconds(request.wait_seconds()) + kQuick, cancel);
}

OpResult<pb::LogoutReply> WireAgentApi::Logout(CancelToken& cancel) {
  return Unary(rpc::kLogout, pb::LogoutRequest(), kQuick, cancel);
}

OpResult<pb::GenerateReply> WireAgentApi::Generate(const pb::GenerateRequest& request,
                                                   CancelToken& cancel) {
  return Unary(rpc::kGenerate, request, kSlow, cancel);
}

OpResult<pb::DeployReply> WireAgentApi::Deploy(const pb::DeployRequest& request,
                                               CancelToken& cancel) {
  return Unary(rpc::kDeploy, request, kSlow, cancel);
}

OpResult<pb::DeployReply> WireAgentApi::Rollback(const pb::RollbackRequest& request,
                                                 CancelToken& cancel) {
  return Unary(rpc::kRollback, request, kSlow, cancel);
}

OpResult<pb::Deployment> WireAgentApi::Status(const pb::StatusRequest& request,
                                              CancelToken& cancel) {
  return Unary(rpc::kStatus, request, kQuick, cancel);
}

OpResult<pb::HistoryReply> WireAgentApi::History(const pb::HistoryRequest& request,
                                                 CancelToken& cancel) {
  return Unary(rpc::kHistory, request, kQuick, cancel);
}

OpResult<pb::FilesReply> WireAgentApi::GetFiles(const pb::GetFilesRequest& request,
                                                CancelToken& cancel) {
  return Unary(rpc::kGetFiles, request, kQuick, cancel);
}

OpResult<pb::ListEnvironmentsReply> WireAgentApi::ListEnvironments(
    const pb::ListEnvironmentsRequest& request, CancelToken& cancel) {
  return Unary(rpc::kListEnvironments, request, kQuick, cancel);
}

OpResult<pb::AddEnvironmentReply> WireAgentApi::AddEnvironment(
    const pb::AddEnvironmentRequest& request, CancelToken& cancel) {
  return Unary(rpc::kAddEnvironment, request, kQuick, cancel);
}

OpResult<pb::RemoveEnvironmentReply> WireAgentApi::RemoveEnvironment(
    const pb::RemoveEnvironmentRequest& request, CancelToken& cancel) {
  return Unary(rpc::kRemoveEnvironment, request, kQuick, cancel);
}

OpResult<pb::ListVariablesReply> WireAgentApi::ListVariables(
    const pb::ListVariablesRequest& request, CancelToken& cancel) {
  return Unary(rpc::kListVariables, request, kQuick, cancel);
}

OpResult<pb::SetVariableReply> WireAgentApi::SetVariable(const pb::SetVariableRequest& request,
                                                         CancelToken& cancel) {
  return Unary(rpc::kSetVariable, request, kQuick, cancel);
}

OpResult<pb::UnsetVariableReply> WireAgentApi::UnsetVariable(
    const pb::UnsetVariableRequest& request, CancelToken& cancel) {
  return Unary(rpc::kUnsetVariable, request, kQuick, cancel);
}

OpResult<pb::DeployReply> WireAgentApi::Promote(const pb::PromoteRequest& request,
                                                CancelToken& cancel) {
  return Unary(rpc::kPromote, request, kSlow, cancel);
}

OpResult<pb::AddDomainReply> WireAgentApi::AddDomain(const pb::AddDomainRequest& request,
                                                     CancelToken& cancel) {
  return Unary(rpc::kAddDomain, request, kQuick, cancel);
}

OpResult<pb::ListDomainsReply> WireAgentApi::ListDomains(const pb::ListDomainsRequest& request,
                                                         CancelToken& cancel) {
  return Unary(rpc::kListDomains, request, kQuick, cancel);
}

OpResult<pb::VerifyDomainReply> WireAgentApi::VerifyDomain(const pb::VerifyDomainRequest& request,
                                                           CancelToken& cancel) {
  return Unary(rpc::kVerifyDomain, request, kQuick, cancel);
}

OpResult<pb::RemoveDomainReply> WireAgentApi::RemoveDomain(const pb::RemoveDomainRequest& request,
                                                           CancelToken& cancel) {
  return Unary(rpc::kRemoveDomain, request, kQuick, cancel);
}

OpResult<bool> WireAgentApi::Watch(const pb::WatchRequest& request,
                                   std::optional<std::chrono::steady_clock::time_point> deadline,
                                   const StreamHooks& hooks, CancelToken& cancel) {
  // As Unary: the first stream goes straight to the socket the client found, and only when
  // nothing listened there does Connect() look again (and start an agent).
  wire::Channel channel = QuickChannel();
  pb::WatchRequest req = request;
  bool ended = false;  // a terminal event came: the stream is not followed to another agent
  for (bool first = true;; first = false) {
    auto ctx = client_.NewContext(milliseconds(0));
    if (deadline) ctx->set_deadline(*deadline);
    if (!cancel.Attach(ctx.get())) return OpCancelled();
    auto reader = channel.ServerStream(rpc::kWatch.path, req, *ctx);
    pb::DeploymentEvent ev;
    bool checked = false;
    for (;;) {
      if (hooks.before_wait && !reader->Ready()) hooks.before_wait();
      if (!reader->Read(&ev)) break;
      if (!checked) {
        CheckReply(*ctx);
        checked = true;
      }
      if (ev.seq() > 0) req.set_after_seq(ev.seq());
      if (ev.terminal()) ended = true;
      hooks.on_message(ev);
    }
    wire::CallStatus st = reader->Finish();
    cancel.Detach();
    if (cancel.cancelled()) return OpCancelled();
    auto again = Reconnected(st, *ctx, first, channel, cancel);
    if (!again.ok()) return again.error();
    if (*again) continue;
    if (st.code == wire::Code::kDeadlineExceeded && deadline) return true;
    // The agent went away mid-stream: when another takes its place (the systemd unit taking
    // over, or restarting it), follow on there from the last event seen.
    if (!st.ok() && !ended && AgentClient::AgentGone(*ctx, st)) {
      std::lock_guard lock(mu_);
      if (client_.Reconnect()) {
        channel = client_.channel();
        if (hooks.on_reattach) hooks.on_reattach();
        continue;
      }
    }
    if (!st.ok()) return Classify(*ctx, st, cancel);
    return false;
  }
}

OpResult<pb::GetLogsReply> WireAgentApi::GetLogs(const pb::GetLogsRequest& request,
                                                 CancelToken& cancel) {
  return Unary(rpc::kGetLogs, request, kQuick, cancel);
}

OpResult<bool> WireAgentApi::FollowLogs(const pb::FollowLogsRequest& request, const LogHooks& hooks,
                                        CancelToken& cancel) {
  wire::Channel channel = QuickChannel();
  pb::FollowLogsRequest req = request;
  bool started = false;  // the start went to the hooks: a follow to another agent resumes
  for (bool first = true;; first = false) {
    auto ctx = client_.NewContext(milliseconds(0));
    if (!cancel.Attach(ctx.get())) return OpCancelled();
    auto reader = channel.ServerStream(rpc::kFollowLogs.path, req, *ctx);
    pb::LogItem item;
    bool checked = false;
    bool ended = false;
    for (;;) {
      if (hooks.before_wait && !reader->Ready()) hooks.before_wait();
      if (!reader->Read(&item)) break;
      if (!checked) {
        CheckReply(*ctx);
        checked = true;
      }
      // Where a follow to another agent resumes: the same deployment, after what came here.
      switch (item.item_case()) {
        case pb::LogItem::kStart:
          req.set_deployment_id(item.start().deployment().id());
          req.clear_project_id();
          req.clear_environment();
          if (!req.has_after_seq()) req.set_after_seq(item.start().cursor());
          if (started) continue;  // a resumed follow: the caller has it
          started = true;
          break;
        case pb::LogItem::kLine:
          req.set_after_seq(std::max(req.after_seq(), item.line().seq()));
          break;
        case pb::LogItem::kSkipped:
          req.set_after_seq(req.after_seq() + item.skipped());
          break;
        case pb::LogItem::kEnd:
          ended = true;
          break;
        default:
          break;
      }
      hooks.on_item(item);
    }
    wire::CallStatus st = reader->Finish();
    cancel.Detach();
    if (cancel.cancelled()) return OpCancelled();
    auto again = Reconnected(st, *ctx, first, channel, cancel);
    if (!again.ok()) return again.error();
    if (*again) continue;
    if (ended && st.ok()) return true;
    if (!st.ok() && !ended && started && AgentClient::AgentGone(*ctx, st)) {
      bool back;
      {
        std::lock_guard lock(mu_);
        back = client_.Reconnect();
      }
      if (!back) {
        // None came back within the grace: start one, as any command would.
        auto connected = Connect();
        if (!connected.ok()) return connected.error();
        channel = std::move(*connected);
      } else {
        channel = QuickChannel();
      }
      if (hooks.on_reattach) hooks.on_reattach();
      continue;
    }
    if (!st.ok()) return Classify(*ctx, st, cancel);
    return false;
  }
}

Result<bool> WireAgentApi::Running() {
  if (!AgentClient::Listening(client_.socket_path())) return false;
  if (auto s = client_.CheckAgent(); !s.ok()) return s.error();
  return true;
}

std::optional<pb::AgentInfo> WireAgentApi::RunningInfo() {
  // One connection: the call's own is verified before anything is sent; nothing listening or
  // an agent that is not the user's gives nullopt.
  pb::AgentInfo info;
  auto ctx = client_.NewContext(seconds(5));
  if (!client_.Call(rpc::kGetInfo, {}, &info, *ctx).ok()) return std::nullopt;
  return info;
}

bim::Status WireAgentApi::Stop(milliseconds timeout) { return client_.StopAgent(timeout); }

void WireAgentApi::Finish() { client_.RestartIfOutdated(); }

}  // namespace bim::ctl
