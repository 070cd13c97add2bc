// Custom domains end to end: the mock looking records up in a real DNS server (Knot on loopback,
// tests/support/dns_server.h), the agent asking the same server itself (BACKEND_IM_DNS_SERVER),
// the ctl, and a private session bus watched by dbus-monitor for the agent's desktop notice, all
// as real processes. The mock issues a certificate --cert-delay-ms after the DNS is first valid;
// the agent's background checks start at BACKEND_IM_DOMAIN_CHECK_MS, so nothing here sleeps long.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/private_bus.h"
#include "tests/support/dns_server.h"

namespace bim::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The record of type among a domain's records, as --json prints them.
json RecordOf(const json& domain, const std::string& type) {
  for (const json& r : domain.at("records")) {
    if (r.at("type") == type) return r;
  }
  FAIL("no " << type << " record in " << domain.dump());
  return {};
}

// How many Notify calls on the bus announce this summary.
int NoticesOf(PrivateBus& bus, const std::string& summary) {
  int n = 0;
  for (const auto& call : NotifyCalls(bus.Seen())) {
    if (Has(call, "string \"" + summary + "\"")) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a custom domain: records to create, verify before and after they exist, one notice") {
  SKIP_WITHOUT_DBUS();
  DnsServer dns;
  PrivateBus bus;
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "20", "--dns-server", dns.Address(),
                  "--cert-delay-ms", "300", "--domain-check-ms", "200"});
  f.env()["DBUS_SESSION_BUS_ADDRESS"] = bus.address();
  f.env()["BACKEND_IM_DNS_SERVER"] = dns.Address();
  f.env()["BACKEND_IM_DOMAIN_CHECK_MS"] = "100";
  f.LoginWithToken();
  const std::string dir = f.MakeProject("shop");
  f.Deploy(dir);  // the folder now remembers its project
  const std::string domain = "api." + dns.zone();

  auto add = f.Ctl({"domains", "add", "API." + dns.zone() + ".", "-d", dir, "--json"});
  REQUIRE_MESSAGE(add.exit_code == 0, add.err);
  const json added = json::parse(add.out);
  CHECK(added["domain"] == domain);
  CHECK(added["environment"] == "production");
  CHECK(added["dns"] == "pending");
  REQUIRE(added["records"].size() == 2);
  const json txt = RecordOf(added, "TXT");
  const json a = RecordOf(added, "A");
  CHECK(txt["name"] == "_backend-im." + domain);
  CHECK(txt["value"].get<std::string>().rfind("backend-im-verify=", 0) == 0);
  CHECK(a["name"] == domain);
  CHECK(a["value"] == "127.0.0.1");
  for (const json& r : added["records"]) {
    CHECK(r.contains("type"));
    CHECK(r.contains("name"));
    CHECK(r.contains("value"));
  }

  // Nothing published yet: both lookups find nothing, and the missing record is named.
  auto before = f.Ctl({"domains", "verify", domain, "-d", dir});
  CHECK(before.exit_code == 1);
  CHECK_MESSAGE(Has(before.err, "The platform found no TXT record at _backend-im." + domain +
                                    ": create TXT _backend-im." + domain + " with the value " +
                                    txt["value"].get<std::string>()),
                before.err);
  CHECK(Has(before.out, "agent found:    nothing"));
  CHECK(Has(before.out, "The agent asked " + dns.Address() + "."));

  // Only the A record: still not valid, the TXT record still named, the A record found by both.
  dns.AddRecord(a["name"], "A", a["value"]);
  auto half = f.Ctl({"domains", "verify", domain, "-d", dir, "--json"});
  CHECK(half.exit_code == 1);
  json half_json = json::parse(half.out);
  CHECK(half_json["valid"] == false);
  CHECK(RecordOf(half_json, "A")["agentFound"] == json::array({"127.0.0.1"}));
  CHECK(RecordOf(half_json, "A")["ok"] == true);
  CHECK(RecordOf(half_json, "TXT")["agentOk"] == false);
  CHECK(Has(half.err, "no TXT record at _backend-im." + domain));
  CHECK_FALSE(Has(half.err, "no A record"));

  dns.AddRecord(txt["name"], "TXT", txt["value"]);
  auto after = f.Ctl({"domains", "verify", domain, "-d", dir, "--json"});
  CHECK_MESSAGE(after.exit_code == 0, after.err);
  json verified = json::parse(after.out);
  CHECK(verified["valid"] == true);
  CHECK(verified["dns"] == "valid");
  CHECK(verified["resolver"] == dns.Address());
  CHECK(verified["advice"] == json::array());
  for (const json& r : verified["records"]) {
    CHECK(r["ok"] == true);
    CHECK(r["agentOk"] == true);
    CHECK(r["agentFound"] == json::array({r["value"]}));
  }

  // The agent's background check sees the certificate issued and tells the desktop, once.
  const std::string summary = "Domain ready: " + domain;
  auto give_up = std::chrono::steady_clock::now() + seconds(20);
  while (NoticesOf(bus, summary) == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(NoticesOf(bus, summary) == 1, f.AgentLog());

  auto ls = f.Ctl({"domains", "ls", "-d", dir});
  CHECK(ls.exit_code == 0);
  CHECK(Has(ls.out, domain));
  CHECK(Has(ls.out, "production    valid     issued"));
  auto ls_json = json::parse(f.Ctl({"domains", "ls", "-d", dir, "--json"}).out);
  REQUIRE(ls_json["domains"].size() == 1);
  CHECK(ls_json["domains"][0]["certificate"] == "issued");
  // Verified again and stopped: still the one notice.
  CHECK(f.Ctl({"domains", "verify", domain, "-d", dir}).exit_code == 0);
  REQUIRE(f.Ctl({"daemon", "stop"}).exit_code == 0);
  CHECK(NoticesOf(bus, summary) == 1);
  CHECK(Has(f.AgentLog(), "domain " + domain + ": certificate issued; desktop notice queued"));

  auto rm = f.Ctl({"domains", "rm", domain, "-d", dir, "--yes"});
  CHECK_MESSAGE(rm.exit_code == 0, rm.err);
  CHECK(json::parse(f.Ctl({"domains", "ls", "-d", dir, "--json"}).out)["domains"].empty());
}

TEST_CASE("custom domains on a seed-only platform: the plain answer, exit 5") {
  AgentFixture f({"--token", "dev-token", "--seed-only"});
  f.LoginWithToken();
  for (std::vector<std::string> args :
       {std::vector<std::string>{"domains", "add", "api.example.com", "--project", "p1"},
        std::vector<std::string>{"domains", "ls", "--project", "p1"},
        std::vector<std::string>{"domains", "verify", "api.example.com", "--project", "p1"},
        std::vector<std::string>{"domains", "rm", "api.example.com", "--project", "p1", "--yes"}}) {
    CAPTURE(args[1]);
    auto r = f.Ctl(args);
    CHECK(r.exit_code == 5);
    CHECK_MESSAGE(Has(r.err, "this platform does not offer custom domains"), r.err);
  }
}

TEST_CASE("a BACKEND_IM_DNS_SERVER the agent cannot use stops it at start, saying why") {
  AgentFixture f;
  f.env()["BACKEND_IM_DNS_SERVER"] = "dns.example.com:53";
  auto r = f.Ctl({"domains", "ls", "--project", "p1"});
  CHECK(r.exit_code == 4);
  CHECK_MESSAGE(Has(r.err, "BACKEND_IM_DNS_SERVER"), r.err);
}

}  // namespace bim::test
