#pragma once
// One call of the ctl's wire client (ctl/grpc_wire.h), unary or server-streaming, on its own
// connection: it sends the request (headers from grpc_protocol.h, the framed message it is
// given) over an Http2Connection, reads the response through a ResponseDecoder, and runs the
// loop that waits for it on the caller's thread until the call ends: by the server's status,
// the CallContext's deadline or cancellation, or a failure of the transport. Messages are bytes
// here; protobuf is the API's business (grpc_wire.cc), which keeps its headers, and their static
// initialisers, out of these files.
//
// Not thread-safe. The context's Cancel() reaches a running call through an eventfd that the
// context holds while the call runs, and that the connection polls.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ctl/wire/call_context.h"
#include "ctl/wire/call_status.h"
#include "ctl/wire/http2_connection.h"
#include "ctl/wire/response_decoder.h"

namespace bim::ctl::wire {

class Call {
 public:
  // Channel::Verifier (ctl/grpc_wire.h).
  using Verifier = std::function<CallStatus(int fd)>;

  // Resets what ctx reports of a call (metadata, connected()); ctx outlives this.
  Call(const std::string& socket_path, size_t max_message_bytes, CallContext& ctx);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Connects, has verifier (when not empty) check the connection, and submits the request:
  // method's headers and body, a message framed as message_framing.h says. The call may be over
  // when it returns (a cancelled context, a deadline passed, nothing to connect to...).
  void Start(std::string_view method, std::string body, const Verifier& verifier);
  // The next message's bytes; false at the end of the stream or on a failure (see Finish()).
  bool Read(std::string* message);
  // True when Read() returns without waiting: a message is queued or the call is over.
  bool Ready() const { return response_.done() || response_.has_message(); }
  // The call's status; reads and discards what is left of the stream first.
  CallStatus Finish();
  // The rest of a unary call: exactly one message, then the status; *reply: the message.
  CallStatus FinishUnary(std::string* reply);
  // Ends the call with this status unless it has ended; resets the stream when the server may
  // still be working on it, and closes the connection.
  void End(Code code, std::string message);
  // A message the caller could not use: drops those still queued, and ends the call with this
  // failure, or turns the status of a call that ended OK into it.
  void Fail(Code code, std::string message);

 private:
  // Runs the loop until the call is over, or (until_message) a message is queued.
  void Pump(bool until_message);
  // Closes the connection and gives back the eventfd; safe to call again.
  void Teardown();
  void ReleaseCancelFd();
  bool DeadlinePassed() const {
    return deadline_ && std::chrono::steady_clock::now() >= *deadline_;
  }

  const std::string socket_path_;
  CallContext& ctx_;
  const std::optional<std::chrono::steady_clock::time_point> deadline_;
  int cancel_fd_ = -1;  // our eventfd, also in ctx_.cancel_fd_ while the call runs
  ResponseDecoder response_;
  Http2Connection connection_;  // reports to response_
};

}  // namespace bim::ctl::wire
