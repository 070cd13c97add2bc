// backend-im-mock's environments and variables over HTTP (docs/API_CONTRACTS.md, "Environments
// and variables"): what a client of the extension meets, mistakes included.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

using nlohmann::json;

std::vector<std::string> JsonBearer() {
  auto h = Bearer();
  h.push_back("Content-Type: application/json");
  return h;
}

}  // namespace

TEST_CASE("a project starts with production and staging, and environments are added and removed") {
  MockPlatform mock({"--token", kToken});
  const std::string base = mock.http_url() + "/api/projects/shop/environments";
  auto listed = ParseJson(HttpRequest("GET", base, "", Bearer()).body);
  CHECK(listed["projectId"] == "shop");
  REQUIRE(listed["environments"].size() == 2);
  CHECK(listed["environments"][0] == json{{"name", "production"}, {"variables", 0}});
  CHECK(listed["environments"][1]["name"] == "staging");

  auto added = HttpRequest("POST", base, R"({"name": "preview-42"})", JsonBearer());
  CHECK(added.status == 201);
  CheckError(HttpRequest("POST", base, R"({"name": "preview-42"})", JsonBearer()), 409,
             "environment_exists");
  CheckError(HttpRequest("POST", base, R"({"name": "Bad Name"})", JsonBearer()), 400,
             "invalid_request");
  CHECK(ParseJson(HttpRequest("GET", base, "", Bearer()).body)["environments"].size() == 3);
  CHECK(HttpRequest("DELETE", base + "/preview-42", "", Bearer()).status == 204);
  CheckError(HttpRequest("DELETE", base + "/preview-42", "", Bearer()), 404,
             "environment_not_found");
  CheckError(HttpRequest("DELETE", base + "/production", "", Bearer()), 409,
             "environment_protected");
  CHECK(HttpRequest("GET", base).status == 401);
  // A project id that is not UTF-8 is answered, replaced, not a crash.
  auto odd =
      HttpRequest("GET", mock.http_url() + "/api/projects/%FF%FE/environments", "", Bearer());
  CHECK(odd.status == 200);
  CHECK(HttpRequest("GET", mock.http_url() + "/healthz").status == 200);
}

TEST_CASE("variables are set, listed without values unless asked, and unset") {
  MockPlatform mock({"--token", kToken});
  const std::string vars = mock.http_url() + "/api/projects/shop/environments/staging/variables";
  auto set = HttpRequest("PUT", vars + "/API_KEY", R"({"value": "s3cr3t-value"})", JsonBearer());
  CHECK(set.status == 200);
  CHECK(set.body.find("s3cr3t-value") == std::string::npos);  // never echoed
  auto names = HttpRequest("GET", vars, "", Bearer());
  CHECK(ParseJson(names.body)["variables"] == json::array({{{"key", "API_KEY"}}}));
  CHECK(names.body.find("s3cr3t-value") == std::string::npos);
  auto values = ParseJson(HttpRequest("GET", vars + "?values=true", "", Bearer()).body);
  CHECK(values["variables"][0]["value"] == "s3cr3t-value");
  // Production has its own.
  auto production = mock.http_url() + "/api/projects/shop/environments/production/variables";
  CHECK(ParseJson(HttpRequest("GET", production, "", Bearer()).body)["variables"].empty());

  CheckError(HttpRequest("PUT", vars + "/PATH", R"({"value": "/x"})", JsonBearer()), 400,
             "invalid_request");
  CheckError(HttpRequest("PUT", vars + "/1BAD", R"({"value": "x"})", JsonBearer()), 400,
             "invalid_request");
  CheckError(HttpRequest("PUT", vars + "/OK", R"({"value": 5})", JsonBearer()), 400,
             "invalid_request");
  CheckError(
      HttpRequest("PUT", mock.http_url() + "/api/projects/shop/environments/nope/variables/K",
                  R"({"value": "x"})", JsonBearer()),
      404, "environment_not_found");
  CHECK(HttpRequest("DELETE", vars + "/API_KEY", "", Bearer()).status == 204);
  CheckError(HttpRequest("DELETE", vars + "/API_KEY", "", Bearer()), 404, "variable_not_found");
  CHECK(mock.Log().find("s3cr3t-value") == std::string::npos);
}

TEST_CASE("a deploy names its environment, which must exist, and then serves there") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto body = json::parse(DeployBody(SampleFiles(), "shop"));
  body["environment"] = "nope";
  CheckError(HttpRequest("POST", mock.http_url() + "/api/deploy", body.dump(), JsonBearer()), 404,
             "environment_not_found");
  body["environment"] = "staging";
  auto r = HttpRequest("POST", mock.http_url() + "/api/deploy", body.dump(), JsonBearer());
  REQUIRE(r.status == 200);
  std::string id = ParseJson(r.body)["deploymentId"];
  REQUIRE(WaitTerminal(mock, id).status == contract::Stage::kComplete);
  auto envs = ParseJson(
      HttpRequest("GET", mock.http_url() + "/api/projects/shop/environments", "", Bearer())
          .body)["environments"];
  CHECK_FALSE(envs[0].contains("deploymentId"));  // production
  CHECK(envs[1]["deploymentId"] == id);           // staging
  CHECK(envs[1].contains("url"));
}

TEST_CASE("an environment removed while its deployment runs stays removed") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "50"});
  const std::string base = mock.http_url() + "/api/projects/shop/environments";
  REQUIRE(HttpRequest("POST", base, R"({"name": "preview"})", JsonBearer()).status == 201);
  auto body = json::parse(DeployBody(SampleFiles(), "shop"));
  body["environment"] = "preview";
  auto r = HttpRequest("POST", mock.http_url() + "/api/deploy", body.dump(), JsonBearer());
  REQUIRE(r.status == 200);
  REQUIRE(HttpRequest("DELETE", base + "/preview", "", Bearer()).status == 204);
  REQUIRE(WaitTerminal(mock, ParseJson(r.body)["deploymentId"]).status ==
          contract::Stage::kComplete);
  auto envs = ParseJson(HttpRequest("GET", base, "", Bearer()).body)["environments"];
  CHECK(envs.size() == 2);
  for (const auto& e : envs) CHECK(e["name"] != "preview");
}

TEST_CASE("a platform with only the seed's contract has no environments") {
  MockPlatform mock({"--token", kToken, "--seed-only"});
  auto r = HttpRequest("GET", mock.http_url() + "/api/projects/shop/environments", "", Bearer());
  CHECK(r.status == 404);
}

}  // namespace bim::test
