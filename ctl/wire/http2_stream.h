#pragma once
// What passes between an Http2Connection (ctl/wire/http2_connection.h) and its one stream: the
// request's header fields out, and the response's frames in, as Http2StreamCallbacks, in the
// order they arrive. It is the seam between HTTP/2 (the connection) and what its frames mean to
// a gRPC call (ResponseDecoder, ctl/wire/response_decoder.h), as Envoy keeps its codecs apart
// from the streams they decode.

#include <cstdint>
#include <string_view>

namespace bim::ctl::wire {

// One field of a header block; the connection copies what it submits.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// How the stream closed.
struct StreamClose {
  uint32_t error_code = 0;      // RST_STREAM's HTTP/2 error code; 0 (NO_ERROR) for a normal close
  std::string_view error_name;  // its name as RFC 9113 spells it ("CANCEL"); valid in the call
  bool refused = false;         // a GOAWAY's last-stream-id left it out: the peer never took it
};

// The connection calls these from inside its Turn(), on the call's thread; they must not call
// back into the connection. An exception from one fails the HTTP/2 session, and so the call.
class Http2StreamCallbacks {
 public:
  // A HEADERS block starts: the response's headers, an interim (1xx) response, or trailers.
  virtual void OnHeadersBegin() = 0;
  // One field of that block, as HPACK decoded it (names lower case).
  virtual void OnHeader(std::string_view name, std::string_view value) = 0;
  // The block is complete; end_stream: it also ended the peer's side of the stream.
  virtual void OnHeadersEnd(bool end_stream) = 0;
  // DATA bytes in the order they arrived; a frame may come in several pieces.
  virtual void OnData(std::string_view data) = 0;
  // A DATA frame ended the peer's side of the stream (after its bytes went to OnData).
  virtual void OnDataEndStream() = 0;
  // The stream closed: reset by the peer, refused by a GOAWAY, or after both sides ended it.
  virtual void OnStreamClose(const StreamClose& close) = 0;

 protected:
  // Not deleted through this interface: no virtual destructor to carry.
  ~Http2StreamCallbacks() = default;
};

}  // namespace bim::ctl::wire
