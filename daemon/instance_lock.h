#pragma once
// One agent per user. gRPC silently deletes and replaces a socket file when it binds, so a
// second agent would steal the first one's socket; an exclusive flock on a lock file in the
// state folder, taken before binding, prevents that (after watchman's ProcessLock). Only the
// lock holder may remove a stale socket. The lock goes with the process, even on SIGKILL.
//
// The holder writes its AgentRecord (pid, socket, who started it) into the lock file, so
// clients find it whatever socket path their own environment would give, and so a
// systemd-managed agent can tell an on-demand agent from one a person started.

#include <chrono>
#include <string>

#include "common/agent_record.h"
#include "common/result.h"

namespace bim::daemon {

struct LockWait {
  // How long to wait for a holder that is stopping (no longer listening) to exit.
  std::chrono::milliseconds patience{10000};
  // A holder that listens and was started by a ctl is asked (SIGTERM) to stop, and its lock
  // awaited: the unit's agent takes over from an on-demand one, whose watches it then resumes
  // from the shared database. Without this, or for any other holder, a listening holder is
  // refused at once.
  bool take_over_from_ctl_started = false;
};

class InstanceLock {
 public:
  // Fails with kConflict, naming the running agent's pid, when another agent holds the lock.
  static Result<InstanceLock> Acquire(const std::string& path, const AgentRecord& self);
  // Like Acquire, but waits as `wait` says for a holder that is stopping (an agent leaves its
  // socket first and its lock last, when it exits), or that it asked to stop.
  static Result<InstanceLock> AcquireAfterStopping(const std::string& path, const AgentRecord& self,
                                                   const LockWait& wait);
  InstanceLock(InstanceLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace bim::daemon
