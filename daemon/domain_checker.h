#pragma once
// Follows the custom domains added through this agent until the platform has issued their TLS
// certificate, or failed to, and then tells the person once (Notifier), on a thread of its own.
//
// A domain is checked by asking the platform what it last found (Platform::GetDomain), not by
// making it look the records up again (VerifyDomain): the platform looks them up by itself
// while a domain is not valid and issues the certificate by itself once it is (§6.3), so a read
// is all the agent needs to learn the end, costs the platform no DNS lookups on the agent's
// schedule, and changes nothing there. `domains verify` is the person's way to make it look now.
//
// Each domain has its own backoff on the Clock (common/backoff.h): first_delay, doubling, up to
// max_delay, jittered; it starts over whenever the domain's states change (a record found, the
// DNS valid), since that is when the certificate is about to come. A platform error (unreachable,
// a refused login, a 5xx) is logged and the domain checked again after its backoff, never told
// to the desktop. A domain the platform no longer has is forgotten.
//
// The store (DomainStore) decides the notice: the first observation of an ended certificate,
// from a check or from a person's `domains ls`/`verify`, marks the domain noticed in the same
// transaction, and only that caller notifies. A noticed domain is not checked again, also by
// the next agent, which resumes the checks of the others from the store (Resume).
//
// Thread-safety: every public call may come from any thread. The thread starts with the first
// domain to check and waits, without the clock, while there is none.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/contract.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/auth_manager.h"
#include "daemon/domain_store.h"
#include "daemon/notifier.h"
#include "daemon/platform.h"

namespace bim::daemon {

// The default backoff of the checks (BACKEND_IM_DOMAIN_CHECK_MS sets the first delay).
inline constexpr std::chrono::milliseconds kDomainCheckFirstDelay{5000};
inline constexpr std::chrono::milliseconds kDomainCheckMaxDelay{600000};

struct DomainCheckerDeps {
  DomainStore& store;
  Platform& platform;
  AuthManager& auth;
  const Clock& clock;
  Random& random;
  Notifier* notifier = nullptr;  // null: nobody is told
  std::chrono::milliseconds first_delay = kDomainCheckFirstDelay;
  std::chrono::milliseconds max_delay = kDomainCheckMaxDelay;
};

class DomainChecker {
 public:
  explicit DomainChecker(DomainCheckerDeps deps);
  ~DomainChecker();
  DomainChecker(const DomainChecker&) = delete;
  DomainChecker& operator=(const DomainChecker&) = delete;

  // Starts checking every domain of this platform that the store says is not done: the next
  // agent's half of the checks. Each is checked at once, then on its backoff.
  void Resume();
  // The states of a domain as the platform answered them just now (an add, a list, a verify):
  // recorded when the domain is one this agent added; its notice when its certificate ended
  // just now; checked on in the background while it has not.
  void Saw(const contract::Domain& d);
  // Stops checking a domain (it was removed).
  void Forget(const std::string& project_id, const std::string& domain);
  // Ends the checks and joins the thread; a check in flight ends with its platform call.
  void Stop();
  // "PROJECT DOMAIN" of each domain being checked, by project and name.
  std::vector<std::string> Checking();

 private:
  using Key = std::pair<std::string, std::string>;  // project, domain
  struct Entry {
    Backoff backoff;
    std::chrono::steady_clock::time_point due;
    contract::DnsState dns = contract::DnsState::kPending;
    contract::CertificateState certificate = contract::CertificateState::kPending;
  };

  void Run();
  // Checks the domains that are due; the time until the next is due, nullopt when none is left.
  std::optional<std::chrono::milliseconds> CheckDue();
  void Check(const Key& key);
  // Records d's states; checked: it was the answer of a background check (the next one is
  // scheduled after the backoff whatever the states).
  void Record(const contract::Domain& d, bool checked);
  // Locked: wakes the thread's sleep, so it looks at the schedule again; starts it when needed.
  void WakeLocked();

  DomainCheckerDeps deps_;

  std::mutex mu_;
  std::condition_variable cv_;        // with mu_: an entry came, or stopping_
  std::map<Key, Entry> entries_;      // guarded by mu_
  std::shared_ptr<StopSignal> wake_;  // guarded by mu_; ends the thread's current sleep
  bool stopping_ = false;             // guarded by mu_
  std::thread thread_;                // guarded by mu_; started by the first entry
};

}  // namespace bim::daemon
