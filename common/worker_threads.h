#pragma once
// Detached worker threads, counted so that their owner can wait for them to end before it
// goes away: the agent's calls that reach the platform (daemon/agent_service.h) and the MCP
// server's tool calls and tasks (ctl/mcp/server.h) run on them.
// Thread-safe; the owner must outlive every work it starts, or wait for them first.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace bim {

class WorkerThreads {
 public:
  // Runs work on a new thread; throws (and runs nothing) when no thread can be started.
  void Start(std::function<void()> work);
  // Waits until no work runs, or at most timeout; false when some still runs.
  bool WaitIdleFor(std::chrono::milliseconds timeout);
  // Waits until no work runs.
  void WaitIdle();

 private:
  std::mutex mu_;
  std::condition_variable cv_;  // with mu_: a work ended
  size_t running_ = 0;          // guarded by mu_
};

}  // namespace bim
