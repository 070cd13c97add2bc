#include "daemon/instance_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "common/log.h"
#include "common/unix_socket.h"

namespace bim::daemon {
namespace {

std::optional<AgentRecord> ReadRecord(int fd) {
  char buf[4096];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return std::nullopt;
  return ParseAgentRecord(std::string_view(buf, static_cast<size_t>(n)));
}

struct Holder {
  Error error;
  std::optional<AgentRecord> record;
};

// Takes the lock, or says who holds it.
std::variant<int, Holder> TryLock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Holder{
        Error(ErrorCode::kIo, fmt::format("cannot open {}: {}", path, std::strerror(errno))),
        std::nullopt};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  int err = errno;
  std::optional<AgentRecord> record = ReadRecord(fd);
  ::close(fd);
  if (err != EWOULDBLOCK) {
    return Holder{
        Error(ErrorCode::kIo, fmt::format("cannot lock {}: {}", path, std::strerror(err))),
        std::nullopt};
  }
  std::string who = record ? fmt::format("pid {}", record->pid) : "pid ?";
  if (record && record->started_by == AgentRecord::kStartedBySystemd) {
    who += ", the systemd user service";
  } else if (record && record->started_by == AgentRecord::kStartedByHand) {
    who += ", started by hand";
  }
  return Holder{Error(ErrorCode::kConflict,
                      fmt::format("another backend-imd ({}) is already running for this user; "
                                  "stop it with `backend-im daemon stop` first",
                                  who)),
                record};
}

// Written whole, then cut to length, so a reader never sees an empty file in between. The lock
// itself is what excludes a second agent; the record only helps clients find this one.
void WriteRecord(int fd, const std::string& path, const AgentRecord& self) {
  std::string text = FormatAgentRecord(self);
  if (::pwrite(fd, text.data(), text.size(), 0) < 0 ||
      ::ftruncate(fd, static_cast<off_t>(text.size())) != 0) {
    log::Warn("cannot write {}: {}; clients must find the socket by its default path", path,
              std::strerror(errno));
  }
}

}  // namespace

Result<InstanceLock> InstanceLock::Acquire(const std::string& path, const AgentRecord& self) {
  return AcquireAfterStopping(path, self, LockWait{std::chrono::milliseconds(0), false});
}

Result<InstanceLock> InstanceLock::AcquireAfterStopping(const std::string& path,
                                                        const AgentRecord& self,
                                                        const LockWait& wait) {
  auto give_up = std::chrono::steady_clock::now() + wait.patience;
  long asked = 0;  // the holder asked to stop, once
  for (;;) {
    auto taken = TryLock(path);
    if (auto* fd = std::get_if<int>(&taken)) {
      WriteRecord(*fd, path, self);
      return InstanceLock(*fd);
    }
    const Holder& holder = std::get<Holder>(taken);
    if (holder.error.code != ErrorCode::kConflict) return holder.error;
    // A holder with no record is an older agent: it listens where we would.
    std::string socket = holder.record && !holder.record->socket_path.empty()
                             ? holder.record->socket_path
                             : self.socket_path;
    if (AcceptsConnections(socket) && !(holder.record && holder.record->pid == asked)) {
      bool replaceable = wait.take_over_from_ctl_started && holder.record &&
                         holder.record->started_by == AgentRecord::kStartedByCtl;
      if (!replaceable) return holder.error;
      asked = holder.record->pid;
      log::Info("an on-demand backend-imd (pid {}) is running; asking it to hand over", asked);
      if (::kill(static_cast<pid_t>(asked), SIGTERM) != 0) {
        return Error(ErrorCode::kConflict,
                     fmt::format("another backend-imd (pid {}) is running and cannot be asked to "
                                 "stop ({}); stop it with `backend-im daemon stop`",
                                 asked, std::strerror(errno)));
      }
    }
    if (std::chrono::steady_clock::now() >= give_up) return holder.error;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace bim::daemon
