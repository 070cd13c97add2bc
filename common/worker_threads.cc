#include "common/worker_threads.h"

#include <thread>

namespace bim {

void WorkerThreads::Start(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    ++running_;
  }
  try {
    std::thread([this, work = std::move(work)] {
      work();
      std::lock_guard lock(mu_);
      --running_;
      cv_.notify_all();
    }).detach();
  } catch (...) {
    std::lock_guard lock(mu_);
    --running_;
    throw;
  }
}

bool WorkerThreads::WaitIdleFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

void WorkerThreads::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return running_ == 0; });
}

}  // namespace bim
