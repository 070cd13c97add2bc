// ext.environments* over a scripted platform: the extension as the contract has it passes and
// leaves nothing behind; a platform without it, or with it but not as described, is
// not-supported; --read-only only lists; a variable's value never reaches the report.

#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "conformance/checks.h"
#include "conformance/suite.h"
#include "tests/unit/conformance/fakes.h"

namespace bim::conformance {
namespace {

using nlohmann::json;
using test::Answer;
using test::FakeWorld;

const std::string kLabel = "conformance-test";
const std::string kProject = "/api/projects/" + kLabel + "/environments";

json Error(const std::string& code) { return {{"error", code}, {"message", "m"}}; }

// The extension in memory, for the run's project: environments with variables, deploys and
// promotes that complete at once. Its quirks make a platform that has the extension, but not as
// the contract describes it.
struct FakeEnvironments {
  bool echo_values = false;          // answers carry the value, asked or not
  bool production_protected = true;  // else DELETE of production answers 204
  std::string sample_ends = "complete";
  std::map<std::string, std::map<std::string, std::string>> environments = {{"production", {}},
                                                                            {"staging", {}}};
  int deployments = 0;
  std::vector<std::string> deployed_to;  // each deploy's or promote's environment

  void Install(FakeWorld& w) {
    w.http.On("GET", kProject, [this](const HttpCall& c) { return Get(Path(c)); });
    w.http.On("POST", kProject, [this](const HttpCall& c) {
      std::string name = json::parse(c.body)["name"];
      if (environments.count(name)) return Answer(409, Error("environment_exists").dump());
      environments[name];
      return Answer(201, json{{"projectId", kLabel}, {"name", name}}.dump());
    });
    w.http.On("PUT", kProject, [this](const HttpCall& c) {
      auto [env, key] = Variable(Path(c));
      std::string value = json::parse(c.body)["value"];
      environments[env][key] = value;
      json answer = {{"key", key}, {"environment", env}};
      if (echo_values) answer["saved"] = value;
      return Answer(200, answer.dump());
    });
    w.http.On("DELETE", kProject, [this](const HttpCall& c) { return Delete(Path(c)); });
    w.http.On("POST", "/api/deploy", [this](const HttpCall& c) {
      auto body = json::parse(c.body);
      deployed_to.push_back(body.value("environment", "production"));
      return Deployed(deployed_to.back());
    });
    w.http.On("POST", "/api/deployments/", [this](const HttpCall& c) {
      deployed_to.push_back(json::parse(c.body)["environment"]);
      return Deployed(deployed_to.back());
    });
    w.http.On("GET", "/api/status/", [this](const HttpCall& c) {
      std::string id = Path(c).substr(std::string("/api/status/").size());
      return Answer(200, json{{"id", id},
                              {"projectId", kLabel},
                              {"commitHash", "abcdef123456"},
                              {"status", id == "d-1" ? sample_ends : "complete"},
                              {"url", "https://abcdef123456.backend.im"},
                              {"logs", {"the end"}}}
                             .dump());
    });
  }

  static std::string Path(const HttpCall& c) { return c.url.substr(test::kApi.size()); }

  // {environment, key} of kProject/{environment}/variables/{key}
  static std::pair<std::string, std::string> Variable(const std::string& path) {
    std::string rest = path.substr(kProject.size() + 1);
    std::string env = rest.substr(0, rest.find('/'));
    return {env, rest.substr(rest.rfind('/') + 1)};
  }

  HttpAnswer Deployed(const std::string& environment) {
    return Answer(200, json{{"deploymentId", "d-" + std::to_string(++deployments)},
                            {"projectId", kLabel},
                            {"commitHash", "abcdef123456"},
                            {"status", "queued"},
                            {"environment", environment}}
                           .dump());
  }

  HttpAnswer Get(const std::string& path) {
    if (path == kProject) {
      json list = json::array();
      for (const auto& [name, vars] : environments) {
        list.push_back({{"name", name}, {"variables", vars.size()}});
      }
      return Answer(200, json{{"projectId", kLabel}, {"environments", list}}.dump());
    }
    bool values = path.find("?values=true") != std::string::npos;
    std::string env = path.substr(kProject.size() + 1);
    env = env.substr(0, env.find('/'));
    json list = json::array();
    for (const auto& [key, value] : environments[env]) {
      json v = {{"key", key}};
      if (values || echo_values) v["value"] = value;
      list.push_back(v);
    }
    return Answer(200,
                  json{{"projectId", kLabel}, {"environment", env}, {"variables", list}}.dump());
  }

  HttpAnswer Delete(const std::string& path) {
    std::string rest = path.substr(kProject.size() + 1);
    if (rest.find('/') != std::string::npos) {
      auto [env, key] = Variable(path);
      if (!environments[env].erase(key)) return Answer(404, Error("variable_not_found").dump());
      return Answer(204, "");
    }
    if (rest == "production" && production_protected) {
      return Answer(409, Error("environment_protected").dump());
    }
    if (!environments.erase(rest)) return Answer(404, Error("environment_not_found").dump());
    return Answer(204, "");
  }
};

SuiteOptions Options(bool read_only = false) {
  SuiteOptions o;
  o.api_url = test::kApi;
  o.token = "t";
  o.label = kLabel;
  o.read_only = read_only;
  return o;
}

Report RunEnvironmentChecks(Context& ctx) { return Suite(EnvironmentChecks()).Run(ctx); }

std::vector<std::string> WritingCalls(const FakeWorld& w) {
  std::vector<std::string> calls;
  for (const auto& c : w.http.calls) {
    if (c.method != "GET") calls.push_back(c.method + " " + c.url.substr(test::kApi.size()));
  }
  return calls;
}

// The value the run set, from its PUT.
std::string SetValue(const FakeWorld& w) {
  for (const auto& c : w.http.calls) {
    if (c.method == "PUT") return json::parse(c.body)["value"];
  }
  FAIL("no PUT");
  return "";
}

}  // namespace

TEST_CASE("ext.environments*: the extension as the contract has it passes, and leaves nothing") {
  FakeWorld w;
  FakeEnvironments platform;
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = RunEnvironmentChecks(ctx);
  for (const auto& e : r.entries()) {
    CHECK_MESSAGE(e.result.outcome == Outcome::kPass, e.id << ": " << e.result.detail);
  }
  CHECK(r.entries().size() == 7);
  // A deploy to the run's environment, the sample deployment (made when the promote needs it,
  // as these checks ran alone), and its promote to the run's environment.
  REQUIRE(platform.deployed_to.size() == 3);
  CHECK(platform.deployed_to[0].rfind("conformance-", 0) == 0);
  CHECK(platform.deployed_to[1] == "production");
  CHECK(platform.deployed_to[2] == platform.deployed_to[0]);
  CHECK(ctx.created_deployments() == std::vector<std::string>{"d-1", "d-2", "d-3"});
  CHECK(w.http.calls.back().url == test::kApi + kProject);  // the list after the removal
  CHECK(platform.environments.size() == 2);
  // The value was set and read, and is nowhere in the report.
  const std::string value = SetValue(w);
  CHECK(value.rfind("conformance-", 0) == 0);
  CHECK(r.Text().find(value) == std::string::npos);
  CHECK(r.Json().find(value) == std::string::npos);
  CHECK(r.Find("ext.environments_variables")->result.evidence.at(2).body.find("<redacted>") !=
        std::string::npos);
}

TEST_CASE("ext.environments*: a platform whose environments path is its generic 404 has none") {
  FakeWorld w;  // every unrouted request is 404 not_found
  auto ctx = w.MakeContext(Options());
  Report r = RunEnvironmentChecks(ctx);
  for (const auto& e : r.entries()) {
    CAPTURE(e.id);
    CHECK(e.result.outcome == Outcome::kNotSupported);
    CHECK(e.result.detail.find("answered 404 (error \"not_found\"): the platform has no "
                               "environments") != std::string::npos);
  }
  CHECK(WritingCalls(w).empty());
  CHECK(w.http.calls.size() == 1);  // one listing decides for all
}

TEST_CASE("ext.environments*: a 404 with one of the extension's codes is not an absent extension") {
  FakeWorld w;
  w.http.On("GET", kProject, Answer(404, Error("environment_not_found").dump()));
  auto ctx = w.MakeContext(Options());
  Report r = RunEnvironmentChecks(ctx);
  CHECK(r.Find("ext.environments")->result.outcome == Outcome::kNotSupported);
  CHECK(r.Find("ext.environments")->result.detail.find("not as the contract describes") !=
        std::string::npos);
  CHECK(r.Find("ext.environments_create")->result.outcome == Outcome::kSkipped);
  CHECK(r.Find("ext.environments_create")->result.detail.find("see ext.environments") !=
        std::string::npos);
  CHECK(WritingCalls(w).empty());
}

TEST_CASE("ext.environments*: --read-only lists and changes nothing") {
  FakeWorld w;
  FakeEnvironments platform;
  platform.Install(w);
  auto ctx = w.MakeContext(Options(/*read_only=*/true));
  Report r = RunEnvironmentChecks(ctx);
  CHECK(r.Find("ext.environments")->result.outcome == Outcome::kPass);
  CHECK(r.Find("ext.environments")->result.detail == "environments: production, staging");
  for (const auto& e : r.entries()) {
    if (e.id == "ext.environments") continue;
    CAPTURE(e.id);
    CHECK(e.result.outcome == Outcome::kSkipped);
    CHECK(e.result.detail.find("--read-only") != std::string::npos);
  }
  CHECK(WritingCalls(w).empty());
}

TEST_CASE("ext.environments_variables: a value sent back unasked is not-supported, and masked") {
  FakeWorld w;
  FakeEnvironments platform;
  platform.echo_values = true;
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite({EnvironmentChecks()[2]}).Run(ctx);
  const auto& result = r.Find("ext.environments_variables")->result;
  CHECK(result.outcome == Outcome::kNotSupported);
  CHECK(result.detail.find("sends the value back") != std::string::npos);
  CHECK(result.detail.find("shows the value without ?values=true") != std::string::npos);
  const std::string value = SetValue(w);
  CHECK(r.Text().find(value) == std::string::npos);
  CHECK(r.Json().find(value) == std::string::npos);
  // The environment it made for the check is gone again.
  CHECK(WritingCalls(w).back().rfind("DELETE " + kProject + "/conformance-", 0) == 0);
  CHECK(platform.environments.size() == 2);
}

TEST_CASE("ext.environments_protected: production removed is not-supported, saying it is gone") {
  FakeWorld w;
  FakeEnvironments platform;
  platform.production_protected = false;
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite({EnvironmentChecks()[5]}).Run(ctx);
  const auto& result = r.Find("ext.environments_protected")->result;
  CHECK(result.outcome == Outcome::kNotSupported);
  CHECK(result.detail.find("answered 204, expected 409 environment_protected; production of "
                           "project conformance-test is gone") != std::string::npos);
}

TEST_CASE("ext.environments_promote is skipped when the sample deployment did not complete") {
  FakeWorld w;
  FakeEnvironments platform;
  platform.sample_ends = "failed";
  platform.Install(w);
  auto ctx = w.MakeContext(Options());
  Report r = Suite({EnvironmentChecks()[4]}).Run(ctx);
  const auto& result = r.Find("ext.environments_promote")->result;
  CHECK(result.outcome == Outcome::kSkipped);
  CHECK(result.detail.find("see deploy.completes") != std::string::npos);
  CHECK(platform.deployed_to.size() == 1);  // the sample deployment only
}

}  // namespace bim::conformance
