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

HttpReply Promote(const MockPlatform& mock, const std::string& id, const std::string& environment,
                  std::vector<std::string> headers = JsonBearer()) {
  return HttpRequest("POST", mock.http_url() + "/api/deployments/" + id + "/promote",
                     contract::ToJson(contract::PromoteRequest{environment}), headers);
}

// A deployment of project shop that completed.
contract::DeployResponse Completed(const MockPlatform& mock, const std::string& salt = "") {
  auto d = Deploy(mock, SampleFiles(salt), {}, "shop");
  REQUIRE(WaitTerminal(mock, d.deployment_id).status == contract::Stage::kComplete);
  return d;
}

json EnvironmentsOf(const MockPlatform& mock, const std::string& project) {
  return ParseJson(HttpRequest("GET",
                               mock.http_url() + "/api/projects/" + project + "/environments", "",
                               Bearer())
                       .body)["environments"];
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

TEST_CASE("a complete deployment is promoted: a new deployment of its commit, built no more") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto connector = ws::MakeConnector({});
  auto source = Completed(mock);
  CHECK(source.environment == "production");  // a deploy that names none goes there

  auto r = Promote(mock, source.deployment_id, "staging");
  REQUIRE(r.status == 200);
  auto promoted = contract::ParseDeployResponse(r.body);
  REQUIRE(promoted.ok());
  CHECK(promoted->deployment_id != source.deployment_id);
  CHECK(promoted->project_id == "shop");
  CHECK(promoted->commit_hash == source.commit_hash);
  CHECK(promoted->status == contract::Stage::kQueued);
  CHECK(promoted->environment == "staging");
  REQUIRE(promoted->websocket_url.has_value());
  CHECK(*promoted->websocket_url == WsUrl(mock, promoted->deployment_id));

  // Its stream is any deployment's, without committing and building.
  auto t = ReadToEnd(*Watch(*connector, *promoted->websocket_url));
  REQUIRE(t.end.kind == ws::EventKind::kClosed);
  CHECK(t.end.close_code == 1000);
  auto ms = Messages(t);
  CHECK(Statuses(ms) == std::vector<std::string>{"queued", "creating_namespace", "creating_pvc",
                                                 "deploying", "health_check", "complete"});
  for (size_t i = 0; i < ms.size(); ++i) {
    CHECK(ms[i].seq == static_cast<int64_t>(i + 1));
    CHECK(ms[i].deployment_id == promoted->deployment_id);
    CHECK(ms[i].commit_hash == source.commit_hash);
  }
  REQUIRE_FALSE(ms.empty());
  CHECK(ms[0].logs.at(0).find("promotes deployment " + source.deployment_id + " (commit " +
                              source.commit_hash + ") to staging without a new build") !=
        std::string::npos);
  auto status = Status(mock, promoted->deployment_id);
  CHECK(status.status == contract::Stage::kComplete);
  CHECK(status.seq == 6);

  // Staging serves it now; production still serves the source.
  auto envs = EnvironmentsOf(mock, "shop");
  CHECK(envs[0]["deploymentId"] == source.deployment_id);
  CHECK(envs[1]["name"] == "staging");
  CHECK(envs[1]["deploymentId"] == promoted->deployment_id);
}

TEST_CASE("promote refuses an unknown deployment or environment, one not complete, a bad body") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "200"});
  auto running = Deploy(mock, SampleFiles("running"), {}, "shop");
  CheckError(Promote(mock, running.deployment_id, "staging"), 409, "deployment_not_complete");
  auto failed = Deploy(mock, {{"app.py", "print('no main.py')\n"}}, {}, "shop");
  REQUIRE(WaitTerminal(mock, failed.deployment_id).status == contract::Stage::kFailed);
  CheckError(Promote(mock, failed.deployment_id, "staging"), 409, "deployment_not_complete");

  REQUIRE(WaitTerminal(mock, running.deployment_id).status == contract::Stage::kComplete);
  const std::string& id = running.deployment_id;
  CheckError(Promote(mock, "no-such-deployment", "staging"), 404, "deployment_not_found");
  CheckError(Promote(mock, id, "nope"), 404, "environment_not_found");
  const std::string url = mock.http_url() + "/api/deployments/" + id + "/promote";
  for (const char* body :
       {"", "{}", "[\"staging\"]", R"({"environment": 5})", R"({"environment": "Not A Name"})"}) {
    CAPTURE(body);
    CheckError(HttpRequest("POST", url, body, JsonBearer()), 400, "invalid_request");
  }
  CheckError(HttpRequest("GET", url, "", Bearer()), 405, "method_not_allowed");
  CheckError(Promote(mock, id, "staging", {"Content-Type: application/json"}), 401, "unauthorized");
  // None of these made a deployment.
  CHECK(ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body).size() == 2);
}

TEST_CASE("an Idempotency-Key replays a promote, and reused for another one it is 422") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto first = Completed(mock, "first");
  auto second = Completed(mock, "second");
  auto headers = JsonBearer();
  headers.push_back("Idempotency-Key: promote-key-1");
  auto once = Promote(mock, first.deployment_id, "staging", headers);
  REQUIRE(once.status == 200);
  auto again = Promote(mock, first.deployment_id, "staging", headers);
  CHECK(again.status == 200);
  CHECK(again.body == once.body);
  CheckError(Promote(mock, first.deployment_id, "production", headers), 422,
             "idempotency_key_reused");
  // The same body for another source is another request.
  CheckError(Promote(mock, second.deployment_id, "staging", headers), 422,
             "idempotency_key_reused");
  // And a key of a deploy is not a promote's.
  auto deploy_headers = JsonBearer();
  deploy_headers.push_back("Idempotency-Key: deploy-key-1");
  REQUIRE(HttpRequest("POST", mock.http_url() + "/api/deploy",
                      DeployBody(SampleFiles("third"), "shop"), deploy_headers)
              .status == 200);
  CheckError(Promote(mock, first.deployment_id, "staging", deploy_headers), 422,
             "idempotency_key_reused");
  // Two deployments, one promote, one more deploy.
  CHECK(ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body).size() == 4);
}

TEST_CASE("a platform with only the seed's contract has no environments and no promote") {
  MockPlatform mock({"--token", kToken, "--seed-only", "--stage-delay-ms", "1"});
  auto r = HttpRequest("GET", mock.http_url() + "/api/projects/shop/environments", "", Bearer());
  CHECK(r.status == 404);
  auto d = Deploy(mock, SampleFiles(), {}, "shop");
  CHECK_FALSE(d.environment.has_value());  // not in the seed's deploy answer
  REQUIRE(WaitTerminal(mock, d.deployment_id).status == contract::Stage::kComplete);
  CheckError(Promote(mock, d.deployment_id, "staging"), 404, "not_found");
}

}  // namespace bim::test
