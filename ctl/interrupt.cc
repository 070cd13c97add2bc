#include "ctl/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>

namespace bim::ctl::interrupt {
namespace {

// What the signal handler reads: lock-free atomics and a descriptor set before it is used.
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);
std::atomic<bool> g_handler_set{false};   // g_handler is not empty
std::atomic<int> g_deferred{0};           // live Deferred objects
std::atomic<bool> g_exit_pending{false};  // a signal asked to exit 130
std::atomic<int> g_wake_write{-1};        // the dispatcher's pipe, once it runs
std::atomic<int> g_interrupt{-1};         // the live Interruptible's eventfd

std::mutex g_mu;
std::function<void()> g_handler;  // guarded by g_mu
bool g_dispatcher = false;        // guarded by g_mu; the thread runs

// Exit 130 now, or when the last Deferred ends. Async-signal-safe. Whichever of this and
// ~Deferred comes second sees the other's write (both are sequentially consistent), so a signal
// that races the last Deferred's end is never lost.
void ExitOrDefer() {
  g_exit_pending.store(true);
  if (g_deferred.load() == 0) ::_exit(130);
}

void OnSignal(int) {
  int saved_errno = errno;
  int wake = g_wake_write.load();
  if (int interrupt = g_interrupt.load(); interrupt >= 0) {
    uint64_t one = 1;
    // Fails only when the counter would overflow, and then the fd is readable anyway.
    [[maybe_unused]] ssize_t n = ::write(interrupt, &one, sizeof one);
  } else if (g_handler_set.load() && wake >= 0) {
    char c = 1;
    // A full pipe already holds a wake-up the dispatcher has not read.
    [[maybe_unused]] ssize_t n = ::write(wake, &c, 1);
  } else {
    ExitOrDefer();
  }
  errno = saved_errno;
}

// Runs the handler once for each signal the pipe reports; when the handler was cleared in the
// meantime, does what the signal handler would have done without one.
void Dispatch(int wake_read) {
  for (;;) {
    char buf[64];
    ssize_t n = ::read(wake_read, buf, sizeof buf);
    if (n <= 0) continue;  // EINTR; the write end is never closed
    for (ssize_t i = 0; i < n; ++i) {
      std::function<void()> h;
      {
        std::lock_guard lock(g_mu);
        h = g_handler;
      }
      if (!h) {
        ExitOrDefer();
        continue;
      }
      h();
    }
  }
}

}  // namespace

void Install() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

void SetHandler(std::function<void()> handler) {
  std::lock_guard lock(g_mu);
  if (handler && !g_dispatcher) {
    int wake[2];
    // The signal handler's end never blocks.
    if (::pipe2(wake, O_CLOEXEC) != 0 || ::fcntl(wake[1], F_SETFL, O_NONBLOCK) != 0) {
      throw std::system_error(errno, std::generic_category(), "a pipe for the Ctrl-C handler");
    }
    std::thread([fd = wake[0]] { Dispatch(fd); }).detach();
    g_wake_write.store(wake[1]);
    g_dispatcher = true;
  }
  g_handler = std::move(handler);
  g_handler_set.store(static_cast<bool>(g_handler));
}

// The eventfd lives as long as the process: the signal handler may have read its number just
// before an Interruptible ended, and must not write to a closed (or reused) descriptor.
Interruptible::Interruptible() {
  static const int kFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fd_ = kFd;
  if (fd_ < 0) return;
  uint64_t stale = 0;  // a signal for the one before
  [[maybe_unused]] ssize_t n = ::read(fd_, &stale, sizeof stale);
  g_interrupt.store(fd_);
}

Interruptible::~Interruptible() { g_interrupt.store(-1); }

Deferred::Deferred() { ++g_deferred; }

Deferred::~Deferred() {
  if (--g_deferred == 0 && g_exit_pending.load()) ::_exit(130);
}

}  // namespace bim::ctl::interrupt
