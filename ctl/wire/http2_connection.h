#pragma once
// The HTTP/2 connection under one call of the ctl's wire client (ctl/grpc_wire.h): a
// non-blocking Unix socket, the nghttp2 client session on it and nghttp2's callbacks, writing
// what the session queues, reading what the peer sends, and the poll that waits for either. It
// carries one stream, the request given to SubmitRequest, and reports that stream's frames to
// Http2StreamCallbacks; what they mean to gRPC is the stream's business (ResponseDecoder), as
// are deadlines and cancellation, which the connection only waits for: a deadline bounds a
// wait, and a wake descriptor that becomes readable ends it.
//
// Not thread-safe: the call's thread only. Sends use MSG_NOSIGNAL, so no SIGPIPE; no exception
// unwinds through nghttp2 (one from a callback fails the session instead).

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "ctl/wire/call_status.h"
#include "ctl/wire/http2_stream.h"

struct nghttp2_session;

namespace bim::ctl::wire {

class Http2Connection {
 public:
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;

  // stream receives the events of the connection's one stream and outlives this.
  explicit Http2Connection(Http2StreamCallbacks& stream) : stream_(stream) {}
  ~Http2Connection();  // closes the socket as it is: no RST_STREAM, nothing more written
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  // Connects to the Unix socket at path; while its listener's backlog is full (EAGAIN), tries
  // again with a backoff of up to 50 ms. wake_fds (-1: none) are polled beside the socket from
  // now on, here and in Turn(); they are not owned and never read. kUnavailable: nothing to
  // connect to (a bad path, ENOENT, ECONNREFUSED); kCancelled: a wake descriptor is readable;
  // kDeadlineExceeded: the deadline passed while the backlog stayed full.
  CallStatus Connect(const std::string& path, Deadline deadline, std::array<int, 2> wake_fds);
  // The connected socket, -1 before Connect() or after Close().
  int fd() const { return fd_; }

  // Starts the HTTP/2 session (SETTINGS: no server push, 16 MiB flow-control windows) and
  // submits the request: headers, then body in DATA frames, the last with END_STREAM. Nothing
  // is written before Turn(). kInternal when nghttp2 refuses (out of memory, invalid headers).
  CallStatus SubmitRequest(std::span<const HeaderField> headers, std::string body);

  // One turn of the loop: writes what the session has queued (as far as the socket takes it),
  // waits for the socket, a wake descriptor or the deadline, and reads what arrived, which runs
  // the stream's callbacks. OK: go on (the deadline may have passed: the caller checks it).
  // kCancelled: a wake descriptor is readable (nothing is read). kUnavailable: the peer closed
  // or reset the connection, or the session has nothing left to do. kInternal: an HTTP/2
  // protocol error, or a failure of nghttp2 or poll.
  CallStatus Turn(Deadline deadline);

  // Resets the stream when the peer may still be working on it (what the socket takes without
  // waiting), then closes the socket. Safe to call again; not from the stream's callbacks.
  void Close();

 private:
  // Writes queued output; a send error is kept in write_error_ and is no failure (the peer may
  // have answered and closed before taking the whole request; what it sent decides the call).
  CallStatus Flush();
  CallStatus ReadInput();
  bool StreamOpenAtPeer() const;

  friend struct Http2Callbacks;  // nghttp2's callbacks, in the .cc

  Http2StreamCallbacks& stream_;
  std::array<int, 2> wake_fds_ = {-1, -1};
  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;
  std::optional<int32_t> goaway_last_stream_id_;

  std::string body_;  // the request's DATA, not yet handed to nghttp2
  size_t body_sent_ = 0;
  std::string out_;  // encoded frames not yet written
  size_t out_sent_ = 0;
  int write_error_ = 0;  // errno of a failed send
  // Not zero-filled (a vector would be): a small reply then touches one page of it, where
  // clearing all of it cost a quick ctl command page faults and a memset.
  std::unique_ptr<uint8_t[]> in_;
};

}  // namespace bim::ctl::wire
