#pragma once
// gRPC's mapping onto HTTP/2 as the ctl's wire client (ctl/grpc_wire.h) needs it: the request's
// header block, grpc-timeout, binary metadata in base64, the headers the transport keeps for
// itself, and how a response's :status, grpc-status and an HTTP/2 error code read as gRPC codes
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md and
// doc/http-grpc-status-mapping.md there). Pure functions: no I/O, no state, any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/wire/call_status.h"
#include "ctl/wire/http2_stream.h"

namespace bim::ctl::wire {

// grpc-timeout for the time that remains: at most 8 digits and a unit, rounded up so that the
// server never sees less time than the client allows. Empty when it is too long to express.
std::string EncodeTimeout(std::chrono::steady_clock::duration remaining);

// The HEADERS of a request: the pseudo-headers, content-type, te, user-agent, grpc-timeout when
// there is one, then the request metadata, its keys lower-cased and its -bin values base64.
class RequestHeaders {
 public:
  // For a call of method ("/package.Service/Method"). Fails with kInternal, naming the key, for
  // metadata that gRPC would refuse or that would break the header block.
  CallStatus Build(std::string_view method, std::string_view timeout, const Metadata& metadata);
  // The fields, in order; they view method and timeout as passed to Build(), and this.
  std::span<const HeaderField> fields() const { return {fields_.get(), size_}; }

 private:
  std::vector<std::string> metadata_;  // as sent: a name, its value, the next name...
  std::unique_ptr<HeaderField[]> fields_;
  size_t size_ = 0;
};

// The headers gRPC's transport uses itself (pseudo-headers, content-type, grpc-status...): they
// are not the application's metadata, which gRPC C++ keeps them out of too.
bool IsTransportHeader(std::string_view key);

// A response header's value as the application's metadata holds it: a -bin key's value
// base64-decoded, any other value as it came.
std::string MetadataValue(std::string_view key, std::string_view value);

// Binary metadata travels base64-encoded: gRPC sends it unpadded and accepts either. Decoding
// stops at the first '='; input that is not base64 comes back as it was, since metadata is the
// server's to get wrong, not a reason to fail the call.
std::string Base64Encode(std::string_view in);
std::string Base64Decode(std::string_view in);

// :status as a number; 1000 when it is not a number under 1000.
int ParseHttpStatus(std::string_view value);
// grpc-status as a code: what is not a number of 0 to 16, gRPC reads as kUnknown.
Code ParseGrpcStatus(std::string_view value);
// The code of a response with an HTTP status but no grpc-status.
Code CodeForHttpStatus(int http_status);
// The code of a stream the server reset (RST_STREAM) with this HTTP/2 error code.
Code CodeForHttp2Error(uint32_t error_code);

}  // namespace bim::ctl::wire
