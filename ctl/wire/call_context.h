#pragma once
// A call's context (ctl/grpc_wire.h, which includes this): what the caller sets before the call,
// Cancel() from any thread, and what the server sent, afterwards.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "ctl/wire/call_status.h"

namespace bim::ctl::wire {

// One call's deadline, request metadata and cancellation, and afterwards the server's metadata
// (what grpc::ClientContext is to gRPC C++). Use each context for one call only.
class CallContext {
 public:
  void set_deadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }
  void set_timeout(std::chrono::milliseconds timeout) {
    deadline_ = std::chrono::steady_clock::now() + timeout;
  }
  std::optional<std::chrono::steady_clock::time_point> deadline() const { return deadline_; }
  // Keys are sent lower case; a key or value gRPC would refuse (not [a-z0-9-_.], reserved,
  // a non-printable value) fails the call with kInternal. Values of -bin keys may hold any bytes:
  // they travel base64-encoded, and the server's -bin values arrive decoded.
  void AddMetadata(std::string key, std::string value) {
    request_metadata_.emplace(std::move(key), std::move(value));
  }

  // Ends the call in flight (or the next one started with this context) with kCancelled.
  // Thread-safe; the only member another thread may call.
  void Cancel();
  bool cancelled() const;
  // A descriptor the call polls besides its own: once it is readable, the call ends as if
  // Cancel() had been called. The ctl passes the eventfd its SIGINT handler writes to
  // (interrupt::Interruptible), so Ctrl-C ends a watch with no thread to run a handler. Not
  // owned, never read; -1 (the default): none. Set it before the call starts.
  void set_interrupt_fd(int fd) { interrupt_fd_ = fd; }

  // The server's response headers (empty for a trailers-only response) and trailers, without
  // the transport's own headers (content-type, grpc-status, grpc-message...); valid once the
  // call has returned (unary) or Finish() has (streaming). The initial metadata is also valid
  // once a stream's first Read() has returned true.
  const Metadata& initial_metadata() const { return initial_metadata_; }
  const Metadata& trailing_metadata() const { return trailing_metadata_; }
  // Once the call has returned (unary) or Finish() has (streaming): whether it got as far as a
  // connection that the channel's verifier, if any, accepted. Until then nothing is sent, so a
  // call that ended with connected() false (kUnavailable: nothing listened; the verifier's own
  // status: it refused the peer) reached no server and may be made again.
  bool connected() const { return connected_; }

 private:
  friend class Call;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  int interrupt_fd_ = -1;
  bool connected_ = false;
  Metadata request_metadata_;
  Metadata initial_metadata_;
  Metadata trailing_metadata_;
  mutable std::mutex mu_;
  bool cancelled_ = false;  // guarded by mu_
  // Guarded by mu_; the running call's eventfd, written by Cancel() to wake the call's poll. The
  // call sets it back to -1 under mu_ before closing the fd, so Cancel() never writes to a
  // closed (or reused) descriptor.
  int cancel_fd_ = -1;
};

}  // namespace bim::ctl::wire
