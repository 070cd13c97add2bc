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
// thread keeps reading and can act on `notifications/cancelled` (the call's CancelToken)
// while a tool waits; a task runs on a worker too, and so does a tasks/result, which blocks
// until its task ends. Every message goes out whole on one line under out_mu_, so replies and
// progress notifications from several threads never interleave. Run() returns once the input
// ends (or Stop() is called): calls still in flight get a grace (kShutdownGrace unless the
// constructor is given another; BACKEND_IM_MCP_EXIT_GRACE_MS) to finish after an end of input
// (none after Stop()), then they and every running task are cancelled and waited for.
//
// A task's cancel (tasks/cancel) cancels the tool's CancelToken, as notifications/cancelled
// does for a plain call: the waiting stops, the deployment itself goes on. A task is kept
// until its ttl has passed after it ended.
//
// A tool that needs the person (a login) sends them to a web page through the client, when
// the client declared URL-mode elicitation (capabilities.elicitation.url):
//   - 2025-11-25: the server sends `elicitation/create` {mode "url", elicitationId, url,
//     message} (ids "bim-1", "bim-2"...; for a task with the related-task _meta while the task
//     shows input_required) and the tool waits for the client's response, which the reading
//     thread routes back (TakeResponse); `notifications/elicitation/complete` follows once the
//     page's flow is done;
//   - 2026-07-28 (no server-to-client requests): tools/call answers resultType
//     "input_required" with inputRequests and a requestState, a random id of a round the
//     server keeps (InputRound); the client calls again with inputResponses and that
//     requestState, which only the same tool with the same arguments may use, once.
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
//          whose _meta lacks the protocolVersion or clientCapabilities, or a requestState this
//          server did not give for that call (or gave and saw used or expired)
//   -32002 a legacy request other than initialize or ping before initialize
//   -32021 (2026-07-28) a tasks/* request from a client that did not declare the extension
//   -32022 (2026-07-28) a protocolVersion in _meta that this server does not serve
//   -32000 too many tool calls and tasks running at once
//   -32603 an unexpected exception while handling a message (the server goes on)
// A cancelled request gets no response at all. Batches are accepted under 2025-03-26 and
// 2024-11-05, whose spec requires receiving them. initialize answers an unknown version with
// the latest it speaks there, 2025-11-25 (kFallbackProtocolVersion), as the spec recommends.

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

#include "ctl/cancel_token.h"
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
  static constexpr const char* kFallbackProtocolVersion = "2025-11-25";
  static constexpr const char* kTasksVersion = "2025-11-25";   // the first with tasks
  static constexpr const char* kModernVersion = "2026-07-28";  // no initialize; per-request _meta
  static constexpr int64_t kDefaultTaskTtlMs = 60 * 60 * 1000;
  static constexpr int64_t kMaxTaskTtlMs = 24 * 60 * 60 * 1000;
  // What tasks suggest to their pollers: a poll is one line over a local pipe, and a deployment's
  // stages come a few seconds apart, so a second shows each stage soon after it came.
  static constexpr int64_t kTaskPollIntervalMs = 1000;
  static constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;
  static constexpr size_t kMaxDepth = 64;  // nesting of a message's JSON
  static constexpr size_t kMaxCallsInFlight = 32;
  static constexpr std::chrono::seconds kShutdownGrace{2};     // for calls in flight at EOF
  static constexpr size_t kMaxInputRounds = 64;                // kept requestStates
  static constexpr int64_t kInputRoundTtlMs = 15 * 60 * 1000;  // how long one stays valid

  // The fds are borrowed, not closed. tools must outlive the server. shutdown_grace is how long
  // calls in flight may still finish once the input has ended.
  McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info,
            std::chrono::milliseconds shutdown_grace = kShutdownGrace);
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
    std::shared_ptr<CancelToken> cancel;
    std::string version;  // the session's, or the request's under 2026-07-28
    std::string task_id;  // set when the call runs as a task
    // Sending the person to a page (see McpToolCall): by an elicitation/create request
    // (2025-11-25, client declared elicitation.url), or by an input-required result
    // (2026-07-28, same declaration, not a task), whose next round brings these back.
    bool can_open_url = false;
    bool can_request_url = false;
    nlohmann::json input_state;
    nlohmann::json input_responses;
  };
  // What a 2026-07-28 input-required result asked for, kept under its requestState (a random
  // id) for the call that answers it: only that tool with the same arguments may use it, once.
  struct InputRound {
    std::string tool;
    std::string arguments;  // dumped
    nlohmann::json state;   // the tool's input_state
    int64_t expires_ms = 0;
  };
  // A request this server sent to the client (elicitation/create), until its response.
  struct Outgoing {
    bool answered = false;
    nlohmann::json response;
  };
  // One task: a tools/call that answered at once with a task id and runs on.
  struct Task {
    std::string id;
    bool modern = false;             // created under 2026-07-28; each era sees only its own tasks
    std::string status = "working";  // working, input_required, completed, failed, cancelled
    std::string status_message;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
    int64_t ttl_ms = kDefaultTaskTtlMs;
    bool finished = false;  // the tool returned; result is set
    nlohmann::json result;  // the CallToolResult
    std::shared_ptr<CancelToken> cancel;
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
  // Asks the client, for job's tool, to offer url to the person (elicitation/create, URL mode)
  // and waits for the answer; a task shows input_required meanwhile. elicitation_id receives
  // the id the request carried, for notifications/elicitation/complete.
  McpToolCall::UrlAnswer OpenUrl(ToolJob& job, const std::string& url, const std::string& message,
                                 std::string& elicitation_id);
  // The response to a request of ours; false when no request of ours has its id.
  bool TakeResponse(const nlohmann::json& msg);
  // The 2026-07-28 answer to a tool that needs input: the round kept under a new requestState.
  nlohmann::json InputRequired(const ToolJob& job, const McpToolResult& result);
  void StartWorker(std::function<void()> work);
  void Send(const nlohmann::json& message);
  // Frees the ids (in_flight_ keys) of answered or cancelled calls, then sends message (none
  // when null). Lock order: out_mu_, then mu_.
  void SendAndRetire(const nlohmann::json* message, const std::vector<std::string>& keys);

  McpToolProvider& tools_;
  const int in_fd_;
  const int out_fd_;
  const McpServerInfo info_;
  const std::chrono::milliseconds shutdown_grace_;
  int wake_fds_[2] = {-1, -1};  // Stop() writes to [1]; Run() polls [0]
  std::atomic<bool> output_closed_{false};

  std::mutex out_mu_;  // guards writes to out_fd_; taken before mu_ when both are held

  std::mutex mu_;
  std::condition_variable workers_cv_;
  bool initialized_ = false;      // guarded by mu_: initialize was answered
  std::string protocol_version_;  // guarded by mu_
  std::map<std::string, std::shared_ptr<CancelToken>> in_flight_;  // guarded by mu_
  std::map<std::string, Task> tasks_;                              // guarded by mu_; by task id
  size_t running_tasks_ = 0;          // guarded by mu_: tasks whose tool has not returned
  std::condition_variable tasks_cv_;  // with mu_: a task ended, or a tasks/result was cancelled
  std::set<std::string> task_tools_;  // set in the constructor: tools with taskSupport
  size_t workers_ = 0;                // guarded by mu_: worker threads still running
  nlohmann::json client_capabilities_ = nlohmann::json::object();  // guarded by mu_: initialize's
  std::map<std::string, Outgoing> outgoing_;                       // guarded by mu_; by id, dumped
  std::condition_variable outgoing_cv_;       // with mu_: a response to ours arrived
  int64_t next_outgoing_id_ = 1;              // guarded by mu_
  std::map<std::string, InputRound> rounds_;  // guarded by mu_; by requestState
};

}  // namespace bim::ctl
