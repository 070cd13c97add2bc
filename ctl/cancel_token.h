#pragma once
// The cancellation of one operation: an MCP request (`notifications/cancelled`), or a CLI
// command. The MCP server's reading thread calls Cancel(); the tool's worker thread registers
// each call to the agent it makes with Attach() so a cancel interrupts the call at once
// (wire::CallContext::Cancel) instead of when it would have ended. Both sides may run
// concurrently; every member is guarded by mu_. The token outlives both (shared_ptr). The CLI's
// watch cancels through an interrupt descriptor instead (set_interrupt_fd): Ctrl-C makes it
// readable, which ends the attached call and makes the token cancelled, with no thread.

#include <poll.h>

#include <mutex>

#include "ctl/grpc_wire.h"

namespace bim::ctl {

class CancelToken {
 public:
  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (ctx_) ctx_->Cancel();
  }

  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_ || Interrupted();
  }

  // A descriptor that cancels the token once readable (interrupt::Interruptible's); -1: none.
  void set_interrupt_fd(int fd) {
    std::lock_guard lock(mu_);
    interrupt_fd_ = fd;
  }

  // Makes ctx the call that Cancel() interrupts; false (and nothing registered) when the
  // request is already cancelled, so the caller does not start the call at all.
  bool Attach(wire::CallContext* ctx) {
    std::lock_guard lock(mu_);
    if (cancelled_ || Interrupted()) return false;
    ctx->set_interrupt_fd(interrupt_fd_);
    ctx_ = ctx;
    return true;
  }

  // Called before ctx goes away.
  void Detach() {
    std::lock_guard lock(mu_);
    ctx_ = nullptr;
  }

 private:
  bool Interrupted() const {  // mu_ held
    if (interrupt_fd_ < 0) return false;
    pollfd p{interrupt_fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  mutable std::mutex mu_;
  bool cancelled_ = false;            // guarded by mu_
  int interrupt_fd_ = -1;             // guarded by mu_; not owned
  wire::CallContext* ctx_ = nullptr;  // guarded by mu_; not owned
};

}  // namespace bim::ctl
