// backend-im-mock --run-apps end to end: generated projects deployed to the real mock, then used
// over HTTP as a client would; the platform killed with SIGKILL. (Through the agent and the ctl:
// agent_run_apps_test.cc.)
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::vector<std::string> JsonBody() { return {"Content-Type: application/json"}; }

json Parsed(const HttpReply& r) {
  auto j = json::parse(r.body, nullptr, false);
  INFO("status " << r.status << ", body " << r.body);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// A value of a JSON Schema property's type, as a client would send it.
json SampleOf(const json& property, int variant) {
  std::string type = property.value("type", "string");
  if (type == "integer") return variant;
  if (type == "number") return variant + 0.5;
  if (type == "boolean") return variant % 2 == 0;
  std::string format = property.value("format", "");
  if (format == "email") return "user" + std::to_string(variant) + "@example.com";
  if (format == "date-time") return "2026-01-0" + std::to_string(variant) + "T10:00:00";
  return "value " + std::to_string(variant);
}

// The schema a $ref names, in the app's own OpenAPI document.
const json& Resolve(const json& openapi, const json& schema) {
  std::string ref = schema.value("$ref", "");
  REQUIRE(ref.rfind("#/components/schemas/", 0) == 0);
  return openapi["components"]["schemas"][ref.substr(21)];
}

// Every resource the app's OpenAPI document lists (a collection path with a POST): create, list,
// read, update, delete, and the 404s and 422s around them. Returns how many were exercised.
int ExerciseCrud(const std::string& url) {
  auto doc = HttpRequest("GET", url + "/openapi.json", "", {}, 10s);
  REQUIRE(doc.status == 200);
  json openapi = Parsed(doc);
  int resources = 0;
  for (const auto& [path, ops] : openapi["paths"].items()) {
    if (!ops.contains("post")) continue;
    const json& create =
        Resolve(openapi, ops["post"]["requestBody"]["content"]["application/json"]["schema"]);
    std::string item_path;
    for (const auto& [p, o] : openapi["paths"].items()) {
      if (p.rfind(path + "{", 0) == 0) item_path = p.substr(0, p.find('{'));
    }
    INFO("resource " << path);
    REQUIRE_FALSE(item_path.empty());
    ++resources;

    json body = json::object();
    for (const auto& [name, property] : create["properties"].items()) {
      body[name] = SampleOf(property, 1);
    }
    auto created = HttpRequest("POST", url + path, body.dump(), JsonBody());
    CHECK(created.status == 201);
    json record = Parsed(created);
    for (const auto& [name, value] : body.items()) CHECK(record[name] == value);
    REQUIRE(record.contains("id"));
    const std::string item = url + item_path + std::to_string(record["id"].get<int>());

    auto listed = HttpRequest("GET", url + path);
    CHECK(listed.status == 200);
    CHECK(Parsed(listed).size() == 1);
    CHECK(Parsed(listed)[0]["id"] == record["id"]);

    auto read = HttpRequest("GET", item);
    CHECK(read.status == 200);
    CHECK(Parsed(read) == record);

    // Update one field; the others stay.
    const std::string field = create["properties"].begin().key();
    const json property = create["properties"].begin().value();
    json change = {{field, SampleOf(property, 2)}};
    auto updated = HttpRequest("PUT", item, change.dump(), JsonBody());
    CHECK(updated.status == 200);
    json after = Parsed(updated);
    CHECK(after[field] == change[field]);
    for (const auto& [name, value] : body.items()) {
      if (name != field) CHECK(after[name] == value);
    }

    // Bad input: 422, with nothing stored.
    if (create.contains("required") && !create["required"].empty()) {
      CHECK(HttpRequest("POST", url + path, "{}", JsonBody()).status == 422);
    }
    json wrong = body;
    wrong[field] = json::object({{"not", "a value"}});
    CHECK(HttpRequest("POST", url + path, wrong.dump(), JsonBody()).status == 422);
    CHECK(HttpRequest("PUT", item, "[1, 2]", JsonBody()).status == 422);
    CHECK(HttpRequest("GET", url + item_path + "not-a-number").status == 422);
    CHECK(Parsed(HttpRequest("GET", url + path)).size() == 1);

    CHECK(HttpRequest("DELETE", item).status == 204);
    CHECK(HttpRequest("GET", item).status == 404);
    CHECK(HttpRequest("DELETE", item).status == 404);
    CHECK(HttpRequest("PUT", item, change.dump(), JsonBody()).status == 404);
    CHECK(Parsed(HttpRequest("GET", url + path)).empty());
  }
  return resources;
}

}  // namespace

TEST_CASE("generated projects work over HTTP once deployed: CRUD, 422 and 404 on every resource") {
  TempDir apps;
  MockPlatform mock(
      {"--token", kToken, "--stage-delay-ms", "10", "--run-apps", "--apps-dir", apps / "apps"});
  const std::vector<std::string> prompts = {"REST API for users and orders",
                                            "A blog with posts, comments and tags",
                                            "Inventory of products in warehouses"};
  // Deployed side by side: each project runs at once, each at its own address.
  std::vector<std::pair<std::string, size_t>> deployments;  // id, how many routers
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto g = HttpRequest("POST", mock.http_url() + "/api/generate",
                         json{{"prompt", prompts[i]}}.dump(), Bearer());
    REQUIRE(g.status == 200);
    contract::FileMap files = Parsed(g)["files"];
    size_t routers = 0;
    for (const auto& [path, content] : files) {
      if (path.rfind("app/routers/", 0) == 0 && path != "app/routers/__init__.py") ++routers;
    }
    deployments.emplace_back(Deploy(mock, files, {}, "project-" + std::to_string(i)).deployment_id,
                             routers);
  }
  std::set<std::string> urls;
  for (const auto& [id, routers] : deployments) {
    auto s = WaitTerminal(mock, id, 60s);
    std::string logs;
    for (const auto& l : s.logs) logs += l + "\n";
    INFO(logs);
    REQUIRE(s.status == contract::Stage::kComplete);
    REQUIRE(s.url);
    CHECK(s.url->rfind("http://127.0.0.1:", 0) == 0);
    urls.insert(*s.url);
    CHECK(HttpRequest("GET", *s.url + "/health").status == 200);
    CHECK(ExerciseCrud(*s.url) == static_cast<int>(routers));
  }
  CHECK(urls.size() == prompts.size());
}

TEST_CASE("killing the platform with SIGKILL leaves none of its apps running") {
  TempDir apps;
  MockPlatform mock(
      {"--token", kToken, "--stage-delay-ms", "10", "--run-apps", "--apps-dir", apps / "apps"});
  const std::string main_py =
      "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/health')\ndef health():\n"
      "    return {'status': 'ok'}\n";
  auto id = Deploy(mock, {{"main.py", main_py}}, {}, "doomed").deployment_id;
  REQUIRE(WaitTerminal(mock, id, 60s).status == contract::Stage::kComplete);
  auto listed = Parsed(HttpRequest("GET", mock.http_url() + "/mock/apps"));
  REQUIRE(listed.size() == 1);
  const int pid = listed[0]["pid"];
  REQUIRE(Alive(pid));
  mock.process().Signal(SIGKILL);
  CHECK(WaitUntil([&] { return !Alive(pid); }, 5s));
}

TEST_CASE("an app gets its environment's variables, and each environment has its own address") {
  TempDir apps;
  MockPlatform mock(
      {"--token", kToken, "--stage-delay-ms", "10", "--run-apps", "--apps-dir", apps / "apps"});
  const std::string api = mock.http_url() + "/api/projects/shop/environments";
  REQUIRE(HttpRequest("PUT", api + "/staging/variables/GREETING", R"({"value": "hello staging"})",
                      {"Authorization: Bearer " + kToken, "Content-Type: application/json"})
              .status == 200);
  const contract::FileMap files = {
      {"main.py",
       "import os\nfrom fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/health')\n"
       "def health():\n    return {'greeting': os.environ.get('GREETING', '')}\n"}};
  std::map<std::string, std::string> urls;
  for (const std::string environment : {"production", "staging"}) {
    auto body = json::parse(DeployBody(files, "shop"));
    body["environment"] = environment;
    auto r = HttpRequest("POST", mock.http_url() + "/api/deploy", body.dump(),
                         {"Authorization: Bearer " + kToken, "Content-Type: application/json"});
    REQUIRE(r.status == 200);
    auto s = WaitTerminal(mock, Parsed(r)["deploymentId"], 60s);
    REQUIRE(s.status == contract::Stage::kComplete);
    urls[environment] = *s.url;
  }
  CHECK(urls["production"] != urls["staging"]);
  CHECK(Parsed(HttpRequest("GET", urls["staging"] + "/health"))["greeting"] == "hello staging");
  CHECK(Parsed(HttpRequest("GET", urls["production"] + "/health"))["greeting"] == "");
  // The platform's own log never shows the value.
  CHECK(mock.Log().find("hello staging") == std::string::npos);
}

TEST_CASE("a promoted deployment serves its source's files with its own environment's variables") {
  TempDir apps;
  MockPlatform mock(
      {"--token", kToken, "--stage-delay-ms", "10", "--run-apps", "--apps-dir", apps / "apps"});
  const std::vector<std::string> headers = {"Authorization: Bearer " + kToken,
                                            "Content-Type: application/json"};
  const std::string api = mock.http_url() + "/api/projects/shop/environments";
  for (const std::string environment : {"staging", "production"}) {
    REQUIRE(HttpRequest("PUT", api + "/" + environment + "/variables/GREETING",
                        json{{"value", "hello " + environment}}.dump(), headers)
                .status == 200);
  }
  auto deploy = [&](const std::string& version, const std::string& environment) {
    const contract::FileMap files = {
        {"main.py",
         "import os\nfrom fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/health')\n"
         "def health():\n    return {'greeting': os.environ.get('GREETING', ''), 'files': '" +
             version + "'}\n"}};
    auto body = json::parse(DeployBody(files, "shop"));
    body["environment"] = environment;
    auto r = HttpRequest("POST", mock.http_url() + "/api/deploy", body.dump(), headers);
    REQUIRE(r.status == 200);
    return Parsed(r)["deploymentId"].get<std::string>();
  };
  const std::string before = deploy("v0", "production");
  REQUIRE(WaitTerminal(mock, before, 60s).status == contract::Stage::kComplete);
  const std::string source = deploy("v1", "staging");
  auto staging = WaitTerminal(mock, source, 60s);
  REQUIRE(staging.status == contract::Stage::kComplete);

  auto promoted = HttpRequest("POST", mock.http_url() + "/api/deployments/" + source + "/promote",
                              R"({"environment": "production"})", headers);
  REQUIRE(promoted.status == 200);
  auto s = WaitTerminal(mock, Parsed(promoted)["deploymentId"], 60s);
  std::string logs;
  for (const auto& l : s.logs) logs += l + "\n";
  INFO(logs);
  REQUIRE(s.status == contract::Stage::kComplete);
  CHECK(*s.url != *staging.url);
  CHECK(Parsed(HttpRequest("GET", *s.url + "/health")) ==
        json{{"greeting", "hello production"}, {"files", "v1"}});
  CHECK(Parsed(HttpRequest("GET", *staging.url + "/health"))["greeting"] == "hello staging");
  // Production's app before it was stopped, as a deploy's would be.
  CHECK(logs.find("Stopped deployment " + before + ", which served before") != std::string::npos);
  CHECK(WaitUntil(
      [&] {
        auto listed = Parsed(HttpRequest("GET", mock.http_url() + "/mock/apps"));
        for (const auto& a : listed) {
          if (a["deploymentId"] == before) return false;
        }
        return listed.size() == 2;
      },
      10s));
  // The source's files, not built again.
  CHECK(logs.find("Kept 1 file (") != std::string::npos);
  CHECK(logs.find("of deployment " + source) != std::string::npos);
  CHECK(logs.find("Checking the project") == std::string::npos);
  CHECK(mock.Log().find("hello production") == std::string::npos);
}

}  // namespace bim::test
