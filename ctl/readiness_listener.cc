#include "ctl/readiness_listener.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace bim::ctl {

Result<ReadinessListener> ReadinessListener::Open() {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Error(ErrorCode::kInternal,
                 fmt::format("cannot create a socket: {}", std::strerror(errno)));
  }
  int on = 1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socklen_t len = sizeof(sa_family_t);  // autobind: the kernel picks a unique abstract name
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &(len = sizeof addr)) != 0 ||
      len <= offsetof(sockaddr_un, sun_path) + 1) {
    int err = errno;
    ::close(fd);
    return Error(ErrorCode::kInternal,
                 fmt::format("cannot bind a notify socket: {}", std::strerror(err)));
  }
  // sun_path[0] is NUL for an abstract name; sd_notify writes that NUL as "@".
  std::string name(addr.sun_path + 1, len - offsetof(sockaddr_un, sun_path) - 1);
  return ReadinessListener(fd, "@" + name);
}

ReadinessListener::~ReadinessListener() {
  if (fd_ >= 0) ::close(fd_);
}

ReadinessListener::Report ReadinessListener::Wait(std::chrono::milliseconds timeout) {
  Report report;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return report;
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return report;

    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t got = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0) continue;
    const ucred* cred = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        cred = reinterpret_cast<const ucred*>(CMSG_DATA(c));
      }
    }
    if (!cred || cred->uid != ::getuid()) continue;

    bool failed = false;
    std::string status;
    std::string_view text(buf, static_cast<size_t>(got));
    while (!text.empty()) {
      auto eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
      if (line == "READY=1") report.ready = true;
      if (line.substr(0, 6) == "ERRNO=") failed = true;
      if (line.substr(0, 7) == "STATUS=") status = line.substr(7);
    }
    if (failed) {
      report.failed = true;
      report.message = status.empty() ? "no reason given; see the agent's log" : status;
    }
    if (report.ready || report.failed) return report;
  }
}

}  // namespace bim::ctl
