#include "ctl/wire/call_context.h"

#include <unistd.h>

#include <cstdint>

namespace bim::ctl::wire {

void CallContext::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (cancel_fd_ >= 0) {
    uint64_t one = 1;
    // Only fails when the counter would overflow, and then the fd is readable anyway.
    [[maybe_unused]] ssize_t n = ::write(cancel_fd_, &one, sizeof one);
  }
}

bool CallContext::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

}  // namespace bim::ctl::wire
