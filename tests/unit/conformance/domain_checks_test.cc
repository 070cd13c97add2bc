// ext.domains* over a scripted platform: the extension as the contract has it passes and leaves
// nothing behind; a platform without it, or with it but not as described, is not-supported;
// --read-only only lists.

#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "conformance/checks.h"
#include "conformance/suite.h"
#include "tests/unit/conformance/fakes.h"

namespace bim::conformance {
namespace {

using nlohmann::json;
using test::Answer;
using test::FakeWorld;

const std::string kLabel = "conformance-test";
const std::string kDomains = "/api/projects/" + kLabel + "/domains";

json Error(const std::string& code) { return {{"error", code}, {"message", "m"}}; }

// The extension in memory for the run's project. Its quirks make a platform that has the
// extension, but not as the contract describes it.
struct FakeDomains {
  std::string dns_after_verify = "pending";  // what a verify finds
  bool keep_on_delete = false;               // DELETE answers 204 and removes nothing
  std::map<std::string, json> domains;

  void Install(FakeWorld& w) {
    w.http.On("GET", kDomains, [this](const HttpCall& c) {
      std::string path = Path(c);
      if (path == kDomains) {
        json list = json::array();
        for (const auto& [name, d] : domains) list.push_back(d);
        return Answer(200, json{{"projectId", kLabel}, {"domains", list}}.dump());
      }
      auto d = domains.find(Name(path));
      if (d == domains.end()) return Answer(404, Error("domain_not_found").dump());
      return Answer(200, d->second.dump());
    });
    w.http.On("POST", kDomains, [this](const HttpCall& c) {
      std::string path = Path(c);
      if (path != kDomains) {  // .../verify
        std::string name = Name(path.substr(0, path.rfind('/')));
        auto d = domains.find(name);
        if (d == domains.end()) return Answer(404, Error("domain_not_found").dump());
        d->second["dns"] = dns_after_verify;
        d->second["checkedAt"] = 1700000000000;
        return Answer(200, d->second.dump());
      }
      auto body = json::parse(c.body);
      std::string name = body["domain"];
      if (name.find(' ') != std::string::npos) {
        return Answer(400, Error("invalid_request").dump());
      }
      if (body.value("environment", "production") != "production") {
        return Answer(404, Error("environment_not_found").dump());
      }
      if (domains.count(name)) return Answer(409, Error("domain_exists").dump());
      json d = {
          {"domain", name},
          {"projectId", kLabel},
          {"environment", "production"},
          {"dns", "pending"},
          {"certificate", "pending"},
          {"records",
           {{{"type", "TXT"},
             {"name", "_backend-im." + name},
             {"value", "v=1"},
             {"found", json::array()}},
            {{"type", "A"}, {"name", name}, {"value", "192.0.2.1"}, {"found", json::array()}}}}};
      domains[name] = d;
      return Answer(201, d.dump());
    });
    w.http.On("DELETE", kDomains, [this](const HttpCall& c) {
      std::string name = Name(Path(c));
      if (!domains.count(name)) return Answer(404, Error("domain_not_found").dump());
      if (!keep_on_delete) domains.erase(name);
      return Answer(204, "");
    });
  }

  static std::string Path(const HttpCall& c) { return c.url.substr(test::kApi.size()); }
  static std::string Name(const std::string& path) { return path.substr(kDomains.size() + 1); }
};

SuiteOptions Options(bool read_only = false) {
  SuiteOptions o;
  o.api_url = test::kApi;
  o.token = "t";
  o.label = kLabel;
  o.read_only = read_only;
  return o;
}

std::vector<std::string> WritingCalls(const FakeWorld& w) {
  std::vector<std::string> calls;
  for (const auto& c : w.http.calls) {
    if (c.method != "GET") calls.push_back(c.method + " " + c.url.substr(test::kApi.size()));
  }
  return calls;
}

}  // namespace

TEST_CASE("ext.domains*: the extension as the contract has it passes, and leaves nothing") {
  FakeWorld w;
  FakeDomains platform;
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite(DomainChecks()).Run(ctx);
  for (const auto& e : r.entries()) {
    CHECK_MESSAGE(e.result.outcome == Outcome::kPass, e.id << ": " << e.result.detail);
  }
  CHECK(r.entries().size() == 6);
  CHECK(platform.domains.empty());
  // The run's domain is a name of its own under example.com.
  auto writes = WritingCalls(w);
  REQUIRE_FALSE(writes.empty());
  CHECK(writes.front() == "POST " + kDomains);
  CHECK(writes.back().rfind("DELETE " + kDomains + "/", 0) == 0);
  CHECK(writes.back().ends_with("." + kLabel + ".example.com"));
}

TEST_CASE("ext.domains*: a platform whose domains path is its generic 404 has none") {
  FakeWorld w;  // every unrouted request is 404 not_found
  auto ctx = w.MakeContext(Options());
  Report r = Suite(DomainChecks()).Run(ctx);
  for (const auto& e : r.entries()) {
    CAPTURE(e.id);
    CHECK(e.result.outcome == Outcome::kNotSupported);
    CHECK(e.result.detail.find("answered 404 (error \"not_found\"): the platform has no custom "
                               "domains") != std::string::npos);
  }
  CHECK(WritingCalls(w).empty());
  CHECK(w.http.calls.size() == 1);  // one listing decides for all
}

TEST_CASE("ext.domains*: --read-only lists and changes nothing") {
  FakeWorld w;
  FakeDomains platform;
  platform.Install(w);
  auto ctx = w.MakeContext(Options(/*read_only=*/true));
  Report r = Suite(DomainChecks()).Run(ctx);
  CHECK(r.Find("ext.domains")->result.outcome == Outcome::kPass);
  for (const auto& e : r.entries()) {
    if (e.id == "ext.domains") continue;
    CAPTURE(e.id);
    CHECK(e.result.outcome == Outcome::kSkipped);
    CHECK(e.result.detail.find("--read-only") != std::string::npos);
  }
  CHECK(WritingCalls(w).empty());
}

TEST_CASE("ext.domains_verify: a domain valid with nothing published is not-supported") {
  FakeWorld w;
  FakeDomains platform;
  platform.dns_after_verify = "valid";
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite({DomainChecks()[3]}).Run(ctx);
  const auto& result = r.Find("ext.domains_verify")->result;
  CHECK(result.outcome == Outcome::kNotSupported);
  CHECK(result.detail.find("dns is valid for a name nobody published records for") !=
        std::string::npos);
  // The domain it added for the check is gone again: the run removed it at its end.
  CHECK(platform.domains.empty());
  CHECK(WritingCalls(w).back().rfind("DELETE " + kDomains + "/", 0) == 0);
}

TEST_CASE("ext.domains_delete: a domain still listed after its DELETE is not-supported") {
  FakeWorld w;
  FakeDomains platform;
  platform.keep_on_delete = true;
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite({DomainChecks()[5]}).Run(ctx);
  const auto& result = r.Find("ext.domains_delete")->result;
  CHECK(result.outcome == Outcome::kNotSupported);
  CHECK(result.detail.find("still show") != std::string::npos);
  CHECK(result.detail.find("expected 404 domain_not_found") != std::string::npos);
}

}  // namespace bim::conformance
