// backend-im-contract-test as a real process against backend-im-mock as a real process: it
// passes the mock with every extension and the seed-only mock (extensions not-supported, exit
// 0), fails each deliberately broken mode naming the check and the field or stage, creates
// nothing with --read-only, logs in with --device-login, judges injected 503/429 answers, and
// exits 2 on usage and connection errors.

#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/harness.h"

namespace bim::test {
namespace {

using nlohmann::json;

const std::string kToken = "dev-token";

std::string ContractTestBinary() { return std::string(BIM_BIN_DIR) + "/backend-im-contract-test"; }

std::vector<std::string> MockArgs(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--token", kToken, "--stage-delay-ms", "30",
                                   "--no-log-requests"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The environment of a run: no BACKEND_IM_TOKEN from whoever runs the tests, unless given.
ProcessOptions SuiteEnv(std::string token_env = "") {
  ProcessOptions o;
  if (token_env.empty()) {
    o.unset_env = {"BACKEND_IM_TOKEN"};
  } else {
    o.env = {{"BACKEND_IM_TOKEN", token_env}};
  }
  return o;
}

RunResult RunSuite(const MockPlatform& mock, std::vector<std::string> extra) {
  std::vector<std::string> argv = {
      ContractTestBinary(), "--api", mock.http_url(), "--poll-interval-ms", "20",
      "--deploy-timeout",   "30"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Run(argv, SuiteEnv(), std::chrono::seconds(90));
}

// The run's JSON report, with its checks by id.
struct JsonReport {
  json doc;
  std::map<std::string, json> checks;

  std::string Outcome(const std::string& id) const {
    auto it = checks.find(id);
    return it == checks.end() ? "(absent)" : it->second["outcome"].get<std::string>();
  }
  std::string Detail(const std::string& id) const {
    return checks.at(id)["detail"].get<std::string>();
  }
  std::string EvidenceText(const std::string& id) const { return checks.at(id)["evidence"].dump(); }
  int Count(const std::string& key) const { return doc["summary"][key].get<int>(); }
};

JsonReport ParseReport(const RunResult& r) {
  INFO("stdout: " << r.out.substr(0, 2000) << "\nstderr: " << r.err.substr(0, 2000));
  JsonReport rep;
  rep.doc = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  REQUIRE(rep.doc.is_object());
  for (const auto& c : rep.doc["checks"]) rep.checks[c["id"].get<std::string>()] = c;
  return rep;
}

json MockDeployments(const MockPlatform& mock) {
  auto r = HttpRequest("GET", mock.http_url() + "/mock/deployments");
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

// Every check id in run order, from --list.
std::vector<std::string> ListedIds() {
  auto r = Run({ContractTestBinary(), "--list"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> ids;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) ids.push_back(line.substr(0, line.find(' ')));
  return ids;
}

const std::vector<std::string> kExtensions = {"ext.seq",
                                              "ext.since",
                                              "ext.status_seq",
                                              "ext.idempotency_replay",
                                              "ext.idempotency_conflict",
                                              "ext.generate_project_id"};

const std::vector<std::string> kEnvironmentChecks = {
    "ext.environments",        "ext.environments_create",  "ext.environments_variables",
    "ext.environments_deploy", "ext.environments_promote", "ext.environments_protected",
    "ext.environments_delete"};

const std::vector<std::string> kDomainChecks = {"ext.domains",        "ext.domains_add",
                                                "ext.domains_get",    "ext.domains_verify",
                                                "ext.domains_errors", "ext.domains_delete"};

json DomainsOf(const MockPlatform& mock, const std::string& project) {
  auto r = HttpRequest("GET", mock.http_url() + "/api/projects/" + project + "/domains", "",
                       {"Authorization: Bearer " + kToken});
  REQUIRE(r.status == 200);
  return json::parse(r.body)["domains"];
}

const std::vector<std::string> kLogChecks = {"ext.logs", "ext.logs_page", "ext.logs_stream"};

json EnvironmentsOf(const MockPlatform& mock, const std::string& project) {
  auto r = HttpRequest("GET", mock.http_url() + "/api/projects/" + project + "/environments", "",
                       {"Authorization: Bearer " + kToken});
  REQUIRE(r.status == 200);
  return json::parse(r.body)["environments"];
}

TEST_CASE("the suite passes the mock with every extension, and reports each extension present") {
  MockPlatform mock(MockArgs());
  auto r = RunSuite(mock, {"--token", kToken, "--json"});
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 0);
  CHECK(rep.Count("failed") == 0);
  CHECK(rep.Count("notSupported") == 0);
  for (const auto& id : kExtensions) CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  for (const auto& id : kEnvironmentChecks) CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  for (const auto& id : kDomainChecks) CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  for (const auto& id : kLogChecks) CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  // Without --run-apps the sample deployment ran no app: an empty page, a stream that ends.
  CHECK(rep.Detail("ext.logs_page") == "no lines, cursor 0, first 1");
  CHECK(rep.Detail("ext.logs_stream").find("no lines, then the end") == 0);
  for (const char* id : {"deploy.commit_hash", "ws.status_order", "status.order", "ws.terminal",
                         "deploy.completes", "ext.error_body", "device.slow_down"}) {
    CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  }
  // Only what needs --device-login, or a 429/503 to judge, is left out.
  CHECK(rep.Outcome("ext.refresh_token") == "skipped");
  CHECK(rep.Outcome("ext.retry_after") == "skipped");
  CHECK(rep.Count("skipped") == 2);
  CHECK(rep.checks.size() == ListedIds().size());

  // Three deployments, labelled, and the report names them: the sample, one deploy to the
  // run's environment and the sample's promote to it.
  auto deployments = MockDeployments(mock);
  REQUIRE(deployments.size() == 3);
  json ids = json::array();
  for (const auto& d : deployments) {
    CHECK(d["projectId"].get<std::string>().rfind("conformance-", 0) == 0);
    CHECK(d["projectId"] == rep.doc["label"]);
    CHECK(d["status"] == "complete");
    ids.push_back(d["id"]);
  }
  CHECK(rep.doc["deploymentsCreated"] == ids);
  CHECK(deployments[0]["environment"] == "production");
  CHECK(deployments[1]["environment"].get<std::string>().rfind("conformance-", 0) == 0);
  CHECK(deployments[2]["environment"] == deployments[1]["environment"]);
  // The environment it made is gone again, and production still serves the sample.
  auto environments = EnvironmentsOf(mock, rep.doc["label"]);
  REQUIRE(environments.size() == 2);
  CHECK(environments[0]["name"] == "production");
  CHECK(environments[0]["deploymentId"] == deployments[0]["id"]);
  CHECK(environments[1]["name"] == "staging");
  // So is the domain it added.
  CHECK(DomainsOf(mock, rep.doc["label"]).empty());
}

TEST_CASE("against the seed-only mock the extensions are not-supported and the run still passes") {
  MockPlatform mock(MockArgs({"--seed-only"}));
  auto r = RunSuite(mock, {"--token", kToken, "--json"});
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 0);
  CHECK(rep.Count("failed") == 0);
  for (const auto& id : kExtensions) CHECK_MESSAGE(rep.Outcome(id) == "not-supported", id);
  for (const char* id :
       {"device.code", "device.pending", "device.slow_down", "device.unsupported_grant_type"}) {
    CHECK_MESSAGE(rep.Outcome(id) == "not-supported", id);
  }
  for (const auto& id : kEnvironmentChecks) {
    CHECK_MESSAGE(rep.Outcome(id) == "not-supported", id);
    CHECK(rep.Detail(id).find("answered 404 (error \"not_found\"): the platform has no "
                              "environments, variables or promote") != std::string::npos);
  }
  for (const auto& id : kDomainChecks) {
    CHECK_MESSAGE(rep.Outcome(id) == "not-supported", id);
    CHECK(rep.Detail(id).find("answered 404 (error \"not_found\"): the platform has no custom "
                              "domains") != std::string::npos);
  }
  for (const auto& id : kLogChecks) {
    CHECK_MESSAGE(rep.Outcome(id) == "not-supported", id);
    CHECK(rep.Detail(id).find("answered 404 (error \"not_found\"): the platform has no runtime "
                              "logs") != std::string::npos);
  }
  CHECK(rep.Detail("ext.seq").find("no seq") != std::string::npos);
  // Its errors have a body, in codes of its own (400 bad_request): the error-body extension is
  // absent, which is not a violation of the seed, whose contract gives the statuses only.
  CHECK(rep.Outcome("ext.error_body") == "not-supported");
  CHECK(rep.Detail("ext.error_body").find("\"bad_request\"") != std::string::npos);
  // Nothing a seed-only platform does is a failure.
  for (const auto& [id, c] : rep.checks)
    CHECK_MESSAGE(c["outcome"] != "fail", id << ": " << c.dump());
  // The seed's own part still passes.
  for (const char* id : {"deploy.shape", "deploy.commit_hash", "ws.message_shape",
                         "ws.status_order", "status.shape", "status.final", "auth.no_token"}) {
    CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  }
  // Without Idempotency-Key the replay made a second deployment; the report says so.
  auto deployments = MockDeployments(mock);
  CHECK(deployments.size() == 2);
  CHECK(rep.doc["deploymentsCreated"].size() == 2);
  CHECK(rep.Detail("ext.idempotency_replay").find("second deployment") != std::string::npos);
}

TEST_CASE("a renamed field fails the run, naming the checks and the field") {
  MockPlatform mock(MockArgs({"--break", "rename-field"}));
  SUBCASE("json") {
    auto r = RunSuite(mock, {"--token", kToken, "--json"});
    auto rep = ParseReport(r);
    CHECK(r.exit_code == 1);
    CHECK(rep.Outcome("deploy.shape") == "fail");
    CHECK(rep.Detail("deploy.shape") == "field \"commitHash\" is missing");
    CHECK(rep.EvidenceText("deploy.shape").find("commit_hash") != std::string::npos);
    CHECK(rep.Outcome("ws.message_shape") == "fail");
    CHECK(rep.Detail("ws.message_shape")
              .find("message 1 (status queued): field \"commitHash\" "
                    "is missing") != std::string::npos);
    CHECK(rep.Outcome("status.shape") == "fail");
    CHECK(rep.Outcome("deploy.commit_hash") == "fail");
    CHECK(rep.Detail("deploy.commit_hash").find("commit_hash") != std::string::npos);
    // The rest of the contract still holds, and the report says so.
    CHECK(rep.Outcome("ws.status_order") == "pass");
    CHECK(rep.Count("failed") == 4);
  }
  SUBCASE("text") {
    auto r = RunSuite(mock, {"--token", kToken});
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("FAIL  deploy.shape") != std::string::npos);
    CHECK(r.out.find("      field \"commitHash\" is missing\n") != std::string::npos);
    // The promote's answer, a deploy answer, has the renamed field too: an extension not as
    // described, so not-supported.
    CHECK(r.out.find("N/S   ext.environments_promote") != std::string::npos);
    CHECK(r.out.find("      not as the contract describes the extension, so clients do without "
                     "it:\n      field \"commitHash\" is missing\n") != std::string::npos);
    CHECK(std::regex_search(
        r.out,
        std::regex("\nconformance: [0-9]+ passed, 4 failed, 1 not supported, 2 skipped\n$")));
  }
}

TEST_CASE("a status out of order fails ws.status_order, naming both stages") {
  MockPlatform mock(MockArgs({"--break", "status-order"}));
  auto r = RunSuite(mock, {"--token", kToken, "--json"});
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 1);
  CHECK(rep.Outcome("ws.status_order") == "fail");
  CHECK(rep.Detail("ws.status_order") ==
        "status went backwards: \"deploying\" (message 7) came after \"health_check\" (message "
        "6)");
  CHECK(rep.EvidenceText("ws.status_order").find("building -> health_check -> deploying") !=
        std::string::npos);
  CHECK(rep.Outcome("deploy.shape") == "pass");
  CHECK(rep.Outcome("deploy.commit_hash") == "pass");
}

TEST_CASE("a commit hash made by another rule fails deploy.commit_hash and nothing else") {
  MockPlatform mock(MockArgs({"--break", "commit-hash"}));
  auto r = RunSuite(mock, {"--token", kToken, "--json"});
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 1);
  CHECK(rep.Count("failed") == 1);
  CHECK(rep.Outcome("deploy.commit_hash") == "fail");
  CHECK(rep.Detail("deploy.commit_hash").find("is not the rule's") != std::string::npos);
}

TEST_CASE("--read-only creates no deployment and skips every check that would") {
  MockPlatform mock(MockArgs());
  auto r = RunSuite(mock, {"--token", kToken, "--json", "--read-only"});
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 0);
  CHECK(MockDeployments(mock).empty());
  CHECK(rep.doc["readOnly"] == true);
  CHECK(rep.doc["deploymentsCreated"].empty());
  for (const char* id : {"auth.no_token", "auth.bad_token", "auth.verify", "status.unknown_id",
                         "ws.unknown_id", "errors.bad_body.deploy", "device.pending"}) {
    CHECK_MESSAGE(rep.Outcome(id) == "pass", id);
  }
  for (const char* id : {"generate.shape", "deploy.shape", "ws.status_order", "ext.seq",
                         "errors.deploy_validation", "deploy.unsafe_paths"}) {
    CHECK_MESSAGE(rep.Outcome(id) == "skipped", id);
    CHECK(rep.Detail(id).find("--read-only") != std::string::npos);
  }
  // Environments are listed, and nothing is made, set or removed.
  CHECK(rep.Outcome("ext.environments") == "pass");
  for (size_t i = 1; i < kEnvironmentChecks.size(); ++i) {
    CHECK_MESSAGE(rep.Outcome(kEnvironmentChecks[i]) == "skipped", kEnvironmentChecks[i]);
    CHECK(rep.Detail(kEnvironmentChecks[i]).find("--read-only") != std::string::npos);
  }
  // Runtime logs: only an unknown deployment's are asked for.
  CHECK(rep.Outcome("ext.logs") == "pass");
  CHECK(rep.Outcome("ext.logs_page") == "skipped");
  CHECK(rep.Outcome("ext.logs_stream") == "skipped");
  CHECK(EnvironmentsOf(mock, rep.doc["label"]).size() == 2);
  // Domains are listed, and none is added.
  CHECK(rep.Outcome("ext.domains") == "pass");
  for (size_t i = 1; i < kDomainChecks.size(); ++i) {
    CHECK_MESSAGE(rep.Outcome(kDomainChecks[i]) == "skipped", kDomainChecks[i]);
    CHECK(rep.Detail(kDomainChecks[i]).find("--read-only") != std::string::npos);
  }
  CHECK(DomainsOf(mock, rep.doc["label"]).empty());
  // Generate is not called either: the mock saw no successful POST /api/generate.
  CHECK(rep.EvidenceText("errors.bad_body.generate").find("\"status\":200") == std::string::npos);
}

TEST_CASE("--read-only creates nothing even against a platform that breaks the contract") {
  MockPlatform mock(MockArgs({"--break", "rename-field", "--seed-only"}));
  auto r = RunSuite(mock, {"--token", kToken, "--json", "--read-only"});
  CHECK(r.exit_code == 0);
  CHECK(MockDeployments(mock).empty());
}

TEST_CASE("--device-login prints the code, waits for approval, and checks refresh tokens") {
  MockPlatform mock({"--stage-delay-ms", "30", "--device-interval", "1", "--no-log-requests"});
  Process suite({ContractTestBinary(), "--api", mock.http_url(), "--device-login", "--json",
                 "--poll-interval-ms", "20", "--check", "auth.", "--check", "ext.refresh_token",
                 "--check", "deploy.shape"},
                SuiteEnv());
  REQUIRE(suite.WaitForOutput("user code: ", std::chrono::seconds(10), /*in_stderr=*/true));
  std::smatch m;
  std::string err = suite.Stderr();
  REQUIRE(std::regex_search(err, m, std::regex("user code: ([A-Z]{4}-[A-Z]{4})")));
  CHECK(err.find(mock.http_url() + "/device") != std::string::npos);
  auto approve =
      HttpRequest("POST", mock.http_url() + "/oauth/device/approve", "user_code=" + m[1].str());
  REQUIRE(approve.status == 200);
  auto code = suite.Wait(std::chrono::seconds(30));
  REQUIRE(code.has_value());
  RunResult r{*code, suite.Stdout(), suite.Stderr()};
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 0);
  CHECK(rep.Outcome("auth.verify") == "pass");
  CHECK(rep.Outcome("deploy.shape") == "pass");
  CHECK(rep.Outcome("ext.refresh_token") == "pass");
  CHECK(rep.checks.size() == 6);  // the four auth.* checks and the two named ones
  // Tokens never reach the report.
  CHECK(r.out.find("mock-at-") == std::string::npos);
  CHECK(r.out.find("mock-rt-") == std::string::npos);
}

TEST_CASE("--device-login against a platform without a device flow is exit 2, saying so") {
  MockPlatform mock(MockArgs({"--seed-only"}));
  auto r = RunSuite(mock, {"--device-login"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("no device flow") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("injected 503s and 429s are retried, and their Retry-After is judged") {
  for (const char* status : {"503", "429"}) {
    CAPTURE(status);
    MockPlatform mock(
        MockArgs({"--fault-status", status, "--fault-first", "3", "--retry-after", "0"}));
    auto r = RunSuite(mock, {"--token", kToken, "--json"});
    auto rep = ParseReport(r);
    CHECK(r.exit_code == 0);
    CHECK(rep.Outcome("ext.retry_after") == "pass");
    CHECK(rep.EvidenceText("ext.retry_after").find("Retry-After: 0") != std::string::npos);
    CHECK(rep.Count("failed") == 0);
  }
}

TEST_CASE("usage errors and an unusable platform exit 2") {
  SUBCASE("unknown flag") {
    auto r = Run({ContractTestBinary(), "--api", "http://127.0.0.1:1", "--bogus"});
    CHECK(r.exit_code == 2);
  }
  SUBCASE("not an http URL") {
    auto r = Run({ContractTestBinary(), "--api", "ftp://example.com"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--api must be an http") != std::string::npos);
  }
  SUBCASE("--token and --device-login together") {
    auto r = Run(
        {ContractTestBinary(), "--api", "http://127.0.0.1:1", "--token", "t", "--device-login"});
    CHECK(r.exit_code == 2);
  }
  SUBCASE("nothing listening") {
    // A port that was free a moment ago: bind-and-close is racy, so use the mock's and stop it.
    std::string url;
    {
      MockPlatform gone(MockArgs());
      url = gone.http_url();
    }
    auto r = Run({ContractTestBinary(), "--api", url, "--token", kToken});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("cannot reach") != std::string::npos);
  }
  SUBCASE("a token the platform refuses") {
    MockPlatform mock(MockArgs());
    auto r = RunSuite(mock, {"--token", "not-the-token"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("refused the token") != std::string::npos);
    CHECK(MockDeployments(mock).empty());
  }
}

TEST_CASE("the text report lists every check and ends with the summary line") {
  MockPlatform mock(MockArgs());
  auto r = RunSuite(mock, {"--token", kToken});
  CHECK(r.exit_code == 0);
  for (const auto& id : ListedIds()) {
    CHECK_MESSAGE(r.out.find("  " + id + "  ") != std::string::npos, id);
  }
  CHECK(std::regex_search(
      r.out, std::regex("\nconformance: [0-9]+ passed, 0 failed, 0 not supported, 2 skipped\n$")));
  CHECK(r.out.find("deployments created: 3") != std::string::npos);
}

TEST_CASE("the token can come from BACKEND_IM_TOKEN, and --check narrows the run") {
  MockPlatform mock(MockArgs());
  auto r = Run({ContractTestBinary(), "--api", mock.http_url(), "--json", "--check", "auth.",
                "--check", "status.unknown_id"},
               SuiteEnv(kToken));
  auto rep = ParseReport(r);
  CHECK(r.exit_code == 0);
  CHECK(rep.Outcome("auth.verify") == "pass");
  CHECK(rep.Outcome("status.unknown_id") == "pass");
  CHECK(rep.checks.size() == 5);
  CHECK(MockDeployments(mock).empty());
}

}  // namespace
}  // namespace bim::test
