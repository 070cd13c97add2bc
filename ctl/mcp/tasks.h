#pragma once
// TaskStore: the tasks of both eras. A task is a tools/call that was answered at once with a task
// id and whose tool runs on, on a worker (Run). The store keeps each task's status, shown by
// tasks/get (and tasks/list under 2025-11-25), until its ttl has passed after it ended; each era
// sees only its own tasks. tasks/cancel cancels the tool's CancelToken, as notifications/cancelled
// does for a plain call: the waiting stops, the deployment itself goes on. Under 2025-11-25,
// tasks/result blocks until the task has ended, on a worker, with its id in flight.
//
// Threads: Handle() is called on the reading thread; Run() on a worker per task; the status
// setters from a task's tool (on its worker). Every member is guarded by mu_, which is never
// held while calling out, except into RequestsInFlight. clock and in_flight are borrowed.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "ctl/cancel_token.h"
#include "ctl/mcp/connection.h"
#include "ctl/mcp/jsonrpc.h"
#include "ctl/mcp/protocol.h"
#include "ctl/mcp/tool_provider.h"

namespace bim::ctl::mcp {

inline constexpr int64_t kDefaultTaskTtlMs = 60 * 60 * 1000;
inline constexpr int64_t kMaxTaskTtlMs = 24 * 60 * 60 * 1000;
// What tasks suggest to their pollers: a poll is one line over a local pipe, and a deployment's
// stages come a few seconds apart, so a second shows each stage soon after it came.
inline constexpr int64_t kTaskPollIntervalMs = 1000;

class TaskStore {
 public:
  // Reports a stage of the tool's work, shown as the task's statusMessage.
  using StageReporter = std::function<void(const std::string& message)>;

  TaskStore(const Clock& clock, const McpServerInfo& info, RequestsInFlight& in_flight)
      : clock_(clock), info_(info), in_flight_(in_flight) {}

  // Registers a working task for a call of tool (cancel is its token), with the ttl that
  // task_params asks for (clamped), and returns the tools/call's answer in its era; task_id
  // receives the new task's id.
  nlohmann::json Create(const std::string& tool, const nlohmann::json& task_params,
                        std::shared_ptr<CancelToken> cancel, bool modern, std::string& task_id);
  // Runs the task's tool on the calling thread; its result, shaped for version, ends the task.
  void Run(const std::string& task_id, const std::string& version,
           const std::function<McpToolResult(const StageReporter&)>& tool);
  // Tasks whose tool has not returned.
  size_t running() const;

  // While the client shows the person a page for the task: input_required with message.
  void AwaitInput(const std::string& task_id, const std::string& message);
  // The page's answer came: working again.
  void Resume(const std::string& task_id, const std::string& message);

  // tasks/get, tasks/result, tasks/cancel, tasks/list and tasks/update, by ctx's era's rules.
  Outcome Handle(const nlohmann::json& id, const std::string& method, const nlohmann::json& params,
                 const RequestContext& ctx);
  // A request was cancelled: a tasks/result waiting for its task stops if it was that one.
  void Wake() { ended_cv_.notify_all(); }
  // At shutdown: cancels every task whose tool is still running, and stops every wait.
  void CancelAll();

 private:
  struct Task {
    std::string id;
    std::string tool;
    bool modern = false;             // created under 2026-07-28
    std::string status = "working";  // working, input_required, completed, failed, cancelled
    std::string status_message;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
    int64_t ttl_ms = kDefaultTaskTtlMs;
    bool finished = false;  // the tool returned; result is set
    nlohmann::json result;  // the CallToolResult
    std::shared_ptr<CancelToken> cancel;

    // Not yet in a terminal status (working, or waiting for the person).
    bool Running() const { return status == "working" || status == "input_required"; }
  };

  // Whether ctx's era has method, and the error that refuses the request when not.
  std::optional<nlohmann::json> CheckRequest(const nlohmann::json& id, const std::string& method,
                                             const nlohmann::json& params,
                                             const RequestContext& ctx) const;
  nlohmann::json List();
  Outcome Cancel(Task& task, std::unique_lock<std::mutex>& lock, const RequestContext& ctx,
                 const nlohmann::json& id);
  Outcome Result(const Task& task, const nlohmann::json& id, const RequestContext& ctx);
  // tasks/result's answer for an ended task.
  static nlohmann::json ResultOf(const Task& task);
  // An answer in ctx's era.
  nlohmann::json Answer(const nlohmann::json& id, nlohmann::json result,
                        const RequestContext& ctx) const;
  // A task's JSON as its era shows it. Needs mu_.
  nlohmann::json TaskJson(const Task& task) const;
  // Drops ended tasks whose ttl has passed. Needs mu_.
  void Expire();
  // Sets a task's status and message, when it exists and has status from. Needs mu_.
  void Move(const std::string& task_id, const char* from, const char* to,
            const std::string& message);

  const Clock& clock_;
  const McpServerInfo& info_;
  RequestsInFlight& in_flight_;
  mutable std::mutex mu_;
  std::condition_variable ended_cv_;   // with mu_: a task ended, or a tasks/result was cancelled
  std::map<std::string, Task> tasks_;  // guarded by mu_; by task id
  size_t running_ = 0;                 // guarded by mu_: tasks whose tool has not returned
};

}  // namespace bim::ctl::mcp
