#pragma once
// The mock's custom domains (docs/API_CONTRACTS.md §6.3): a project's environment answers at
// domains of its owner once the owner published two records the platform asks for, a TXT
// record proving ownership (_backend-im.{domain}: backend-im-verify={token}) and an A (or AAAA)
// record pointing at the platform (--ingress-ip). The platform looks them up itself, with a
// real DNS resolver (--dns-server, else the system's), when asked to verify and every
// --domain-check-ms while a domain is not valid, and issues a certificate --cert-delay-ms after
// its DNS first was valid (or fails to, for --cert-fail-domain).
//
// Threading: the domains live on the server's io thread, where Handle and every timer run.
// Lookups block, so one worker thread of this object's does them and posts what it found back
// to the io thread; a verify is answered then, through the function Handle's answer takes.
// Ownership: references to the server, options, clock, random source and environments, which
// must outlive it; the destructor stops and joins the worker (at most one lookup's timeout).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/dns_resolver.h"
#include "common/random.h"
#include "common/result.h"
#include "mock-api/environments.h"
#include "mock-api/mock_options.h"
#include "ws/http_ws_server.h"

namespace bim::mock {

class Domains {
 public:
  using Respond = std::function<void(ws::HttpResponse)>;
  // What Handle answers: a response now, or, when later is set, a response it sends later by
  // calling later's argument on the io thread.
  struct Answer {
    ws::HttpResponse response;
    std::function<void(Respond)> later;
  };

  Domains(ws::HttpWsServer& server, const MockOptions& options, const Clock& clock, Random& ids,
          const Environments& environments, std::unique_ptr<dns::Resolver> resolver);
  ~Domains();
  Domains(const Domains&) = delete;
  Domains& operator=(const Domains&) = delete;

  // Answers /api/projects/{projectId}/domains[/{domain}[/verify]]; nullopt for any other path.
  // The caller has checked the bearer token.
  std::optional<Answer> Handle(const ws::HttpRequest& req);

 private:
  struct Entry {
    contract::Domain domain;
    uint64_t serial = 0;      // which add made it: timers and lookups of a removed one miss
    bool ever_valid = false;  // the certificate's clock started
    bool rechecking = false;  // a background re-check is scheduled or running
    std::string dns_detail;   // why dns is not valid, or that the last lookup failed
    std::string cert_detail;  // why the certificate failed
  };
  // The values found at each record's name, in the order of the records.
  using Found = Result<std::vector<std::vector<std::string>>>;
  struct Job {
    std::vector<std::pair<std::string, dns::RecordType>> lookups;
    std::function<void(Found)> done;  // posted to the io thread
  };

  ws::HttpResponse Add(const std::string& project, const ws::HttpRequest& req);
  ws::HttpResponse List(const std::string& project) const;
  // Looks the domain's records up on the worker, applies what was found, then calls done (on
  // the io thread) with the entry, or with null when the domain was removed meanwhile.
  void Check(const std::string& name, uint64_t serial, std::function<void(Entry*)> done);
  void Apply(Entry& e, const Found& found);
  void ScheduleRecheck(const std::string& name, uint64_t serial);
  void IssueCertificate(const std::string& name, uint64_t serial);
  Entry* Find(const std::string& name, uint64_t serial);
  void Work();

  ws::HttpWsServer& server_;
  const MockOptions& options_;
  const Clock& clock_;
  Random& ids_;
  const Environments& environments_;
  std::unique_ptr<dns::Resolver> resolver_;  // thread-safe; used on the worker only
  std::map<std::string, Entry> domains_;     // by name, every project's (io thread)
  uint64_t next_serial_ = 1;                 // io thread

  std::mutex mu_;
  std::condition_variable cv_;  // with mu_: a job came, or stopping_
  std::deque<Job> jobs_;        // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::thread worker_;          // last: started once the rest exists
};

}  // namespace bim::mock
