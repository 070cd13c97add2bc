// backend-im-mock's runtime logs without apps (docs/API_CONTRACTS.md §6.2): what a client of the
// extension meets, its mistakes included, on a platform that runs nothing (every page empty,
// every stream ends at once) and on a seed-only one (no such paths). With --run-apps:
// run_apps_logs_test.cc.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

using nlohmann::json;

std::string LogsUrl(const MockPlatform& mock, const std::string& id,
                    const std::string& query = "") {
  return mock.http_url() + "/api/deployments/" + id + "/logs" + query;
}

std::string LogsStreamUrl(const MockPlatform& mock, const std::string& id,
                          const std::string& extra = "") {
  return mock.ws_url() + "/ws/logs?deploymentId=" + id + extra;
}

// A WebSocket upgrade request sent as plain HTTP, so a refusal's body can be read.
HttpReply Upgrade(const MockPlatform& mock, const std::string& path_and_query,
                  const std::string& token = kToken) {
  std::vector<std::string> headers = {"Connection: Upgrade", "Upgrade: websocket",
                                      "Sec-WebSocket-Version: 13",
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="};
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return HttpRequest("GET", mock.http_url() + path_and_query, "", headers);
}

json SummaryOf(const MockPlatform& mock, const std::string& id) {
  auto all = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  for (const auto& d : all) {
    if (d["id"] == id) return d;
  }
  FAIL("no deployment " << id << " in /mock/deployments");
  return {};
}

}  // namespace

TEST_CASE("without apps a deployment's logs are an empty page, whatever the query") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto d = Deploy(mock, SampleFiles());
  for (const std::string query : {"", "?tail=5", "?after=0", "?after=0&limit=10&level=error",
                                  "?since=1700000000000&level=debug", "?tail=0"}) {
    INFO(query);
    auto r = HttpRequest("GET", LogsUrl(mock, d.deployment_id, query), "", Bearer());
    REQUIRE(r.status == 200);
    auto page = contract::ParseLogPage(r.body);
    REQUIRE(page.ok());
    CHECK(page->deployment_id == d.deployment_id);
    CHECK(page->lines.empty());
    CHECK(page->cursor == 0);
    CHECK(page->first == 1);
    CHECK_FALSE(page->more);
    CHECK(ParseJson(r.body).contains("more"));
  }
}

TEST_CASE(
    "the logs endpoint answers 400 for parameters outside the contract, 404 for an unknown "
    "deployment, 401 without a token") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto d = Deploy(mock, SampleFiles());
  for (const std::string query :
       {"?tail=abc", "?tail=-1", "?tail=1001", "?after=1&limit=1001", "?after=-5", "?limit=10",
        "?tail=3&after=2", "?level=fatal", "?since=soon", "?tail="}) {
    INFO(query);
    auto r = HttpRequest("GET", LogsUrl(mock, d.deployment_id, query), "", Bearer());
    CheckError(r, 400, "invalid_request");
  }
  CheckError(HttpRequest("GET", LogsUrl(mock, "no-such-deployment"), "", Bearer()), 404,
             "deployment_not_found");
  // An unknown deployment is 404 before its parameters are looked at.
  CheckError(HttpRequest("GET", LogsUrl(mock, "no-such-deployment", "?tail=abc"), "", Bearer()),
             404, "deployment_not_found");
  auto unauthorized = HttpRequest("GET", LogsUrl(mock, d.deployment_id));
  CheckError(unauthorized, 401, "unauthorized");
  CHECK(unauthorized.headers["www-authenticate"] == "Bearer");
  CheckError(HttpRequest("GET", LogsUrl(mock, d.deployment_id), "", Bearer("wrong")), 401,
             "unauthorized");
  CheckError(HttpRequest("POST", LogsUrl(mock, d.deployment_id), "{}", Bearer()), 405,
             "method_not_allowed");
  // /ws/logs without an upgrade is told to upgrade.
  CheckError(HttpRequest("GET", mock.http_url() + "/ws/logs?deploymentId=" + d.deployment_id, "",
                         Bearer()),
             426, "upgrade_required");
}

TEST_CASE("the log stream refuses its upgrade as /ws does: 401, 400, 404 deployment_not_found") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto d = Deploy(mock, SampleFiles());
  const std::string ok = "/ws/logs?deploymentId=" + d.deployment_id;
  CheckError(Upgrade(mock, ok, ""), 401, "unauthorized");
  CheckError(Upgrade(mock, ok, "wrong"), 401, "unauthorized");
  CheckError(Upgrade(mock, "/ws/logs"), 400, "invalid_request");
  CheckError(Upgrade(mock, ok + "&after=x"), 400, "invalid_request");
  CheckError(Upgrade(mock, ok + "&after=-1"), 400, "invalid_request");
  CheckError(Upgrade(mock, "/ws/logs?deploymentId=nope"), 404, "deployment_not_found");
  CheckError(Upgrade(mock, "/ws/logs?deploymentId=nope&after=x"), 400, "invalid_request");

  auto connector = ws::MakeConnector({});
  auto unknown = connector->Connect(LogsStreamUrl(mock, "nope"), WsOptions());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
  auto anonymous = connector->Connect(LogsStreamUrl(mock, d.deployment_id), WsOptions(""));
  REQUIRE_FALSE(anonymous.ok());
  CHECK(anonymous.error().code == ErrorCode::kUnauthenticated);
  // Each upgrade is in the request log, with its deployment and after (never its token).
  auto log = mock.Log();
  CHECK(log.find("GET /ws/logs?deploymentId=nope 404") != std::string::npos);
  CHECK(log.find("GET /ws/logs?deploymentId=" + d.deployment_id + "&after=x 400") !=
        std::string::npos);
  CHECK(log.find(kToken) == std::string::npos);
}

TEST_CASE("without apps a log stream ends at once, saying why, and closes 1000") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1"});
  auto d = Deploy(mock, SampleFiles());
  auto connector = ws::MakeConnector({});
  for (const std::string extra : {"", "&after=0", "&after=99"}) {
    INFO(extra);
    auto c = Watch(*connector, LogsStreamUrl(mock, d.deployment_id, extra));
    auto t = ReadToEnd(*c, std::chrono::seconds(5));
    REQUIRE(t.end.kind == ws::EventKind::kClosed);
    CHECK(t.end.close_code == 1000);
    REQUIRE(t.frames.size() == 1);
    auto m = contract::ParseLogStreamMessage(t.frames[0]);
    REQUIRE(m.ok());
    CHECK(m->type == contract::LogStreamMessage::Type::kEnd);
    CHECK(m->reason.find("runs no apps") != std::string::npos);
  }
  CHECK(mock.Log().find("GET /ws/logs?deploymentId=" + d.deployment_id + " 101") !=
        std::string::npos);
  CHECK(SummaryOf(mock, d.deployment_id)["logStreams"] == 0);
}

TEST_CASE("a seed-only platform has no runtime logs: 404 not_found on both paths") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "1", "--seed-only"});
  auto d = Deploy(mock, SampleFiles());
  CheckError(HttpRequest("GET", LogsUrl(mock, d.deployment_id), "", Bearer()), 404, "not_found");
  CheckError(HttpRequest("GET", LogsUrl(mock, "nope"), "", Bearer()), 404, "not_found");
  CheckError(Upgrade(mock, "/ws/logs?deploymentId=" + d.deployment_id), 404, "not_found");
  auto connector = ws::MakeConnector({});
  auto c = connector->Connect(LogsStreamUrl(mock, d.deployment_id), WsOptions());
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::kNotFound);
}

}  // namespace bim::test
