#pragma once
// Waiting behind an interface, so retry waits and device-flow polling are tested without real
// sleeps: a test's sleeper only records the waits and moves a fake clock. RealSleeper sleeps
// the calling thread.

#include <chrono>
#include <thread>

namespace bim::conformance {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

class RealSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace bim::conformance
