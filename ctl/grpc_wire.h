#pragma once
// A small client of gRPC's wire protocol (HTTP/2 over the agent's Unix socket), for the ctl.
//
// Why not gRPC C++: starting gRPC core costs a ctl command several times the cost of starting a
// process (a 7 MB text segment, static initialisers, threads from grpc_init), while a quick
// command should cost little more than the process itself (docs/PERFORMANCE.md). The agent
// stays a gRPC server with the same proto; only the ctl speaks the wire protocol directly.
//
// What it implements of the protocol
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): unary and server-streaming
// calls; length-prefixed, uncompressed messages; the grpc-timeout header for a deadline; custom
// request metadata; the server's initial and trailing metadata; grpc-status and the percent-encoded
// grpc-message, also as a trailers-only response; HTTP statuses mapped to gRPC codes as gRPC does;
// GOAWAY and a connection that closes mid-call (kUnavailable); messages larger than
// max_message_bytes (kResourceExhausted).
//
// Each call opens its own connection: connecting to a Unix socket costs microseconds, a call then
// needs no lock, and calls on different threads (the MCP server's) never wait for each other.
// A call blocks its thread; Cancel() ends it from any other thread.
//
// Inside (ctl/wire/), as Envoy keeps codecs and connections apart from streams: an
// Http2Connection (socket, nghttp2 session, poll) carries the call's one stream and reports its
// frames to a ResponseDecoder, which reads them as gRPC does (metadata, status, messages through
// a MessageDeframer); a Call ties the two together with the request and the CallContext. Below
// this API messages are bytes: grpc_wire.cc alone serializes and parses them.
//
// What the transport itself reports (otherwise the code is the server's grpc-status):
// kUnavailable: nothing to connect to (ENOENT, ECONNREFUSED, a bad path), a GOAWAY that refused
//   the call, or a connection closed or reset before the call ended;
// kDeadlineExceeded, kCancelled: the deadline (which bounds connecting too) or Cancel();
// kResourceExhausted: a received message over max_message_bytes;
// kInternal: a compressed or truncated message, a reply that does not parse, invalid request
//   metadata, an HTTP/2 protocol error;
// kUnknown: trailers without grpc-status; kUnimplemented: a unary reply without a message;
// whatever the channel's verifier returned when it refused the connection (nothing sent);
// an RST_STREAM, and an HTTP status without grpc-status, map as gRPC maps them
// (PROTOCOL-HTTP2.md; doc/http-grpc-status-mapping.md).
// No exception leaves this API; SIGPIPE is never raised (sends use MSG_NOSIGNAL).

#include <google/protobuf/message_lite.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ctl/wire/call_context.h"
#include "ctl/wire/call_status.h"

namespace bim::ctl::wire {

class Call;

// A server-streaming call in progress.
class StreamReader {
 public:
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;
  // The next message; false at the end of the stream or on any failure (then see Finish()).
  // Messages that arrived before a server's error are still returned; after a cancellation or
  // the deadline none are.
  bool Read(google::protobuf::MessageLite* message);
  // True when the next Read() returns without waiting for the server: a message has arrived and
  // is queued, or the call is over. A reader that buffers its output flushes it when false.
  bool Ready() const;
  // The call's status; reads and discards what is left of the stream first.
  CallStatus Finish();

 private:
  friend class Channel;
  explicit StreamReader(std::unique_ptr<Call> call);
  std::unique_ptr<Call> call_;
};

// Where calls go. Cheap to make and to copy; holds no connection between calls.
// max_message_bytes bounds each message received (gRPC's max receive message length); what is
// sent is bounded only by the server's limit.
class Channel {
 public:
  // Runs on each call's connection right after connect(2) succeeds, before anything is sent or
  // received (fd is the connected socket; it must not read, write or close it). A status that is
  // not OK ends the call with that status and nothing is sent: the ctl checks there that the
  // peer is the user's agent (SO_PEERCRED), on the call's own connection.
  using Verifier = std::function<CallStatus(int fd)>;

  explicit Channel(std::string socket_path, size_t max_message_bytes = 4 * 1024 * 1024);
  const std::string& socket_path() const { return socket_path_; }
  void set_verifier(Verifier verifier) { verifier_ = std::move(verifier); }

  // method is the full path, "/backend_im.v1.Agent/History".
  CallStatus Unary(std::string_view method, const google::protobuf::MessageLite& request,
                   google::protobuf::MessageLite* reply, CallContext& ctx) const;
  std::unique_ptr<StreamReader> ServerStream(std::string_view method,
                                             const google::protobuf::MessageLite& request,
                                             CallContext& ctx) const;

 private:
  std::string socket_path_;
  size_t max_message_bytes_;
  Verifier verifier_;  // may be empty
};

}  // namespace bim::ctl::wire
