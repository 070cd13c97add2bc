#include "ctl/wire/call.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "ctl/wire/grpc_protocol.h"

namespace bim::ctl::wire {

Call::Call(const std::string& socket_path, size_t max_message_bytes, CallContext& ctx)
    : socket_path_(socket_path),
      ctx_(ctx),
      deadline_(ctx.deadline_),
      response_(max_message_bytes, &ctx.initial_metadata_, &ctx.trailing_metadata_),
      connection_(response_) {
  ctx_.initial_metadata_.clear();
  ctx_.trailing_metadata_.clear();
  ctx_.connected_ = false;
}

Call::~Call() { ReleaseCancelFd(); }

void Call::ReleaseCancelFd() {
  if (cancel_fd_ < 0) return;
  {
    std::lock_guard<std::mutex> lock(ctx_.mu_);
    ctx_.cancel_fd_ = -1;
  }
  ::close(cancel_fd_);
  cancel_fd_ = -1;
}

void Call::End(Code code, std::string message) {
  response_.End(code, std::move(message));
  Teardown();
}

void Call::Fail(Code code, std::string message) {
  response_.DropMessages();
  response_.Fail(code, std::move(message));
  Teardown();
}

void Call::Teardown() {
  connection_.Close();
  ReleaseCancelFd();
}

void Call::Start(std::string_view method, std::string body, const Verifier& verifier) {
  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd_ < 0) return End(Code::kInternal, std::string("eventfd: ") + std::strerror(errno));
  {
    std::lock_guard<std::mutex> lock(ctx_.mu_);
    if (!ctx_.cancelled_) ctx_.cancel_fd_ = cancel_fd_;
  }
  if (ctx_.cancelled()) return End(Code::kCancelled, "the call was cancelled");
  if (DeadlinePassed()) return End(Code::kDeadlineExceeded, "deadline exceeded before the call");

  std::string timeout;
  if (deadline_) timeout = EncodeTimeout(*deadline_ - std::chrono::steady_clock::now());
  RequestHeaders headers;
  if (CallStatus built = headers.Build(method, timeout, ctx_.request_metadata_); !built.ok()) {
    return End(built.code, std::move(built.message));
  }

  CallStatus connected =
      connection_.Connect(socket_path_, deadline_, {cancel_fd_, ctx_.interrupt_fd_});
  if (!connected.ok()) {
    if (connected.code == Code::kCancelled) ctx_.Cancel();  // the interrupt descriptor's doing
    return End(connected.code, std::move(connected.message));
  }
  // Nothing has been sent yet, and nothing will be unless the verifier accepts the peer.
  if (verifier) {
    CallStatus verdict = verifier(connection_.fd());
    if (!verdict.ok()) return End(verdict.code, std::move(verdict.message));
  }
  ctx_.connected_ = true;
  CallStatus submitted = connection_.SubmitRequest(headers.fields(), std::move(body));
  if (!submitted.ok()) End(submitted.code, std::move(submitted.message));
}

void Call::Pump(bool until_message) {
  while (!response_.done()) {
    if (ctx_.cancelled()) return End(Code::kCancelled, "the call was cancelled");
    if (DeadlinePassed()) return End(Code::kDeadlineExceeded, "deadline exceeded");
    if (until_message && response_.has_message()) return;
    CallStatus turned = connection_.Turn(deadline_);
    if (!turned.ok()) {
      if (turned.code == Code::kCancelled) ctx_.Cancel();  // the interrupt descriptor's doing
      // What the stream's callbacks decided in this turn, if anything, wins.
      response_.End(turned.code, std::move(turned.message));
    }
  }
  Teardown();
}

bool Call::Read(std::string* message) {
  Pump(true);  // also notices a cancellation or the deadline while messages are queued
  if (!response_.has_message()) return false;
  *message = response_.PopMessage();
  return true;
}

CallStatus Call::Finish() {
  while (!response_.done()) {
    response_.DropMessages();
    Pump(true);
  }
  response_.DropMessages();
  return response_.status();
}

CallStatus Call::FinishUnary(std::string* reply) {
  if (!response_.done()) Pump(false);
  if (!response_.status().ok()) return response_.status();
  if (response_.message_count() == 0) {
    return {Code::kUnimplemented, "no message returned for a unary call"};
  }
  if (response_.message_count() > 1) {
    return {Code::kInternal, "more than one message returned for a unary call"};
  }
  *reply = response_.PopMessage();
  return response_.status();
}

}  // namespace bim::ctl::wire
