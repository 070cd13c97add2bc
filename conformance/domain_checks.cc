// ext.domains*: custom domains (docs/API_CONTRACTS.md §6.3), an extension, in the run's own
// project (its label). The first listing tells whether the platform has it: a 404 whose error
// code is none of the extension's (contract::IsDomainsNotFoundCode) means it has not, and every
// check here says not-supported. The checks that write add one domain of a new name under
// example.com, read it, verify it and remove it (Context::CleanUp does, if no check did). The
// suite cannot publish DNS records, so the domain stays pending: the checks judge the answers'
// shapes, codes and pending states, never a valid domain or a certificate.

#include <algorithm>

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"

namespace bim::conformance {
namespace {

using nlohmann::json;

std::string WithCode(const Exchange& ex) {
  auto code = StringField(ex.Json(), "error");
  return Answered(ex) + (code ? " (error " + Quoted(*code) + ")" : std::string());
}

enum class Presence { kPresent, kAbsent, kUnclear };

Presence PresenceOf(const Exchange& list) {
  if (list.answer.status == 200 && contract::ParseDomainList(list.answer.body).ok()) {
    return Presence::kPresent;
  }
  if (IsForeignNotFound(list, contract::IsDomainsNotFoundCode)) return Presence::kAbsent;
  return Presence::kUnclear;
}

CheckResult Absent(const Exchange& list) {
  return ExtensionAbsent(
      list, "custom domains (an extension); apps answer at the platform's own addresses only");
}

// Runs judge() when the platform has the extension; otherwise not-supported, or skipped when
// the listing is something else (ext.domains says what).
template <typename Judge>
CheckResult WithDomains(Context& ctx, Judge judge) {
  const Exchange& list = ctx.DomainsAnswer();
  switch (PresenceOf(list)) {
    case Presence::kPresent:
      return judge();
    case Presence::kAbsent:
      return Absent(list);
    case Presence::kUnclear:
      break;
  }
  return Skipped("needs the list of domains, and it is not the extension's (see ext.domains)",
                 {list.ToEvidence()});
}

// Runs judge(domain) with the run's domain once the platform added it.
template <typename Judge>
CheckResult WithDomain(Context& ctx, Judge judge) {
  return WithDomains(ctx, [&] {
    const MadeDomain* d = ctx.Domain();
    if (!d) return Skipped(ctx.why());
    if (!d->made) {
      return Skipped(
          "needs the run's domain, and " + Answered(d->exchange) + " (see ext.domains_add)",
          {d->exchange.ToEvidence()});
    }
    if (d->removed) return Skipped("the run's domain " + Quoted(d->name) + " is removed");
    return judge(*d);
  });
}

// Problems of an answer that should be the run's domain, as the contract has a domain nobody
// published records for: pending, its certificate pending, the records to publish.
std::vector<std::string> DomainProblems(const Exchange& ex, long status, const std::string& name,
                                        const std::string& project) {
  if (ex.answer.status != status) {
    return {WithCode(ex) + ", expected " + std::to_string(status) + " with the domain"};
  }
  auto d = contract::ParseDomain(ex.answer.body);
  if (!d.ok()) return {ex.Line() + ": " + d.error().message};
  std::vector<std::string> problems;
  if (d->domain != name) {
    problems.push_back("domain is " + Quoted(d->domain) + ", not " + Quoted(name));
  }
  if (!d->project_id.empty() && d->project_id != project) {
    problems.push_back("projectId is " + Quoted(d->project_id) + ", not " + Quoted(project));
  }
  if (d->environment != "production") {
    problems.push_back("environment is " + Quoted(d->environment) +
                       ", not production (the default)");
  }
  // Nobody published anything for the name: it can be found neither valid nor invalid.
  if (d->dns != contract::DnsState::kPending) {
    problems.push_back("dns is " + std::string(contract::DnsStateName(d->dns)) +
                       " for a name nobody published records for; expected pending");
  }
  if (d->certificate != contract::CertificateState::kPending) {
    problems.push_back("certificate is " +
                       std::string(contract::CertificateStateName(d->certificate)) +
                       " before dns was ever valid; expected pending");
  }
  if (d->records.empty()) problems.push_back("records is empty: nothing says what to publish");
  for (const auto& r : d->records) {
    const std::string what = "record " + Quoted(r.type) + " " + Quoted(r.name);
    if (r.type != "A" && r.type != "AAAA" && r.type != "CNAME" && r.type != "TXT") {
      problems.push_back(what + ": the type is none of A, AAAA, CNAME, TXT");
    }
    if (r.name.empty() || !r.name.ends_with(name)) {
      problems.push_back(what + ": the name is not " + Quoted(name) + " or a name under it");
    }
    if (r.value.empty()) problems.push_back(what + " has no value to publish");
  }
  return problems;
}

// Whether a listing of the project's domains names name; nullopt when it is no listing.
std::optional<bool> Lists(const Exchange& list, const std::string& name) {
  auto parsed = contract::ParseDomainList(list.answer.body);
  if (list.answer.status != 200 || !parsed.ok()) return std::nullopt;
  return std::any_of(parsed->domains.begin(), parsed->domains.end(),
                     [&](const contract::Domain& d) { return d.domain == name; });
}

// Problems when ex is not the extension's error status/code.
std::vector<std::string> ExpectError(const Exchange& ex, long status, const std::string& code) {
  auto error = contract::ParseErrorBody(ex.answer.body);
  if (ex.answer.status == status && error.ok() && error->error == code) return {};
  return {WithCode(ex) + ", expected " + std::to_string(status) + " " + code};
}

CheckResult List(Context& ctx) {
  const Exchange& ex = ctx.DomainsAnswer();
  if (PresenceOf(ex) == Presence::kAbsent) return Absent(ex);
  std::vector<std::string> problems;
  std::string detail;
  if (ex.answer.status != 200) {
    problems.push_back(WithCode(ex) + ", expected 200 with the project's domains");
  } else if (auto list = contract::ParseDomainList(ex.answer.body); !list.ok()) {
    problems.push_back(list.error().message);
  } else {
    if (!list->project_id.empty() && list->project_id != ctx.options().label) {
      problems.push_back("projectId is " + Quoted(list->project_id) + ", not " +
                         Quoted(ctx.options().label));
    }
    detail = "domains: " + std::to_string(list->domains.size());
  }
  return ExtensionFromProblems(problems, {ex.ToEvidence()}, detail);
}

CheckResult Add(Context& ctx) {
  return WithDomains(ctx, [&] {
    const MadeDomain* d = ctx.Domain();
    if (!d) return Skipped(ctx.why());
    std::vector<Evidence> evidence = {d->exchange.ToEvidence("a name of the run's own")};
    auto problems = DomainProblems(d->exchange, 201, d->name, ctx.options().label);
    if (!d->made) return ExtensionFromProblems(problems, evidence);
    Exchange list = ctx.Get(ctx.DomainsPath(), Auth::kToken, "after adding " + d->name);
    evidence.push_back(list.ToEvidence());
    if (!Lists(list, d->name).value_or(false)) {
      problems.push_back("the project's domains do not show " + Quoted(d->name) +
                         " after it was added");
    }
    return ExtensionFromProblems(problems, evidence,
                                 "added " + Quoted(d->name) + ": pending, with its records");
  });
}

CheckResult Get(Context& ctx) {
  return WithDomain(ctx, [&](const MadeDomain& d) {
    Exchange ex = ctx.Get(ctx.DomainsPath(d.name));
    auto problems = DomainProblems(ex, 200, d.name, ctx.options().label);
    Exchange missing = ctx.Get(ctx.DomainsPath(ctx.NewId().substr(0, 8) + "." + d.name),
                               Auth::kToken, "a domain the project does not have");
    auto unknown = ExpectError(missing, 404, "domain_not_found");
    problems.insert(problems.end(), unknown.begin(), unknown.end());
    return ExtensionFromProblems(
        problems, {ex.ToEvidence(), missing.ToEvidence()},
        "read " + Quoted(d.name) + "; one the project does not have is 404 domain_not_found");
  });
}

CheckResult Verify(Context& ctx) {
  return WithDomain(ctx, [&](const MadeDomain& d) {
    Exchange ex = ctx.PostJson(ctx.DomainsPath(d.name) + "/verify", "", Auth::kToken, {},
                               "nothing published");
    auto problems = DomainProblems(ex, 200, d.name, ctx.options().label);
    std::string detail = "verified " + Quoted(d.name) + ": pending";
    if (auto parsed = contract::ParseDomain(ex.answer.body);
        parsed.ok() && ex.answer.status == 200) {
      if (parsed->checked_at) {
        detail += ", looked up at " + std::to_string(*parsed->checked_at);
      } else if (parsed->detail.empty()) {
        problems.push_back("neither checkedAt nor a detail says what the lookup came to");
      } else {
        detail += ", no lookup answered: " + parsed->detail;
      }
    }
    return ExtensionFromProblems(problems, {ex.ToEvidence()}, detail);
  });
}

CheckResult Errors(Context& ctx) {
  return WithDomain(ctx, [&](const MadeDomain& d) {
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    auto expect = [&](const Exchange& ex, long status, const std::string& code) {
      evidence.push_back(ex.ToEvidence());
      auto p = ExpectError(ex, status, code);
      problems.insert(problems.end(), p.begin(), p.end());
      return ex.answer.status >= 200 && ex.answer.status < 300;
    };
    expect(ctx.PostJson(ctx.DomainsPath(), contract::ToJson(contract::AddDomainRequest{d.name, ""}),
                        Auth::kToken, {}, "the run's domain again"),
           409, "domain_exists");
    expect(ctx.PostJson(ctx.DomainsPath(), json{{"domain", "not a domain"}}.dump(), Auth::kToken,
                        {}, "a name that is not a domain"),
           400, "invalid_request");
    const std::string other = ctx.NewId().substr(0, 8) + "." + ctx.options().label + ".example.com";
    const std::string environment = "conformance-missing-" + ctx.NewId().substr(0, 8);
    if (expect(ctx.PostJson(ctx.DomainsPath(),
                            contract::ToJson(contract::AddDomainRequest{other, environment}),
                            Auth::kToken, {}, "an environment the project does not have"),
               404, "environment_not_found")) {
      // Added after all: removed again, so the run leaves nothing behind.
      Exchange removed = ctx.Delete(ctx.DomainsPath(other), "cleaning up");
      evidence.push_back(removed.ToEvidence());
    }
    return ExtensionFromProblems(problems, evidence,
                                 "409 domain_exists, 400 invalid_request, 404 "
                                 "environment_not_found");
  });
}

CheckResult Remove(Context& ctx) {
  return WithDomain(ctx, [&](const MadeDomain& d) {
    Exchange ex = ctx.Delete(ctx.DomainsPath(d.name));
    std::vector<Evidence> evidence = {ex.ToEvidence()};
    if (ex.answer.status >= 200 && ex.answer.status < 300) ctx.NoteDomainRemoved();
    if (ex.answer.status != 204) {
      return ExtensionFromProblems({WithCode(ex) + ", expected 204"}, evidence);
    }
    Exchange get = ctx.Get(ctx.DomainsPath(d.name), Auth::kToken, "after removing it");
    Exchange list = ctx.Get(ctx.DomainsPath(), Auth::kToken, "after removing " + d.name);
    evidence.push_back(get.ToEvidence());
    evidence.push_back(list.ToEvidence());
    auto problems = ExpectError(get, 404, "domain_not_found");
    auto still = Lists(list, d.name);
    if (!still) {
      problems.push_back(Answered(list) + " without the contract's list of domains");
    } else if (*still) {
      problems.push_back("the project's domains still show " + Quoted(d.name) +
                         " after it was removed");
    }
    return ExtensionFromProblems(problems, evidence, "removed " + Quoted(d.name));
  });
}

}  // namespace

std::vector<Check> DomainChecks() {
  return {
      NeedsToken("ext.domains",
                 "Extension: GET /api/projects/{projectId}/domains lists the run's project's "
                 "custom domains",
                 List),
      Creates("ext.domains_add",
              "Extension: POST /api/projects/{projectId}/domains adds a domain of a new name "
              "(201): pending, its certificate pending, with the records to publish; the list "
              "then shows it",
              Add),
      Creates("ext.domains_get",
              "Extension: GET …/domains/{domain} answers the domain; one the project does not "
              "have is 404 domain_not_found",
              Get),
      Creates("ext.domains_verify",
              "Extension: POST …/domains/{domain}/verify answers the domain after a lookup; with "
              "nothing published it stays pending",
              Verify),
      Creates("ext.domains_errors",
              "Extension: adding the domain again is 409 domain_exists, a bad name 400 "
              "invalid_request, a missing environment 404 environment_not_found",
              Errors),
      Creates("ext.domains_delete",
              "Extension: DELETE of the run's domain answers 204; it is then 404 "
              "domain_not_found and no longer listed",
              Remove),
  };
}

}  // namespace bim::conformance
