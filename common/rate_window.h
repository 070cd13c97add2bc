#pragma once
// Counts events in fixed windows of time, to tell a peer that is merely busy from one that
// floods: Add() is false once more than `limit` events fell into the window the current one is
// in. The caller passes the time, so the WebSocket client's steady clock and the agent's Clock
// (simulated in tests) both serve. A fixed window lets at most 2 × limit through across a
// window's edge, which is all a bound needs. Not thread-safe: one owner.
//
// C++17-clean: ws/ (built as C++17) includes it.

#include <chrono>
#include <cstddef>

namespace bim {

class RateWindow {
 public:
  RateWindow(std::size_t limit, std::chrono::steady_clock::duration window)
      : limit_(limit), window_(window) {}

  // Counts one event at `now`; false when it is over the limit of its window.
  bool Add(std::chrono::steady_clock::time_point now) {
    if (count_ == 0 || now - start_ >= window_ || now < start_) {
      start_ = now;
      count_ = 0;
    }
    return ++count_ <= limit_;
  }

  std::size_t limit() const { return limit_; }
  std::chrono::steady_clock::duration window() const { return window_; }

 private:
  std::size_t limit_;
  std::chrono::steady_clock::duration window_;
  std::chrono::steady_clock::time_point start_{};
  std::size_t count_ = 0;
};

}  // namespace bim
