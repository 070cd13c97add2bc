// The ctl's Ctrl-C handling (ctl/interrupt.h), with real signals: raised in this process while
// an Interruptible lives, and in a child where the signal must exit 130.
#include "ctl/interrupt.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace bim::ctl;

namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// Runs body in a child process and returns how the child ended (the exit code, or 128 + the
// signal that ended it).
int InChild(void (*body)()) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("while an Interruptible lives, SIGINT and SIGTERM only make its descriptor readable") {
  int code = InChild([] {
    interrupt::Install();
    {
      interrupt::Interruptible during;
      if (during.fd() < 0 || Readable(during.fd())) ::_exit(10);
      ::raise(SIGINT);  // would exit 130 without it
      if (!Readable(during.fd())) ::_exit(11);
      ::raise(SIGTERM);
    }
    interrupt::Interruptible next;  // a signal for the one before does not carry over
    if (next.fd() < 0 || Readable(next.fd())) ::_exit(12);
  });
  CHECK(code == 0);
}

TEST_CASE("once the Interruptible has ended, Ctrl-C exits 130 again") {
  int code = InChild([] {
    interrupt::Install();
    { interrupt::Interruptible during; }
    ::raise(SIGINT);
    ::_exit(13);  // not reached
  });
  CHECK(code == 130);
}
