// backend-im-mock --run-apps: the runtime logs of real apps (docs/API_CONTRACTS.md §6.2), read
// over HTTP and followed over /ws/logs as a client would: access lines, tracebacks, the
// platform's own lines, resuming a stream, its end when the app is replaced, a follower too slow
// to keep up, an outage. (Without apps: mock_logs_test.cc.)
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/integration/mock_test_util.h"
#include "tests/integration/resource_bounds.h"

namespace bim::test {
namespace {

using contract::LogLevel;
using contract::LogStreamMessage;
using nlohmann::json;
using namespace std::chrono_literals;

// An app with routes that print: /say?n=N prints N lines "WORD i"; /boom raises; /spam?n=N
// prints N lines of SIZE bytes.
const std::string kTalkingApp = R"PY(from fastapi import FastAPI
app = FastAPI()

@app.get('/health')
def health():
    return {'ok': True}

@app.get('/say')
def say(n: int = 1, word: str = 'line'):
    for i in range(n):
        print(f'{word} {i}')
    return {'said': n}

@app.get('/boom')
def boom():
    raise RuntimeError('boom in a request')

@app.get('/spam')
def spam(n: int = 1, size: int = 1000):
    pad = 'x' * size
    for i in range(n):
        print(f'{i} {pad}')
    return {'printed': n}
)PY";

std::vector<std::string> AppArgs(const TempDir& apps, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--token",    kToken,       "--stage-delay-ms", "10",
                                   "--run-apps", "--apps-dir", apps / "apps"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Deploys files to project and waits for it to complete; its URL.
std::string Running(const MockPlatform& mock, const contract::FileMap& files,
                    const std::string& project, std::string* id = nullptr) {
  auto d = Deploy(mock, files, {}, project);
  auto s = WaitTerminal(mock, d.deployment_id, 60s);
  std::string logs;
  for (const auto& l : s.logs) logs += l + "\n";
  INFO(logs);
  REQUIRE(s.status == contract::Stage::kComplete);
  REQUIRE(s.url);
  if (id) *id = d.deployment_id;
  return *s.url;
}

contract::LogPage Page(const MockPlatform& mock, const std::string& id,
                       const std::string& query = "?after=0&limit=1000") {
  auto r = HttpRequest("GET", mock.http_url() + "/api/deployments/" + id + "/logs" + query, "",
                       Bearer());
  INFO("logs answered " << r.status << ": " << r.body.substr(0, 500));
  REQUIRE(r.status == 200);
  auto page = contract::ParseLogPage(r.body);
  REQUIRE(page.ok());
  return std::move(page).value();
}

const contract::LogLine* Find(const contract::LogPage& page, const std::string& text_part) {
  for (const auto& l : page.lines) {
    if (l.text.find(text_part) != std::string::npos) return &l;
  }
  return nullptr;
}

// The line of page that holds text_part; the test stops when there is none.
const contract::LogLine& Must(const contract::LogPage& page, const std::string& text_part) {
  const auto* line = Find(page, text_part);
  INFO("no line holds " << text_part);
  REQUIRE(line);
  return *line;
}

std::string Shown(const contract::LogPage& page) {
  std::string out;
  for (const auto& l : page.lines) {
    out += std::to_string(l.seq) + " " + std::string(contract::LogLevelName(l.level)) + " " +
           l.source + " " + l.text.substr(0, 120) + "\n";
  }
  return out;
}

std::string LogsStreamUrl(const MockPlatform& mock, const std::string& id,
                          const std::string& extra = "") {
  return mock.ws_url() + "/ws/logs?deploymentId=" + id + extra;
}

// The stream's next message; nullopt when it closed or nothing came within timeout.
std::optional<LogStreamMessage> Next(ws::Connection& c, std::chrono::milliseconds timeout,
                                     ws::Event* closed = nullptr) {
  ws::Event e = c.Receive(timeout);
  if (e.kind != ws::EventKind::kMessage) {
    if (closed) *closed = e;
    return std::nullopt;
  }
  auto m = contract::ParseLogStreamMessage(e.payload);
  INFO("frame: " << e.payload.substr(0, 300));
  REQUIRE(m.ok());
  return std::move(m).value();
}

int StreamsOf(const MockPlatform& mock, const std::string& id) {
  auto all = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  for (const auto& d : all) {
    if (d["id"] == id) return d["logStreams"];
  }
  return -1;
}

}  // namespace

TEST_CASE("a request to a deployed app is an access line in its logs within 2 s") {
  TempDir apps;
  MockPlatform mock(AppArgs(apps));
  std::string id;
  const std::string url = Running(mock, {{"main.py", kTalkingApp}}, "talk", &id);
  const int64_t before_ms = bim::RealClock().NowUnixMs();

  REQUIRE(HttpRequest("GET", url + "/say?n=2&word=hello").status == 200);
  const auto asked = std::chrono::steady_clock::now();
  std::optional<contract::LogLine> access;
  contract::LogPage page;
  CHECK(WaitUntil(
      [&] {
        page = Page(mock, id);
        if (auto* line = Find(page, "\"GET /say?n=2&word=hello HTTP/1.1\" 200")) access = *line;
        return access.has_value();
      },
      5s, 5ms));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - asked);
  MESSAGE("the access line was in the logs " << took.count() << " ms after the answer");
  INFO(Shown(page));
  REQUIRE(access);
  CHECK(took < 2s);
  CHECK(access->source == "access");
  CHECK(access->level == LogLevel::kInfo);
  CHECK(access->timestamp >= before_ms);
  CHECK(access->timestamp <= bim::RealClock().NowUnixMs());

  // The app's own lines come before it, and the platform's line opens the logs.
  REQUIRE_FALSE(page.lines.empty());
  CHECK(page.lines[0].seq == 1);
  CHECK(page.lines[0].source == "platform");
  CHECK(page.lines[0].text.find("Started uvicorn main:app") != std::string::npos);
  const auto* hello = Find(page, "hello 1");
  REQUIRE(hello);
  CHECK(hello->source == "app");
  CHECK(hello->level == LogLevel::kInfo);
  CHECK(hello->seq < access->seq);
  const auto* health = Find(page, "\"GET /health HTTP/1.1\" 200");  // the health check's
  REQUIRE(health);
  CHECK(health->source == "access");
  const auto* startup = Find(page, "Application startup complete");
  REQUIRE(startup);
  CHECK(startup->level == LogLevel::kInfo);
  for (size_t i = 1; i < page.lines.size(); ++i) {
    CHECK(page.lines[i].seq == page.lines[i - 1].seq + 1);
  }

  // A 404 is a warning, a 500 an error with the app's traceback at error too (uvicorn logs it
  // once the answer went out).
  REQUIRE(HttpRequest("GET", url + "/nowhere").status == 404);
  REQUIRE(HttpRequest("GET", url + "/boom").status == 500);
  CHECK(WaitUntil(
      [&] { return Find(Page(mock, id), "RuntimeError: boom in a request") != nullptr; }, 5s));
  page = Page(mock, id);
  INFO(Shown(page));
  CHECK(Must(page, "\"GET /nowhere HTTP/1.1\" 404").level == LogLevel::kWarning);
  CHECK(Must(page, "\"GET /boom HTTP/1.1\" 500").level == LogLevel::kError);
  CHECK(Must(page, "Exception in ASGI application").level == LogLevel::kError);
  CHECK(Must(page, "Traceback (most recent call last):").level == LogLevel::kError);
  CHECK(Must(page, "RuntimeError: boom in a request").level == LogLevel::kError);

  // The filters: level and above, the newest N, on from a cursor.
  auto errors = Page(mock, id, "?level=error");
  REQUIRE_FALSE(errors.lines.empty());
  for (const auto& l : errors.lines) CHECK(l.level == LogLevel::kError);
  CHECK(errors.cursor == page.cursor);
  auto newest = Page(mock, id, "?tail=2");
  REQUIRE(newest.lines.size() == 2);
  CHECK(newest.lines[1].seq == newest.cursor);
  auto on = Page(mock, id, "?after=" + std::to_string(access->seq) + "&limit=1");
  REQUIRE(on.lines.size() == 1);
  CHECK(on.lines[0].seq == access->seq + 1);
  CHECK(on.more);
  auto recent = Page(mock, id, "?since=" + std::to_string(access->timestamp));
  REQUIRE_FALSE(recent.lines.empty());
  for (const auto& l : recent.lines) CHECK(l.timestamp >= access->timestamp);
}

TEST_CASE(
    "an app that raises at import fails its deployment, and its logs hold the traceback "
    "at level error") {
  TempDir apps;
  MockPlatform mock(AppArgs(apps));
  auto d =
      Deploy(mock, {{"main.py", "import os\nraise RuntimeError('boom at import')\napp = None\n"}},
             {}, "broken");
  auto s = WaitTerminal(mock, d.deployment_id, 60s);
  REQUIRE(s.status == contract::Stage::kFailed);

  auto page = Page(mock, d.deployment_id);
  INFO(Shown(page));
  const auto* start = Find(page, "Traceback (most recent call last):");
  const auto* exception = Find(page, "RuntimeError: boom at import");
  REQUIRE(start);
  REQUIRE(exception);
  CHECK(exception->seq > start->seq);
  for (const auto& l : page.lines) {
    if (l.seq >= start->seq && l.seq <= exception->seq) {
      INFO(l.text);
      CHECK(l.level == LogLevel::kError);
      CHECK(l.source == "app");
    }
  }
  CHECK(Find(page, "main.py\", line 2, in <module>") != nullptr);
  const auto& last = page.lines.back();
  CHECK(last.source == "platform");
  CHECK(last.level == LogLevel::kError);
  CHECK(last.text == "The app exited with status 1");

  // Its stream sends what is left, then says how it ended.
  auto connector = ws::MakeConnector({});
  auto c = Watch(*connector, LogsStreamUrl(mock, d.deployment_id, "&after=0"));
  auto t = ReadToEnd(*c, 10s);
  REQUIRE(t.end.kind == ws::EventKind::kClosed);
  CHECK(t.end.close_code == 1000);
  REQUIRE(t.frames.size() == page.lines.size() + 1);
  auto end = contract::ParseLogStreamMessage(t.frames.back());
  REQUIRE(end.ok());
  CHECK(end->type == LogStreamMessage::Type::kEnd);
  CHECK(end->reason == "exited with status 1");
}

TEST_CASE(
    "a log stream sends lines in order, resumes after a seq without repeats, and ends "
    "when its app is replaced") {
  TempDir apps;
  MockPlatform mock(AppArgs(apps));
  std::string first_id;
  const std::string url = Running(mock, {{"main.py", kTalkingApp}}, "shop", &first_id);
  auto connector = ws::MakeConnector({});

  // Without after: only what is printed from now on.
  auto live = Watch(*connector, LogsStreamUrl(mock, first_id));
  CHECK(WaitUntil([&] { return StreamsOf(mock, first_id) == 1; }, 5s));
  REQUIRE(HttpRequest("GET", url + "/say?n=40").status == 200);
  std::vector<contract::LogLine> got;
  while (got.size() < 41) {  // 40 lines and the access line
    auto m = Next(*live, 5s);
    REQUIRE(m);
    REQUIRE(m->type == LogStreamMessage::Type::kLine);
    got.push_back(m->line);
  }
  CHECK(got.front().text == "line 0");
  CHECK(got[39].text == "line 39");
  CHECK(got[40].source == "access");
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].seq == got[i - 1].seq + 1);
  live->Close();
  CHECK(WaitUntil([&] { return StreamsOf(mock, first_id) == 0; }, 5s));

  // Resumed after the 20th line: the 21st comes next, and nothing twice.
  const int64_t resume_after = got[19].seq;
  auto resumed =
      Watch(*connector, LogsStreamUrl(mock, first_id, "&after=" + std::to_string(resume_after)));
  std::vector<contract::LogLine> again;
  while (again.size() < 21) {
    auto m = Next(*resumed, 5s);
    REQUIRE(m);
    REQUIRE(m->type == LogStreamMessage::Type::kLine);
    again.push_back(m->line);
  }
  CHECK(again.front().seq == resume_after + 1);
  CHECK(again.front().text == "line 20");
  CHECK(again.back().seq == got.back().seq);
  CHECK(StreamsOf(mock, first_id) == 1);

  // A new deployment of the project replaces the app: the stream gets the platform's line and
  // the end, then closes 1000.
  std::string second_id;
  Running(mock, {{"main.py", kTalkingApp + "\n# v2\n"}}, "shop", &second_id);
  std::vector<LogStreamMessage> tail;
  ws::Event closed;
  while (auto m = Next(*resumed, 10s, &closed)) tail.push_back(*m);
  REQUIRE(closed.kind == ws::EventKind::kClosed);
  CHECK(closed.close_code == 1000);
  REQUIRE(tail.size() >= 2);
  const auto& stopped = tail[tail.size() - 2];
  CHECK(stopped.type == LogStreamMessage::Type::kLine);
  CHECK(stopped.line.source == "platform");
  CHECK(stopped.line.text.find("Stopped the app (replaced by deployment " + second_id + ")") == 0);
  CHECK(tail.back().type == LogStreamMessage::Type::kEnd);
  CHECK(tail.back().reason == "replaced by deployment " + second_id);
  CHECK(WaitUntil([&] { return StreamsOf(mock, first_id) == 0; }, 5s));
  // The replaced deployment's logs stay readable; the new one has its own from seq 1.
  auto old_page = Page(mock, first_id);
  CHECK(old_page.lines.back().text.find("Stopped the app") == 0);
  CHECK(Page(mock, second_id).lines.front().seq == 1);
}

TEST_CASE(
    "a follower that reads too slowly gets skipped, and the platform's memory stays "
    "bounded") {
  TempDir apps;
  MockPlatform mock(AppArgs(apps));
  std::string id;
  const std::string url = Running(mock, {{"main.py", kTalkingApp}}, "flood", &id);
  auto connector = ws::MakeConnector({});
  auto options = WsOptions();
  options.max_queued_bytes = 64 * 1024;  // the client stops reading from its socket soon
  options.ping_interval = std::chrono::minutes(10);  // its pongs would wait behind the flood
  auto slow = connector->Connect(LogsStreamUrl(mock, id), options);
  REQUIRE(slow.ok());
  CHECK(WaitUntil([&] { return StreamsOf(mock, id) == 1; }, 5s));
  const int64_t from = Page(mock, id, "?tail=0").cursor;
  const long rss_before = RssKib(mock.process().pid());

  // 60 MB of output, six times what the platform keeps, while the follower reads nothing.
  const int kLines = 60000;
  REQUIRE(HttpRequest("GET", url + "/spam?n=" + std::to_string(kLines), "", {}, 120s).status ==
          200);
  int64_t last = 0;
  REQUIRE(WaitUntil(
      [&] {
        auto page = Page(mock, id, "?tail=5");
        auto* access = Find(page, "\"GET /spam?n=");
        if (access) last = access->seq;
        return access != nullptr;
      },
      60s, 20ms));
  const long peak = PeakRssKib(mock.process().pid());
  MESSAGE("mock resident memory: " << rss_before / 1024 << " MiB before, peak " << peak / 1024
                                   << " MiB after 60 MB of logs to a stalled follower");
  if (!kSanitized) CHECK(peak - rss_before < 48 * 1024);

  // Read on: whatever it was sent, then one skipped over what is gone, then the rest; every seq
  // from the first to the access line is accounted for once.
  int64_t next = from + 1;
  int skips = 0;
  int64_t skipped = 0;
  while (next <= last) {
    auto m = Next(**slow, 30s);
    REQUIRE(m);
    if (m->type == LogStreamMessage::Type::kSkipped) {
      ++skips;
      skipped += m->skipped;
      CHECK(m->skipped > 0);
      CHECK(m->next == next + m->skipped);
      next = m->next;
      continue;
    }
    REQUIRE(m->type == LogStreamMessage::Type::kLine);
    REQUIRE(m->line.seq == next);
    ++next;
  }
  // Once it fell behind by more than the platform keeps; more than once when it had room for a
  // while during the flood (its socket's buffers drained into the client's).
  MESSAGE(skips << " skipped messages, " << skipped << " lines skipped of " << last - from);
  CHECK(skips >= 1);
  CHECK(Page(mock, id, "?tail=0").first > from + 1);
}

TEST_CASE("an outage drops the log streams as it drops /ws") {
  TempDir apps;
  // The outage begins 4 s after the mock starts: the stream below is open by then.
  MockPlatform mock(AppArgs(apps, {"--outage", "4000:2000"}));
  auto d = Deploy(mock, {{"main.py", kTalkingApp}}, {}, "outage");
  auto connector = ws::MakeConnector({});
  auto c = Watch(*connector, LogsStreamUrl(mock, d.deployment_id, "&after=0"));
  const auto opened = std::chrono::steady_clock::now();
  ws::Event closed;
  while (Next(*c, 20s, &closed)) {
  }
  REQUIRE(closed.kind == ws::EventKind::kClosed);
  CHECK(closed.close_code == 1006);
  CHECK(std::chrono::steady_clock::now() - opened < 10s);
}

}  // namespace bim::test
