#pragma once
// Tells the watchers of a deployment that the store has something new for them.
//
// The hub carries no events: a watcher keeps its own cursor and reads from DeploymentStore, so
// a slow watcher never slows the others or loses anything, and nothing queues here. The one
// thing it holds is a deployment's notice: why following it is stuck when the reason cannot be
// stored, because storing is what fails (a full disk). It lives in memory only, and every
// watcher of the deployment is told (OnNewEvents) when it changes. A watcher
// must Subscribe before its first read; then no event can fall between its read and the next
// Notify (tailscale PR #6936).
//
// Thread-safety: all methods are thread-safe. Listeners are called without the hub's lock (a
// gRPC watch reads the store from OnNewEvents), so a listener may call back into the hub, and a
// slow one holds up only the Notify or Shutdown that called it, never Subscribe or Unsubscribe
// for other listeners. A listener is called only while it is subscribed: Unsubscribe returns
// once no call to it is under way on another thread, so the caller may destroy it right after.
// (A listener may unsubscribe itself from inside its own callback; then the call under way is
// its own, and it must not destroy itself before returning.) So Unsubscribe must not be called
// while holding anything that a callback of that listener waits for.

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

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
  // Sets the deployment's notice ("" clears it) and notifies its listeners when it changed.
  void SetNotice(const std::string& deployment_id, const std::string& notice);
  // "" when there is none.
  std::string Notice(const std::string& deployment_id);
  void Shutdown();
  size_t TotalWatchers();

 private:
  // Calls (listener->*callback)() without the lock if listener is still subscribed to
  // deployment_id, recording the call in calling_ meanwhile.
  void CallIfSubscribed(const std::string& deployment_id, Listener* listener,
                        void (Listener::*callback)());

  std::mutex mu_;
  std::condition_variable call_ended_;                    // signalled when a call leaves calling_
  std::map<std::string, std::set<Listener*>> listeners_;  // guarded by mu_
  std::map<std::string, std::string> notices_;            // guarded by mu_; none empty
  // Calls under way, and the thread of each: Unsubscribe waits for those of other threads.
  std::multiset<std::pair<Listener*, std::thread::id>> calling_;  // guarded by mu_
  bool shut_down_ = false;                                        // guarded by mu_
};

}  // namespace bim::daemon
