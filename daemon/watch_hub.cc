#include "daemon/watch_hub.h"

#include <vector>

namespace bim::daemon {

void WatchHub::Subscribe(const std::string& deployment_id, Listener* listener) {
  {
    std::lock_guard lock(mu_);
    if (!shut_down_) {
      listeners_[deployment_id].insert(listener);
      return;
    }
  }
  listener->OnShutdown();  // the caller's own listener, not subscribed: no one else calls it
}

void WatchHub::Unsubscribe(const std::string& deployment_id, Listener* listener) {
  std::unique_lock lock(mu_);
  auto it = listeners_.find(deployment_id);
  if (it != listeners_.end()) {
    it->second.erase(listener);
    if (it->second.empty()) listeners_.erase(it);
  }
  // No new call can start now; wait for the ones under way on other threads, so that the
  // caller may destroy the listener as soon as this returns.
  const auto self = std::this_thread::get_id();
  call_ended_.wait(lock, [&] {
    for (const auto& [l, thread] : calling_) {
      if (l == listener && thread != self) return false;
    }
    return true;
  });
}

void WatchHub::CallIfSubscribed(const std::string& deployment_id, Listener* listener,
                                void (Listener::*callback)()) {
  const auto call = std::make_pair(listener, std::this_thread::get_id());
  {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(deployment_id);
    // Unsubscribed since the caller copied the listeners: it may be gone already.
    if (it == listeners_.end() || it->second.count(listener) == 0) return;
    calling_.insert(call);
  }
  struct EndCall {
    WatchHub& hub;
    const std::pair<Listener*, std::thread::id>& call;
    ~EndCall() {
      {
        std::lock_guard lock(hub.mu_);
        hub.calling_.erase(hub.calling_.find(call));
      }
      hub.call_ended_.notify_all();
    }
  } end{*this, call};
  (listener->*callback)();
}

void WatchHub::Notify(const std::string& deployment_id) {
  std::vector<Listener*> listeners;
  {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(deployment_id);
    if (it == listeners_.end()) return;
    listeners.assign(it->second.begin(), it->second.end());
  }
  for (Listener* l : listeners) CallIfSubscribed(deployment_id, l, &Listener::OnNewEvents);
}

void WatchHub::SetNotice(const std::string& deployment_id, const std::string& notice) {
  {
    std::lock_guard lock(mu_);
    auto it = notices_.find(deployment_id);
    std::string current = it == notices_.end() ? "" : it->second;
    if (current == notice) return;
    if (notice.empty()) {
      notices_.erase(it);
    } else {
      notices_[deployment_id] = notice;
    }
  }
  Notify(deployment_id);
}

std::string WatchHub::Notice(const std::string& deployment_id) {
  std::lock_guard lock(mu_);
  auto it = notices_.find(deployment_id);
  return it == notices_.end() ? "" : it->second;
}

void WatchHub::Shutdown() {
  std::vector<std::pair<std::string, Listener*>> listeners;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;  // from here on, Subscribe tells the newcomer itself
    for (const auto& [id, set] : listeners_) {
      for (Listener* l : set) listeners.emplace_back(id, l);
    }
  }
  for (const auto& [id, l] : listeners) CallIfSubscribed(id, l, &Listener::OnShutdown);
}

size_t WatchHub::TotalWatchers() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto& [id, set] : listeners_) n += set.size();
  return n;
}

}  // namespace bim::daemon
