#pragma once
// A WebSocket client behind an interface of ours. The implementation uses websocketpp 0.8.2,
// which does not compile as C++20, so it lives in bim_ws, built as C++17; this header is
// C++17-clean and carries no websocketpp types.
//
// Threading: Connector::Connect and Connection::Receive block the calling thread; Close may be
// called from any thread and wakes a blocked Receive. One Connection is read by one thread.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/limits.h"
#include "common/result.h"

namespace bim::ws {

struct TlsOptions {
  std::string ca_file;  // extra CA bundle; empty = the system's
};

struct ConnectOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  std::chrono::milliseconds connect_timeout{10000};
  // A ping every ping_interval; no pong within pong_timeout ends the connection as kClosed.
  std::chrono::milliseconds ping_interval{20000};
  std::chrono::milliseconds pong_timeout{10000};
  // A message over this ends the connection (close code 1009); it is never held whole.
  std::size_t max_message_size = limits::kMaxStreamMessageBytes;
  // Messages received but not yet taken by Receive (each counts 64 bytes more than its payload,
  // so a flood of empty ones is bounded too); above this the connection stops reading
  // from its socket (TCP then slows the peer) until Receive has taken half of them. Pongs wait
  // in the socket too: a reader stalled past pong_timeout loses the connection.
  std::size_t max_queued_bytes = limits::kMaxStreamQueueBytes;
  // Pings and pongs the peer may send within rate_window. A peer over it, or one that leaves
  // more than max_send_queue_bytes of what this side sends (its pongs, pings) unread, is cut at
  // the socket: kClosed with kPolicyClose and a reason that says which. Each ping answered
  // queues a pong inside websocketpp, outside max_queued_bytes: these bound that queue.
  std::size_t max_control_frames = limits::kMaxStreamControlFrames;
  std::chrono::steady_clock::duration rate_window = limits::kStreamRateWindow;
  std::size_t max_send_queue_bytes = limits::kMaxStreamSendQueueBytes;
};

// The close code of a connection this side cut because the peer broke a limit above (RFC 6455's
// "policy violation").
inline constexpr int kPolicyClose = 1008;

enum class EventKind {
  kMessage,  // payload holds one text (or binary) message
  kClosed,   // the connection is over; payload says why (close reason, or error)
  kTimeout,  // nothing arrived within the timeout given to Receive
};

struct Event {
  EventKind kind = EventKind::kTimeout;
  std::string payload;
  int close_code = 0;  // the peer's close code; 1006 when the connection just dropped
};

class Connection {
 public:
  virtual ~Connection() = default;
  // The next message, or kClosed once the connection is over (and on every call after), or
  // kTimeout. Messages that arrived before a drop are still delivered before kClosed.
  virtual Event Receive(std::chrono::milliseconds timeout) = 0;
  // Sends a text message; false when the connection is already closed.
  virtual bool Send(const std::string& text) = 0;
  // Starts a clean close (1000) and wakes Receive. Idempotent; thread-safe. The close handshake
  // reads the peer for up to 2 s more, for its close frame.
  virtual void Close() = 0;
  // Ends the connection at the socket at once, reading nothing more: for a peer that floods.
  // Wakes Receive; thread-safe.
  virtual void Cut() = 0;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // url: ws://host:port/path?query or wss://... A handshake answered with an HTTP status
  // comes back as an Error, mapped as the REST calls map theirs: 401 -> kUnauthenticated,
  // 404 -> kNotFound, 429 -> kRateLimited, anything else (503 and refused connections
  // included) -> kUnavailable.
  virtual Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                                      const ConnectOptions& options) = 0;
};

// The websocketpp-backed connector. It owns one asio thread shared by its connections; it
// must outlive them.
std::unique_ptr<Connector> MakeConnector(const TlsOptions& tls);

}  // namespace bim::ws
