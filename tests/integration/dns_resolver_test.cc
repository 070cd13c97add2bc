// The c-ares resolver (common/dns_resolver.h) against a real authoritative server, Knot DNS on
// loopback (tests/support/dns_server.h): what it answers, what counts as "no records", and what
// it says when the server is gone.
#include "common/dns_resolver.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/dns_server.h"
#include "tests/support/harness.h"

namespace bim::test {
namespace {

using dns::RecordType;
using namespace std::chrono_literals;
using Values = std::vector<std::string>;

constexpr auto kTimeout = 2000ms;

std::unique_ptr<dns::Resolver> ResolverFor(const std::string& server) {
  auto r = dns::MakeResolver(server);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return std::move(r.value());
}

Values Sorted(Values v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The values of a lookup that must succeed.
Values Lookup(dns::Resolver& resolver, const std::string& name, RecordType type) {
  auto r = resolver.Lookup(name, type, kTimeout);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return Sorted(r.value());
}

}  // namespace

TEST_CASE("the resolver reads A, AAAA, CNAME and TXT records from the server it names") {
  DnsServer server;
  server.AddRecord("shop.example.test", "A", "192.0.2.10");
  server.AddRecord("shop.example.test", "A", "192.0.2.11");
  server.AddRecord("shop.example.test", "AAAA", "2001:db8::7");
  server.AddRecord("www.example.test", "CNAME", "Shop.Example.Test.");
  server.AddRecord("_backend-im.shop.example.test", "TXT", "backend-im-verify=abc123");
  server.AddRecord("_backend-im.shop.example.test", "TXT", "second record");
  server.AddRecord("multi.example.test", "TXT", R"("part one, " "part two")");
  auto resolver = ResolverFor(server.Address());
  CHECK(resolver->server() == server.Address());

  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kA) ==
        Values{"192.0.2.10", "192.0.2.11"});
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kAAAA) == Values{"2001:db8::7"});
  // A CNAME's target as the server has it (case kept), without the trailing dot.
  CHECK(Lookup(*resolver, "www.example.test", RecordType::kCNAME) == Values{"Shop.Example.Test"});
  CHECK(Lookup(*resolver, "_backend-im.shop.example.test", RecordType::kTXT) ==
        Values{"backend-im-verify=abc123", "second record"});
  // The strings of one record are one value.
  CHECK(Lookup(*resolver, "multi.example.test", RecordType::kTXT) == Values{"part one, part two"});
}

TEST_CASE("the resolver reads a TXT record longer than one DNS string as one value") {
  DnsServer server;
  std::string long_text(600, 'x');
  long_text += "-end";
  server.AddRecord("long.example.test", "TXT", long_text);
  auto resolver = ResolverFor(server.Address());
  CHECK(Lookup(*resolver, "long.example.test", RecordType::kTXT) == Values{long_text});
}

TEST_CASE("a name that does not exist, or has no record of the type, is an empty answer") {
  DnsServer server;
  server.AddRecord("shop.example.test", "A", "192.0.2.10");
  auto resolver = ResolverFor(server.Address());
  // NXDOMAIN
  CHECK(Lookup(*resolver, "nothing-here.example.test", RecordType::kA).empty());
  CHECK(Lookup(*resolver, "nothing-here.example.test", RecordType::kTXT).empty());
  CHECK(Lookup(*resolver, "nothing-here.example.test", RecordType::kCNAME).empty());
  // NODATA: the name exists, with an A record only.
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kAAAA).empty());
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kTXT).empty());
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kCNAME).empty());
}

TEST_CASE("a record published or withdrawn while the server runs is seen by the next lookup") {
  DnsServer server;
  auto resolver = ResolverFor(server.Address());
  CHECK(Lookup(*resolver, "new.example.test", RecordType::kA).empty());
  server.AddRecord("new.example.test", "A", "192.0.2.99");
  CHECK(Lookup(*resolver, "new.example.test", RecordType::kA) == Values{"192.0.2.99"});
  server.AddRecord("new.example.test", "A", "192.0.2.98");
  server.RemoveRecord("new.example.test", "A", "192.0.2.99");
  CHECK(Lookup(*resolver, "new.example.test", RecordType::kA) == Values{"192.0.2.98"});
  server.RemoveRecord("new.example.test", "A");
  CHECK(Lookup(*resolver, "new.example.test", RecordType::kA).empty());
  // Withdrawing what is not there changes nothing.
  server.RemoveRecord("new.example.test", "TXT");
}

TEST_CASE("a stopped server is unavailable within the timeout, and the error names it") {
  DnsServer server;
  server.AddRecord("shop.example.test", "A", "192.0.2.10");
  auto resolver = ResolverFor(server.Address());
  server.Stop();
  auto start = std::chrono::steady_clock::now();
  auto r = resolver->Lookup("shop.example.test", RecordType::kA, kTimeout);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(r.error().message.find(server.Address()) != std::string::npos);
  CHECK(r.error().message.find("A shop.example.test") != std::string::npos);
  CHECK(took < kTimeout + 500ms);

  // Started again on the same port, with what it served before.
  server.Start();
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kA) == Values{"192.0.2.10"});
}

TEST_CASE("a server that never answers is unavailable once the timeout has passed") {
  // A UDP socket that nobody reads: the queries arrive and no answer ever comes.
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto resolver = ResolverFor(address);

  auto start = std::chrono::steady_clock::now();
  auto r = resolver->Lookup("shop.example.test", RecordType::kTXT, 600ms);
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(r.error().message.find(address) != std::string::npos);
  CHECK(r.error().message.find("did not answer within 600 ms") != std::string::npos);
  CHECK(took >= 500ms);
  CHECK(took < 1500ms);
}

TEST_CASE("a name outside the server's zones is unavailable: the server refused it") {
  DnsServer server;
  auto resolver = ResolverFor(server.Address());
  auto r = resolver->Lookup("shop.elsewhere.test", RecordType::kA, kTimeout);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("REFUSED") != std::string::npos);
  CHECK(r.error().message.find(server.Address()) != std::string::npos);
}

TEST_CASE("the resolver asks a server at an IPv6 address") {
  DnsServer server;
  if (server.Address6().empty()) {
    MESSAGE("this machine has no IPv6 loopback; only the IPv4 address was tested");
    return;
  }
  server.AddRecord("shop.example.test", "A", "192.0.2.10");
  auto resolver = ResolverFor(server.Address6());
  CHECK(resolver->server() == server.Address6());
  CHECK(Lookup(*resolver, "shop.example.test", RecordType::kA) == Values{"192.0.2.10"});
}

TEST_CASE("a server that is not HOST:PORT is refused, and the error shows the form") {
  for (const std::string bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x",
        "localhost:53", "::1:53", "[::1]", "[::1]53", "[nope]:53", "[127.0.0.1]:53", "1.2.3:53",
        " 127.0.0.1:53", ":53"}) {
    CAPTURE(bad);
    auto r = dns::MakeResolver(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK(r.error().message.find("HOST:PORT") != std::string::npos);
  }
  for (const std::string good : {"127.0.0.1:53", "[::1]:5353", "192.0.2.1:65535"}) {
    CAPTURE(good);
    CHECK(dns::MakeResolver(good).ok());
  }
}

TEST_CASE("the system's resolver is named as such") {
  auto resolver = ResolverFor("");
  CHECK(resolver->server() == "the system's resolver");
}

TEST_CASE("record type names go both ways") {
  for (RecordType t : {RecordType::kA, RecordType::kAAAA, RecordType::kCNAME, RecordType::kTXT}) {
    CHECK(dns::ParseRecordType(dns::RecordTypeName(t)) == t);
  }
  CHECK_FALSE(dns::ParseRecordType("MX").has_value());
  CHECK_FALSE(dns::ParseRecordType("a").has_value());
}

}  // namespace bim::test
