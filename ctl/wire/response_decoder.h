#pragma once
// The response side of one gRPC call, read from its HTTP/2 stream's events as gRPC's own client
// reads them: the header blocks give the server's initial and trailing metadata, grpc-status and
// grpc-message (also as a trailers-only response); DATA gives the messages (MessageDeframer);
// the stream's end or reset, or a failure the call reports (End), gives the call's status.
// It does no I/O, so a test can play any response to it. Not thread-safe: the call's thread.

#include <optional>
#include <string>
#include <string_view>

#include "ctl/wire/call_status.h"
#include "ctl/wire/http2_stream.h"
#include "ctl/wire/message_framing.h"

namespace bim::ctl::wire {

class ResponseDecoder final : public Http2StreamCallbacks {
 public:
  // initial and trailing receive the server's metadata, without the transport's own headers
  // (IsTransportHeader); both outlive this (the call's CallContext holds them).
  ResponseDecoder(size_t max_message_bytes, Metadata* initial, Metadata* trailing)
      : initial_(initial), trailing_(trailing), deframer_(max_message_bytes) {}

  void OnHeadersBegin() override;
  void OnHeader(std::string_view name, std::string_view value) override;
  void OnHeadersEnd(bool end_stream) override;
  void OnData(std::string_view data) override;
  void OnDataEndStream() override;
  void OnStreamClose(const StreamClose& close) override;

  // Ends the call with this status unless it has ended already; the first end wins, and what
  // arrives afterwards is ignored. A cancellation or a deadline also drops the messages queued
  // and not yet read; any other end keeps them for Read().
  void End(Code code, std::string message);
  // Ends the call with this failure, or, when it has already ended OK, turns its status into
  // this failure (a message that arrived whole but does not parse).
  void Fail(Code code, std::string message);
  bool done() const { return done_; }
  const CallStatus& status() const { return status_; }  // once done()

  // The messages received and not yet taken, oldest first.
  bool has_message() const { return !deframer_.empty(); }
  size_t message_count() const { return deframer_.size(); }
  std::string PopMessage() { return deframer_.Pop(); }  // requires has_message()
  void DropMessages() { deframer_.Clear(); }

 private:
  enum class Block { kNone, kResponse, kTrailers };

  // When the response is not a 200 and has no grpc-status, ends the call as gRPC reads it, and
  // says so.
  bool EndOnHttpFailure();
  // Ends the call from what the server sent, once it ended its side of the stream.
  void EndFromResponse();

  Metadata* const initial_;
  Metadata* const trailing_;
  MessageDeframer deframer_;

  Block block_ = Block::kNone;
  bool response_headers_seen_ = false;
  Metadata headers_;  // the block being received
  int http_status_ = 0;
  std::optional<Code> grpc_status_;
  std::string grpc_message_;

  bool done_ = false;
  CallStatus status_;
};

}  // namespace bim::ctl::wire
