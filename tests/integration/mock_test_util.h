#pragma once
// Helpers shared by the backend-im-mock integration tests: bearer headers, JSON bodies,
// deployments, and reading a WebSocket to its end with the project's own client.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/commit_hash.h"
#include "common/contract.h"
#include "tests/support/harness.h"
#include "ws/ws_client.h"

namespace bim::test {

inline const std::string kToken = "dev-token";

inline std::vector<std::string> Bearer(const std::string& token = kToken) {
  return {"Authorization: Bearer " + token};
}

inline nlohmann::json ParseJson(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  INFO("body: " << body);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// The error body every error of the mock has: {"error": code, "message": ...}.
inline void CheckError(const HttpReply& r, long status, const std::string& code) {
  INFO("status " << r.status << " body " << r.body);
  CHECK(r.status == status);
  auto e = contract::ParseErrorBody(r.body);
  REQUIRE(e.ok());
  CHECK(e->error == code);
  CHECK_FALSE(e->message.empty());
}

inline contract::FileMap SampleFiles(const std::string& salt = "") {
  return {{"main.py", "from fastapi import FastAPI\napp = FastAPI()\n# " + salt + "\n"},
          {"requirements.txt", "fastapi==0.104.1\nuvicorn==0.24.0\n"}};
}

inline std::string DeployBody(const contract::FileMap& files, const std::string& project_id = "") {
  return contract::ToJson(contract::DeployRequest{files, project_id, ""});
}

inline contract::DeployResponse Deploy(const MockPlatform& mock, const contract::FileMap& files,
                                       const std::vector<std::string>& extra_headers = {},
                                       const std::string& project_id = "") {
  auto headers = Bearer();
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  auto r =
      HttpRequest("POST", mock.http_url() + "/api/deploy", DeployBody(files, project_id), headers);
  INFO("deploy answered " << r.status << ": " << r.body);
  REQUIRE(r.status == 200);
  auto d = contract::ParseDeployResponse(r.body);
  REQUIRE(d.ok());
  return std::move(d).value();
}

inline contract::StatusResponse Status(const MockPlatform& mock, const std::string& id) {
  auto r = HttpRequest("GET", mock.http_url() + "/api/status/" + id, "", Bearer());
  INFO("status answered " << r.status << ": " << r.body);
  REQUIRE(r.status == 200);
  auto s = contract::ParseStatusResponse(r.body);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Polls the status endpoint until the deployment ends.
inline contract::StatusResponse WaitTerminal(
    const MockPlatform& mock, const std::string& id,
    std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto s = Status(mock, id);
    if (contract::IsTerminal(s.status) || std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline std::string WsUrl(const MockPlatform& mock, const std::string& id,
                         const std::string& extra_query = "") {
  return mock.ws_url() + "/ws?deploymentId=" + id + extra_query;
}

inline ws::ConnectOptions WsOptions(const std::string& token = kToken) {
  ws::ConnectOptions o;
  if (!token.empty()) o.headers.emplace_back("Authorization", "Bearer " + token);
  o.connect_timeout = std::chrono::seconds(5);
  return o;
}

struct WsTranscript {
  std::vector<std::string> frames;  // every text frame, parsed or not
  ws::Event end;                    // kClosed, or kTimeout when it never ended
};

inline WsTranscript ReadToEnd(ws::Connection& c,
                              std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  WsTranscript t;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return t;
    ws::Event e = c.Receive(left);
    if (e.kind == ws::EventKind::kMessage) {
      t.frames.push_back(e.payload);
    } else if (e.kind == ws::EventKind::kClosed) {
      t.end = e;
      return t;
    }
  }
}

inline std::vector<contract::StageMessage> Messages(const WsTranscript& t) {
  std::vector<contract::StageMessage> out;
  for (const auto& f : t.frames) {
    auto m = contract::ParseStageMessage(f);
    INFO("frame: " << f);
    REQUIRE(m.ok());
    out.push_back(std::move(m).value());
  }
  return out;
}

inline std::vector<std::string> Statuses(const std::vector<contract::StageMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.emplace_back(contract::StageName(m.status));
  return out;
}

inline std::vector<std::string> SuccessNames() {
  std::vector<std::string> out;
  for (auto s : contract::SuccessPath()) out.emplace_back(contract::StageName(s));
  return out;
}

inline std::unique_ptr<ws::Connection> Watch(ws::Connector& connector, const std::string& url,
                                             const std::string& token = kToken) {
  auto c = connector.Connect(url, WsOptions(token));
  INFO("connect " << url << ": " << (c.ok() ? "" : c.error().message));
  REQUIRE(c.ok());
  return std::move(c).value();
}

}  // namespace bim::test
