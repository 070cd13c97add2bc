#pragma once
// The custom domains added through this agent (docs/API_CONTRACTS.md §6.3), kept in the agent's
// database with the states the agent last saw, so that the background checks of their
// certificates (DomainChecker) survive a restart, and so that the person hears once, and only
// once, how each certificate ended. A domain is known per platform (api_url) and project.
//
// Thread-safe: every call takes the database's mutex for its statement or transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/result.h"
#include "daemon/database.h"

namespace bim::daemon {

struct KnownDomain {
  std::string api_url;
  std::string project_id;
  std::string domain;
  std::string environment;
  contract::DnsState dns = contract::DnsState::kPending;
  contract::CertificateState certificate = contract::CertificateState::kPending;
  std::string detail;
  bool noticed = false;       // the person was told how its certificate ended
  int64_t added_at_ms = 0;    // wall clock
  int64_t checked_at_ms = 0;  // wall clock, when the agent last saw its states
};

// What Observe did.
struct Observed {
  bool known = false;   // the domain is one this agent added (and has not forgotten)
  bool notice = false;  // its certificate ended just now, as far as the agent knew: tell the person
};

class DomainStore {
 public:
  DomainStore(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Remembers a domain just added (its states as the platform answered), replacing what was
  // kept under the same name: a domain removed elsewhere and added again starts over.
  Status Remember(const std::string& api_url, const contract::Domain& d);
  // Records the states the platform answered for a domain this agent knows, in one
  // transaction with the decision to notice: notice is true for exactly one call per domain,
  // the first that sees its certificate issued or failed. Unknown domains are left alone.
  Result<Observed> Observe(const std::string& api_url, const contract::Domain& d);
  // Whether there was anything to forget.
  Result<bool> Forget(const std::string& api_url, const std::string& project_id,
                      const std::string& domain);
  Result<std::optional<KnownDomain>> Get(const std::string& api_url, const std::string& project_id,
                                         const std::string& domain);
  // The domains of api_url whose certificate's end the person has not been told: the ones to
  // check. By project and name.
  Result<std::vector<KnownDomain>> ToCheck(const std::string& api_url);

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace bim::daemon
