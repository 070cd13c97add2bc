#include "ctl/grpc_wire.h"

#include <climits>
#include <exception>
#include <utility>

#include "ctl/wire/call.h"
#include "ctl/wire/message_framing.h"

// The API's own part: protobuf in and out of the bytes that a Call (ctl/wire/call.h) moves.
namespace bim::ctl::wire {
namespace {

// *body = request behind gRPC's length prefix.
CallStatus FrameRequest(const google::protobuf::MessageLite& request, std::string* body) {
  size_t size = request.ByteSizeLong();
  if (size > UINT32_MAX || size > static_cast<size_t>(INT_MAX)) {
    return {Code::kResourceExhausted, "the request message is too large to send"};
  }
  body->resize(kMessagePrefixBytes + size);
  EncodeMessagePrefix(static_cast<uint32_t>(size), body->data());
  if (!request.SerializeToArray(body->data() + kMessagePrefixBytes, static_cast<int>(size))) {
    return {Code::kInternal, "cannot serialize the request message"};
  }
  return {};
}

void Start(Call& call, std::string_view method, const google::protobuf::MessageLite& request,
           const Channel::Verifier& verifier) {
  std::string body;
  CallStatus framed = FrameRequest(request, &body);
  if (!framed.ok()) return call.End(framed.code, std::move(framed.message));
  call.Start(method, std::move(body), verifier);
}

}  // namespace

StreamReader::StreamReader(std::unique_ptr<Call> call) : call_(std::move(call)) {}
StreamReader::~StreamReader() = default;

bool StreamReader::Read(google::protobuf::MessageLite* message) {
  try {
    std::string bytes;
    if (!call_->Read(&bytes)) return false;
    if (message->ParseFromString(bytes)) return true;
    call_->Fail(Code::kInternal, "cannot parse a message from the agent");
    return false;
  } catch (...) {
    return false;
  }
}

bool StreamReader::Ready() const { return call_->Ready(); }

CallStatus StreamReader::Finish() {
  try {
    return call_->Finish();
  } catch (const std::exception& e) {
    return {Code::kInternal, e.what()};
  }
}

Channel::Channel(std::string socket_path, size_t max_message_bytes)
    : socket_path_(std::move(socket_path)), max_message_bytes_(max_message_bytes) {}

CallStatus Channel::Unary(std::string_view method, const google::protobuf::MessageLite& request,
                          google::protobuf::MessageLite* reply, CallContext& ctx) const {
  try {
    Call call(socket_path_, max_message_bytes_, ctx);
    Start(call, method, request, verifier_);
    std::string bytes;
    CallStatus status = call.FinishUnary(&bytes);
    if (status.ok() && !reply->ParseFromString(bytes)) {
      return {Code::kInternal, "cannot parse the reply message from the agent"};
    }
    return status;
  } catch (const std::exception& e) {
    return {Code::kInternal, e.what()};
  }
}

std::unique_ptr<StreamReader> Channel::ServerStream(std::string_view method,
                                                    const google::protobuf::MessageLite& request,
                                                    CallContext& ctx) const {
  auto call = std::make_unique<Call>(socket_path_, max_message_bytes_, ctx);
  try {
    Start(*call, method, request, verifier_);
  } catch (const std::exception& e) {
    call->End(Code::kInternal, e.what());
  }
  return std::unique_ptr<StreamReader>(new StreamReader(std::move(call)));
}

}  // namespace bim::ctl::wire
