#pragma once
// Connection: the JSON-RPC side of the MCP server. It reads the input line by line within the
// line budget (kMaxLineBytes, kMaxDepth), answers what is not a JSON-RPC 2.0 message itself
// (-32700, -32600, an id already in flight), and hands each message to its Handler (the
// session); what the handler leaves for later runs on a worker thread, and each answer goes out
// whole through the MessageWriter. A batch (a JSON array on one line) is answered with one array,
// when the handler serves batches at all.
//
// Threads: Serve() and HandleLine() run on the reading thread, which is also the only one that
// adds requests in flight; Stop() and SendAndRetire() may be called from any thread. Everything
// passed to the constructor is borrowed and must outlive the connection.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/worker_threads.h"
#include "ctl/mcp/jsonrpc.h"

namespace bim::ctl::mcp {

// An answer computed later, on a worker: the request's id (key, in RequestsInFlight) stays in
// flight until the answer that run returns has been sent, or nothing when it returns nullopt (a
// cancelled request gets no response at all).
struct Deferred {
  std::string key;
  std::function<std::optional<nlohmann::json>()> run;
};

// What handling one message gives: an answer now, an answer later, and work that answers
// nothing on a worker of its own (a task's tool); or none of them (a notification).
struct Outcome {
  std::optional<nlohmann::json> response;
  std::optional<Deferred> deferred;
  std::function<void()> background;
};

inline Outcome Reply(nlohmann::json response) { return Outcome{std::move(response), {}, {}}; }

// What a connection hands the messages it has checked to. Called on the reading thread.
class Handler {
 public:
  virtual ~Handler() = default;
  // A request: a method, an id that is valid and not in flight, params an object or other JSON
  // ({} when absent or null). in_batch: it came in a batch.
  virtual Outcome HandleRequest(const nlohmann::json& id, const std::string& method,
                                const nlohmann::json& params, bool in_batch) = 0;
  virtual void HandleNotification(const std::string& method, const nlohmann::json& params) = 0;
  // A response from the client (has result or error); false when it answers no request of ours.
  virtual bool HandleResponse(const nlohmann::json& response) = 0;
  // nullopt when a batch may be served now; else the message of the -32600 that refuses it.
  virtual std::optional<std::string> BatchRefusal() const = 0;
};

class Connection {
 public:
  // in_fd is borrowed, not closed.
  Connection(int in_fd, MessageWriter& writer, Handler& handler, WorkerThreads& workers,
             RequestsInFlight& in_flight, size_t max_line_bytes = kMaxLineBytes);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reads and serves until the input ends (true), or Stop(), a closed output or a read error
  // (false). A last line without its newline is served either way.
  bool Serve();
  // Makes Serve() return soon.
  void Stop();
  // Serves one line of input (without its newline).
  void HandleLine(std::string_view line);
  // Frees the ids (keys) of answered or cancelled requests, then sends message (none when null).
  // The ids become free under the writer's lock, just before the answer is written: a request
  // that reuses one and finds it free is answered after that answer, never before it.
  void SendAndRetire(const nlohmann::json* message, const std::vector<std::string>& keys);

 private:
  Outcome HandleMessage(const nlohmann::json& msg, bool in_batch);
  void HandleBatch(const nlohmann::json& batch);
  // Sends o's answer and starts its work; a deferred answer's id is freed if no worker starts.
  void Start(Outcome o);

  const int in_fd_;
  MessageWriter& writer_;
  Handler& handler_;
  WorkerThreads& workers_;
  RequestsInFlight& in_flight_;
  const size_t max_line_bytes_;
  int wake_fds_[2] = {-1, -1};  // Stop() writes to [1]; Serve() polls [0]
};

}  // namespace bim::ctl::mcp
