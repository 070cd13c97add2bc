#include "mock-api/domains.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/percent_encoding.h"
#include "mock-api/responses.h"

namespace bim::mock {
namespace {

using nlohmann::json;

constexpr size_t kMaxDomains = 50;
constexpr auto kLookupTimeout = std::chrono::milliseconds(2000);
// What a lookup found is the domain owner's text: kept within a budget in the answers.
constexpr size_t kMaxFoundValues = 16;
constexpr size_t kMaxFoundBytes = 1024;

ws::HttpResponse DomainResponse(int status, const contract::Domain& d) {
  return JsonResponse(status, contract::ToJson(d));
}

ws::HttpResponse NotFound(const std::string& project, const std::string& name) {
  return ErrorResponse(404, "domain_not_found",
                       "project " + project.substr(0, 64) + " has no domain " + name);
}

std::string NewToken(Random& ids) {
  return fmt::format("{:016x}{:016x}", ids.Next64(), ids.Next64());
}

// A value as a person reads it in a detail: TXT text quoted, names and addresses bare.
std::string Shown(const std::string& type, const std::string& value) {
  return type == "TXT" ? json(value).dump(-1, ' ', false, json::error_handler_t::replace) : value;
}

std::string Joined(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

Domains::Domains(ws::HttpWsServer& server, const MockOptions& options, const Clock& clock,
                 Random& ids, const Environments& environments,
                 std::unique_ptr<dns::Resolver> resolver)
    : server_(server),
      options_(options),
      clock_(clock),
      ids_(ids),
      environments_(environments),
      resolver_(std::move(resolver)),
      worker_([this] { Work(); }) {}

Domains::~Domains() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Domains::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::vector<std::vector<std::string>> values;
    std::optional<Error> failed;
    for (const auto& [name, type] : job.lookups) {
      auto r = resolver_->Lookup(name, type, kLookupTimeout);
      if (!r.ok()) {
        failed = r.error();  // the rest would meet the same server
        break;
      }
      values.push_back(std::move(r.value()));
    }
    Found found = failed ? Found(*failed) : Found(std::move(values));
    server_.Post([done = std::move(job.done), found = std::move(found)]() mutable {
      done(std::move(found));
    });
  }
}

Domains::Entry* Domains::Find(const std::string& name, uint64_t serial) {
  auto it = domains_.find(name);
  return it == domains_.end() || it->second.serial != serial ? nullptr : &it->second;
}

void Domains::Check(const std::string& name, uint64_t serial, std::function<void(Entry*)> done) {
  Entry* e = Find(name, serial);
  if (!e) return done(nullptr);
  Job job;
  for (const auto& r : e->domain.records) {
    job.lookups.emplace_back(r.name, *dns::ParseRecordType(r.type));
  }
  job.done = [this, name, serial, done = std::move(done)](Found found) {
    Entry* e = Find(name, serial);
    if (e) Apply(*e, found);
    done(e);
  };
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Domains::Apply(Entry& e, const Found& found) {
  contract::Domain& d = e.domain;
  if (!found.ok()) {
    // Not an answer about the records: what was known stays as it was.
    e.dns_detail = fmt::format("the last lookup failed, so dns stays {}: {}",
                               contract::DnsStateName(d.dns), found.error().message);
  } else {
    std::vector<std::string> wrong, missing;
    for (size_t i = 0; i < d.records.size(); ++i) {
      contract::DnsRecord& r = d.records[i];
      r.found = found.value()[i];
      if (r.found.size() > kMaxFoundValues) r.found.resize(kMaxFoundValues);
      for (auto& v : r.found) {
        if (v.size() > kMaxFoundBytes) v.resize(kMaxFoundBytes);
      }
      r.ok = std::any_of(r.found.begin(), r.found.end(), [&](const std::string& v) {
        return contract::RecordValueMatches(r.type, r.value, v);
      });
      if (*r.ok) continue;
      if (r.found.empty()) {
        missing.push_back(fmt::format("{} {}", r.type, r.name));
      } else {
        std::vector<std::string> shown;
        for (const auto& v : r.found) shown.push_back(Shown(r.type, v));
        wrong.push_back(fmt::format("{} {} holds {}, not {}", r.type, r.name, Joined(shown, ", "),
                                    Shown(r.type, r.value)));
      }
    }
    d.checked_at = clock_.NowUnixMs();
    auto before = d.dns;
    d.dns = !wrong.empty()     ? contract::DnsState::kInvalid
            : !missing.empty() ? contract::DnsState::kPending
                               : contract::DnsState::kValid;
    e.dns_detail =
        Joined({Joined(wrong, "; "),
                missing.empty() ? std::string() : "not found yet: " + Joined(missing, ", ")},
               "; ");
    if (d.dns != before) {
      log::Info("domain {}: dns {}", d.domain, contract::DnsStateName(d.dns));
    }
    if (d.dns == contract::DnsState::kValid && !e.ever_valid) {
      e.ever_valid = true;
      server_.RunAfter(
          std::chrono::milliseconds(options_.cert_delay_ms),
          [this, name = d.domain, serial = e.serial] { IssueCertificate(name, serial); });
    }
  }
  d.detail = Joined({e.dns_detail, e.cert_detail}, "; ");
}

void Domains::IssueCertificate(const std::string& name, uint64_t serial) {
  Entry* e = Find(name, serial);
  if (!e) return;
  const auto& fail = options_.cert_fail_domains;
  if (std::find(fail.begin(), fail.end(), name) != fail.end()) {
    e->domain.certificate = contract::CertificateState::kFailed;
    e->cert_detail = "the certificate authority refused: " + name +
                     " is on its list of names it will not certify (--cert-fail-domain)";
  } else {
    e->domain.certificate = contract::CertificateState::kIssued;
  }
  e->domain.detail = Joined({e->dns_detail, e->cert_detail}, "; ");
  log::Info("domain {}: certificate {}", name,
            contract::CertificateStateName(e->domain.certificate));
}

void Domains::ScheduleRecheck(const std::string& name, uint64_t serial) {
  Entry* e = Find(name, serial);
  if (!e || e->rechecking || e->domain.dns == contract::DnsState::kValid) return;
  e->rechecking = true;
  server_.RunAfter(std::chrono::milliseconds(options_.domain_check_ms), [this, name, serial] {
    Check(name, serial, [this, name, serial](Entry* e) {
      if (!e) return;
      e->rechecking = false;
      ScheduleRecheck(name, serial);
    });
  });
}

ws::HttpResponse Domains::List(const std::string& project) const {
  contract::DomainList list{project, {}};
  for (const auto& [name, e] : domains_) {
    if (e.domain.project_id == project) list.domains.push_back(e.domain);
  }
  return JsonResponse(200, contract::ToJson(list));
}

ws::HttpResponse Domains::Add(const std::string& project, const ws::HttpRequest& req) {
  auto body = contract::ParseAddDomainRequest(req.body);
  if (!body.ok()) {
    return ErrorResponse(400, "invalid_request",
                         "the body is {\"domain\": NAME, \"environment\": ENV}, environment "
                         "optional: " +
                             body.error().message);
  }
  std::string name = contract::NormalizeDomain(body->domain);
  if (auto valid = contract::ValidateDomainName(name); !valid.ok()) {
    return ErrorResponse(400, "invalid_request", valid.error().message);
  }
  std::string environment =
      body->environment.empty() ? Environments::kProduction : body->environment;
  if (!environments_.Exists(project, environment)) {
    return ErrorResponse(
        404, "environment_not_found",
        "project " + project.substr(0, 64) + " has no environment " + environment.substr(0, 64));
  }
  if (auto it = domains_.find(name); it != domains_.end()) {
    if (it->second.domain.project_id == project) {
      return ErrorResponse(409, "domain_exists", "this project already has " + name);
    }
    return ErrorResponse(409, "domain_taken", name + " belongs to another project");
  }
  size_t count = std::count_if(domains_.begin(), domains_.end(), [&](const auto& kv) {
    return kv.second.domain.project_id == project;
  });
  if (count >= kMaxDomains) {
    return ErrorResponse(409, "too_many_domains", "a project has at most 50 domains");
  }

  Entry e;
  e.serial = next_serial_++;
  contract::Domain& d = e.domain;
  d.domain = name;
  d.project_id = project;
  d.environment = environment;
  d.records.push_back(contract::DnsRecord{
      "TXT", "_backend-im." + name, "backend-im-verify=" + NewToken(ids_), {}, {}});
  in6_addr v6{};
  bool ipv6 = inet_pton(AF_INET6, options_.ingress_ip.c_str(), &v6) == 1;
  d.records.push_back(contract::DnsRecord{ipv6 ? "AAAA" : "A", name, options_.ingress_ip, {}, {}});
  uint64_t serial = e.serial;
  auto& added = domains_[name] = std::move(e);
  ScheduleRecheck(name, serial);
  return DomainResponse(201, added.domain);
}

std::optional<Domains::Answer> Domains::Handle(const ws::HttpRequest& req) {
  static const std::string kPrefix = "/api/projects/";
  if (req.path.rfind(kPrefix, 0) != 0) return std::nullopt;
  auto s = PathSegments(req.path.substr(kPrefix.size()));
  if (s.size() < 2 || s[1] != "domains" || s.size() > 4) return std::nullopt;
  if (s.size() == 4 && s[3] != "verify") return std::nullopt;
  const std::string& project = s[0];
  const std::string& m = req.method;
  if (project.empty() || project.size() > 256) {
    return Answer{ErrorResponse(400, "invalid_request", "a project id is 1 to 256 bytes"), {}};
  }
  if (s.size() == 2) {
    if (m == "GET") return Answer{List(project), {}};
    if (m != "POST") return Answer{MethodNotAllowed("GET, POST"), {}};
    return Answer{Add(project, req), {}};
  }
  std::string name = contract::NormalizeDomain(s[2]);
  if (auto valid = contract::ValidateDomainName(name); !valid.ok()) {
    return Answer{ErrorResponse(400, "invalid_request", valid.error().message), {}};
  }
  auto it = domains_.find(name);
  if (it == domains_.end() || it->second.domain.project_id != project) {
    return Answer{NotFound(project, name), {}};
  }
  Entry& e = it->second;
  if (s.size() == 3) {
    if (m == "GET") return Answer{DomainResponse(200, e.domain), {}};
    if (m != "DELETE") return Answer{MethodNotAllowed("GET, DELETE"), {}};
    domains_.erase(it);
    return Answer{NoContentResponse(), {}};
  }
  if (m != "POST") return Answer{MethodNotAllowed("POST"), {}};
  uint64_t serial = e.serial;
  return Answer{{}, [this, project, name, serial](Respond respond) {
                  Check(name, serial, [this, project, name, serial, respond](Entry* e) {
                    if (!e) return respond(NotFound(project, name));
                    // A verify that left it not valid keeps the re-checks going.
                    ScheduleRecheck(name, serial);
                    respond(DomainResponse(200, e->domain));
                  });
                }};
}

}  // namespace bim::mock
