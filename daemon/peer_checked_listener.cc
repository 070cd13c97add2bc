#include "daemon/peer_checked_listener.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"

namespace bim::daemon {

Result<std::unique_ptr<PeerCheckedListener>> PeerCheckedListener::Listen(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("socket path {} is longer than {} bytes; set BACKEND_IM_SOCKET to a "
                             "shorter one",
                             path, sizeof addr.sun_path - 1));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error(ErrorCode::kIo, fmt::format("socket: {}", std::strerror(errno)));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  mode_t old = ::umask(077);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 128) != 0) {
    Error e(ErrorCode::kIo, fmt::format("cannot listen on {}: {}", path, std::strerror(errno)));
    ::close(fd);
    return e;
  }
  ::chmod(path.c_str(), 0600);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    Error e(ErrorCode::kIo, fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
    ::close(fd);
    return e;
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(fd);
    return Error(ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno)));
  }
  return std::unique_ptr<PeerCheckedListener>(
      new PeerCheckedListener(fd, wake[0], wake[1], path, st.st_dev, st.st_ino));
}

void PeerCheckedListener::RemoveSocket() const {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) return;  // gone already
  if (st.st_dev != dev_ || st.st_ino != ino_) {
    log::Warn(
        "{} is another agent's socket now (this agent's files were removed under it); "
        "leaving it",
        path_);
    return;
  }
  ::unlink(path_.c_str());
}

PeerCheckedListener::~PeerCheckedListener() {
  Stop();
  ::close(fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void PeerCheckedListener::Start(grpc::Server* server) {
  thread_ = std::thread([this, server] { Loop(server); });
}

void PeerCheckedListener::Stop() {
  if (!thread_.joinable()) return;
  char c = 1;
  (void)::write(wake_write_, &c, 1);
  thread_.join();
}

namespace {

// Out of descriptors or memory: accept fails at once for as long as the pending connection
// waits, so retrying straight away spins. These pass only when something else closes.
bool OutOfResources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

}  // namespace

void PeerCheckedListener::Loop(grpc::Server* server) {
  const uid_t me = ::getuid();
  constexpr std::chrono::milliseconds kMaxPause(1000);
  std::chrono::milliseconds pause(0);  // after a failed accept, before the next poll
  log::Throttle accept_log(std::chrono::seconds(10));
  log::Throttle refused_log(std::chrono::seconds(10));
  uint64_t held_back = 0;
  while (true) {
    // While paused, wait on the wake pipe alone: the listening socket stays readable.
    pollfd fds[2] = {{wake_read_, POLLIN, 0}, {fd_, POLLIN, 0}};
    int n =
        pause.count() > 0 ? ::poll(fds, 1, static_cast<int>(pause.count())) : ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::Error("poll on the agent socket failed: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;
    int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      int err = errno;
      if (err == EAGAIN || err == EINTR || err == ECONNABORTED) {
        pause = std::chrono::milliseconds(0);
        continue;
      }
      pause = OutOfResources(err)
                  ? std::min(kMaxPause, std::max(std::chrono::milliseconds(10), pause * 2))
                  : std::chrono::milliseconds(10);
      if (accept_log.Allow(&held_back)) {
        log::Warn("accept on the agent socket failed: {}{}; pausing up to {} ms between tries",
                  std::strerror(err),
                  held_back ? fmt::format(" ({} more failures not logged)", held_back) : "",
                  kMaxPause.count());
      }
      continue;
    }
    pause = std::chrono::milliseconds(0);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != me) {
      ++refused_;
      if (refused_log.Allow(&held_back)) {
        log::Warn(
            "refused a connection on {} from uid {} (pid {}): this agent serves only uid {}{}",
            path_, static_cast<long>(cred.uid), static_cast<long>(cred.pid), static_cast<long>(me),
            held_back ? fmt::format(" ({} more refusals not logged)", held_back) : "");
      }
      ::close(conn);
      continue;
    }
    grpc::AddInsecureChannelFromFd(server, conn);  // gRPC owns conn from here
  }
}

}  // namespace bim::daemon
