#pragma once
// One agent per user. gRPC silently deletes and replaces a socket file when it binds, so a
// second agent would steal the first one's socket; an exclusive flock on a lock file in the
// state folder, taken before binding, prevents that (after watchman's ProcessLock). Only the
// lock holder may remove a stale socket. The lock goes with the process, even on SIGKILL.

#include <chrono>
#include <string>

#include "common/result.h"

namespace bim::daemon {

class InstanceLock {
 public:
  // Fails with kConflict, naming the running agent's pid, when another agent holds the lock.
  static Result<InstanceLock> Acquire(const std::string& path);
  // Like Acquire, but while the holder no longer accepts connections on socket_path it is
  // taken to be stopping (an agent leaves its socket first and its lock last, when it exits),
  // and the lock is tried again for up to `patience`. A holder that listens is refused at once.
  static Result<InstanceLock> AcquireAfterStopping(const std::string& path,
                                                   const std::string& socket_path,
                                                   std::chrono::milliseconds patience);
  InstanceLock(InstanceLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace bim::daemon
