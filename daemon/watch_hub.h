#pragma once
// Tells the watchers of a deployment that the store has something new for them.
//
// The hub carries no events: a watcher keeps its own cursor and reads from DeploymentStore, so
// a slow watcher never slows the others or loses anything, and nothing queues here. A watcher
// must Subscribe before its first read; then no event can fall between its read and the next
// Notify (tailscale PR #6936).
//
// Thread-safety: all methods are thread-safe. Listener::OnNewEvents is called with the hub's
// lock held: it must not call back into the hub and must not block.

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace bim::daemon {

class WatchHub {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnNewEvents() = 0;
    // The agent is stopping; end the stream.
    virtual void OnShutdown() = 0;
  };

  void Subscribe(const std::string& deployment_id, Listener* listener);
  void Unsubscribe(const std::string& deployment_id, Listener* listener);
  void Notify(const std::string& deployment_id);
  void Shutdown();
  size_t WatcherCount(const std::string& deployment_id);
  size_t TotalWatchers();

 private:
  std::mutex mu_;
  std::map<std::string, std::set<Listener*>> listeners_;  // guarded by mu_
  bool shut_down_ = false;                                // guarded by mu_
};

}  // namespace bim::daemon
