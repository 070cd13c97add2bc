// The report: text for people with every check, its evidence and the summary line last; one
// JSON document for machines; exit code 1 only when a check failed.

#include "conformance/report.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace bim::conformance {
namespace {

Check Named(const std::string& id) {
  Check c;
  c.id = id;
  c.description = "about " + id;
  return c;
}

Report Sample() {
  Report r("http://platform.test", "conformance-20260101-000000", false);
  CheckResult pass = Pass("all good");
  pass.evidence.push_back({"GET /api/auth/verify", 200, R"({"valid":true})", ""});
  r.Add(Named("auth.verify"), pass);
  CheckResult fail = Fail("field \"commitHash\" is missing\nsecond line");
  fail.evidence.push_back({"POST /api/deploy", 200, R"({"commit_hash":"x"})", "Idempotency-Key k"});
  r.Add(Named("deploy.shape"), fail);
  r.Add(Named("ext.seq"), NotSupported("messages carry no seq"));
  r.Add(Named("ext.refresh_token"), Skipped("needs --device-login"));
  r.SetCreatedDeployments({"d-1"});
  return r;
}

TEST_CASE("the summary line counts each outcome") {
  CHECK(Sample().SummaryLine() == "conformance: 1 passed, 1 failed, 1 not supported, 1 skipped");
}

TEST_CASE("only a failed check makes the exit code non-zero") {
  CHECK(Sample().ExitCode() == 1);
  Report r("http://x", "l", true);
  r.Add(Named("a"), Pass());
  r.Add(Named("b"), NotSupported("missing extension"));
  r.Add(Named("c"), Skipped("read-only"));
  CHECK(r.ExitCode() == 0);
}

TEST_CASE("the text names every check with its outcome, detail and evidence, summary last") {
  std::string text = Sample().Text();
  CHECK(text.find("PASS  auth.verify  about auth.verify") != std::string::npos);
  CHECK(text.find("FAIL  deploy.shape") != std::string::npos);
  CHECK(text.find("      field \"commitHash\" is missing\n      second line") != std::string::npos);
  CHECK(text.find("> POST /api/deploy -> 200 (Idempotency-Key k): {\"commit_hash\":\"x\"}") !=
        std::string::npos);
  CHECK(text.find("N/S   ext.seq") != std::string::npos);
  CHECK(text.find("SKIP  ext.refresh_token") != std::string::npos);
  CHECK(text.find("deployments created: 1") != std::string::npos);
  CHECK(text.find("  d-1\n") != std::string::npos);
  std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  CHECK(last == "conformance: 1 passed, 1 failed, 1 not supported, 1 skipped\n");
}

TEST_CASE("the JSON report is one document with every check, the summary and the exit code") {
  auto j = nlohmann::json::parse(Sample().Json());
  CHECK(j["api"] == "http://platform.test");
  CHECK(j["readOnly"] == false);
  REQUIRE(j["checks"].size() == 4);
  CHECK(j["checks"][1]["id"] == "deploy.shape");
  CHECK(j["checks"][1]["outcome"] == "fail");
  CHECK(j["checks"][1]["evidence"][0]["status"] == 200);
  CHECK(j["checks"][1]["evidence"][0]["note"] == "Idempotency-Key k");
  CHECK(j["checks"][2]["outcome"] == "not-supported");
  CHECK(j["checks"][3]["outcome"] == "skipped");
  CHECK(j["summary"]["failed"] == 1);
  CHECK(j["summary"]["notSupported"] == 1);
  CHECK(j["deploymentsCreated"] == nlohmann::json::array({"d-1"}));
  CHECK(j["exitCode"] == 1);
}

TEST_CASE("evidence bodies mask tokens, device codes and values, and are cut at a UTF-8 boundary") {
  std::string masked =
      EvidenceBody(R"({"access_token":"secret-a","refresh_token":"secret-r","user_code":"AB"})");
  CHECK(masked.find("secret") == std::string::npos);
  CHECK(masked.find("\"user_code\":\"AB\"") != std::string::npos);
  CHECK(EvidenceBody(R"({"device_code":"dc-1"})") == R"({"device_code":"<redacted>"})");
  // A variable's value, alone or listed.
  CHECK(EvidenceBody(R"({"key":"K","value":"v-1"})") == R"({"key":"K","value":"<redacted>"})");
  CHECK(EvidenceBody(R"({"variables":[{"key":"K","value":"v-1"},{"key":"L"}]})") ==
        R"({"variables":[{"key":"K","value":"<redacted>"},{"key":"L"}]})");

  std::string long_body(10, 'a');
  long_body += "\xC3\xA9\xC3\xA9";                // two two-byte characters from byte 10
  std::string cut = EvidenceBody(long_body, 11);  // byte 11 is inside the first one
  CHECK(cut.rfind(std::string(10, 'a') + "... (14 bytes)", 0) == 0);
  CHECK(EvidenceBody("short\n") == "short");
}

}  // namespace
}  // namespace bim::conformance
