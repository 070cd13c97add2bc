#pragma once
// A Notifier for unit tests of the agent's core: keeps every deployment end and every domain
// certificate end it is told of, in order. Thread-safe: the agent calls it from watcher threads.

#include <mutex>
#include <vector>

#include "daemon/notifier.h"

namespace bim::test {

class FakeNotifier final : public daemon::Notifier {
 public:
  void Notify(const daemon::DeploymentEnd& end) override {
    std::lock_guard lock(mu_);
    ends_.push_back(end);
  }
  std::vector<daemon::DeploymentEnd> ends() const {
    std::lock_guard lock(mu_);
    return ends_;
  }
  void Notify(const daemon::DomainCertificateEnd& end) override {
    std::lock_guard lock(mu_);
    domains_.push_back(end);
  }
  std::vector<daemon::DomainCertificateEnd> domains() const {
    std::lock_guard lock(mu_);
    return domains_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<daemon::DeploymentEnd> ends_;            // guarded by mu_
  std::vector<daemon::DomainCertificateEnd> domains_;  // guarded by mu_
};

}  // namespace bim::test
