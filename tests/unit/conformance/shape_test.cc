// The shape checker: it names the exact field that is missing or of the wrong type, tolerates
// unknown fields, and agrees with common/contract.h's serializers.

#include "conformance/shape.h"

#include <doctest/doctest.h>

#include "common/contract.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

using nlohmann::json;

const Shape kShape("thing", {{"name", FieldType::kNonEmptyString, true},
                             {"count", FieldType::kInteger, true},
                             {"status", FieldType::kStatus, true},
                             {"tags", FieldType::kStringList, false},
                             {"files", FieldType::kStringMap, false},
                             {"ok", FieldType::kBoolean, false}});

json Valid() { return {{"name", "x"}, {"count", 3}, {"status", "building"}}; }

// What kShape finds in Valid() with the fields of `changed` set to their values there.
std::vector<std::string> ProblemsWith(const json& changed) {
  auto j = Valid();
  j.update(changed);
  return kShape.Check(j);
}

TEST_CASE("a value with every required field of the right type has no problems") {
  CHECK(kShape.Check(Valid()).empty());
  auto full = Valid();
  full["tags"] = {"a", "b"};
  full["files"] = {{"main.py", "print()"}};
  full["ok"] = true;
  CHECK(kShape.Check(full).empty());
}

TEST_CASE("unknown fields are tolerated") {
  auto j = Valid();
  j["somethingNew"] = {{"nested", 1}};
  j["commit_hash"] = "abc";
  CHECK(kShape.Check(j).empty());
}

TEST_CASE("a missing required field is named") {
  auto j = Valid();
  j.erase("count");
  CHECK(kShape.Check(j) == std::vector<std::string>{"field \"count\" is missing"});
}

TEST_CASE("a required field that is null is a wrong type, an optional one counts as absent") {
  CHECK(ProblemsWith({{"count", nullptr}, {"tags", nullptr}}) ==
        std::vector<std::string>{"field \"count\" is null, expected an integer"});
}

TEST_CASE("a field of the wrong type names the field, what it is and what was expected") {
  CHECK(ProblemsWith({{"count", "3"}}) ==
        std::vector<std::string>{"field \"count\" is a string, expected an integer"});
  CHECK(ProblemsWith({{"count", 2.5}}) ==
        std::vector<std::string>{"field \"count\" is a non-integer number, expected an integer"});
  CHECK(ProblemsWith({{"ok", "yes"}}) ==
        std::vector<std::string>{"field \"ok\" is a string, expected a boolean"});
}

TEST_CASE("an empty string is not a non-empty string") {
  CHECK(ProblemsWith({{"name", ""}}) ==
        std::vector<std::string>{"field \"name\" is an empty string, expected a non-empty string"});
}

TEST_CASE("a status outside the contract's list is named") {
  auto j = Valid();
  j["status"] = "health-check";
  auto problems = kShape.Check(j);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("field \"status\" has the unknown status \"health-check\"") == 0);
}

TEST_CASE("items of lists and entries of maps are checked") {
  auto j = Valid();
  j["tags"] = {"a", 5};
  j["files"] = {{"main.py", "x"}, {"app.py", json::array()}};
  auto problems = kShape.Check(j);
  CHECK(problems == std::vector<std::string>{
                        "field \"tags\" item 1 is an integer, expected a string",
                        "field \"files\" entry \"app.py\" is an array, expected a string"});
}

TEST_CASE("every problem is listed, not only the first") {
  CHECK(kShape.Check(json::object()).size() == 3);
}

TEST_CASE("a body that is not JSON, or not an object, is one problem naming the object") {
  CHECK(kShape.CheckBody("{nope") == std::vector<std::string>{"the thing is not valid JSON"});
  CHECK(kShape.CheckBody("[1]") ==
        std::vector<std::string>{"the thing is an array, expected a JSON object"});
  CHECK(kShape.CheckBody(Valid().dump()).empty());
}

TEST_CASE("the contract's shapes accept what common/contract.h serializes") {
  contract::DeployResponse d{"550e8400-e29b-41d4-a716-446655440000",
                             "p",
                             "a1b2c3d4e5f6",
                             contract::Stage::kQueued,
                             "ws://h/ws?deploymentId=x",
                             std::nullopt};
  CHECK(shapes::DeployAnswer().CheckBody(contract::ToJson(d)).empty());
  d.websocket_url.reset();
  CHECK(shapes::DeployAnswer().CheckBody(contract::ToJson(d)).empty());

  contract::StatusResponse s{
      {contract::Stage::kComplete, {"line"}, "https://a1b2c3d4e5f6.backend.im"},
      "id",
      "p",
      "a1b2c3d4e5f6",
      8};
  CHECK(shapes::StatusAnswer().CheckBody(contract::ToJson(s)).empty());

  contract::StageMessage m{{contract::Stage::kBuilding, {"l"}, {}}, "id", "p", "a1b2c3d4e5f6", 5};
  CHECK(shapes::StageMessage().CheckBody(contract::ToJson(m)).empty());
  m.seq.reset();  // a seed-only platform's message
  CHECK(shapes::StageMessage().CheckBody(contract::ToJson(m)).empty());

  CHECK(shapes::GenerateAnswer()
            .CheckBody(contract::ToJson(contract::GenerateResponse{{{"main.py", "x"}}, {}}))
            .empty());
  CHECK(shapes::VerifyAnswer()
            .CheckBody(contract::ToJson(contract::VerifyResponse{true, "u", "e"}))
            .empty());
  CHECK(shapes::VerifyAnswer().CheckBody(R"({"valid": true})").empty());
  CHECK(shapes::ErrorBody()
            .CheckBody(contract::ToJson(contract::ErrorBody{"not_found", "no such"}))
            .empty());
  CHECK(shapes::OAuthError()
            .CheckBody(contract::ToJson(contract::OAuthError{"slow_down", ""}))
            .empty());
  CHECK(shapes::DeviceCodeAnswer()
            .CheckBody(contract::ToJson(
                contract::DeviceCodeResponse{"dc", "BCDF-GHJK", "https://x/device", {}, 600, 5}))
            .empty());
  CHECK(shapes::TokenAnswer()
            .CheckBody(contract::ToJson(contract::TokenResponse{"at", "Bearer", 3600, "rt"}))
            .empty());
}

TEST_CASE("a renamed commitHash is reported as that field missing") {
  auto problems = shapes::DeployAnswer().CheckBody(
      R"({"deploymentId":"d","projectId":"p","commit_hash":"a1b2c3d4e5f6","status":"queued"})");
  CHECK(problems == std::vector<std::string>{"field \"commitHash\" is missing"});
}

}  // namespace
}  // namespace bim::conformance
