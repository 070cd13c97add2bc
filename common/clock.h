#pragma once
// Time behind an interface, so token expiry, backoff and timeouts can be tested with a
// simulated clock instead of real waiting: reading the time and waiting for it both go through
// here. RealClock is thread-safe; FakeClock is simulated time for tests.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "common/stop_signal.h"

namespace bim {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps people read and for token expiry sent by the platform.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for timeouts and backoff.
  virtual std::chrono::steady_clock::time_point Steady() const = 0;

  // Waits d of this clock's time, or less when stop is signalled; false when stopped. Every
  // backoff, retry wait and poll interval of the agent waits here.
  virtual bool SleepFor(StopSignal& stop, std::chrono::milliseconds d) const = 0;

  int64_t NowUnixMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::now();
  }
  bool SleepFor(StopSignal& stop, std::chrono::milliseconds d) const override {
    return stop.SleepFor(d);
  }
};

// Simulated time: it moves when a test advances it, and when a thread sleeps on it, by the
// length of the sleep, at once; so a 30 s backoff costs a test nothing. Threads that sleep at
// the same time each move it on (time is shared, not per thread), which keeps it monotonic and
// bounds no test by real time. The wall clock can also jump on its own, as a real one does
// when it is set. Safe to use from several threads.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_unix_ms = 1'700'000'000'000) : ms_(start_unix_ms) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(ms_.load() + wall_offset_ms_.load()));
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  bool SleepFor(StopSignal& stop, std::chrono::milliseconds d) const override {
    if (stop.stopped()) return false;
    ms_ += std::max<int64_t>(d.count(), 0);
    std::this_thread::yield();  // let the threads that time moved for run
    return !stop.stopped();
  }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }
  // Sets the wall clock on by d (back when negative); steady time does not move.
  void JumpWall(std::chrono::milliseconds d) { wall_offset_ms_ += d.count(); }

 private:
  mutable std::atomic<int64_t> ms_;
  std::atomic<int64_t> wall_offset_ms_{0};
};

}  // namespace bim
