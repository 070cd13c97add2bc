#include "ctl/mcp/tasks.h"

#include <algorithm>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl::mcp {
namespace {

using nlohmann::json;

// What tasks/result gives for a cancelled task.
json CancelledTaskResult() {
  return json{{"content", json::array({{{"type", "text"},
                                        {"text",
                                         "The task was cancelled: the waiting stopped. A "
                                         "deployment that had started goes on; "
                                         "deployment_status or list_deployments show it."}}})},
              {"isError", true}};
}

}  // namespace

json TaskStore::Create(const std::string& tool, const json& task_params,
                       std::shared_ptr<CancelToken> cancel, bool modern, std::string& task_id) {
  Task task;
  task.id = NewRandomId();
  task.tool = tool;
  task.modern = modern;
  task.created_ms = task.updated_ms = clock_.NowUnixMs();
  if (auto ttl = task_params.find("ttl"); ttl != task_params.end() && ttl->is_number_integer()) {
    task.ttl_ms = std::clamp<int64_t>(ttl->get<int64_t>(), 1000, kMaxTaskTtlMs);
  }
  task.status_message = fmt::format("{} started", tool);
  task.cancel = std::move(cancel);
  task_id = task.id;
  json answer;
  {
    std::lock_guard lock(mu_);
    Expire();
    ++running_;
    answer = TaskJson(task);
    tasks_.emplace(task.id, std::move(task));
  }
  log::Info("mcp: {} runs as task {}", tool, task_id);
  if (!modern) return json{{"task", std::move(answer)}};
  answer = ModernResult(std::move(answer), info_);
  answer["resultType"] = "task";
  return answer;
}

void TaskStore::Run(const std::string& task_id, const std::string& version,
                    const std::function<McpToolResult(const StageReporter&)>& tool) {
  McpToolResult result = tool([this, &task_id](const std::string& message) {
    std::lock_guard lock(mu_);
    Move(task_id, "working", "working", message);
  });
  std::lock_guard lock(mu_);
  --running_;
  auto it = tasks_.find(task_id);
  if (it != tasks_.end()) {
    Task& task = it->second;
    task.finished = true;
    task.result = ToolResultJson(result, version);
    if (task.status == "working") {
      // 2025-11-25: an error result fails the task; the 2026 extension keeps "failed" for
      // JSON-RPC errors, so there the task completes with the error result.
      task.status = result.is_error && !task.modern ? "failed" : "completed";
      if (result.is_error) task.status_message = result.message;
      task.updated_ms = clock_.NowUnixMs();
    }
    log::Info("mcp: task {} ({}) is {}", task.id, task.tool, task.status);
  }
  ended_cv_.notify_all();
}

size_t TaskStore::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void TaskStore::AwaitInput(const std::string& task_id, const std::string& message) {
  std::lock_guard lock(mu_);
  Move(task_id, "working", "input_required", message);
}

void TaskStore::Resume(const std::string& task_id, const std::string& message) {
  std::lock_guard lock(mu_);
  Move(task_id, "input_required", "working", message);
}

void TaskStore::Move(const std::string& task_id, const char* from, const char* to,
                     const std::string& message) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.status != from) return;
  it->second.status = to;
  it->second.status_message = message;
  it->second.updated_ms = clock_.NowUnixMs();
}

void TaskStore::CancelAll() {
  {
    std::lock_guard lock(mu_);
    for (auto& [id, task] : tasks_) {
      if (!task.finished) task.cancel->Cancel();
    }
  }
  ended_cv_.notify_all();
}

std::optional<json> TaskStore::CheckRequest(const json& id, const std::string& method,
                                            const json& params, const RequestContext& ctx) const {
  if (ctx.modern && !HasTasksExtension(ctx.client_capabilities)) {
    return ErrorResponse(
        id, kMissingCapability,
        fmt::format("{} needs the {} extension: declare it in _meta[\"{}\"].extensions", method,
                    kTasksExtension, kCapabilitiesKey),
        {{"requiredCapabilities", {{"extensions", {{kTasksExtension, json::object()}}}}}});
  }
  if (!params.is_object()) {
    return ErrorResponse(id, kInvalidParams, "invalid params: must be an object");
  }
  const bool known = method == "tasks/get" || method == "tasks/cancel" ||
                     (!ctx.modern && (method == "tasks/result" || method == "tasks/list")) ||
                     (ctx.modern && method == "tasks/update");
  if (!known) {
    return ErrorResponse(
        id, kMethodNotFound,
        fmt::format("method not found: {} (under {} the task methods are {})", method, ctx.version,
                    ctx.modern ? "tasks/get, tasks/update and tasks/cancel"
                               : "tasks/get, tasks/result, tasks/cancel and tasks/list"));
  }
  return std::nullopt;
}

Outcome TaskStore::Handle(const json& id, const std::string& method, const json& params,
                          const RequestContext& ctx) {
  if (auto error = CheckRequest(id, method, params, ctx)) return Reply(std::move(*error));
  if (method == "tasks/list") return Reply(Answer(id, List(), ctx));
  // A `task` member here is ignored: the SDK 1.32 client copies it into every task request.
  auto tid_it = params.find("taskId");
  if (tid_it == params.end() || !tid_it->is_string()) {
    return Reply(ErrorResponse(id, kInvalidParams,
                               fmt::format("invalid params: {} needs params.taskId", method)));
  }
  const std::string task_id = *tid_it;
  std::unique_lock lock(mu_);
  Expire();
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.modern != ctx.modern) {
    return Reply(ErrorResponse(id, kInvalidParams,
                               fmt::format("unknown task: {} (a task is forgotten once its ttl "
                                           "has passed after it ended)",
                                           task_id)));
  }
  Task& task = it->second;
  if (method == "tasks/get") {
    json j = TaskJson(task);
    if (ctx.modern && task.status == "completed") j["result"] = ModernResult(task.result, info_);
    return Reply(Answer(id, std::move(j), ctx));
  }
  // No task of ours asks the client for input, so there is nothing to update.
  if (method == "tasks/update") return Reply(Answer(id, json::object(), ctx));
  if (method == "tasks/cancel") return Cancel(task, lock, ctx, id);
  return Result(task, id, ctx);
}

json TaskStore::List() {
  // One page holds every task, so any cursor gets them all and no nextCursor.
  json list = json::array();
  std::lock_guard lock(mu_);
  Expire();
  for (const auto& [tid, task] : tasks_) {
    if (!task.modern) list.push_back(TaskJson(task));
  }
  return json{{"tasks", std::move(list)}};
}

Outcome TaskStore::Cancel(Task& task, std::unique_lock<std::mutex>& lock, const RequestContext& ctx,
                          const json& id) {
  if (!task.Running()) {
    if (ctx.modern) return Reply(Answer(id, json::object(), ctx));  // advisory there
    return Reply(ErrorResponse(id, kInvalidParams,
                               fmt::format("cannot cancel task {}: already in terminal status "
                                           "'{}'",
                                           task.id, task.status)));
  }
  task.status = "cancelled";
  task.status_message =
      "cancelled by the client: the waiting stopped (a deployment that had started goes on)";
  task.updated_ms = clock_.NowUnixMs();
  json j = TaskJson(task);
  const std::string task_id = task.id;
  std::shared_ptr<CancelToken> to_cancel = task.cancel;
  lock.unlock();
  log::Info("mcp: task {} cancelled by the client", task_id);
  to_cancel->Cancel();
  ended_cv_.notify_all();
  return Reply(Answer(id, ctx.modern ? json::object() : std::move(j), ctx));
}

json TaskStore::ResultOf(const Task& task) {
  json r = task.status == "cancelled" ? CancelledTaskResult() : task.result;
  r["_meta"][kRelatedTaskKey] = {{"taskId", task.id}};
  return r;
}

Outcome TaskStore::Result(const Task& task, const json& id, const RequestContext& ctx) {
  if (!task.Running()) return Reply(Answer(id, ResultOf(task), ctx));
  // The tool's result once the task has ended, so the wait is on a worker.
  const std::string key = RequestsInFlight::Key(id);
  auto token = std::make_shared<CancelToken>();
  if (!in_flight_.Add(key, token)) return Reply(InFlightError(id));
  return Outcome{std::nullopt,
                 Deferred{key,
                          [this, id, key, token, task_id = task.id]() -> std::optional<json> {
                            std::unique_lock lock(mu_);
                            ended_cv_.wait(lock, [&] {
                              auto t = tasks_.find(task_id);
                              return token->cancelled() || t == tasks_.end() ||
                                     !t->second.Running();
                            });
                            if (token->cancelled()) {
                              log::Debug("mcp: request {} was cancelled; no response", key);
                              return std::nullopt;
                            }
                            auto t = tasks_.find(task_id);
                            if (t == tasks_.end()) {
                              return ErrorResponse(id, kInvalidParams, "unknown task: " + task_id);
                            }
                            return ResultResponse(id, ResultOf(t->second));
                          }},
                 {}};
}

json TaskStore::Answer(const json& id, json result, const RequestContext& ctx) const {
  return ResultResponse(id,
                        ctx.modern ? ModernResult(std::move(result), info_) : std::move(result));
}

json TaskStore::TaskJson(const Task& task) const {
  json j{{"taskId", task.id},
         {"status", task.status},
         {"createdAt", FormatIso(task.created_ms)},
         {"lastUpdatedAt", FormatIso(task.updated_ms)}};
  if (!task.status_message.empty()) j["statusMessage"] = task.status_message;
  // The 2026 extension renamed ttl and pollInterval to say their unit.
  j[task.modern ? "ttlMs" : "ttl"] = task.ttl_ms;
  j[task.modern ? "pollIntervalMs" : "pollInterval"] = kTaskPollIntervalMs;
  return j;
}

void TaskStore::Expire() {
  const int64_t now = clock_.NowUnixMs();
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    const Task& t = it->second;
    bool ended = t.finished || t.status == "cancelled";
    if (ended && now - t.updated_ms >= t.ttl_ms) {
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace bim::ctl::mcp
