#include "ctl/wire/response_decoder.h"

#include <utility>

#include "common/percent_encoding.h"
#include "ctl/wire/grpc_protocol.h"
#include "ctl/wire/text.h"

namespace bim::ctl::wire {

void ResponseDecoder::OnHeadersBegin() {
  headers_.clear();
  block_ = response_headers_seen_ ? Block::kTrailers : Block::kResponse;
}

void ResponseDecoder::OnHeader(std::string_view name, std::string_view value) {
  if (block_ == Block::kNone) return;
  if (name == ":status") {
    http_status_ = ParseHttpStatus(value);
  } else if (name == "grpc-status") {
    grpc_status_ = ParseGrpcStatus(value);
  } else if (name == "grpc-message") {
    // Percent-encoded (PROTOCOL-HTTP2.md); a malformed escape stays as it came.
    grpc_message_ = PercentDecode(value);
  } else if (!IsTransportHeader(name)) {
    headers_.emplace(std::string(name), MetadataValue(name, value));
  }
}

void ResponseDecoder::OnHeadersEnd(bool end_stream) {
  if (done_) return;
  Block block = block_;
  block_ = Block::kNone;
  if (block == Block::kResponse) {
    if (http_status_ >= 100 && http_status_ < 200) return;  // interim: ignored
    response_headers_seen_ = true;
    if (end_stream) {
      // Trailers-only: the one block is the trailers.
      *trailing_ = std::move(headers_);
    } else {
      *initial_ = std::move(headers_);
      // Like gRPC, a non-200 response without a grpc-status fails as soon as it is seen.
      if (EndOnHttpFailure()) return;
    }
  } else if (block == Block::kTrailers) {
    *trailing_ = std::move(headers_);
  }
  headers_.clear();
  if (end_stream) EndFromResponse();
}

void ResponseDecoder::OnData(std::string_view data) {
  if (done_) return;
  if (!deframer_.Feed(data)) End(deframer_.failure().code, deframer_.failure().message);
}

void ResponseDecoder::OnDataEndStream() { EndFromResponse(); }

void ResponseDecoder::OnStreamClose(const StreamClose& close) {
  // A stream the server ended normally has ended the call already; this one was cut short.
  if (done_) return;
  if (close.refused) return End(Code::kUnavailable, "the agent refused the call (GOAWAY)");
  End(CodeForHttp2Error(close.error_code),
      Cat({"the agent reset the stream (HTTP/2 error ", std::to_string(close.error_code), ", ",
           close.error_name, ")"}));
}

bool ResponseDecoder::EndOnHttpFailure() {
  if (http_status_ == 200 || grpc_status_) return false;
  End(CodeForHttpStatus(http_status_),
      Cat({"HTTP status ", std::to_string(http_status_), " from the agent"}));
  return true;
}

void ResponseDecoder::EndFromResponse() {
  if (done_) return;
  if (EndOnHttpFailure()) return;
  if (deframer_.mid_message()) return End(Code::kInternal, "the stream ended inside a message");
  if (!grpc_status_) return End(Code::kUnknown, "the response carried no grpc-status");
  End(*grpc_status_, grpc_message_);
}

void ResponseDecoder::End(Code code, std::string message) {
  if (done_) return;
  done_ = true;
  status_ = CallStatus{code, std::move(message)};
  if (code == Code::kCancelled || code == Code::kDeadlineExceeded) deframer_.Clear();
}

void ResponseDecoder::Fail(Code code, std::string message) {
  if (!done_) return End(code, std::move(message));
  if (status_.ok()) status_ = CallStatus{code, std::move(message)};
}

}  // namespace bim::ctl::wire
