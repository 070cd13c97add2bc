#include "ctl/mcp/server.h"

#include <exception>
#include <stdexcept>
#include <utility>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl {
namespace {

using mcp::ErrorResponse;
using mcp::ResultResponse;
using nlohmann::json;

const Clock& RealTime() {
  static const RealClock clock;
  return clock;
}

json BusyError(const json& id, const char* what) {
  return ErrorResponse(id, mcp::kServerBusy,
                       fmt::format("server busy: {} {} already running; wait for one to finish",
                                   McpServer::kMaxCallsInFlight, what));
}

}  // namespace

McpServer::McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info,
                     std::chrono::milliseconds shutdown_grace)
    : McpServer(tools, in_fd, std::make_unique<mcp::FdOutput>(out_fd), RealTime(), std::move(info),
                shutdown_grace) {}

McpServer::McpServer(McpToolProvider& tools, int in_fd, std::unique_ptr<mcp::Output> out,
                     const Clock& clock, McpServerInfo info,
                     std::chrono::milliseconds shutdown_grace)
    : tools_(tools),
      info_(std::move(info)),
      shutdown_grace_(shutdown_grace),
      out_(std::move(out)),
      clock_(clock),
      writer_(*out_, [this] { Stop(); }),
      tasks_(clock_, info_, in_flight_),
      elicitation_(writer_, tasks_),
      rounds_(clock_, info_),
      session_(tools_, info_, *this),
      connection_(in_fd, writer_, session_, workers_, in_flight_) {
  for (const auto& t : tools_.ListTools(mcp::kTasksVersion)) {
    auto exec = t.find("execution");
    if (exec == t.end()) continue;
    std::string support = exec->value("taskSupport", "forbidden");
    if (support == "optional" || support == "required")
      task_tools_.insert(t["name"].get<std::string>());
  }
}

void McpServer::Stop() { connection_.Stop(); }

int McpServer::Run() {
  const bool input_ended = connection_.Serve();
  // After the end of the input, calls that finish quickly still answer (`printf ... |
  // backend-im mcp` works); a long wait is cancelled so the server exits promptly, as the
  // spec's stdio shutdown expects. Stop() cancels at once.
  if (input_ended && !writer_.closed()) workers_.WaitIdleFor(shutdown_grace_);
  in_flight_.CancelAll();
  tasks_.CancelAll();
  workers_.WaitIdle();
  return 0;
}

void McpServer::Cancel(const json& request_id, const std::string& reason) {
  // A request that already finished, or that was never ours, is ignored (the spec allows it).
  auto token = in_flight_.Find(mcp::RequestsInFlight::Key(request_id));
  if (!token) return;
  log::Info("mcp: request {} cancelled by the client{}", request_id.dump(),
            reason.empty() ? "" : ": " + reason);
  token->Cancel();
  tasks_.Wake();  // a tasks/result waiting for its task
}

bool McpServer::TakeResponse(const json& response) { return elicitation_.TakeResponse(response); }

mcp::Outcome McpServer::TaskRequest(const json& id, const std::string& method, const json& params,
                                    const mcp::RequestContext& ctx) {
  return tasks_.Handle(id, method, params, ctx);
}

mcp::Outcome McpServer::ToolsCall(const json& id, const json& params,
                                  const mcp::RequestContext& ctx) {
  ToolJob job;
  if (auto error = NewJob(id, params, ctx, job)) return mcp::Reply(std::move(*error));
  bool as_task = false;
  json task_params = json::object();
  if (auto error = TaskParams(job, params, ctx, as_task, task_params)) {
    return mcp::Reply(std::move(*error));
  }
  if (as_task) return StartTask(std::move(job), task_params, ctx);
  if (in_flight_.size() + tasks_.running() >= kMaxCallsInFlight) {
    return mcp::Reply(BusyError(id, "tool calls are"));
  }
  if (!in_flight_.Add(job.key, job.cancel)) return mcp::Reply(mcp::InFlightError(id));
  auto shared = std::make_shared<ToolJob>(std::move(job));
  return mcp::Outcome{
      std::nullopt, mcp::Deferred{shared->key, [this, shared] { return RunJob(*shared); }}, {}};
}

std::optional<json> McpServer::NewJob(const json& id, const json& params,
                                      const mcp::RequestContext& ctx, ToolJob& job) {
  auto name_it = params.find("name");
  if (name_it == params.end() || !name_it->is_string()) {
    return ErrorResponse(id, mcp::kInvalidParams,
                         "invalid params: tools/call needs params.name, the tool's name");
  }
  job.name = name_it->get<std::string>();
  if (!tools_.HasTool(job.name)) {
    return ErrorResponse(id, mcp::kInvalidParams,
                         fmt::format("unknown tool: {} (tools/list names the tools)", job.name));
  }
  job.arguments = json::object();
  if (auto a = params.find("arguments"); a != params.end() && !a->is_null()) {
    if (!a->is_object()) {
      return ErrorResponse(id, mcp::kInvalidParams,
                           "invalid params: params.arguments must be an object");
    }
    job.arguments = *a;
  }
  job.progress_token = nullptr;
  if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object()) {
    if (auto t = meta->find("progressToken"); t != meta->end() && mcp::ValidId(*t)) {
      job.progress_token = *t;
    }
  }
  if (ctx.modern) {
    if (!ContinueRound(params, job)) {
      return ErrorResponse(id, mcp::kInvalidParams,
                           "invalid params: requestState is not one this server gave for this "
                           "call, or it was used or has expired; call the tool again without "
                           "requestState and inputResponses");
    }
    job.can_request_url = mcp::DeclaresUrlElicitation(ctx.client_capabilities);
    job.can_request_form = mcp::DeclaresFormElicitation(ctx.client_capabilities);
  } else {
    // URL mode came with 2025-11-25, elicitation itself (forms) with 2025-06-18.
    job.can_open_url = mcp::AtLeast(ctx.version, mcp::kTasksVersion) &&
                       mcp::DeclaresUrlElicitation(ctx.client_capabilities);
    job.can_confirm = mcp::AtLeast(ctx.version, "2025-06-18") &&
                      mcp::DeclaresFormElicitation(ctx.client_capabilities);
  }
  job.id = id;
  job.key = mcp::RequestsInFlight::Key(id);
  job.cancel = std::make_shared<CancelToken>();
  job.version = ctx.version;
  return std::nullopt;
}

bool McpServer::ContinueRound(const json& params, ToolJob& job) {
  auto rs = params.find("requestState");
  if (rs == params.end() || rs->is_null()) return true;
  auto state = rounds_.Take(*rs, job.name, job.arguments);
  if (!state) return false;
  job.input_state = std::move(*state);
  if (auto r = params.find("inputResponses"); r != params.end() && r->is_object()) {
    job.input_responses = *r;
  }
  return true;
}

std::optional<json> McpServer::TaskParams(const ToolJob& job, const json& params,
                                          const mcp::RequestContext& ctx, bool& as_task,
                                          json& task_params) const {
  // 2025-11-25: the client asks for a task (params.task); 2026-07-28: the server decides, for a
  // client that declared the extension. Older versions have no tasks and ignore params.task.
  if (ctx.modern) {
    // A call that answers an input-required round goes on as the plain call it began as.
    as_task = task_tools_.count(job.name) != 0 && mcp::HasTasksExtension(ctx.client_capabilities) &&
              job.input_state.is_null();
    return std::nullopt;
  }
  if (!mcp::AtLeast(ctx.version, mcp::kTasksVersion)) return std::nullopt;
  auto t = params.find("task");
  if (t == params.end() || t->is_null()) return std::nullopt;
  if (!t->is_object()) {
    return ErrorResponse(job.id, mcp::kInvalidParams,
                         "invalid params: params.task must be an object");
  }
  if (task_tools_.count(job.name) == 0) {
    return ErrorResponse(job.id, mcp::kMethodNotFound,
                         fmt::format("the tool {} cannot run as a task (its "
                                     "execution.taskSupport is forbidden); call it without "
                                     "params.task",
                                     job.name));
  }
  as_task = true;
  task_params = *t;
  return std::nullopt;
}

mcp::Outcome McpServer::StartTask(ToolJob job, const json& task_params,
                                  const mcp::RequestContext& ctx) {
  if (in_flight_.size() + tasks_.running() >= kMaxCallsInFlight) {
    return mcp::Reply(BusyError(job.id, "tool calls and tasks are"));
  }
  json answer = tasks_.Create(job.name, task_params, job.cancel, ctx.modern, job.task_id);
  job.key.clear();  // the request is answered now; its id is free again
  auto shared = std::make_shared<ToolJob>(std::move(job));
  return mcp::Outcome{ResultResponse(shared->id, std::move(answer)), std::nullopt, [this, shared] {
                        tasks_.Run(shared->task_id, shared->version,
                                   [&](const mcp::TaskStore::StageReporter& on_stage) {
                                     return CallTool(*shared, on_stage);
                                   });
                      }};
}

McpToolResult McpServer::CallTool(ToolJob& job, const mcp::TaskStore::StageReporter& on_stage) {
  McpToolCall call;
  call.protocol_version = job.version;
  call.cancel = job.cancel.get();
  call.as_task = !job.task_id.empty();
  const bool with_message = mcp::AtLeast(call.protocol_version, "2025-03-26");
  call.progress = [this, &job, &on_stage, with_message](double progress, double total,
                                                        const std::string& message) {
    if (job.cancel->cancelled()) return;
    if (on_stage && !message.empty()) on_stage(message);
    if (job.progress_token.is_null()) return;
    json params{{"progressToken", job.progress_token}, {"progress", progress}};
    if (total > 0) params["total"] = total;
    if (with_message && !message.empty()) params["message"] = message;
    Send(mcp::Notification("notifications/progress", std::move(params)));
  };
  std::string elicitation_id;  // of the last elicitation/create sent for this call
  if (job.can_open_url) {
    call.open_url = [this, &job, &elicitation_id](const std::string& url,
                                                  const std::string& message) {
      return elicitation_.Open(url, message, job.task_id, *job.cancel, elicitation_id);
    };
    call.url_done = [this, &elicitation_id] {
      if (!elicitation_id.empty()) elicitation_.Completed(elicitation_id);
    };
  }
  if (job.can_confirm) {
    call.confirm = [this, &job](const std::string& message) {
      return elicitation_.Confirm(message, job.version, job.task_id, *job.cancel);
    };
  }
  call.can_request_url = job.can_request_url && job.task_id.empty();
  call.can_request_form = job.can_request_form && job.task_id.empty();
  call.input_state = job.input_state;
  call.input_responses = job.input_responses;
  McpToolResult result;
  try {
    result = tools_.CallTool(job.name, job.arguments, call);
    if (!result.input_requests.is_null() && !call.can_request_url && !call.can_request_form) {
      throw std::logic_error("the tool asked for input the client cannot give");
    }
  } catch (const std::exception& e) {
    log::Error("mcp: tool {} threw: {}", job.name, e.what());
    result.is_error = true;
    result.message = std::string("internal error in backend-im: ") + e.what();
  }
  return result;
}

std::optional<json> McpServer::RunJob(ToolJob& job) {
  McpToolResult result = CallTool(job, nullptr);
  if (job.cancel->cancelled()) {
    log::Debug("mcp: request {} was cancelled; no response", job.key);
    return std::nullopt;
  }
  if (!result.input_requests.is_null()) {
    return ResultResponse(job.id, rounds_.InputRequired(job.name, job.arguments, result));
  }
  json out = mcp::ToolResultJson(result, job.version);
  if (job.version == mcp::kModernVersion) out = mcp::ModernResult(std::move(out), info_);
  return ResultResponse(job.id, std::move(out));
}

}  // namespace bim::ctl
