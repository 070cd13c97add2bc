#pragma once
// A call's outcome and metadata, as the ctl's wire client (ctl/grpc_wire.h, which includes this)
// reports them. Plain values: no I/O, any thread.

#include <map>
#include <string>
#include <string_view>

namespace bim::ctl::wire {

// gRPC's status codes, with gRPC's numbers.
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

struct CallStatus {
  Code code = Code::kOk;
  std::string message;  // grpc-message, percent-decoded; or what the transport saw
  bool ok() const { return code == Code::kOk; }
};

// Header names are lower case, as HTTP/2 sends them.
using Metadata = std::multimap<std::string, std::string>;

// The first value of key in md, or "" when there is none.
std::string First(const Metadata& md, std::string_view key);

}  // namespace bim::ctl::wire
