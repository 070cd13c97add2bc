#pragma once
// Time behind an interface, so token expiry, backoff and timeouts can be tested with a
// simulated clock instead of real waiting. RealClock is thread-safe; FakeClock is for tests.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace bim {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps people read and for token expiry sent by the platform.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for timeouts and backoff.
  virtual std::chrono::steady_clock::time_point Steady() const = 0;

  int64_t NowUnixMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch())
        .count();
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
};

// A clock that moves only when told to. Safe to read from several threads.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_unix_ms = 1'700'000'000'000) : ms_(start_unix_ms) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace bim
