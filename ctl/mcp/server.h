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
// The parts, each in ctl/mcp/: the JSON-RPC framing (jsonrpc.h: lines, their budget, whole
// messages; connection.h: reading, dispatch, batches, workers), the session and its eras
// (session.h), tasks (tasks.h), and elicitation in both eras (elicitation.h). McpServer composes
// them and runs the tool calls.
//
// Threads: Run() reads the input on the caller's thread and answers everything but tools/call
// and tasks/result there. Each tools/call runs on a worker thread of its own, so the reading
// thread keeps reading and can act on `notifications/cancelled` (the call's CancelToken)
// while a tool waits; a task runs on a worker too, and so does a tasks/result, which blocks
// until its task ends. Every message goes out whole on one line under the MessageWriter's lock,
// so replies and progress notifications from several threads never interleave. Run() returns
// once the input ends (or Stop() is called): calls still in flight get a grace (kShutdownGrace
// unless the constructor is given another; BACKEND_IM_MCP_EXIT_GRACE_MS) to finish after an end
// of input (none after Stop()), then they and every running task are cancelled and waited for.
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
//     thread routes back (Elicitation::TakeResponse); `notifications/elicitation/complete`
//     follows once the page's flow is done;
//   - 2026-07-28 (no server-to-client requests): tools/call answers resultType
//     "input_required" with inputRequests and a requestState, a random id of a round the
//     server keeps (InputRounds); the client calls again with inputResponses and that
//     requestState, which only the same tool with the same arguments may use, once.
// A tool that changes a variable or what an environment serves asks the person to confirm
// first, the same two ways, when the client declared form-mode elicitation
// (capabilities.elicitation.form, or an empty capabilities.elicitation): an elicitation/create
// with a message and a form of one boolean, `confirm` (2025-06-18 and later; mode "form" from
// 2025-11-25), or an input-required round (2026-07-28).
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

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "ctl/cancel_token.h"
#include "ctl/mcp/connection.h"
#include "ctl/mcp/elicitation.h"
#include "ctl/mcp/jsonrpc.h"
#include "ctl/mcp/protocol.h"
#include "ctl/mcp/session.h"
#include "ctl/mcp/tasks.h"
#include "ctl/mcp/tool_provider.h"

namespace bim::ctl {

class McpServer : private mcp::CallHandler {
 public:
  static constexpr size_t kMaxCallsInFlight = 32;
  static constexpr std::chrono::seconds kShutdownGrace{2};  // for calls in flight at EOF

  // The fds are borrowed, not closed. tools must outlive the server. shutdown_grace is how long
  // calls in flight may still finish once the input has ended.
  McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info,
            std::chrono::milliseconds shutdown_grace = kShutdownGrace);
  // The same, writing to out and taking the time from clock (borrowed): for tests, which read
  // what the server writes in memory and move time themselves.
  McpServer(McpToolProvider& tools, int in_fd, std::unique_ptr<mcp::Output> out, const Clock& clock,
            McpServerInfo info, std::chrono::milliseconds shutdown_grace = kShutdownGrace);
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Serves until the input ends, the output is closed or Stop() is called. Returns 0.
  int Run();
  // Makes Run() return soon; safe from any thread (e.g. a signal-waiting thread).
  void Stop();

 private:
  // A tools/call accepted for running: everything the worker needs.
  struct ToolJob {
    nlohmann::json id;
    std::string key;  // the id's key in in_flight_ (empty for a task)
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
    // Asking the person to confirm (see McpToolCall): by elicitation/create (2025-06-18 and
    // later, client declared form elicitation), or by an input-required result (2026-07-28).
    bool can_confirm = false;
    bool can_request_form = false;
    nlohmann::json input_state;
    nlohmann::json input_responses;
  };

  // mcp::CallHandler, on the reading thread.
  mcp::Outcome ToolsCall(const nlohmann::json& id, const nlohmann::json& params,
                         const mcp::RequestContext& ctx) override;
  mcp::Outcome TaskRequest(const nlohmann::json& id, const std::string& method,
                           const nlohmann::json& params, const mcp::RequestContext& ctx) override;
  void Cancel(const nlohmann::json& request_id, const std::string& reason) override;
  bool TakeResponse(const nlohmann::json& response) override;

  // The job that params describe, or the error that refuses the call.
  std::optional<nlohmann::json> NewJob(const nlohmann::json& id, const nlohmann::json& params,
                                       const mcp::RequestContext& ctx, ToolJob& job);
  // 2026-07-28: takes the input round that params.requestState names (if any) into job; false
  // when it names none this server gave for this call.
  bool ContinueRound(const nlohmann::json& params, ToolJob& job);
  // Whether the call runs as a task, and with which params.task; or the error that refuses it.
  std::optional<nlohmann::json> TaskParams(const ToolJob& job, const nlohmann::json& params,
                                           const mcp::RequestContext& ctx, bool& as_task,
                                           nlohmann::json& task_params) const;
  // Registers a task for job and answers its tools/call; the tool runs on a worker.
  mcp::Outcome StartTask(ToolJob job, const nlohmann::json& task_params,
                         const mcp::RequestContext& ctx);
  // Runs the tool; the response, or nullopt when the request was cancelled.
  std::optional<nlohmann::json> RunJob(ToolJob& job);
  // The tool's result for job, whatever happened (never throws).
  McpToolResult CallTool(ToolJob& job, const mcp::TaskStore::StageReporter& on_stage);
  void Send(const nlohmann::json& message) { writer_.Send(message); }

  McpToolProvider& tools_;
  const McpServerInfo info_;
  const std::chrono::milliseconds shutdown_grace_;
  const std::unique_ptr<mcp::Output> out_;
  const Clock& clock_;
  std::set<std::string> task_tools_;  // set in the constructor: tools with taskSupport
  WorkerThreads workers_;
  mcp::RequestsInFlight in_flight_;
  mcp::MessageWriter writer_;
  mcp::TaskStore tasks_;
  mcp::Elicitation elicitation_;
  mcp::InputRounds rounds_;
  mcp::Session session_;
  mcp::Connection connection_;
};

}  // namespace bim::ctl
