#pragma once
// Remembers the answer to each Idempotency-Key for 24 hours, so that a client retrying a
// POST /api/deploy whose response it never saw gets the same deployment back instead of a
// second one (docs/API_CONTRACTS.md). Keyed by the header's value alone; the fingerprint of
// the request tells a retry from a reuse of the key for something else.
//
// Threading: not thread-safe; io thread only.

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"

namespace bim::mock {

class IdempotencyCache {
 public:
  struct Entry {
    std::string fingerprint;  // of the request
    std::string response;     // the body that was (or would have been) sent
    std::chrono::steady_clock::time_point stored_at;
  };
  enum class Outcome { kMiss, kReplay, kConflict };

  explicit IdempotencyCache(const Clock& clock, std::chrono::seconds ttl = std::chrono::hours(24))
      : clock_(clock), ttl_(ttl) {}

  // kReplay fills response with the stored body; kConflict: same key, other request.
  Outcome Lookup(const std::string& key, const std::string& fingerprint, std::string& response);
  void Store(const std::string& key, const std::string& fingerprint, const std::string& response);

 private:
  void Expire();

  const Clock& clock_;
  std::chrono::seconds ttl_;
  std::map<std::string, Entry> entries_;
};

}  // namespace bim::mock
