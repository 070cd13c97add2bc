// A deployment's runtime logs as the embedded platform keeps them (mock-api/log_book.h,
// runtime_logs.h): numbering, the bound, cut lines, the pages of every query, and the query's
// checks.
#include "mock-api/log_book.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mock-api/runtime_logs.h"

namespace bim::mock {
namespace {

using contract::LogLevel;

std::vector<int64_t> Seqs(const contract::LogPage& page) {
  std::vector<int64_t> out;
  for (const auto& l : page.lines) out.push_back(l.seq);
  return out;
}

LogQuery Tail(int64_t n) {
  LogQuery q;
  q.count = n;
  return q;
}

LogQuery After(int64_t seq, int64_t limit = 500) {
  LogQuery q;
  q.after = seq;
  q.count = limit;
  return q;
}

// Lines 1..n at timestamps 1000, 1010, ...; every third (seq 3, 6, ...) an error.
LogBook BookOf(int n, size_t capacity = LogBook::kMaxLines) {
  LogBook book(capacity);
  for (int i = 1; i <= n; ++i) {
    book.Append(1000 + 10 * (i - 1), i % 3 == 0 ? LogLevel::kError : LogLevel::kInfo, "app",
                "line " + std::to_string(i));
  }
  return book;
}

Result<LogQuery> Parse(std::map<std::string, std::string> query) { return ParseLogQuery(query); }

}  // namespace

TEST_CASE("an empty book has cursor 0 and first 1, and every page of it is empty") {
  LogBook book;
  CHECK(book.cursor() == 0);
  CHECK(book.first() == 1);
  CHECK(book.At(1) == nullptr);
  for (const auto& q : {Tail(100), After(0), After(7)}) {
    auto page = book.Page(q);
    CHECK(page.lines.empty());
    CHECK(page.cursor == 0);
    CHECK(page.first == 1);
    CHECK_FALSE(page.more);
  }
}

TEST_CASE("lines are numbered from 1, and the oldest go past the bound as first moves on") {
  LogBook book = BookOf(25, 10);
  CHECK(book.cursor() == 25);
  CHECK(book.first() == 16);
  CHECK(book.At(15) == nullptr);
  REQUIRE(book.At(16) != nullptr);
  CHECK(book.At(16)->text == "line 16");
  CHECK(book.At(25)->seq == 25);
  CHECK(book.At(26) == nullptr);
  // A reader that was at 5 gets what is left and can tell that 6..15 are gone.
  auto page = book.Page(After(5));
  CHECK(page.first == 16);
  CHECK(Seqs(page).front() == 16);
  CHECK(page.lines.size() == 10);
  // A seq is never reused.
  book.Append(2000, LogLevel::kInfo, "app", "again");
  CHECK(book.cursor() == 26);
  CHECK(book.first() == 17);
}

TEST_CASE("the default bound is 10000 lines") {
  LogBook book = BookOf(10005);
  CHECK(book.first() == 6);
  CHECK(book.cursor() == 10005);
  CHECK(book.Page(After(0, 1000)).lines.size() == 1000);
}

TEST_CASE(
    "a line is cut at 2000 bytes on a character boundary, and bytes that are not UTF-8 "
    "become ?") {
  LogBook book;
  std::string long_text(1999, 'a');
  long_text += "\xc3\xa9tail";  // é straddles byte 2000
  const auto& cut = book.Append(1, LogLevel::kInfo, "app", long_text);
  CHECK(cut.text == std::string(1999, 'a'));
  const auto& exact = book.Append(1, LogLevel::kInfo, "app", std::string(2500, 'b'));
  CHECK(exact.text.size() == 2000);
  const auto& odd = book.Append(1, LogLevel::kInfo, "app", "ok \xff\xfe caf\xc3\xa9 \xed\xa0\x80");
  CHECK(odd.text == "ok ?? caf\xc3\xa9 ???");
}

TEST_CASE("tail pages the newest lines, oldest first, at or after since and at level or above") {
  LogBook book = BookOf(20);
  CHECK(Seqs(book.Page(Tail(3))) == std::vector<int64_t>{18, 19, 20});
  CHECK(book.Page(Tail(100)).lines.size() == 20);
  CHECK(book.Page(Tail(0)).lines.empty());
  CHECK(book.Page(Tail(0)).cursor == 20);  // tail=0: only where the logs are

  LogQuery errors = Tail(2);
  errors.level = LogLevel::kError;
  CHECK(Seqs(book.Page(errors)) == std::vector<int64_t>{15, 18});
  errors.level = LogLevel::kWarning;
  CHECK(Seqs(book.Page(errors)) == std::vector<int64_t>{15, 18});

  LogQuery recent = Tail(100);
  recent.since = 1000 + 10 * 16;  // seq 17's timestamp
  CHECK(Seqs(book.Page(recent)) == std::vector<int64_t>{17, 18, 19, 20});
  recent.level = LogLevel::kError;
  CHECK(Seqs(book.Page(recent)) == std::vector<int64_t>{18});
  auto page = book.Page(recent);
  CHECK(page.cursor == 20);  // the newest line, matching or not
  CHECK(page.first == 1);
  CHECK_FALSE(page.more);
}

TEST_CASE("after pages on from a cursor, limit cuts with more, and nothing repeats") {
  LogBook book = BookOf(12);
  auto first = book.Page(After(0, 5));
  CHECK(Seqs(first) == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(first.more);
  auto second = book.Page(After(5, 5));
  CHECK(Seqs(second) == std::vector<int64_t>{6, 7, 8, 9, 10});
  CHECK(second.more);
  auto third = book.Page(After(10, 5));
  CHECK(Seqs(third) == std::vector<int64_t>{11, 12});
  CHECK_FALSE(third.more);
  auto none = book.Page(After(12, 5));
  CHECK(none.lines.empty());
  CHECK(none.cursor == 12);
  CHECK_FALSE(none.more);
  CHECK(book.Page(After(100)).lines.empty());

  LogQuery errors = After(3, 2);
  errors.level = LogLevel::kError;
  auto e = book.Page(errors);
  CHECK(Seqs(e) == std::vector<int64_t>{6, 9});
  CHECK(e.more);  // 12 is an error too
  errors.after = 9;
  CHECK(Seqs(book.Page(errors)) == std::vector<int64_t>{12});
  CHECK_FALSE(book.Page(errors).more);
  // More only for lines that match: after 10, only 11 and 12, of which 12 matches.
  errors.after = 10;
  errors.count = 1;
  CHECK_FALSE(book.Page(errors).more);
}

TEST_CASE("the logs query: defaults, and a clear 400 for every value outside the contract") {
  auto tail = Parse({});
  REQUIRE(tail.ok());
  CHECK_FALSE(tail->after);
  CHECK(tail->count == 100);
  CHECK(tail->level == LogLevel::kDebug);
  CHECK_FALSE(tail->since);

  auto after = Parse({{"after", "7"}});
  REQUIRE(after.ok());
  CHECK(after->after == 7);
  CHECK(after->count == 500);

  auto full = Parse({{"after", "0"},
                     {"limit", "1000"},
                     {"since", "1700000000000"},
                     {"level", "warning"},
                     {"unknown", "ignored"}});
  REQUIRE(full.ok());
  CHECK(full->count == 1000);
  CHECK(full->since == 1700000000000);
  CHECK(full->level == LogLevel::kWarning);
  CHECK(Parse({{"tail", "0"}}).ok());
  CHECK(Parse({{"tail", "1000"}})->count == 1000);

  const std::map<std::string, std::string> bad[] = {
      {{"tail", "abc"}},
      {{"tail", "-1"}},
      {{"tail", "1001"}},
      {{"tail", ""}},
      {{"tail", "1.5"}},
      {{"tail", "5x"}},
      {{"after", "-3"}},
      {{"after", "x"}},
      {{"after", "99999999999999999999"}},
      {{"after", "1"}, {"limit", "1001"}},
      {{"limit", "5"}},
      {{"tail", "5"}, {"after", "1"}},
      {{"since", "yesterday"}},
      {{"since", "-1"}},
      {{"level", "fatal"}},
      {{"level", "INFO"}},
  };
  for (const auto& q : bad) {
    std::string shown;
    for (const auto& [k, v] : q) shown += k + "=" + v + " ";
    INFO(shown);
    auto r = ParseLogQuery(q);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("runtime logs: the app's lines classified across reads, between the platform's own") {
  ws::HttpWsServer server;  // not running: only its timers would need it
  RuntimeLogs logs(server);
  logs.Add("d1");
  AppOutput started;
  started.kind = AppOutput::Kind::kStarted;
  started.deployment = "d1";
  started.text = "Started uvicorn main:app (pid 42)";
  logs.OnOutput(started, 1000);
  AppOutput first;
  first.deployment = "d1";
  first.lines = {"INFO:     Started server process [1]", "Traceback (most recent call last):"};
  logs.OnOutput(first, 1001);
  AppOutput second;  // the traceback goes on in the next read
  second.deployment = "d1";
  second.lines = {"  File \"main.py\", line 1", "ValueError: x",
                  "INFO:      - \"GET /nope HTTP/1.1\" 404 Not Found"};
  logs.OnOutput(second, 1002);
  AppOutput ended;
  ended.kind = AppOutput::Kind::kEnded;
  ended.deployment = "d1";
  ended.text = "The app exited with status 1";
  ended.reason = "exited with status 1";
  logs.OnOutput(ended, 1003);
  // A deployment it does not know is ignored.
  first.deployment = "unknown";
  logs.OnOutput(first, 1004);

  auto page = logs.Page("d1", Tail(100));
  CHECK(page.deployment_id == "d1");
  REQUIRE(page.lines.size() == 7);
  struct Want {
    const char* source;
    LogLevel level;
    int64_t timestamp;
  };
  const Want want[] = {{"platform", LogLevel::kInfo, 1000}, {"app", LogLevel::kInfo, 1001},
                       {"app", LogLevel::kError, 1001},     {"app", LogLevel::kError, 1002},
                       {"app", LogLevel::kError, 1002},     {"access", LogLevel::kWarning, 1002},
                       {"platform", LogLevel::kError, 1003}};
  for (size_t i = 0; i < page.lines.size(); ++i) {
    INFO("line " << i << ": " << page.lines[i].text);
    CHECK(page.lines[i].seq == static_cast<int64_t>(i + 1));
    CHECK(page.lines[i].source == want[i].source);
    CHECK(page.lines[i].level == want[i].level);
    CHECK(page.lines[i].timestamp == want[i].timestamp);
  }
  // A deployment that never ran an app has an empty page.
  logs.Add("d2");
  logs.NoApp("d2", "it stays on timers");
  auto empty = logs.Page("d2", Tail(100));
  CHECK(empty.lines.empty());
  CHECK(empty.cursor == 0);
  CHECK(empty.first == 1);
  CHECK(logs.Streams("d1") == 0);
}

}  // namespace bim::mock
