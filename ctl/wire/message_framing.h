#pragma once
// gRPC's length-prefixed messages (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"): a compressed
// flag byte, the length as 4 bytes big-endian, then the message. EncodeMessagePrefix writes the
// prefix of a request; MessageDeframer reads a response's DATA in chunks of whatever size they
// arrive in and queues each message it completes. Bytes only, no protobuf; no I/O; not
// thread-safe (the call's thread only).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/wire/call_status.h"

namespace bim::ctl::wire {

inline constexpr size_t kMessagePrefixBytes = 5;

// The prefix of an uncompressed message of length bytes, into out[0..4].
void EncodeMessagePrefix(uint32_t length, char* out);

class MessageDeframer {
 public:
  // max_message_bytes bounds each message (gRPC's max receive message length).
  explicit MessageDeframer(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Takes the next bytes of the stream; false when they break it (see failure()): a message
  // with the compressed flag set (kInternal: no compression was negotiated), or one whose prefix
  // announces more than max_message_bytes (kResourceExhausted, before any of it is buffered).
  // After a failure it takes nothing more, and returns false again.
  bool Feed(std::string_view data);
  const CallStatus& failure() const { return failure_; }
  // A message, or its prefix, has partly arrived: a stream that ends now ends inside a message.
  bool mid_message() const { return in_message_ || prefix_size_ > 0; }

  // The complete messages, oldest first.
  bool empty() const { return next_ == messages_.size(); }
  size_t size() const { return messages_.size() - next_; }
  std::string Pop();  // requires !empty()
  void Clear() {
    messages_.clear();
    next_ = 0;
  }

 private:
  bool Fail(Code code, std::string message);

  const size_t max_message_bytes_;
  CallStatus failure_;
  unsigned char prefix_[kMessagePrefixBytes] = {};
  size_t prefix_size_ = 0;
  bool in_message_ = false;
  size_t message_size_ = 0;  // of the message in message_, from its prefix
  std::string message_;
  // Those before next_ were taken; the vector empties once all are (reading keeps up with the
  // socket's reads, so it holds what one read brought at most).
  std::vector<std::string> messages_;
  size_t next_ = 0;
};

}  // namespace bim::ctl::wire
