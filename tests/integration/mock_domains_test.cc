// backend-im-mock's custom domains over HTTP (docs/API_CONTRACTS.md §6.3), checked against
// records published on a real DNS server (Knot DNS on loopback, tests/support/dns_server.h):
// what the domain's owner meets from adding a domain to its certificate, mistakes included.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/mock_test_util.h"
#include "tests/support/dns_server.h"

namespace bim::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kIngress = "192.0.2.50";

std::vector<std::string> JsonBearer() {
  auto h = Bearer();
  h.push_back("Content-Type: application/json");
  return h;
}

// A mock that looks domains up on dns, asks for kIngress, and re-checks rarely unless told.
std::vector<std::string> MockArgs(const DnsServer& dns, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--token",      kToken,   "--dns-server",    dns.Address(),
                                "--ingress-ip", kIngress, "--cert-delay-ms", "200"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string DomainsUrl(const MockPlatform& mock, const std::string& project = "shop") {
  return mock.http_url() + "/api/projects/" + project + "/domains";
}

HttpReply Add(const MockPlatform& mock, const std::string& body,
              const std::string& project = "shop") {
  return HttpRequest("POST", DomainsUrl(mock, project), body, JsonBearer());
}

contract::Domain ParseDomainReply(const HttpReply& r, long status) {
  INFO("status " << r.status << " body " << r.body);
  REQUIRE(r.status == status);
  auto d = contract::ParseDomain(r.body);
  REQUIRE(d.ok());
  return std::move(d).value();
}

contract::Domain Verify(const MockPlatform& mock, const std::string& domain,
                        const std::string& project = "shop") {
  return ParseDomainReply(
      HttpRequest("POST", DomainsUrl(mock, project) + "/" + domain + "/verify", "", Bearer()), 200);
}

contract::Domain Get(const MockPlatform& mock, const std::string& domain,
                     const std::string& project = "shop") {
  return ParseDomainReply(
      HttpRequest("GET", DomainsUrl(mock, project) + "/" + domain, "", Bearer()), 200);
}

const contract::DnsRecord& RecordOf(const contract::Domain& d, const std::string& type) {
  for (const auto& r : d.records) {
    if (r.type == type) return r;
  }
  FAIL("no " << type << " record in " << contract::ToJson(d));
  throw;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Publishes what d asks for on dns.
void PublishAll(DnsServer& dns, const contract::Domain& d) {
  for (const auto& r : d.records) dns.AddRecord(r.name, r.type, r.value);
}

}  // namespace

TEST_CASE(
    "a domain goes from pending to valid as its owner publishes the records, then gets "
    "its certificate") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns));

  auto added = ParseDomainReply(Add(mock, R"({"domain": "Shop.Example.Test."})"), 201);
  CHECK(added.domain == "shop.example.test");
  CHECK(added.project_id == "shop");
  CHECK(added.environment == "production");
  CHECK(added.dns == contract::DnsState::kPending);
  CHECK(added.certificate == contract::CertificateState::kPending);
  CHECK_FALSE(added.checked_at.has_value());
  REQUIRE(added.records.size() == 2);
  const auto txt = RecordOf(added, "TXT");
  CHECK(txt.name == "_backend-im.shop.example.test");
  REQUIRE(txt.value.rfind("backend-im-verify=", 0) == 0);
  CHECK(txt.value.size() > std::string("backend-im-verify=").size() + 16);
  CHECK_FALSE(txt.ok.has_value());
  const auto a = RecordOf(added, "A");
  CHECK(a.name == "shop.example.test");
  CHECK(a.value == kIngress);

  // Nothing published: pending, nothing found, and the detail names what is missing.
  auto v = Verify(mock, "shop.example.test");
  CHECK(v.dns == contract::DnsState::kPending);
  CHECK(v.checked_at.has_value());
  CHECK(RecordOf(v, "TXT").found.empty());
  CHECK(RecordOf(v, "TXT").ok == false);
  CHECK(RecordOf(v, "A").found.empty());
  CHECK(Contains(v.detail, "A shop.example.test"));
  CHECK(Contains(v.detail, "TXT _backend-im.shop.example.test"));

  // Only the TXT record: still pending, and only the A record is named.
  dns.AddRecord(txt.name, "TXT", txt.value);
  v = Verify(mock, "shop.example.test");
  CHECK(v.dns == contract::DnsState::kPending);
  CHECK(RecordOf(v, "TXT").found == std::vector<std::string>{txt.value});
  CHECK(RecordOf(v, "TXT").ok == true);
  CHECK(RecordOf(v, "A").ok == false);
  CHECK(Contains(v.detail, "A shop.example.test"));
  CHECK_FALSE(Contains(v.detail, "TXT"));

  // The A record points elsewhere: invalid, and the detail says what it found.
  dns.AddRecord("shop.example.test", "A", "192.0.2.99");
  v = Verify(mock, "shop.example.test");
  CHECK(v.dns == contract::DnsState::kInvalid);
  CHECK(RecordOf(v, "A").found == std::vector<std::string>{"192.0.2.99"});
  CHECK(Contains(v.detail, "A shop.example.test holds 192.0.2.99, not 192.0.2.50"));
  CHECK(v.certificate == contract::CertificateState::kPending);

  // Fixed: valid, no detail; the certificate follows after --cert-delay-ms.
  dns.RemoveRecord("shop.example.test", "A");
  dns.AddRecord("shop.example.test", "A", kIngress);
  auto before = *v.checked_at;
  v = Verify(mock, "shop.example.test");
  CHECK(v.dns == contract::DnsState::kValid);
  CHECK(v.detail.empty());
  CHECK(RecordOf(v, "A").ok == true);
  CHECK(*v.checked_at >= before);
  CHECK(v.certificate == contract::CertificateState::kPending);
  CHECK(WaitUntil(
      [&] {
        return Get(mock, "shop.example.test").certificate != contract::CertificateState::kPending;
      },
      10s, 50ms));
  auto done = Get(mock, "shop.example.test");
  CHECK(done.certificate == contract::CertificateState::kIssued);
  CHECK(done.dns == contract::DnsState::kValid);
  CHECK(done.detail.empty());
}

TEST_CASE("the platform checks a pending domain again by itself every --domain-check-ms") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns, {"--domain-check-ms", "100"}));
  auto added = ParseDomainReply(Add(mock, R"({"domain": "auto.example.test"})"), 201);
  // The first background check finds nothing.
  REQUIRE(
      WaitUntil([&] { return Get(mock, "auto.example.test").checked_at.has_value(); }, 10s, 20ms));
  CHECK(Get(mock, "auto.example.test").dns == contract::DnsState::kPending);
  PublishAll(dns, added);
  CHECK(WaitUntil(
      [&] {
        return Get(mock, "auto.example.test").certificate == contract::CertificateState::kIssued;
      },
      10s, 20ms));
  CHECK(Get(mock, "auto.example.test").dns == contract::DnsState::kValid);
}

TEST_CASE("a certificate the authority refuses fails, and the detail says so") {
  DnsServer dns;
  MockPlatform mock(
      MockArgs(dns, {"--cert-fail-domain", "other.example.test,Refused.Example.Test"}));
  auto added = ParseDomainReply(Add(mock, R"({"domain": "refused.example.test"})"), 201);
  PublishAll(dns, added);
  CHECK(Verify(mock, "refused.example.test").dns == contract::DnsState::kValid);
  REQUIRE(WaitUntil(
      [&] {
        return Get(mock, "refused.example.test").certificate !=
               contract::CertificateState::kPending;
      },
      10s, 50ms));
  auto d = Get(mock, "refused.example.test");
  CHECK(d.certificate == contract::CertificateState::kFailed);
  CHECK(Contains(d.detail, "the certificate authority refused"));
  CHECK(d.dns == contract::DnsState::kValid);
}

TEST_CASE("when the DNS server does not answer, verify still answers and dns stays as it was") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns));
  auto added = ParseDomainReply(Add(mock, R"({"domain": "down.example.test"})"), 201);
  auto pending = ParseDomainReply(Add(mock, R"({"domain": "later.example.test"})"), 201);
  PublishAll(dns, added);
  auto valid = Verify(mock, "down.example.test");
  REQUIRE(valid.dns == contract::DnsState::kValid);

  dns.Stop();
  auto v = Verify(mock, "down.example.test");
  CHECK(v.dns == contract::DnsState::kValid);
  CHECK(v.checked_at == valid.checked_at);
  CHECK(RecordOf(v, "A").found == RecordOf(valid, "A").found);
  CHECK(Contains(v.detail, "the last lookup failed, so dns stays valid"));
  CHECK(Contains(v.detail, dns.Address()));

  auto p = Verify(mock, "later.example.test");
  CHECK(p.dns == contract::DnsState::kPending);
  CHECK_FALSE(p.checked_at.has_value());
  CHECK(Contains(p.detail, "dns stays pending"));
  CHECK(Contains(p.detail, dns.Address()));
  CHECK(pending.records.size() == p.records.size());

  // Back: the next lookup is an answer again.
  dns.Start();
  CHECK(Verify(mock, "down.example.test").detail.empty());
}

TEST_CASE("a DNS server that never answers holds up only the verify that asked it") {
  // A UDP port where nothing reads: queries vanish.
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string silent = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  MockPlatform mock({"--token", kToken, "--dns-server", silent, "--ingress-ip", kIngress});
  ParseDomainReply(Add(mock, R"({"domain": "silent.example.test"})"), 201);

  auto start = std::chrono::steady_clock::now();
  auto verify = std::async(std::launch::async, [&] { return Verify(mock, "silent.example.test"); });
  // Once the query reached the silent server, the verify is waiting for it; meanwhile the
  // platform answers everything else at once.
  pollfd query{fd, POLLIN, 0};
  REQUIRE(::poll(&query, 1, 5000) == 1);
  auto other_start = std::chrono::steady_clock::now();
  CHECK(HttpRequest("GET", DomainsUrl(mock) + "/silent.example.test", "", Bearer()).status == 200);
  CHECK(std::chrono::steady_clock::now() - other_start < 1s);
  CHECK(verify.wait_for(0s) == std::future_status::timeout);

  auto v = verify.get();
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  CHECK(took >= 1500ms);
  CHECK(took < 10s);
  CHECK(v.dns == contract::DnsState::kPending);
  CHECK(Contains(v.detail, silent + " did not answer within"));
}

TEST_CASE(
    "domains are listed, read and removed, names are checked, and each belongs to one project") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns));
  CHECK(Add(mock, R"({"domain": "b.example.test"})").status == 201);
  CHECK(Add(mock, R"({"domain": "a.example.test", "environment": "staging"})").status == 201);

  auto listed = HttpRequest("GET", DomainsUrl(mock), "", Bearer());
  REQUIRE(listed.status == 200);
  auto list = contract::ParseDomainList(listed.body);
  REQUIRE(list.ok());
  CHECK(list->project_id == "shop");
  REQUIRE(list->domains.size() == 2);
  CHECK(list->domains[0].domain == "a.example.test");
  CHECK(list->domains[0].environment == "staging");
  CHECK(list->domains[1].domain == "b.example.test");
  // Another project's list has none of them.
  auto other =
      contract::ParseDomainList(HttpRequest("GET", DomainsUrl(mock, "cart"), "", Bearer()).body);
  REQUIRE(other.ok());
  CHECK(other->domains.empty());

  // Case and a trailing dot in the path are folded as in the body.
  CHECK(Get(mock, "A.Example.Test.").domain == "a.example.test");

  CheckError(Add(mock, R"({"domain": "a.example.test"})"), 409, "domain_exists");
  CheckError(Add(mock, R"({"domain": "A.EXAMPLE.TEST"})"), 409, "domain_exists");
  CheckError(Add(mock, R"({"domain": "a.example.test"})", "cart"), 409, "domain_taken");
  CheckError(Add(mock, R"({"domain": "c.example.test", "environment": "nope"})"), 404,
             "environment_not_found");
  for (const std::string bad :
       {R"({"domain": "localhost"})", R"({"domain": "-a.example.test"})",
        R"({"domain": "a..example.test"})", R"({"domain": "a_b.example.test"})",
        R"({"domain": ""})", R"({"domain": 7})", R"({})", "not json",
        R"({"domain": "a.example.test", "environment": 3})"}) {
    CAPTURE(bad);
    CheckError(Add(mock, bad), 400, "invalid_request");
  }
  CheckError(Add(mock, "{\"domain\": \"" + std::string(250, 'a') + ".test\"}"), 400,
             "invalid_request");

  CheckError(HttpRequest("GET", DomainsUrl(mock) + "/nope.example.test", "", Bearer()), 404,
             "domain_not_found");
  CheckError(HttpRequest("GET", DomainsUrl(mock, "cart") + "/a.example.test", "", Bearer()), 404,
             "domain_not_found");
  CheckError(HttpRequest("POST", DomainsUrl(mock) + "/nope.example.test/verify", "", Bearer()), 404,
             "domain_not_found");
  CheckError(HttpRequest("GET", DomainsUrl(mock) + "/not_a_domain", "", Bearer()), 400,
             "invalid_request");
  CheckError(HttpRequest("PUT", DomainsUrl(mock) + "/a.example.test", "", Bearer()), 405,
             "method_not_allowed");
  CHECK(HttpRequest("GET", DomainsUrl(mock), "").status == 401);

  auto removed = HttpRequest("DELETE", DomainsUrl(mock) + "/a.example.test", "", Bearer());
  CHECK(removed.status == 204);
  CHECK(removed.body.empty());
  CheckError(HttpRequest("DELETE", DomainsUrl(mock) + "/a.example.test", "", Bearer()), 404,
             "domain_not_found");
  CheckError(HttpRequest("GET", DomainsUrl(mock) + "/a.example.test", "", Bearer()), 404,
             "domain_not_found");
  // Once removed, another project may have it.
  CHECK(Add(mock, R"({"domain": "a.example.test"})", "cart").status == 201);
}

TEST_CASE("a project has at most 50 domains") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns));
  for (int i = 0; i < 50; ++i) {
    REQUIRE(Add(mock, "{\"domain\": \"d" + std::to_string(i) + ".example.test\"}").status == 201);
  }
  CheckError(Add(mock, R"({"domain": "one-more.example.test"})"), 409, "too_many_domains");
  CHECK(Add(mock, R"({"domain": "one-more.example.test"})", "cart").status == 201);
}

TEST_CASE("a domain's verify after it was removed is domain_not_found") {
  DnsServer dns;
  MockPlatform mock(MockArgs(dns));
  CHECK(Add(mock, R"({"domain": "gone.example.test"})").status == 201);
  CHECK(HttpRequest("DELETE", DomainsUrl(mock) + "/gone.example.test", "", Bearer()).status == 204);
  CheckError(HttpRequest("POST", DomainsUrl(mock) + "/gone.example.test/verify", "", Bearer()), 404,
             "domain_not_found");
}

TEST_CASE("a seed-only platform has no domains") {
  MockPlatform mock({"--token", kToken, "--seed-only"});
  CheckError(HttpRequest("GET", DomainsUrl(mock), "", Bearer()), 404, "not_found");
  CheckError(Add(mock, R"({"domain": "shop.example.test"})"), 404, "not_found");
  CheckError(HttpRequest("POST", DomainsUrl(mock) + "/shop.example.test/verify", "", Bearer()), 404,
             "not_found");
}

TEST_CASE("the mock refuses domain flags outside their form, and says the form") {
  auto bad_server = Run({MockBinary(), "--dns-server", "localhost:53"});
  CHECK(bad_server.exit_code != 0);
  CHECK(Contains(bad_server.err + bad_server.out, "HOST:PORT"));
  auto bad_ip = Run({MockBinary(), "--ingress-ip", "example.test"});
  CHECK(bad_ip.exit_code != 0);
  CHECK(Contains(bad_ip.err + bad_ip.out, "not an IPv4 or IPv6 address"));
  auto bad_domain = Run({MockBinary(), "--cert-fail-domain", "a.test,not a domain"});
  CHECK(bad_domain.exit_code != 0);
  CHECK(Contains(bad_domain.err + bad_domain.out, "is not a domain name"));
  auto bad_ms = Run({MockBinary(), "--domain-check-ms", "0"});
  CHECK(bad_ms.exit_code != 0);
}

TEST_CASE("an IPv6 --ingress-ip asks for an AAAA record") {
  DnsServer dns;
  MockPlatform mock(
      {"--token", kToken, "--dns-server", dns.Address(), "--ingress-ip", "2001:db8::50"});
  auto added = ParseDomainReply(Add(mock, R"({"domain": "six.example.test"})"), 201);
  CHECK(RecordOf(added, "AAAA").value == "2001:db8::50");
  PublishAll(dns, added);
  CHECK(Verify(mock, "six.example.test").dns == contract::DnsState::kValid);
}

}  // namespace bim::test
