#pragma once
// The ctl's side of systemd's notify protocol (sd_notify), for an agent it starts on demand:
// a datagram socket on an abstract address the kernel picks (autobind), passed to the agent in
// NOTIFY_SOCKET. The agent sends READY=1 once its socket accepts connections, or STATUS=<why>
// with ERRNO=<n> when it refuses to start, just as it tells systemd under the unit. So the ctl
// learns at once why an agent did not start, instead of waiting out a timeout and pointing at
// the agent's log. Datagrams from other users are ignored (the kernel-attached credentials).
//
// One thread; not copyable.

#include <chrono>
#include <string>

#include "common/result.h"

namespace bim::ctl {

class ReadinessListener {
 public:
  struct Report {
    bool ready = false;   // READY=1 arrived
    bool failed = false;  // ERRNO= arrived; message is the STATUS= text
    std::string message;
  };

  static Result<ReadinessListener> Open();
  ReadinessListener(ReadinessListener&& o) noexcept : fd_(o.fd_), address_(std::move(o.address_)) {
    o.fd_ = -1;
  }
  ReadinessListener& operator=(ReadinessListener&&) = delete;
  ~ReadinessListener();

  // The value for NOTIFY_SOCKET ("@" and the abstract name).
  const std::string& address() const { return address_; }
  // Reads notifications until READY=1 or a failure arrives, or timeout passes (then neither
  // ready nor failed is set).
  Report Wait(std::chrono::milliseconds timeout);

 private:
  ReadinessListener(int fd, std::string address) : fd_(fd), address_(std::move(address)) {}

  int fd_;
  std::string address_;
};

}  // namespace bim::ctl
