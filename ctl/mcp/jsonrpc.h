#pragma once
// JSON-RPC 2.0 as MCP's stdio transport carries it, one message per line: the error codes and
// message shapes the server answers with, the budget of a line (its bytes and its nesting), the
// splitting of the input into lines, the writing of whole messages, and the requests in flight
// by id. Thread-safety is said per class.

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/cancel_token.h"

namespace bim::ctl::mcp {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerBusy = -32000;
inline constexpr int kNotInitialized = -32002;
inline constexpr int kMissingCapability = -32021;   // 2026-07-28
inline constexpr int kUnsupportedVersion = -32022;  // 2026-07-28

inline constexpr size_t kMaxLineBytes = 16 * 1024 * 1024;
inline constexpr size_t kMaxDepth = 64;  // nesting of a message's JSON

nlohmann::json ErrorResponse(const nlohmann::json& id, int code, const std::string& message,
                             nlohmann::json data = nullptr);
nlohmann::json ResultResponse(const nlohmann::json& id, nlohmann::json result);
nlohmann::json Notification(const std::string& method, nlohmann::json params);
// The -32600 for a request that reuses the id of a call in flight.
nlohmann::json InFlightError(const nlohmann::json& id);

// MCP ids are strings or integers; anything else (null included) is not an id.
bool ValidId(const nlohmann::json& id);

std::string_view Trim(std::string_view s);

// How deeply brackets nest in a JSON text, strings aside; stops counting past limit. Copying a
// parsed value recurses once per level, so a line of a million '[' must never be parsed.
size_t NestingDepth(std::string_view text, size_t limit);

// Cuts the input into lines as it arrives, within a budget: a line that outgrows max_line_bytes
// before its newline is dropped whole. Used by one thread.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes) : max_(max_line_bytes) {}

  // Calls on_line with each complete line (without its newline), and on_too_long once for each
  // line that outgrew the budget.
  void Feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line,
            const std::function<void()>& on_too_long);
  // What the input held after its last newline, when that is more than blanks (a last line
  // without its newline); nullopt otherwise, or when it belongs to a dropped line.
  std::optional<std::string> Finish() const;

 private:
  const size_t max_;
  std::string buf_;          // the start of a line whose newline has not come yet
  bool discarding_ = false;  // inside a line that was too long, until its newline
};

// Where the server's bytes go.
class Output {
 public:
  virtual ~Output() = default;
  // Writes all of bytes; false when that failed (the client is gone), and then for good.
  virtual bool Write(std::string_view bytes) = 0;
};

// An Output onto a borrowed file descriptor (the ctl's copy of stdout).
class FdOutput final : public Output {
 public:
  explicit FdOutput(int fd) : fd_(fd) {}
  bool Write(std::string_view bytes) override;

 private:
  const int fd_;
};

// Writes messages whole, one per line, from any thread: each goes out under one lock, so replies
// and notifications from several threads never interleave. After a failed write nothing more is
// written, and on_closed runs (once).
class MessageWriter {
 public:
  MessageWriter(Output& out, std::function<void()> on_closed)
      : out_(out), on_closed_(std::move(on_closed)) {}

  void Send(const nlohmann::json& message) { Send(&message, nullptr); }
  // Runs before_write under the lock, then writes message (nothing when null): what before_write
  // does is seen by no other sender until the message is out.
  void Send(const nlohmann::json* message, const std::function<void()>& before_write);
  bool closed() const { return closed_; }

 private:
  Output& out_;
  const std::function<void()> on_closed_;
  std::mutex mu_;  // held while writing
  std::atomic<bool> closed_{false};
};

// The requests being answered on worker threads, by id (dumped), each with the token that
// cancels it. Thread-safe.
class RequestsInFlight {
 public:
  static std::string Key(const nlohmann::json& id) { return id.dump(); }

  bool Contains(const std::string& key) const;
  // False, and nothing changed, when key is in flight already.
  bool Add(const std::string& key, std::shared_ptr<CancelToken> cancel);
  void Remove(const std::vector<std::string>& keys);
  // The token of the request in flight under key; null when there is none.
  std::shared_ptr<CancelToken> Find(const std::string& key) const;
  size_t size() const;
  void CancelAll();

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<CancelToken>> requests_;  // guarded by mu_
};

}  // namespace bim::ctl::mcp
