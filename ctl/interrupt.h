#pragma once
// Ctrl-C and SIGTERM for the ctl. Install() sets a signal handler that does only
// async-signal-safe work: with no handler set (SetHandler) it exits 130 right there, or, while a
// Deferred lives, marks the exit for when the last one ends. While an Interruptible lives, it
// only makes the Interruptible's descriptor readable: a watch polls it and detaches, with no
// thread. While a handler is set, the signal handler wakes a thread of this module's (started by
// the first SetHandler with a handler, so a quick command starts no thread at all), which runs
// the handler (the MCP server's). The handler is installed with SA_RESTART; poll(2) and other
// calls that a signal interrupts anyway see EINTR, which the ctl's loops retry.

#include <functional>

namespace bim::ctl::interrupt {

void Install();
// Replaces the handler; an empty function restores "exit 130". The handler runs on this
// module's thread, never in the signal handler.
void SetHandler(std::function<void()> handler);

// While one lives, SIGINT and SIGTERM neither exit nor run the handler: they make fd() readable
// (an eventfd the signal handler writes to), for calls that poll it
// (wire::CallContext::set_interrupt_fd). One at a time. fd() is -1 when no eventfd could be
// made; then a signal exits 130 as without one.
class Interruptible {
 public:
  Interruptible();
  ~Interruptible();
  Interruptible(const Interruptible&) = delete;
  Interruptible& operator=(const Interruptible&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// While one is alive, a signal that would exit 130 waits until the last one ends, then exits:
// for work that must not be cut half-way, such as moving generated files into place.
class Deferred {
 public:
  Deferred();
  ~Deferred();
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;
};

}  // namespace bim::ctl::interrupt
