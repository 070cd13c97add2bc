#pragma once
// Ctrl-C and SIGTERM for the ctl. Install() blocks both signals (before any other thread starts:
// threads inherit the mask) and waits for them on a thread of its own. While a handler is set it
// runs on that thread (e.g. to cancel a watch stream and detach); otherwise the ctl exits 130.

#include <functional>

namespace bim::ctl::interrupt {

void Install();
// Replaces the handler; an empty function restores "exit 130".
void SetHandler(std::function<void()> handler);

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
