#include "daemon/agent_service.h"

#include <fmt/format.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "common/limits.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/terminal_text.h"
#include "daemon/subscription.h"
#include "proto/convert.h"

namespace bim::daemon {

namespace pb = backend_im::v1;

namespace {

grpc::StatusCode GrpcCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case ErrorCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::kUnavailable:
    case ErrorCode::kRateLimited:
    case ErrorCode::kTimeout:
      return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kRejected:
    case ErrorCode::kConflict:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kProtocol:
      return grpc::StatusCode::DATA_LOSS;
    case ErrorCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

grpc::Status ToGrpcStatus(const bim::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // The message may quote the platform (an error body, a field outside the contract): every
  // client shows it to a person, so nothing in it may drive a terminal.
  return grpc::Status(GrpcCode(s.error().code), terminal::Escape(s.error().message));
}

namespace {

// The caller's gRPC deadline on the agent's clock, less a margin for the reply to travel: the
// platform work of a call ends first, so the caller hears that the platform was slow rather
// than that its own deadline passed ("the agent did not answer in time").
Deadline CallDeadline(const grpc::CallbackServerContext* ctx, const Clock& clock) {
  auto at = ctx->deadline();
  if (at == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(at - std::chrono::system_clock::now());
  auto margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), left / 4);
  return clock.Steady() + (left - margin);
}

pb::LoginCheckReply::State ProtoLoginState(LoginState state) {
  switch (state) {
    case LoginState::kPending:
      return pb::LoginCheckReply::PENDING;
    case LoginState::kApproved:
      return pb::LoginCheckReply::APPROVED;
    case LoginState::kDenied:
      return pb::LoginCheckReply::DENIED;
    case LoginState::kExpired:
      return pb::LoginCheckReply::EXPIRED;
    case LoginState::kFailed:
      return pb::LoginCheckReply::FAILED;
  }
  return pb::LoginCheckReply::STATE_UNSPECIFIED;
}

// Finishes a unary call with s; a failure's ErrorCode name goes in the trailing metadata.
void FinishCall(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                const bim::Status& s) {
  if (!s.ok()) ctx->AddTrailingMetadata(kErrorCodeKey, ErrorCodeName(s.error().code));
  reactor->Finish(ToGrpcStatus(s));
}

void FillEvent(const EventRecord& e, pb::DeploymentEvent* out) {
  out->set_deployment_id(e.deployment_id);
  out->set_seq(e.seq);
  proto::ToProto(e.event, out);
  out->set_received_at_unix_ms(e.received_at_ms);
  out->set_terminal(e.terminal);
  out->set_source(std::string(EventSourceName(e.source)));
}

// One watch stream: a Subscription (the core's watch path) whose items go out as gRPC writes.
// Lifetime: deletes itself in OnDone, after leaving the hub.
class WatchReactor final : public grpc::ServerWriteReactor<pb::DeploymentEvent>,
                           public Subscription::Sink {
 public:
  WatchReactor(grpc::CallbackServerContext* ctx, Agent& agent, const std::string& id,
               int64_t after_seq)
      : ctx_(ctx), sub_(agent.Subscribe(id, after_seq, *this)) {}

  Subscription& subscription() { return *sub_; }

  void OnWriteDone(bool ok) override { sub_->WriteDone(ok); }
  void OnCancel() override { sub_->Cancel(); }
  void OnDone() override {
    sub_->Close();
    delete this;
  }

 private:
  void Deliver(const Subscription::Item& item) override {
    msg_.Clear();
    if (item.is_notice) {
      msg_.set_deployment_id(sub_->deployment_id());
      msg_.set_notice(item.notice);
    } else {
      FillEvent(item.event, &msg_);
    }
    StartWrite(&msg_);
  }

  void Ended(Subscription::End end, const bim::Status& error) override {
    using End = Subscription::End;
    switch (end) {
      case End::kComplete:
        return Finish(grpc::Status::OK);
      case End::kCancelled:
        return Finish(grpc::Status::CANCELLED);
      case End::kWatcherGone:
        return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      case End::kStopping:
        return Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the agent is stopping"));
      case End::kRefused:
        if (!error.ok()) {
          ctx_->AddTrailingMetadata(kErrorCodeKey, ErrorCodeName(error.error().code));
        }
        return Finish(ToGrpcStatus(error));
      case End::kStoreError:
        return Finish(ToGrpcStatus(error));
    }
  }

  grpc::CallbackServerContext* ctx_;
  std::unique_ptr<Subscription> sub_;
  pb::DeploymentEvent msg_;  // lives until OnWriteDone
};

}  // namespace

AgentService::AgentService(Agent& agent, ServiceInfo info, std::function<void()> request_shutdown)
    : agent_(agent), info_(std::move(info)), request_shutdown_(std::move(request_shutdown)) {}

AgentService::~AgentService() { DrainWorkers(std::chrono::seconds(5)); }

bool AgentService::DrainWorkers(std::chrono::milliseconds timeout) {
  return workers_.WaitIdleFor(timeout);
}

void AgentService::StampVersion(grpc::CallbackServerContext* ctx) {
  ctx->AddInitialMetadata(kVersionKey, info_.version);
  if (info_.autostarted) ctx->AddInitialMetadata(kAutostartedKey, "1");
}

grpc::ServerUnaryReactor* AgentService::Inline(grpc::CallbackServerContext* ctx,
                                               const bim::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  FinishCall(ctx, reactor, s);
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::OnWorker(grpc::CallbackServerContext* ctx,
                                                 std::function<bim::Status()> fn,
                                                 grpc::ServerUnaryReactor* reactor) {
  StampVersion(ctx);
  if (!reactor) reactor = ctx->DefaultReactor();
  workers_.Start([ctx, reactor, fn = std::move(fn)] { FinishCall(ctx, reactor, fn()); });
  return reactor;
}

void AgentService::FillAuth(const AuthState& s, pb::AuthStatusReply* out) {
  out->set_logged_in(s.logged_in);
  out->set_source(s.source);
  out->set_user_id(s.user_id);
  out->set_email(s.email);
  out->set_expires_at_unix_ms(s.expires_at_ms);
  out->set_can_refresh(s.can_refresh);
  out->set_api_url(agent_.api_url());
}

void AgentService::FillDeployment(const DeploymentView& v, pb::Deployment* out) {
  const DeploymentRecord& d = v.record;
  out->set_id(d.id);
  out->set_project_id(d.project_id);
  out->set_commit_hash(d.commit_hash);
  proto::SetStage(d.status, out);
  out->set_url(d.url);
  out->set_created_at_unix_ms(d.created_at_ms);
  out->set_updated_at_unix_ms(d.updated_at_ms);
  out->set_directory(d.directory);
  out->set_terminal(d.terminal);
  out->set_last_seq(d.last_seq);
  out->set_stream_problem(v.problem);
  out->set_restored_of(d.restored_of);
  out->set_restorable(v.restorable);
  out->set_environment(d.environment);
  out->set_promoted_of(d.promoted_of);
  for (const auto& l : v.logs.lines) out->add_logs(l);
  if (v.logs.truncated) {
    out->set_logs_truncated(true);
    out->add_logs(fmt::format("[backend-im] more log lines not shown: a reply carries at most {}",
                              limits::Describe(limits::kMaxReplyLogBytes)));
  }
}

bim::Status AgentService::FillDescribed(const DeploymentRecord& d, pb::Deployment* out) {
  auto v = agent_.Describe(d, /*with_logs=*/false);
  if (!v.ok()) return v.error();
  FillDeployment(*v, out);
  return OkStatus();
}

grpc::ServerUnaryReactor* AgentService::GetInfo(grpc::CallbackServerContext* ctx,
                                                const pb::GetInfoRequest*, pb::AgentInfo* resp) {
  StampVersion(ctx);
  resp->set_version(info_.version);
  resp->set_pid(::getpid());
  resp->set_started_at_unix_ms(info_.started_at_ms);
  resp->set_api_url(agent_.api_url());
  resp->set_logged_in(agent_.Auth().logged_in);
  for (auto& id : agent_.WatchedDeployments()) resp->add_watched_deployments(id);
  resp->set_systemd_managed(info_.systemd_managed);
  resp->set_socket_path(info_.socket_path);
  resp->set_platform_problem(info_.platform_problem);
  resp->set_state_dir(info_.state_dir);
  resp->set_autostarted(info_.autostarted);
  resp->set_watchers(static_cast<int32_t>(agent_.OpenWatches()));
  return Inline(ctx, OkStatus());
}

grpc::ServerUnaryReactor* AgentService::Shutdown(grpc::CallbackServerContext* ctx,
                                                 const pb::ShutdownRequest*, pb::ShutdownReply*) {
  StampVersion(ctx);
  log::Info("shutdown requested over the socket");
  // Stop only once the reply is out: a server shutting down waits for the calls in flight, and
  // this one would be among them.
  class StopWhenDone : public grpc::ServerUnaryReactor {
   public:
    explicit StopWhenDone(std::function<void()> stop) : stop_(std::move(stop)) {
      Finish(grpc::Status::OK);
    }
    void OnDone() override {
      stop_();
      delete this;
    }

   private:
    std::function<void()> stop_;
  };
  return new StopWhenDone(request_shutdown_);
}

grpc::ServerUnaryReactor* AgentService::AuthStatus(grpc::CallbackServerContext* ctx,
                                                   const pb::AuthStatusRequest* req,
                                                   pb::AuthStatusReply* resp) {
  bool verify = req->verify();
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, verify, deadline, resp]() -> bim::Status {
    auto s = agent_.AuthStatus(verify, deadline);
    if (!s.ok()) return s.error();
    resp->set_verified(verify && s->logged_in);
    FillAuth(*s, resp);
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::LoginStart(grpc::CallbackServerContext* ctx,
                                                   const pb::LoginStartRequest*,
                                                   pb::LoginStartReply* resp) {
  return OnWorker(ctx, [this, resp]() -> bim::Status {
    auto t = agent_.LoginStart();
    if (!t.ok()) return t.error();
    resp->set_login_id(t->login_id);
    resp->set_verification_uri(t->device.verification_uri);
    resp->set_verification_uri_complete(t->device.verification_uri_complete.value_or(""));
    resp->set_user_code(t->device.user_code);
    resp->set_expires_in_seconds(t->device.expires_in);
    resp->set_interval_seconds(t->device.interval);
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::LoginCheck(grpc::CallbackServerContext* ctx,
                                                   const pb::LoginCheckRequest* req,
                                                   pb::LoginCheckReply* resp) {
  std::string id = req->login_id();
  auto wait = std::chrono::seconds(req->wait_seconds());
  return OnWorker(ctx, [this, id, wait, resp]() -> bim::Status {
    auto o = agent_.LoginCheck(id, wait);
    if (!o.ok()) return o.error();
    resp->set_state(ProtoLoginState(o->state));
    resp->set_message(o->message);
    FillAuth(agent_.Auth(), resp->mutable_auth());
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::LoginWithToken(grpc::CallbackServerContext* ctx,
                                                       const pb::LoginWithTokenRequest* req,
                                                       pb::AuthStatusReply* resp) {
  std::string token = req->access_token();
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, token, deadline, resp]() -> bim::Status {
    auto s = agent_.LoginWithToken(token, deadline);
    if (!s.ok()) return s.error();
    FillAuth(*s, resp);
    resp->set_verified(true);
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::Logout(grpc::CallbackServerContext* ctx,
                                               const pb::LogoutRequest*, pb::LogoutReply* resp) {
  return OnWorker(ctx, [this, resp]() -> bim::Status {
    auto was = agent_.Logout();
    if (!was.ok()) return was.error();
    resp->set_was_logged_in(*was);
    return OkStatus();
  });
}

namespace {

// A unary reactor that keeps something alive until gRPC is done with the call, its reply sent
// or dropped: Generate's turn to hold an answer (Agent::Generated), which must outlast the
// reply's encoding. Deletes itself in OnDone.
class HoldingReactor final : public grpc::ServerUnaryReactor {
 public:
  void Hold(std::shared_ptr<void> held) {
    std::lock_guard lock(mu_);
    held_ = std::move(held);
  }
  void OnDone() override {
    {
      std::lock_guard lock(mu_);
      held_.reset();
    }
    delete this;
  }

 private:
  std::mutex mu_;  // the worker sets held_, gRPC's thread drops it
  std::shared_ptr<void> held_;
};

}  // namespace

grpc::ServerUnaryReactor* AgentService::Generate(grpc::CallbackServerContext* ctx,
                                                 const pb::GenerateRequest* req,
                                                 pb::GenerateReply* resp) {
  std::string prompt = req->prompt();
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  auto* reactor = new HoldingReactor;
  auto generate = [this, prompt, deadline, resp, reactor]() -> bim::Status {
    auto g = agent_.Generate(prompt, deadline);
    if (!g.ok()) return g.error();
    reactor->Hold(std::move(g->turn));
    // Moved, not copied: the project is held once here and once more in the reply's encoding.
    for (auto& [path, content] : g->response.files) {
      auto* f = resp->add_files();
      f->set_path(path);
      f->set_content(std::move(content));
    }
    resp->set_project_id(g->response.project_id.value_or(""));
    return OkStatus();
  };
  return OnWorker(ctx, std::move(generate), reactor);
}

grpc::ServerUnaryReactor* AgentService::Deploy(grpc::CallbackServerContext* ctx,
                                               const pb::DeployRequest* req,
                                               pb::DeployReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    contract::FileMap files;
    for (const auto& f : req->files()) {
      if (!files.emplace(f.path(), f.content()).second) {
        return Error(ErrorCode::kInvalidArgument, "the upload names " + f.path() + " twice");
      }
    }
    auto d =
        agent_.Deploy(files, req->project_id(), req->directory(), req->environment(), deadline);
    if (!d.ok()) return d.error();
    return FillDescribed(*d, resp->mutable_deployment());
  });
}

grpc::ServerUnaryReactor* AgentService::Status(grpc::CallbackServerContext* ctx,
                                               const pb::StatusRequest* req, pb::Deployment* resp) {
  std::string id = req->deployment_id();
  // A deployment the store holds is answered here, as History is; only a lookup on the platform
  // goes to a thread of its own (one per call cost a quick `status` ~0.3 ms; docs/PERFORMANCE.md).
  if (auto local = agent_.StatusIfRecorded(id)) {
    StampVersion(ctx);
    if (!local->ok()) return Inline(ctx, local->error());
    FillDeployment(**local, resp);
    return Inline(ctx, OkStatus());
  }
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, id, deadline, resp]() -> bim::Status {
    auto d = agent_.Status(id, deadline);
    if (!d.ok()) return d.error();
    FillDeployment(*d, resp);
    return OkStatus();
  });
}

grpc::ServerWriteReactor<pb::DeploymentEvent>* AgentService::Watch(grpc::CallbackServerContext* ctx,
                                                                   const pb::WatchRequest* req) {
  StampVersion(ctx);
  auto* reactor = new WatchReactor(ctx, agent_, req->deployment_id(), req->after_seq());
  // As Status: begun here when the store holds the deployment. gRPC keeps the writes a reactor
  // starts before this method returns it.
  if (agent_.BeginWatchIfRecorded(reactor->subscription())) return reactor;
  // Finding the deployment may ask the platform; never block a gRPC thread on that.
  workers_.Start([this, reactor] { agent_.BeginWatch(reactor->subscription()); });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::History(grpc::CallbackServerContext* ctx,
                                                const pb::HistoryRequest* req,
                                                pb::HistoryReply* resp) {
  StampVersion(ctx);
  auto list = agent_.History(req->project_id(), req->limit(), req->environment());
  if (!list.ok()) return Inline(ctx, list.error());
  for (const auto& d : *list) FillDeployment(d, resp->add_deployments());
  return Inline(ctx, OkStatus());
}

grpc::ServerUnaryReactor* AgentService::Rollback(grpc::CallbackServerContext* ctx,
                                                 const pb::RollbackRequest* req,
                                                 pb::DeployReply* resp) {
  std::string project = req->project_id();
  std::string to = req->to_deployment_id();
  std::string environment = req->environment();
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, project, to, environment, deadline, resp]() -> bim::Status {
    auto d = agent_.Rollback(project, to, environment, deadline);
    if (!d.ok()) return d.error();
    return FillDescribed(*d, resp->mutable_deployment());
  });
}

grpc::ServerUnaryReactor* AgentService::GetFiles(grpc::CallbackServerContext* ctx,
                                                 const pb::GetFilesRequest* req,
                                                 pb::FilesReply* resp) {
  std::string id = req->deployment_id();
  return OnWorker(ctx, [this, id, resp]() -> bim::Status {
    auto f = agent_.Files(id);
    if (!f.ok()) return f.error();
    if (auto st = FillDescribed(f->record, resp->mutable_deployment()); !st.ok()) return st;
    for (const auto& [path, content] : f->files) {
      auto* file = resp->add_files();
      file->set_path(path);
      file->set_content(content);
    }
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::ListEnvironments(grpc::CallbackServerContext* ctx,
                                                         const pb::ListEnvironmentsRequest* req,
                                                         pb::ListEnvironmentsReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto list = agent_.Environments(req->project_id(), deadline);
    if (!list.ok()) return list.error();
    resp->set_project_id(req->project_id());
    for (const auto& e : list->environments) {
      auto* out = resp->add_environments();
      out->set_name(e.name);
      out->set_variables(e.variables);
      out->set_deployment_id(e.deployment_id);
      out->set_url(e.url);
    }
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::AddEnvironment(grpc::CallbackServerContext* ctx,
                                                       const pb::AddEnvironmentRequest* req,
                                                       pb::AddEnvironmentReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    if (auto s = agent_.AddEnvironment(req->project_id(), req->name(), deadline); !s.ok()) return s;
    resp->mutable_environment()->set_name(req->name());
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::RemoveEnvironment(grpc::CallbackServerContext* ctx,
                                                          const pb::RemoveEnvironmentRequest* req,
                                                          pb::RemoveEnvironmentReply*) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline]() -> bim::Status {
    return agent_.RemoveEnvironment(req->project_id(), req->name(), deadline);
  });
}

grpc::ServerUnaryReactor* AgentService::ListVariables(grpc::CallbackServerContext* ctx,
                                                      const pb::ListVariablesRequest* req,
                                                      pb::ListVariablesReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto list =
        agent_.Variables(req->project_id(), req->environment(), req->with_values(), deadline);
    if (!list.ok()) return list.error();
    resp->set_project_id(req->project_id());
    resp->set_environment(req->environment());
    for (auto& v : list->variables) {
      auto* out = resp->add_variables();
      out->set_key(v.key);
      if (v.value) {
        out->set_value(*v.value);
        out->set_has_value(true);
        Wipe(*v.value);
      }
    }
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::SetVariable(grpc::CallbackServerContext* ctx,
                                                    const pb::SetVariableRequest* req,
                                                    pb::SetVariableReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    if (auto s = agent_.SetVariable(req->project_id(), req->environment(), req->key(), req->value(),
                                    deadline);
        !s.ok()) {
      return s;
    }
    resp->set_key(req->key());
    resp->set_environment(req->environment());
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::UnsetVariable(grpc::CallbackServerContext* ctx,
                                                      const pb::UnsetVariableRequest* req,
                                                      pb::UnsetVariableReply*) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline]() -> bim::Status {
    return agent_.UnsetVariable(req->project_id(), req->environment(), req->key(), deadline);
  });
}

grpc::ServerUnaryReactor* AgentService::Promote(grpc::CallbackServerContext* ctx,
                                                const pb::PromoteRequest* req,
                                                pb::DeployReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto d = agent_.Promote(req->deployment_id(), req->environment(), deadline);
    if (!d.ok()) return d.error();
    return FillDescribed(*d, resp->mutable_deployment());
  });
}

namespace {

void FillDomain(const contract::Domain& d, pb::Domain* out) {
  out->set_domain(d.domain);
  out->set_project_id(d.project_id);
  out->set_environment(d.environment);
  out->set_dns(std::string(contract::DnsStateName(d.dns)));
  out->set_certificate(std::string(contract::CertificateStateName(d.certificate)));
  out->set_checked_at(d.checked_at.value_or(0));
  out->set_detail(d.detail);
  for (const auto& r : d.records) {
    auto* rec = out->add_records();
    rec->set_type(r.type);
    rec->set_name(r.name);
    rec->set_value(r.value);
    for (const auto& f : r.found) rec->add_found(f);
    rec->set_checked(r.ok.has_value());
    rec->set_ok(r.ok.value_or(false));
  }
}

}  // namespace

grpc::ServerUnaryReactor* AgentService::AddDomain(grpc::CallbackServerContext* ctx,
                                                  const pb::AddDomainRequest* req,
                                                  pb::AddDomainReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto d = agent_.AddDomain(req->project_id(), req->domain(), req->environment(), deadline);
    if (!d.ok()) return d.error();
    FillDomain(*d, resp->mutable_domain());
    return OkStatus();
  });
}

namespace {

std::optional<contract::LogLevel> LevelOf(const std::string& name, bim::Status& bad) {
  if (name.empty()) return std::nullopt;
  auto level = contract::ParseLogLevel(name);
  if (!level) {
    bad = Error(ErrorCode::kInvalidArgument, "unknown log level \"" + name.substr(0, 32) +
                                                 "\"; use debug, info, warning or error");
  }
  return level;
}

template <typename Request>
LogsTarget TargetOf(const Request& req) {
  return LogsTarget{req.deployment_id(), req.project_id(), req.environment()};
}

template <typename Request>
LogFilter FilterOf(const Request& req, bim::Status& bad) {
  LogFilter f;
  f.level = LevelOf(req.level(), bad);
  if (req.since_unix_ms() > 0) f.since = req.since_unix_ms();
  f.grep = req.grep();
  return f;
}

void FillLine(const contract::LogLine& l, pb::LogLine* out) {
  out->set_seq(l.seq);
  out->set_timestamp_unix_ms(l.timestamp);
  out->set_level(std::string(contract::LogLevelName(l.level)));
  out->set_source(l.source);
  out->set_text(l.text);
}

// One FollowLogs stream: its LogFollower read on a worker thread, each item a gRPC write, one at
// a time. The worker finishes the call as its last act; OnDone deletes the reactor.
class LogsReactor final : public grpc::ServerWriteReactor<pb::LogItem> {
 public:
  using Fill = std::function<bim::Status(const DeploymentRecord&, pb::Deployment*)>;
  LogsReactor(grpc::CallbackServerContext* ctx, Agent& agent, const pb::FollowLogsRequest& req,
              Fill fill)
      : ctx_(ctx), agent_(agent), req_(req), fill_(std::move(fill)) {}

  void Run() {
    bim::Status bad = OkStatus();
    LogFilter filter = FilterOf(req_, bad);
    if (!bad.ok()) return End(bad);
    std::optional<int64_t> after;
    if (req_.has_after_seq()) after = req_.after_seq();
    auto f = agent_.FollowLogs(TargetOf(req_), filter, req_.tail(), after,
                               CallDeadline(ctx_, agent_.clock()));
    if (!f.ok()) return End(f.error());
    {
      std::lock_guard lock(mu_);
      follower_ = std::move(f->follower);
      if (cancelled_) follower_->Cancel();
    }
    auto* start = msg_.mutable_start();
    if (auto s = fill_(f->source.record, start->mutable_deployment()); !s.ok()) return End(s);
    start->set_chosen(f->source.chosen);
    start->set_cursor(f->cursor);
    if (!Write()) return End(Error(ErrorCode::kCancelled, "the follower went away"));
    for (;;) {
      auto item = follower_->Next();
      if (!item.ok()) return End(item.error());
      msg_.Clear();
      switch (item->kind) {
        case LogItem::Kind::kLine:
          FillLine(item->line, msg_.mutable_line());
          break;
        case LogItem::Kind::kSkipped:
          msg_.set_skipped(item->skipped);
          break;
        case LogItem::Kind::kEnd:
          msg_.set_end(item->text);
          break;
        case LogItem::Kind::kNotice:
          msg_.set_notice(item->text);
          break;
      }
      if (!Write()) return End(Error(ErrorCode::kCancelled, "the follower went away"));
      if (item->kind == LogItem::Kind::kEnd) return End(OkStatus());
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    write_ok_ = ok;
    written_.notify_all();
  }
  void OnCancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (follower_) follower_->Cancel();
  }
  void OnDone() override { delete this; }

 private:
  // Writes msg_ and waits until it went out (true) or cannot (false).
  bool Write() {
    {
      std::lock_guard lock(mu_);
      writing_ = true;
    }
    StartWrite(&msg_);
    std::unique_lock lock(mu_);
    written_.wait(lock, [&] { return !writing_; });
    return write_ok_;
  }

  // Leaves the hub, then finishes the call: nothing of this may be touched after Finish.
  void End(const bim::Status& s) {
    {
      std::lock_guard lock(mu_);
      follower_.reset();
    }
    if (s.ok()) return Finish(grpc::Status::OK);
    if (s.error().code == ErrorCode::kCancelled) return Finish(grpc::Status::CANCELLED);
    // The agent stopping: no code in the trailers, so the ctl follows on to the next agent.
    if (s.error().code != ErrorCode::kUnavailable || s.error().message != "the agent is stopping") {
      ctx_->AddTrailingMetadata(kErrorCodeKey, ErrorCodeName(s.error().code));
    }
    Finish(ToGrpcStatus(s));
  }

  grpc::CallbackServerContext* ctx_;
  Agent& agent_;
  const pb::FollowLogsRequest req_;
  Fill fill_;
  pb::LogItem msg_;  // lives until OnWriteDone
  std::mutex mu_;
  std::condition_variable written_;        // with mu_
  std::unique_ptr<LogFollower> follower_;  // guarded by mu_ (set once, read by the worker)
  bool writing_ = false;                   // guarded by mu_
  bool write_ok_ = true;                   // guarded by mu_
  bool cancelled_ = false;                 // guarded by mu_
};

}  // namespace

grpc::ServerUnaryReactor* AgentService::GetLogs(grpc::CallbackServerContext* ctx,
                                                const pb::GetLogsRequest* req,
                                                pb::GetLogsReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    bim::Status bad = OkStatus();
    LogFilter filter = FilterOf(*req, bad);
    if (!bad.ok()) return bad;
    auto a = agent_.Logs(TargetOf(*req), filter, req->tail(), deadline);
    if (!a.ok()) return a.error();
    if (auto s = FillDescribed(a->source.record, resp->mutable_deployment()); !s.ok()) return s;
    resp->set_chosen(a->source.chosen);
    for (const auto& l : a->lines) FillLine(l, resp->add_lines());
    resp->set_cursor(a->cursor);
    resp->set_first(a->first);
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::ListDomains(grpc::CallbackServerContext* ctx,
                                                    const pb::ListDomainsRequest* req,
                                                    pb::ListDomainsReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto list = agent_.Domains(req->project_id(), req->environment(), deadline);
    if (!list.ok()) return list.error();
    resp->set_project_id(list->project_id);
    for (const auto& d : list->domains) FillDomain(d, resp->add_domains());
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::VerifyDomain(grpc::CallbackServerContext* ctx,
                                                     const pb::VerifyDomainRequest* req,
                                                     pb::VerifyDomainReply* resp) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline, resp]() -> bim::Status {
    auto v = agent_.VerifyDomain(req->project_id(), req->domain(), deadline);
    if (!v.ok()) return v.error();
    FillDomain(v->domain, resp->mutable_domain());
    resp->set_resolver(v->resolver);
    for (size_t i = 0; i < v->lookups.size() && i < v->domain.records.size(); ++i) {
      const RecordLookup& l = v->lookups[i];
      auto* rec = resp->mutable_domain()->mutable_records(static_cast<int>(i));
      rec->set_agent_checked(l.error.empty());
      for (const auto& f : l.found) rec->add_agent_found(f);
      rec->set_agent_ok(l.ok);
      rec->set_agent_error(l.error);
    }
    return OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentService::RemoveDomain(grpc::CallbackServerContext* ctx,
                                                     const pb::RemoveDomainRequest* req,
                                                     pb::RemoveDomainReply*) {
  Deadline deadline = CallDeadline(ctx, agent_.clock());
  return OnWorker(ctx, [this, req, deadline]() -> bim::Status {
    return agent_.RemoveDomain(req->project_id(), req->domain(), deadline);
  });
}

grpc::ServerWriteReactor<pb::LogItem>* AgentService::FollowLogs(grpc::CallbackServerContext* ctx,
                                                                const pb::FollowLogsRequest* req) {
  StampVersion(ctx);
  auto* reactor = new LogsReactor(
      ctx, agent_, *req,
      [this](const DeploymentRecord& d, pb::Deployment* out) { return FillDescribed(d, out); });
  workers_.Start([reactor] { reactor->Run(); });
  return reactor;
}

}  // namespace bim::daemon
