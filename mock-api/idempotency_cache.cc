#include "mock-api/idempotency_cache.h"

namespace bim::mock {

IdempotencyCache::Outcome IdempotencyCache::Lookup(const std::string& key,
                                                   const std::string& fingerprint,
                                                   std::string& response) {
  Expire();
  auto it = entries_.find(key);
  if (it == entries_.end()) return Outcome::kMiss;
  if (it->second.fingerprint != fingerprint) return Outcome::kConflict;
  response = it->second.response;
  return Outcome::kReplay;
}

void IdempotencyCache::Store(const std::string& key, const std::string& fingerprint,
                             const std::string& response) {
  entries_[key] = Entry{fingerprint, response, clock_.Steady()};
}

void IdempotencyCache::Expire() {
  auto now = clock_.Steady();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.stored_at >= ttl_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace bim::mock
