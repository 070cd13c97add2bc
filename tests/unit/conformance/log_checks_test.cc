// ext.logs* over a scripted platform: runtime logs as the contract has them pass; a platform
// without them is not-supported after one request; pages that repeat lines and streams whose seq
// goes back are not-supported, naming what; --read-only asks only about an unknown deployment.

#include <doctest/doctest.h>

#include <deque>
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

json ErrorBody(const std::string& code) { return {{"error", code}, {"message", "m"}}; }

json Line(int64_t seq) {
  return {{"seq", seq},
          {"timestamp", 1700000000000 + seq},
          {"level", "info"},
          {"source", "app"},
          {"text", "line " + std::to_string(seq)}};
}

// A stream that sends its frames, then closes with close_code (0: stays open, quiet).
class ScriptedConnection final : public ws::Connection {
 public:
  ScriptedConnection(std::deque<std::string> frames, int close_code)
      : frames_(std::move(frames)), close_code_(close_code) {}
  ws::Event Receive(std::chrono::milliseconds) override {
    ws::Event e;
    if (!frames_.empty()) {
      e.kind = ws::EventKind::kMessage;
      e.payload = frames_.front();
      frames_.pop_front();
    } else if (close_code_ != 0) {
      e.kind = ws::EventKind::kClosed;
      e.close_code = close_code_;
    }
    return e;
  }
  bool Send(const std::string&) override { return true; }
  void Close() override { closed_by_client = true; }
  void Cut() override {}
  bool closed_by_client = false;

 private:
  std::deque<std::string> frames_;
  int close_code_;
};

// Accepts /ws/logs of the sample deployment d-1 with the scripted frames; refuses every other
// upgrade with 404 (the stage stream too: the suite then polls).
class LogsConnector final : public ws::Connector {
 public:
  Result<std::unique_ptr<ws::Connection>> Connect(const std::string& url,
                                                  const ws::ConnectOptions&) override {
    urls.push_back(url);
    if (url.find("/ws/logs?deploymentId=d-1&after=0") != std::string::npos) {
      return std::unique_ptr<ws::Connection>(
          std::make_unique<ScriptedConnection>(frames, close_code));
    }
    return bim::Error(ErrorCode::kNotFound, "WebSocket handshake answered HTTP 404");
  }
  std::deque<std::string> frames = {
      Line(1).dump(), Line(2).dump(), json{{"type", "skipped"}, {"count", 2}, {"next", 5}}.dump(),
      Line(5).dump(), json{{"type", "end"}, {"reason", "exited"}}.dump()};
  int close_code = 1000;
  std::vector<std::string> urls;
};

// The sample deployment d-1, complete at once, with lines 1..5 kept.
struct FakeLogs {
  int64_t cursor = 5;
  bool repeat_after_cursor = false;  // after=cursor gives the last line again
  bool has_logs = true;
  int probes = 0;

  void Install(FakeWorld& w) {
    w.http.On("POST", "/api/deploy", [](const HttpCall&) {
      return Answer(200, json{{"deploymentId", "d-1"},
                              {"projectId", kLabel},
                              {"commitHash", "abcdef123456"},
                              {"status", "queued"}}
                             .dump());
    });
    w.http.On("GET", "/api/status/", [](const HttpCall&) {
      return Answer(200, json{{"id", "d-1"},
                              {"projectId", kLabel},
                              {"commitHash", "abcdef123456"},
                              {"status", "complete"},
                              {"url", "https://abcdef123456.backend.im"},
                              {"logs", {"the end"}}}
                             .dump());
    });
    w.http.On("GET", "/api/deployments/", [this](const HttpCall& c) { return Logs(c); });
  }

  HttpAnswer Logs(const HttpCall& c) {
    std::string path = c.url.substr(test::kApi.size());
    std::string query =
        path.substr(path.find('?') == std::string::npos ? path.size() : path.find('?'));
    if (!has_logs) return Answer(404, ErrorBody("not_found").dump());
    if (path.rfind("/api/deployments/d-1/logs", 0) != 0) {
      ++probes;
      return Answer(404, ErrorBody("deployment_not_found").dump());
    }
    if (query == "?tail=not-a-number") return Answer(400, ErrorBody("invalid_request").dump());
    int64_t after = 0;
    size_t limit = 1000;
    if (auto at = query.find("after="); at != std::string::npos) {
      after = std::stoll(query.substr(at + 6));
    }
    if (auto at = query.find("limit="); at != std::string::npos) {
      limit = std::stoul(query.substr(at + 6));
    }
    if (repeat_after_cursor && after == cursor) after = cursor - 1;
    json lines = json::array();
    bool more = false;
    for (int64_t seq = after + 1; seq <= cursor; ++seq) {
      if (lines.size() == limit) {
        more = true;
        break;
      }
      lines.push_back(Line(seq));
    }
    return Answer(200, json{{"deploymentId", "d-1"},
                            {"lines", lines},
                            {"cursor", cursor},
                            {"first", 1},
                            {"more", more}}
                           .dump());
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

struct Run {
  FakeWorld w;
  FakeLogs platform;
  LogsConnector connector;

  Report Checks(bool read_only = false) {
    platform.Install(w);
    Context ctx(Options(read_only), w.http, connector, w.clock, w.sleeper, w.random);
    return Suite(LogChecks()).Run(ctx);
  }
};

}  // namespace

TEST_CASE("ext.logs*: runtime logs as the contract has them pass") {
  Run run;
  Report r = run.Checks();
  REQUIRE(r.entries().size() == 3);
  for (const auto& e : r.entries()) {
    CHECK_MESSAGE(e.result.outcome == Outcome::kPass, e.id << ": " << e.result.detail);
  }
  CHECK(r.Find("ext.logs_page")->result.detail == "5 lines (seq 1..5), cursor 5, first 1");
  CHECK(r.Find("ext.logs_stream")->result.detail ==
        "3 lines (seq 1..5), then the end (\"exited\") and a close");
  // Probed once, for the page's and the stream's unknown deployment.
  CHECK(run.platform.probes == 1);
  CHECK(run.connector.urls.back().find("ws://platform.test/ws/logs?deploymentId=d-1&after=0") == 0);
}

TEST_CASE("ext.error_body takes deployment_not_found, the extension's own 404, as the contract's") {
  Run run;
  run.platform.Install(run.w);
  Context ctx(Options(), run.w.http, run.connector, run.w.clock, run.w.sleeper, run.w.random);
  auto checks = LogChecks();
  for (auto& c : WholeRunChecks()) checks.push_back(std::move(c));
  Report r = Suite(checks).Run(ctx);
  CHECK(run.platform.probes == 1);
  const auto& body = r.Find("ext.error_body")->result;
  CHECK_MESSAGE(body.outcome == Outcome::kPass, body.detail);
}

TEST_CASE("ext.logs*: a platform whose logs path is its generic 404 has none") {
  Run run;
  run.platform.has_logs = false;
  Report r = run.Checks();
  for (const auto& e : r.entries()) {
    CAPTURE(e.id);
    CHECK(e.result.outcome == Outcome::kNotSupported);
    CHECK(e.result.detail.find("answered 404 (error \"not_found\"): the platform has no runtime "
                               "logs") != std::string::npos);
  }
  // One request decided it: no deployment was made for the checks that read its logs.
  for (const auto& c : run.w.http.calls) CHECK(c.method == "GET");
  for (const auto& url : run.connector.urls) CHECK(url.find("/ws/logs") == std::string::npos);
}

TEST_CASE("ext.logs_page: a page that gives lines again after its cursor is not-supported") {
  Run run;
  run.platform.repeat_after_cursor = true;
  Report r = run.Checks();
  const auto& page = r.Find("ext.logs_page")->result;
  CHECK(page.outcome == Outcome::kNotSupported);
  CHECK(page.detail.find("?after=5 [on from the cursor] repeats line 5") != std::string::npos);
}

TEST_CASE("ext.logs_stream: lines that go back, or a close without an end, are not-supported") {
  SUBCASE("seq goes back") {
    Run run;
    run.connector.frames = {Line(3).dump(), Line(2).dump()};
    run.connector.close_code = 0;  // stays open: the suite closes it
    Report r = run.Checks();
    const auto& stream = r.Find("ext.logs_stream")->result;
    CHECK(stream.outcome == Outcome::kNotSupported);
    CHECK(stream.detail.find("message 2: line 2 does not come after 3") != std::string::npos);
  }
  SUBCASE("closed without an end") {
    Run run;
    run.connector.frames = {Line(1).dump()};
    run.connector.close_code = 1011;
    Report r = run.Checks();
    const auto& stream = r.Find("ext.logs_stream")->result;
    CHECK(stream.outcome == Outcome::kNotSupported);
    CHECK(stream.detail.find("closed (1011) without an end message") != std::string::npos);
  }
  SUBCASE("nothing at all") {
    Run run;
    run.connector.frames.clear();
    run.connector.close_code = 0;
    Report r = run.Checks();
    const auto& stream = r.Find("ext.logs_stream")->result;
    CHECK(stream.outcome == Outcome::kNotSupported);
    CHECK(stream.detail.find("sent neither a line nor an end") != std::string::npos);
  }
}

TEST_CASE("ext.logs*: --read-only asks only about an unknown deployment") {
  Run run;
  Report r = run.Checks(/*read_only=*/true);
  CHECK(r.Find("ext.logs")->result.outcome == Outcome::kPass);
  CHECK(r.Find("ext.logs_page")->result.outcome == Outcome::kSkipped);
  CHECK(r.Find("ext.logs_stream")->result.outcome == Outcome::kSkipped);
  for (const auto& c : run.w.http.calls) CHECK(c.method == "GET");
}

}  // namespace bim::conformance
