#include "daemon/watch_hub.h"

namespace bim::daemon {

void WatchHub::Subscribe(const std::string& deployment_id, Listener* listener) {
  std::lock_guard lock(mu_);
  if (shut_down_) {
    listener->OnShutdown();
    return;
  }
  listeners_[deployment_id].insert(listener);
}

void WatchHub::Unsubscribe(const std::string& deployment_id, Listener* listener) {
  std::lock_guard lock(mu_);
  auto it = listeners_.find(deployment_id);
  if (it == listeners_.end()) return;
  it->second.erase(listener);
  if (it->second.empty()) listeners_.erase(it);
}

void WatchHub::Notify(const std::string& deployment_id) {
  std::lock_guard lock(mu_);
  auto it = listeners_.find(deployment_id);
  if (it == listeners_.end()) return;
  for (Listener* l : it->second) l->OnNewEvents();
}

void WatchHub::Shutdown() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  for (auto& [id, set] : listeners_) {
    for (Listener* l : set) l->OnShutdown();
  }
}

size_t WatchHub::WatcherCount(const std::string& deployment_id) {
  std::lock_guard lock(mu_);
  auto it = listeners_.find(deployment_id);
  return it == listeners_.end() ? 0 : it->second.size();
}

size_t WatchHub::TotalWatchers() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto& [id, set] : listeners_) n += set.size();
  return n;
}

}  // namespace bim::daemon
