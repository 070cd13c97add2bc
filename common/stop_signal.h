#pragma once
// A one-way "we are stopping" flag that sleeping threads can wait on, so backoff sleeps and
// poll intervals end at once when the agent shuts down. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace bim {

class StopSignal {
 public:
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  // Sleeps for d, or less if Stop() is called; returns false when stopped.
  template <typename Rep, typename Period>
  bool SleepFor(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stopped_; });
    return !stopped_;
  }
  // Sleeps until Stop() is called.
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace bim
