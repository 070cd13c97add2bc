// Custom domains in the agent's core, wired as backend-imd wires it (AgentCore, a real SQLite
// store) against the in-memory platform in simulated time: the background checks of a domain's
// certificate, their backoff, the one desktop notice, and what survives a restart; and verify's
// own lookups, asked of a real DNS server (Knot on loopback, tests/support/dns_server.h). The
// checks run on their own thread and sleep on the FakeClock, so ten minutes of backoff pass at
// once; the test waits in real time only for that thread to get there.
#include <doctest/doctest.h>

#include <functional>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/agent_core.h"
#include "daemon/database.h"
#include "tests/support/dns_server.h"
#include "tests/support/fake_notifier.h"
#include "tests/support/fake_platform.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;
using bim::test::FakePlatform;
using contract::CertificateState;
using contract::DnsState;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

constexpr const char* kProject = "proj-1";

struct Rig {
  explicit Rig(FakePlatform::Options options = {}, dns::Resolver* resolver = nullptr)
      : platform(clock, std::move(options)), resolver(resolver) {
    platform.AddToken("dev-token");
    Start(notifier, stop);
  }
  ~Rig() { core.reset(); }

  // An agent over the database (a second one after a restart), told notices through n.
  void Start(test::FakeNotifier& n, StopSignal& s) {
    CoreSettings settings;
    settings.environment_token = "dev-token";
    settings.notifier = &n;
    settings.resolver = resolver;
    core = std::make_unique<AgentCore>(*db, platform, clock, random, s, std::move(settings));
  }

  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  FakePlatform platform;
  dns::Resolver* resolver;
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  test::FakeNotifier notifier;
  std::unique_ptr<AgentCore> core;

  Agent& agent() { return core->agent(); }

  contract::Domain Add(const std::string& name) {
    auto d = agent().AddDomain(kProject, name, "");
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    return *d;
  }
  int64_t SteadyMs() const {
    return std::chrono::duration_cast<milliseconds>(clock.Steady().time_since_epoch()).count();
  }
};

// Waits in real time (the checks run on their own thread) until done() holds, or fails after
// 20 s.
void WaitFor(const std::function<bool()>& done, const char* what) {
  auto give_up = std::chrono::steady_clock::now() + seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) FAIL("gave up waiting until " << what);
    std::this_thread::sleep_for(milliseconds(1));
  }
}

}  // namespace

TEST_CASE("a domain's certificate is checked with backoff until issued, then told once") {
  Rig r;
  const int64_t t0 = r.SteadyMs();
  // Its records are found after 30 s of platform time; the certificate comes at 10 minutes.
  r.platform.ScheduleDomainState("api.example.com", seconds(30), DnsState::kValid,
                                 CertificateState::kPending);
  r.platform.ScheduleDomainState("api.example.com", minutes(10), DnsState::kValid,
                                 CertificateState::kIssued);
  auto added = r.Add("API.Example.COM.");  // normalised before it is sent
  CHECK(added.domain == "api.example.com");
  CHECK(added.environment == "production");
  REQUIRE(added.records.size() == 2);
  CHECK(r.agent().CheckedDomains() == std::vector<std::string>{"proj-1 api.example.com"});

  WaitFor([&] { return !r.notifier.domains().empty(); }, "the notice came");
  WaitFor([&] { return r.agent().CheckedDomains().empty(); }, "the checks stopped");
  REQUIRE(r.notifier.domains().size() == 1);
  const DomainCertificateEnd notice = r.notifier.domains()[0];
  CHECK(notice.domain == "api.example.com");
  CHECK(notice.project_id == kProject);
  CHECK(notice.environment == "production");
  CHECK(notice.outcome == CertificateState::kIssued);
  CHECK(NoticeFor(notice).summary == "Domain ready: api.example.com");
  CHECK(r.notifier.ends().empty());

  // The checks: 5 s doubling (each jittered to half to whole), until the records were found;
  // then from 5 s again, as the certificate is near; never more than 10 minutes apart.
  std::vector<int64_t> checks = r.platform.DomainChecks("api.example.com");
  REQUIRE(checks.size() >= 5);
  CHECK(r.platform.verify_domain_calls() == 0);  // reads only: see DomainChecker
  CHECK(checks.back() >= t0 + 600000);
  int64_t previous = t0, ceiling = 5000;
  bool valid_seen = false, reset_seen = false;
  for (int64_t at : checks) {
    int64_t gap = at - previous;
    INFO("check at +" << (at - t0) << " ms, " << gap << " ms after the one before");
    CHECK(gap >= ceiling / 2);
    CHECK(gap <= ceiling);
    CHECK(gap <= 600000);
    if (valid_seen && !reset_seen) reset_seen = true;
    if (!valid_seen && at >= t0 + 30000) {
      valid_seen = true;
      ceiling = 5000;  // the states changed: the next check comes soon
    } else {
      ceiling = std::min<int64_t>(ceiling * 2, 600000);
    }
    previous = at;
  }
  CHECK(reset_seen);

  // Recorded as told: a later list refreshes the states, and tells nobody again.
  auto listed = r.agent().Domains(kProject, "");
  REQUIRE(listed.ok());
  REQUIRE(listed->domains.size() == 1);
  CHECK(listed->domains[0].certificate == CertificateState::kIssued);
  CHECK(r.notifier.domains().size() == 1);
  auto kept = r.core->domains().Get(r.platform.base_url(), kProject, "api.example.com");
  REQUIRE((kept.ok() && *kept));
  CHECK((*kept)->noticed);
  CHECK((*kept)->dns == DnsState::kValid);
}

TEST_CASE("a certificate that fails is told once, with the platform's reason") {
  Rig r;
  r.platform.ScheduleDomainState("shop.example.org", minutes(2), DnsState::kValid,
                                 CertificateState::kFailed,
                                 "the certificate authority refused: rate limited");
  r.Add("shop.example.org");
  WaitFor([&] { return !r.notifier.domains().empty(); }, "the notice came");
  WaitFor([&] { return r.agent().CheckedDomains().empty(); }, "the checks stopped");
  REQUIRE(r.notifier.domains().size() == 1);
  CHECK(r.notifier.domains()[0].outcome == CertificateState::kFailed);
  CHECK(r.notifier.domains()[0].detail == "the certificate authority refused: rate limited");
  DesktopNotice n = NoticeFor(r.notifier.domains()[0]);
  CHECK(n.summary == "Certificate failed: shop.example.org");
  CHECK(n.body == "the certificate authority refused: rate limited");
  // A verify afterwards sees the same end: no second notice.
  auto v = r.agent().VerifyDomain(kProject, "shop.example.org");
  REQUIRE(v.ok());
  CHECK(v->domain.certificate == CertificateState::kFailed);
  CHECK(r.notifier.domains().size() == 1);
}

TEST_CASE("platform errors during the checks are retried with backoff and never told") {
  Rig r;
  r.Add("api.example.com");
  // Unreachable for the next 3 minutes; the certificate is issued after 1.
  r.platform.ScheduleOutage(milliseconds(0), minutes(3));
  r.platform.ScheduleDomainState("api.example.com", minutes(1), DnsState::kValid,
                                 CertificateState::kIssued);
  const int64_t outage_end = r.SteadyMs() + 180000;
  WaitFor([&] { return !r.notifier.domains().empty(); }, "the notice came");
  REQUIRE(r.notifier.domains().size() == 1);
  CHECK(r.notifier.domains()[0].outcome == CertificateState::kIssued);
  // The agent kept trying through the outage, each try after the backoff of the one before, and
  // the first after it got through.
  std::vector<int64_t> checks = r.platform.DomainChecks("api.example.com");
  REQUIRE(checks.size() >= 4);
  CHECK(checks.back() >= outage_end);
  CHECK(checks[checks.size() - 2] < outage_end);
  int64_t ceiling = 10000;  // the first check came within 5 s of the add, the next within 10
  for (size_t i = 1; i < checks.size(); ++i) {
    INFO("check " << i);
    CHECK(checks[i] - checks[i - 1] >= ceiling / 2);
    CHECK(checks[i] - checks[i - 1] <= ceiling);
    ceiling = std::min<int64_t>(ceiling * 2, 600000);
  }
}

TEST_CASE("a restarted agent tells nothing twice and goes on checking the pending domains") {
  Rig r;
  r.platform.ScheduleDomainState("a.example.com", minutes(1), DnsState::kValid,
                                 CertificateState::kIssued);
  r.Add("a.example.com");
  r.Add("b.example.com");  // stays pending while the first agent runs
  WaitFor([&] { return r.notifier.domains().size() == 1; }, "a's notice came");
  WaitFor([&] { return r.agent().CheckedDomains().size() == 1; }, "a's checks stopped");
  CHECK(r.agent().CheckedDomains() == std::vector<std::string>{"proj-1 b.example.com"});
  r.core.reset();

  test::FakeNotifier second;
  StopSignal second_stop;
  r.Start(second, second_stop);
  r.agent().ResumeWatching();
  CHECK(r.agent().CheckedDomains() == std::vector<std::string>{"proj-1 b.example.com"});
  r.platform.ScheduleDomainState("b.example.com", minutes(5), DnsState::kValid,
                                 CertificateState::kIssued);
  WaitFor([&] { return !second.domains().empty(); }, "b's notice came");
  WaitFor([&] { return r.agent().CheckedDomains().empty(); }, "b's checks stopped");
  REQUIRE(second.domains().size() == 1);
  CHECK(second.domains()[0].domain == "b.example.com");
  CHECK(r.notifier.domains().size() == 1);
  r.core.reset();

  // A third agent has nothing left to check, and nothing to tell.
  test::FakeNotifier third;
  StopSignal third_stop;
  r.Start(third, third_stop);
  r.agent().ResumeWatching();
  CHECK(r.agent().CheckedDomains().empty());
  auto listed = r.agent().Domains(kProject, "");
  REQUIRE(listed.ok());
  CHECK(listed->domains.size() == 2);
  CHECK(third.domains().empty());
}

TEST_CASE("removing a domain stops its checks and forgets it") {
  Rig r;
  r.Add("api.example.com");
  WaitFor([&] { return r.platform.DomainChecks("api.example.com").size() >= 2; },
          "it was checked twice");
  REQUIRE(r.agent().RemoveDomain(kProject, "API.example.com").ok());
  CHECK(r.agent().CheckedDomains().empty());
  auto kept = r.core->domains().Get(r.platform.base_url(), kProject, "api.example.com");
  REQUIRE(kept.ok());
  CHECK_FALSE(kept->has_value());
  // Gone from the platform too: a second removal is the platform's not-found.
  auto again = r.agent().RemoveDomain(kProject, "api.example.com");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kNotFound);
}

TEST_CASE("a domain removed elsewhere is forgotten by its next check") {
  Rig r;
  r.Add("api.example.com");
  auto token = "dev-token";
  REQUIRE(static_cast<Platform&>(r.platform).RemoveDomain(token, kProject, "api.example.com").ok());
  WaitFor([&] { return r.agent().CheckedDomains().empty(); }, "the checks stopped");
  auto kept = r.core->domains().Get(r.platform.base_url(), kProject, "api.example.com");
  REQUIRE(kept.ok());
  CHECK_FALSE(kept->has_value());
  CHECK(r.notifier.domains().empty());
}

TEST_CASE("domains on a seed-only platform: refused in words, nothing remembered") {
  FakePlatform::Options o;
  o.seed_only = true;
  Rig r(o);
  auto added = r.agent().AddDomain(kProject, "api.example.com", "");
  REQUIRE_FALSE(added.ok());
  CHECK(added.error().code == ErrorCode::kRejected);
  CHECK(added.error().message.find("does not offer custom domains") != std::string::npos);
  CHECK(r.agent().CheckedDomains().empty());
  CHECK(r.agent().Domains(kProject, "").error().code == ErrorCode::kRejected);
}

TEST_CASE("domain commands refuse bad names and projects before asking the platform") {
  Rig r;
  auto bad = r.agent().AddDomain(kProject, "-bad-.example.com", "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(r.agent().AddDomain("", "api.example.com", "").error().code == ErrorCode::kInvalidArgument);
  CHECK(r.agent().AddDomain(kProject, "localhost", "").error().code == ErrorCode::kInvalidArgument);
  CHECK(r.agent().AddDomain(kProject, "api.example.com", "Bad Env").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(r.agent().VerifyDomain(kProject, "a..b").error().code == ErrorCode::kInvalidArgument);
  // An environment the project lacks is the platform's not-found.
  auto no_env = r.agent().AddDomain(kProject, "api.example.com", "qa");
  REQUIRE_FALSE(no_env.ok());
  CHECK(no_env.error().code == ErrorCode::kNotFound);
  CHECK(r.agent().CheckedDomains().empty());
}

TEST_CASE(
    "verify looks each record up itself, at a real DNS server, beside the platform's lookup") {
  test::DnsServer server;  // example.test
  auto resolver = dns::MakeResolver(server.Address());
  REQUIRE_MESSAGE(resolver.ok(), resolver.error().message);
  Rig r({}, resolver->get());
  const std::string domain = "api." + server.zone();
  auto added = r.Add(domain);
  REQUIRE(added.records.size() == 2);
  const contract::DnsRecord txt = added.records[0];
  const contract::DnsRecord a = added.records[1];
  REQUIRE(txt.type == "TXT");
  REQUIRE(a.type == "A");

  // Only the A record is published.
  server.AddRecord(a.name, "A", a.value);
  auto half = r.agent().VerifyDomain(kProject, domain);
  REQUIRE_MESSAGE(half.ok(), half.error().message);
  CHECK(half->resolver == server.Address());
  REQUIRE(half->lookups.size() == 2);
  CHECK(half->lookups[0].error.empty());
  CHECK(half->lookups[0].found.empty());
  CHECK_FALSE(half->lookups[0].ok);
  CHECK(half->lookups[1].found == std::vector<std::string>{"127.0.0.1"});
  CHECK(half->lookups[1].ok);
  CHECK(half->domain.dns == DnsState::kPending);  // the platform's own answer, as it gave it

  // A TXT record with another value is found, and is not the one asked for.
  server.AddRecord(txt.name, "TXT", "backend-im-verify=someone-else");
  auto wrong = r.agent().VerifyDomain(kProject, domain);
  REQUIRE(wrong.ok());
  CHECK(wrong->lookups[0].found == std::vector<std::string>{"backend-im-verify=someone-else"});
  CHECK_FALSE(wrong->lookups[0].ok);
  server.RemoveRecord(txt.name, "TXT");
  server.AddRecord(txt.name, "TXT", txt.value);
  auto both = r.agent().VerifyDomain(kProject, domain);
  REQUIRE(both.ok());
  CHECK(both->lookups[0].ok);
  CHECK(both->lookups[1].ok);

  // No server answers: each lookup says why, and the platform's answer still comes back.
  server.Stop();
  auto unanswered = r.agent().VerifyDomain(kProject, domain);
  REQUIRE(unanswered.ok());
  for (const RecordLookup& l : unanswered->lookups) {
    CHECK_FALSE(l.error.empty());
    CHECK_FALSE(l.ok);
    CHECK(l.found.empty());
  }
  CHECK(unanswered->domain.records.size() == 2);
  CHECK(r.platform.verify_domain_calls() == 4);
}
