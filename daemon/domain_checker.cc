#include "daemon/domain_checker.h"

#include <fmt/format.h>

#include "common/log.h"

namespace bim::daemon {
namespace {

// How long one check may take the platform, its retries included.
constexpr std::chrono::seconds kCheckTimeout{60};

bool Ended(contract::CertificateState c) { return c != contract::CertificateState::kPending; }

}  // namespace

DomainChecker::DomainChecker(DomainCheckerDeps deps) : deps_(deps) {}

DomainChecker::~DomainChecker() { Stop(); }

void DomainChecker::Resume() {
  if (!deps_.platform.url_problem().ok()) return;
  auto known = deps_.store.ToCheck(deps_.platform.base_url());
  if (!known.ok()) {
    log::Error("cannot list the custom domains to check: {}", known.error().message);
    return;
  }
  std::lock_guard lock(mu_);
  if (stopping_) return;
  for (const KnownDomain& k : *known) {
    log::Info("domain {} of project {}: checking its certificate ({})", k.domain, k.project_id,
              contract::CertificateStateName(k.certificate));
    Entry e{Backoff(deps_.first_delay, deps_.max_delay, deps_.random), deps_.clock.Steady(), k.dns,
            k.certificate};
    Key key{k.project_id, k.domain};
    entries_.erase(key);
    entries_.emplace(std::move(key), std::move(e));
  }
  if (!entries_.empty()) WakeLocked();
}

void DomainChecker::Saw(const contract::Domain& d) { Record(d, false); }

void DomainChecker::Record(const contract::Domain& d, bool checked) {
  auto observed = deps_.store.Observe(deps_.platform.base_url(), d);
  if (!observed.ok()) {
    // Checked again later: the notice waits until the store can say it is the first.
    log::Error("domain {}: cannot record its states: {}", d.domain, observed.error().message);
  } else if (!observed->known) {
    return;  // not added through this agent, or forgotten meanwhile
  }
  const Key key{d.project_id, d.domain};
  if (observed.ok() && observed->notice) {
    log::Info("domain {}: certificate {}; desktop notice queued", d.domain,
              contract::CertificateStateName(d.certificate));
    if (deps_.notifier) {
      deps_.notifier->Notify(
          DomainCertificateEnd{d.domain, d.project_id, d.environment, d.certificate, d.detail});
    }
  }
  std::lock_guard lock(mu_);
  if (observed.ok() && Ended(d.certificate)) {
    entries_.erase(key);
    return;
  }
  if (stopping_) return;
  auto now = deps_.clock.Steady();
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Entry e{Backoff(deps_.first_delay, deps_.max_delay, deps_.random), now, d.dns, d.certificate};
    e.due = now + e.backoff.Next();
    entries_.emplace(key, std::move(e));
    WakeLocked();
    return;
  }
  Entry& e = it->second;
  bool changed = e.dns != d.dns || e.certificate != d.certificate;
  e.dns = d.dns;
  e.certificate = d.certificate;
  if (changed) e.backoff.Reset();
  if (checked || changed) {
    e.due = now + e.backoff.Next();
    WakeLocked();
  }
}

void DomainChecker::Forget(const std::string& project_id, const std::string& domain) {
  std::lock_guard lock(mu_);
  entries_.erase({project_id, domain});
}

void DomainChecker::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (wake_) wake_->Stop();
    thread.swap(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

std::vector<std::string> DomainChecker::Checking() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, e] : entries_) out.push_back(key.first + " " + key.second);
  return out;
}

void DomainChecker::WakeLocked() {
  if (stopping_) return;
  if (wake_) wake_->Stop();
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_all();
}

void DomainChecker::Run() {
  for (;;) {
    std::shared_ptr<StopSignal> wake;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !entries_.empty(); });
      if (stopping_) return;
      // A new signal for this round: a wake from now on ends the sleep below.
      wake = std::make_shared<StopSignal>();
      wake_ = wake;
    }
    auto wait = CheckDue();
    if (wait) deps_.clock.SleepFor(*wake, *wait);
  }
}

std::optional<std::chrono::milliseconds> DomainChecker::CheckDue() {
  std::vector<Key> due;
  {
    std::lock_guard lock(mu_);
    auto now = deps_.clock.Steady();
    for (const auto& [key, e] : entries_) {
      if (e.due <= now) due.push_back(key);
    }
  }
  for (const Key& key : due) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return std::nullopt;
    }
    Check(key);
  }
  std::lock_guard lock(mu_);
  if (entries_.empty() || stopping_) return std::nullopt;
  auto now = deps_.clock.Steady();
  auto next = std::chrono::steady_clock::time_point::max();
  for (const auto& [key, e] : entries_) next = std::min(next, e.due);
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(next - now));
}

void DomainChecker::Check(const Key& key) {
  const auto& [project, domain] = key;
  Deadline deadline = deps_.clock.Steady() + kCheckTimeout;
  auto d = deps_.auth.Call<contract::Domain>([&](const std::string& token) {
    return deps_.platform.GetDomain(token, project, domain, deadline);
  });
  if (d.ok()) {
    log::Debug("domain {}: dns {}, certificate {}", domain, contract::DnsStateName(d->dns),
               contract::CertificateStateName(d->certificate));
    // The platform's answer names the domain it was asked about; a different name in it is not
    // this domain's state.
    d->project_id = project;
    d->domain = domain;
    Record(*d, true);
    return;
  }
  if (d.error().code == ErrorCode::kNotFound) {
    log::Info("domain {} of project {}: the platform no longer has it; not checking it any more",
              domain, project);
    Forget(project, domain);
    if (auto s = deps_.store.Forget(deps_.platform.base_url(), project, domain); !s.ok()) {
      log::Error("domain {}: cannot forget it: {}", domain, s.error().message);
    }
    return;
  }
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto wait = it->second.backoff.Next();
  it->second.due = deps_.clock.Steady() + wait;
  log::Warn("domain {}: cannot check its certificate ({}); trying again in {} s", domain,
            d.error().message, std::chrono::duration_cast<std::chrono::seconds>(wait).count());
}

}  // namespace bim::daemon
