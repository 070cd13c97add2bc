#pragma once
// The cancellation of one MCP request (`notifications/cancelled`). The server's reading thread
// calls Cancel(); the tool's worker thread registers each call to the agent it makes with Attach()
// so a cancel interrupts the call at once (wire::CallContext::Cancel) instead of when it would
// have ended. Both sides may run concurrently; every member is guarded by mu_. The token
// outlives both (shared_ptr).

#include <mutex>

#include "ctl/grpc_wire.h"

namespace bim::ctl {

class McpCancelToken {
 public:
  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (ctx_) ctx_->Cancel();
  }

  bool cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

  // Makes ctx the call that Cancel() interrupts; false (and nothing registered) when the
  // request is already cancelled, so the caller does not start the call at all.
  bool Attach(wire::CallContext* ctx) {
    std::lock_guard lock(mu_);
    if (cancelled_) return false;
    ctx_ = ctx;
    return true;
  }

  // Called before ctx goes away.
  void Detach() {
    std::lock_guard lock(mu_);
    ctx_ = nullptr;
  }

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;            // guarded by mu_
  wire::CallContext* ctx_ = nullptr;  // guarded by mu_; not owned
};

}  // namespace bim::ctl
