#pragma once
// The mock's clock under --test-clock: real time plus an offset that POST
// /mock/clock/advance?ms=N moves forward, so a test makes a token or a device code expire at
// once instead of sleeping past its lifetime. Both the wall and the steady time move; waits
// (SleepFor) take real time. Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace bim::mock {

class ShiftableClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now() + std::chrono::milliseconds(offset_ms_.load());
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::now() + std::chrono::milliseconds(offset_ms_.load());
  }
  bool SleepFor(StopSignal& stop, std::chrono::milliseconds d) const override {
    return stop.SleepFor(d);
  }
  void Advance(std::chrono::milliseconds d) { offset_ms_ += d.count(); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace bim::mock
