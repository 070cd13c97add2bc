#pragma once
// McpServer: the Model Context Protocol over stdio (newline-delimited JSON-RPC 2.0), following
// the specification's lifecycle: `initialize` (version negotiation), `notifications/initialized`,
// then `ping`, `tools/list` and `tools/call`. What the tools do is behind McpToolProvider.
//
// Threads: Run() reads the input on the caller's thread and answers everything but tools/call
// there. Each tools/call runs on a worker thread of its own, so the reading thread keeps
// reading and can act on `notifications/cancelled` (the call's McpCancelToken) while a tool
// waits. Every message goes out whole on one line under out_mu_, so replies and progress
// notifications from several threads never interleave. Run() returns once the input ends (or
// Stop() is called): calls still in flight get kShutdownGrace to finish after an end of input
// (none after Stop()), then are cancelled and waited for.
//
// Protocol decisions (see the README's MCP section):
//   -32700 a line that is not JSON, or longer than kMaxLineBytes, or nested deeper than
//          kMaxDepth (id null); the server goes on with the next line
//   -32600 not a JSON-RPC 2.0 request (bad `jsonrpc`, `method` or `id`), a second initialize,
//          an id already in flight, a batch under 2025-06-18 (which dropped batching) or empty
//   -32601 an unknown method (unknown notifications are ignored, as the spec asks)
//   -32602 bad params: not an object, initialize without protocolVersion, tools/call without
//          a name or with an unknown tool, arguments that are not an object
//   -32002 a request other than initialize or ping before initialize
//   -32000 too many tool calls in flight at once
//   -32603 an unexpected exception while handling a message (the server goes on)
// A cancelled request gets no response at all. Batches are accepted under 2025-03-26 and
// 2024-11-05, whose spec requires receiving them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
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
  static constexpr const char* kLatestProtocolVersion = "2025-06-18";
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

  // The version answered to a client that asked for `requested`.
  static std::string NegotiateVersion(const std::string& requested);

 private:
  // A tools/call accepted for running: everything the worker needs.
  struct ToolJob {
    nlohmann::json id;
    std::string key;  // id.dump(), the key of in_flight_
    std::string name;
    nlohmann::json arguments;
    nlohmann::json progress_token;  // null when the client asked for no progress
    std::shared_ptr<McpCancelToken> cancel;
  };
  // What handling one message gives: an answer now, nothing (notifications), or a job.
  struct Outcome {
    std::optional<nlohmann::json> response;
    std::optional<ToolJob> job;
  };

  void HandleLine(std::string_view line);
  Outcome HandleMessage(const nlohmann::json& msg, bool in_batch);
  Outcome HandleRequest(const nlohmann::json& id, const std::string& method,
                        const nlohmann::json& params, bool in_batch);
  void HandleNotification(const std::string& method, const nlohmann::json& params);
  Outcome Initialize(const nlohmann::json& id, const nlohmann::json& params, bool in_batch);
  Outcome ToolsCall(const nlohmann::json& id, const nlohmann::json& params);
  void HandleBatch(const nlohmann::json& batch);

  // Whether a call with this id is in flight, and the -32600 for a request that reuses it.
  bool InFlight(const nlohmann::json& id);
  static nlohmann::json InFlightError(const nlohmann::json& id);

  // Runs the tool; the response, or nullopt when the request was cancelled. The job's id stays
  // in flight until SendAndRetire.
  std::optional<nlohmann::json> RunJob(ToolJob& job);
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
  size_t workers_ = 0;  // guarded by mu_: worker threads still running
};

}  // namespace bim::ctl
