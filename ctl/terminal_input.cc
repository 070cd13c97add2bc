#include "ctl/terminal_input.h"

#include <fmt/format.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "ctl/interrupt.h"

namespace bim::ctl {
namespace {

OpError TooLong(size_t max_bytes) {
  return OpFail(OpFailure::kUsage,
                fmt::format("the value is over {} bytes, more than the platform keeps", max_bytes));
}

OpError ReadFailed() {
  return OpFail(OpFailure::kLocalFiles,
                fmt::format("cannot read standard input: {}", std::strerror(errno)));
}

// To the terminal itself; to stderr when it was opened for reading only.
void Show(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EBADF && fd != STDERR_FILENO) {
      fd = STDERR_FILENO;
      continue;
    }
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Everything up to the end of the input, without one trailing newline.
OpResult<std::string> ReadAll(int fd, size_t max_bytes) {
  std::string value;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReadFailed();
    if (n == 0) break;
    value.append(buf, static_cast<size_t>(n));
    if (value.size() > max_bytes + 1) return TooLong(max_bytes);
  }
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (value.size() > max_bytes) return TooLong(max_bytes);
  return value;
}

// One line from a terminal whose echo is off; Ctrl-C ends the wait.
OpResult<std::string> ReadLine(int fd, size_t max_bytes) {
  interrupt::Interruptible interruptible;
  std::string line;
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {interruptible.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return ReadFailed();
    }
    if (fds[1].revents) return OpCancelled();
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ReadFailed();
    if (n == 0) return line;  // Ctrl-D
    line.append(buf, static_cast<size_t>(n));
    if (size_t nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      break;
    }
    if (line.size() > max_bytes) return TooLong(max_bytes);
  }
  if (line.size() > max_bytes) return TooLong(max_bytes);
  return line;
}

}  // namespace

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

OpResult<bool> AskYesNo(int fd, const std::string& question) {
  Show(fd, question);
  auto line = ReadLine(fd, 64);
  if (!line.ok()) {
    if (line.error().kind == OpFailure::kUsage) return false;  // a long answer is no yes
    return line.error();
  }
  std::string answer;
  for (char c : *line) {
    if (c != ' ' && c != '\t' && c != '\r') answer += static_cast<char>(std::tolower(c));
  }
  return answer == "y" || answer == "yes";
}

OpResult<std::string> ReadSecret(int fd, const std::string& prompt, size_t max_bytes) {
  termios saved{};
  if (!::isatty(fd) || ::tcgetattr(fd, &saved) != 0) return ReadAll(fd, max_bytes);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) return ReadFailed();
  // Echo is off before the prompt shows: nothing typed after it can appear.
  Show(fd, prompt);
  auto line = ReadLine(fd, max_bytes);
  ::tcsetattr(fd, TCSANOW, &saved);
  Show(fd, "\n");
  return line;
}

}  // namespace bim::ctl
