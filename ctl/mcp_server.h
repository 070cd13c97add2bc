#pragma once
// McpServer: the Model Context Protocol over stdio (newline-delimited JSON-RPC 2.0), in two
// eras on the same process:
//   - legacy (2024-11-05 to 2025-11-25): `initialize` negotiates the version for the session,
//     then `notifications/initialized`, `ping`, `tools/list`, `tools/call`, and under
//     2025-11-25 the task methods (`tasks/get`, `tasks/result`, `tasks/cancel`, `tasks/list`)
//     for a tools/call that carries `params.task`;
//   - modern (2026-07-28): no handshake. `server/discover` describes the server, and each
//     request carries its version and the client's capabilities in `params._meta`; it is
//     served on its own, whatever came before. Tasks are the `io.modelcontextprotocol/tasks`
//     extension: a tools/call from a client that declares it runs as a task when the tool can
//     (`tasks/get`, `tasks/cancel`, `tasks/update`).
// What the tools do is behind McpToolProvider; which tools may run as tasks is what its
// ListTools says (execution.taskSupport).
//
// Threads: Run() reads the input on the caller's thread and answers everything but tools/call
// and tasks/result there. Each tools/call runs on a worker thread of its own, so the reading
// thread keeps reading and can act on `notifications/cancelled` (the call's McpCancelToken)
// while a tool waits; a task runs on a worker too, and so does a tasks/result, which blocks
// until its task ends. Every message goes out whole on one line under out_mu_, so replies and
// progress notifications from several threads never interleave. Run() returns once the input
// ends (or Stop() is called): calls still in flight get kShutdownGrace to finish after an end
// of input (none after Stop()), then they and every running task are cancelled and waited for.
//
// A task's cancel (tasks/cancel) cancels the tool's McpCancelToken, as notifications/cancelled
// does for a plain call: the waiting stops, the deployment itself goes on. A task is kept
// until its ttl has passed after it ended.
//
// Protocol decisions (see the README's MCP section):
//   -32700 a line that is not JSON, or longer than kMaxLineBytes, or nested deeper than
//          kMaxDepth (id null); the server goes on with the next line
//   -32600 not a JSON-RPC 2.0 request (bad `jsonrpc`, `method` or `id`), a second initialize,
//          an id already in flight, a batch under 2025-06-18 (which dropped batching) or empty
//   -32601 an unknown method (unknown notifications are ignored, as the spec asks); under
//          2025-11-25, a task-augmented call of a tool without taskSupport; under 2026-07-28,
//          ping, initialize-era and removed methods (tasks/result, tasks/list)
//   -32602 bad params: not an object, initialize without protocolVersion, tools/call without
//          a name or with an unknown tool, arguments that are not an object, an unknown task
//          id, cancelling a task that already ended (2025-11-25); under 2026-07-28 a request
//          whose _meta lacks the protocolVersion or clientCapabilities
//   -32002 a legacy request other than initialize or ping before initialize
//   -32021 (2026-07-28) a tasks/* request from a client that did not declare the extension
//   -32022 (2026-07-28) a protocolVersion in _meta that this server does not serve
//   -32000 too many tool calls and tasks running at once
//   -32603 an unexpected exception while handling a message (the server goes on)
// A cancelled request gets no response at all. Batches are accepted under 2025-03-26 and
// 2024-11-05, whose spec requires receiving them. initialize answers an unknown version with
// 2025-06-18 (kFallbackProtocolVersion), the revision every client of the last year speaks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/mcp_cancel_token.h"
#include "ctl/mcp_tool_provider.h"

namespace bim::ctl {

struct McpServerInfo {
  std::string name;
  std::string title;
  std::string version;
  std::string instructions;  // for the model: what the server is for, the usual flow
};

class McpServer {
 public:
  static constexpr const char* kFallbackProtocolVersion = "2025-06-18";
  static constexpr const char* kTasksVersion = "2025-11-25";   // the first with tasks
  static constexpr const char* kModernVersion = "2026-07-28";  // no initialize; per-request _meta
  static constexpr int64_t kDefaultTaskTtlMs = 60 * 60 * 1000;
  static constexpr int64_t kMaxTaskTtlMs = 24 * 60 * 60 * 1000;
  static constexpr int64_t kTaskPollIntervalMs = 2000;
  static constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;
  static constexpr size_t kMaxDepth = 64;  // nesting of a message's JSON
  static constexpr size_t kMaxCallsInFlight = 32;
  static constexpr std::chrono::seconds kShutdownGrace{2};  // for calls in flight at EOF

  // The fds are borrowed, not closed. tools must outlive the server.
  McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info);
  ~McpServer();
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Serves until the input ends, the output is closed or Stop() is called. Returns 0.
  int Run();
  // Makes Run() return soon; safe from any thread (e.g. a signal-waiting thread).
  void Stop();

  // The version answered to a client that asked for `requested` in initialize.
  static std::string NegotiateVersion(const std::string& requested);

 private:
  // A tools/call accepted for running: everything the worker needs.
  struct ToolJob {
    nlohmann::json id;
    std::string key;  // id.dump(), the key of in_flight_ (empty for a task)
    std::string name;
    nlohmann::json arguments;
    nlohmann::json progress_token;  // null when the client asked for no progress
    std::shared_ptr<McpCancelToken> cancel;
    std::string version;  // the session's, or the request's under 2026-07-28
    std::string task_id;  // set when the call runs as a task
  };
  // One task: a tools/call that answered at once with a task id and runs on.
  struct Task {
    std::string id;
    bool modern = false;             // created under 2026-07-28; each era sees only its own tasks
    std::string status = "working";  // working, completed, failed or cancelled
    std::string status_message;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
    int64_t ttl_ms = kDefaultTaskTtlMs;
    bool finished = false;  // the tool returned; result is set
    nlohmann::json result;  // the CallToolResult
    std::shared_ptr<McpCancelToken> cancel;
  };
  // What handling one message gives: an answer now, nothing (notifications), a tool job, or
  // other work for a worker thread (a task's tool, a blocking tasks/result). A background's key
  // (if any) is in in_flight_ and is freed if no worker can be started.
  struct Background {
    std::string key;
    std::function<void()> work;
  };
  struct Outcome {
    std::optional<nlohmann::json> response;
    std::optional<ToolJob> job;
    std::optional<Background> background = std::nullopt;
  };
  // A request's era and version: the session's, or the one its _meta names (2026-07-28).
  struct RequestContext {
    bool modern = false;
    std::string version;
    nlohmann::json client_capabilities;  // modern only
  };

  void HandleLine(std::string_view line);
  Outcome HandleMessage(const nlohmann::json& msg, bool in_batch);
  Outcome HandleRequest(const nlohmann::json& id, const std::string& method,
                        const nlohmann::json& params, bool in_batch);
  void HandleNotification(const std::string& method, const nlohmann::json& params);
  Outcome Initialize(const nlohmann::json& id, const nlohmann::json& params, bool in_batch);
  Outcome ToolsCall(const nlohmann::json& id, const nlohmann::json& params,
                    const RequestContext& ctx);
  // 2026-07-28: a request whose _meta names the version (or server/discover).
  Outcome HandleModernRequest(const nlohmann::json& id, const std::string& method,
                              const nlohmann::json& params);
  nlohmann::json Discover() const;
  // A 2026-07-28 result: resultType "complete" and serverInfo in _meta.
  nlohmann::json Complete(nlohmann::json result) const;
  // The task methods; ctx says which era's rules apply.
  Outcome HandleTaskRequest(const nlohmann::json& id, const std::string& method,
                            const nlohmann::json& params, const RequestContext& ctx);
  // Registers a task for job and returns the answer to its tools/call, plus its worker.
  Outcome StartTask(ToolJob job, const nlohmann::json& task_params, const RequestContext& ctx);
  void RunTask(ToolJob& job);
  // A task's JSON as each era shows it. Needs mu_.
  nlohmann::json TaskJson(const Task& task) const;
  // Drops ended tasks whose ttl has passed. Needs mu_.
  void ExpireTasks();
  void HandleBatch(const nlohmann::json& batch);

  // Whether a call with this id is in flight, and the -32600 for a request that reuses it.
  bool InFlight(const nlohmann::json& id);
  static nlohmann::json InFlightError(const nlohmann::json& id);

  // Runs the tool; the response, or nullopt when the request was cancelled. The job's id stays
  // in flight until SendAndRetire.
  std::optional<nlohmann::json> RunJob(ToolJob& job);
  // The tool's result for job, whatever happened (never throws).
  McpToolResult CallTool(ToolJob& job, const std::function<void(const std::string&)>& on_stage);
  void StartWorker(std::function<void()> work);
  void Send(const nlohmann::json& message);
  // Frees the ids (in_flight_ keys) of answered or cancelled calls, then sends message (none
  // when null). Lock order: out_mu_, then mu_.
  void SendAndRetire(const nlohmann::json* message, const std::vector<std::string>& keys);

  McpToolProvider& tools_;
  const int in_fd_;
  const int out_fd_;
  const McpServerInfo info_;
  int wake_fds_[2] = {-1, -1};  // Stop() writes to [1]; Run() polls [0]
  std::atomic<bool> output_closed_{false};

  std::mutex out_mu_;  // guards writes to out_fd_; taken before mu_ when both are held

  std::mutex mu_;
  std::condition_variable workers_cv_;
  bool initialized_ = false;      // guarded by mu_: initialize was answered
  std::string protocol_version_;  // guarded by mu_
  std::map<std::string, std::shared_ptr<McpCancelToken>> in_flight_;  // guarded by mu_
  std::map<std::string, Task> tasks_;                                 // guarded by mu_; by task id
  size_t running_tasks_ = 0;          // guarded by mu_: tasks whose tool has not returned
  std::condition_variable tasks_cv_;  // with mu_: a task ended, or a tasks/result was cancelled
  std::set<std::string> task_tools_;  // set in the constructor: tools with taskSupport
  size_t workers_ = 0;                // guarded by mu_: worker threads still running
};

}  // namespace bim::ctl
