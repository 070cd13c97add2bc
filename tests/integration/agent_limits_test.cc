// A hostile platform gets nothing: answers and streams far over the agent's limits
// (common/limits.h), sent byte for byte by a platform of ours, against the real agent. Each test
// measures the agent's peak memory (VmHWM) and its database on disk, and checks that `status`
// still works afterwards.
#include <fmt/format.h>
#include <sys/stat.h>
#include <zlib.h>

#include <chrono>
#include <cstring>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/hostile_platform.h"
#include "tests/integration/resource_bounds.h"

using namespace bim::test;
using std::chrono::steady_clock;

namespace {

constexpr long kMaxAgentRssKib = 200 * 1024;
constexpr size_t kMiB = 1024 * 1024;

// agent.db and its write-ahead log together.
long DatabaseBytes(const AgentFixture& f) {
  return FileBytes(f.StateDir() + "/agent.db") + FileBytes(f.StateDir() + "/agent.db-wal");
}

const char* kGoodStatus =
    R"({"id":"dep-big","projectId":"p","commitHash":"abc","status":"complete",)"
    R"("url":"https://abc.backend.im","logs":["done"]})";

// The start and the end of a status answer whose one log line is what goes between them.
const char* kBigStatusHead =
    R"({"id":"dep-big","projectId":"p","commitHash":"abc","status":"complete",)"
    R"("url":"https://dep-big.backend.im","logs":[")";
const char* kBigStatusTail = R"("]})";

std::string Head(const std::string& headers) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers + "\r\n";
}

void WriteGood(RawConnection& c) {
  c.Write(Head("Content-Length: " + std::to_string(std::strlen(kGoodStatus)) +
               "\r\nConnection: close\r\n") +
          kGoodStatus);
}

// Writes a status answer whose log line is `filler` bytes of 'x', a megabyte at a time, until
// the client stops reading; false when it stopped early.
bool WriteBigStatusBody(RawConnection& c, size_t filler) {
  if (!c.Write(kBigStatusHead)) return false;
  std::string mib(kMiB, 'x');
  for (size_t sent = 0; sent < filler; sent += mib.size()) {
    if (!c.Write(std::string_view(mib).substr(0, std::min(mib.size(), filler - sent)))) {
      return false;
    }
  }
  return c.Write(kBigStatusTail);
}

// gzip of a status answer whose log line is `filler` bytes of 'x': about a thousandth of it.
std::string GzipBomb(size_t filler) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  std::string mib(kMiB, 'x');
  char buf[65536];
  auto feed = [&](const std::string& in, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  };
  feed(kBigStatusHead, Z_NO_FLUSH);
  for (size_t i = 0; i < filler / kMiB; ++i) feed(mib, Z_NO_FLUSH);
  feed(kBigStatusTail, Z_FINISH);
  deflateEnd(&z);
  return out;
}

// GET /api/status/dep-big answers `hostile` the first time and a small complete status after.
// The first `backend-im status dep-big` must fail at once with `error`, the agent's peak memory
// must stay under 200 MiB and nothing of the answer may reach the database; the second must
// work.
void CheckHostileStatusAnswer(const HostilePlatform::RawRoute& hostile, const std::string& error) {
  HostilePlatform hp;
  std::atomic<int> calls{0};
  hp.SetRaw("GET /api/status/dep-big", [&](RawConnection& c) {
    if (calls++ == 0) {
      hostile(c);
    } else {
      WriteGood(c);
    }
  });
  AgentAgainst f(hp);
  auto started = steady_clock::now();
  auto s = f.Ctl({"status", "dep-big"});
  auto took = steady_clock::now() - started;
  CHECK_MESSAGE(s.exit_code == 5, (s.out.substr(0, 300) + s.err));
  CHECK_MESSAGE(s.err.find(error) != std::string::npos, s.err);
  CHECK(took < std::chrono::seconds(10));
  CHECK(calls == 1);  // refused, not asked again
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  MESSAGE("refused in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms; peak RSS " << PeakRssKib(pid) / 1024 << " MiB, database "
                        << DatabaseBytes(f) / 1024 << " KiB");
  CHECK_RESOURCE_BOUND(PeakRssKib(pid), kMaxAgentRssKib);
  // A fresh database is some 100 KiB; nothing of the answer went in.
  CHECK_RESOURCE_BOUND(DatabaseBytes(f), 1 * static_cast<long>(kMiB));
  auto again = f.Ctl({"status", "dep-big", "--json"});
  REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  CHECK(nlohmann::json::parse(again.out)["status"] == "complete");
  CHECK(f.AgentPid() == pid);
}

}  // namespace

TEST_CASE("hostile platform: a gzip bomb for a status answer is refused and never inflated") {
  // 256 MiB inflated from about 256 KiB; the agent never asked for gzip.
  std::string bomb = GzipBomb(256 * kMiB);
  CHECK(bomb.size() < kMiB);
  CheckHostileStatusAnswer(
      [&](RawConnection& c) {
        c.Write(Head("Content-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
                     "\r\nConnection: close\r\n") +
                bomb);
      },
      "the platform's answer to GET /api/status/dep-big came compressed (Content-Encoding: gzip), "
      "which the agent never asks for; ignored");
}

TEST_CASE("hostile platform: a chunked status answer that never ends is cut at 4 MiB") {
  std::atomic<uint64_t> written{0};
  CheckHostileStatusAnswer(
      [&](RawConnection& c) {
        c.Write(Head("Transfer-Encoding: chunked\r\n"));
        std::string chunk(64 * 1024, 'x');
        std::string framed = "10000\r\n" + chunk + "\r\n";  // 0x10000 bytes
        std::string first = std::string(kBigStatusHead);
        c.Write(fmt::format("{:x}\r\n{}\r\n", first.size(), first));
        // Never ends; the cap only keeps a broken agent from holding the test for ever.
        while (c.written() < 1024 * kMiB && c.Write(framed)) {
        }
        written = c.written();
      },
      "the platform's answer to GET /api/status/dep-big exceeded 4 MiB; ignored");
  CHECK(written < 16 * kMiB);  // the agent hung up soon after the limit
}

TEST_CASE("hostile platform: a 100 MiB status answer with a Content-Length is refused unread") {
  std::atomic<uint64_t> written{0};
  CheckHostileStatusAnswer(
      [&](RawConnection& c) {
        size_t filler = 100 * kMiB;
        size_t length = std::strlen(kBigStatusHead) + filler + std::strlen(kBigStatusTail);
        c.Write(Head("Content-Length: " + std::to_string(length) + "\r\n"));
        WriteBigStatusBody(c, filler);
        written = c.written();
      },
      "the platform's answer to GET /api/status/dep-big exceeded 4 MiB; ignored");
  // Refused on the header: at most what the socket buffers took before the agent hung up.
  CHECK(written < 16 * kMiB);
}

TEST_CASE("hostile platform: a 100 MiB generate answer with a Content-Length is refused unread") {
  // Generate answers have a larger limit of their own, for a whole project.
  HostilePlatform hp;
  hp.SetRaw("POST /api/generate", [](RawConnection& c) {
    c.Write(Head("Content-Length: " + std::to_string(100 * kMiB) + "\r\n"));
    std::string mib(kMiB, ' ');
    for (int i = 0; i < 100 && c.Write(mib); ++i) {
    }
  });
  AgentAgainst f(hp);
  auto g = f.Ctl({"generate", "x", "-o", f.home() / "out"});
  CHECK(g.exit_code == 5);
  MESSAGE("peak RSS " << PeakRssKib(f.AgentPid()) / 1024 << " MiB");
  CHECK_MESSAGE(
      g.err.find("the platform's answer to POST /api/generate exceeded 64 MiB; ignored") !=
          std::string::npos,
      g.err);
  CHECK_RESOURCE_BOUND(PeakRssKib(f.AgentPid()), kMaxAgentRssKib);
}

TEST_CASE("hostile platform: a 100 MiB status answer without a Content-Length is cut at 4 MiB") {
  std::atomic<uint64_t> written{0};
  CheckHostileStatusAnswer(
      [&](RawConnection& c) {
        c.Write(Head("Connection: close\r\n"));  // the body ends when the connection does
        WriteBigStatusBody(c, 100 * kMiB);
        written = c.written();
      },
      "the platform's answer to GET /api/status/dep-big exceeded 4 MiB; ignored");
  CHECK(written < 16 * kMiB);
}

// A status answer whose logs are `lines` empty strings: the costliest JSON per byte for the
// parser, 3 bytes for a whole string to hold.
std::string EmptyLinesStatus(size_t lines) {
  std::string body = kBigStatusHead;
  body.pop_back();  // the opening quote of the one big line
  for (size_t i = 0; i < lines; ++i) body += i == 0 ? "\"\"" : ",\"\"";
  return body + "]}";
}

TEST_CASE("hostile platform: a status answer of millions of empty log lines is refused unparsed") {
  std::string huge = EmptyLinesStatus(1390000);  // just under 4 MiB
  REQUIRE(huge.size() < 4 * kMiB);
  std::string many = EmptyLinesStatus(90000);  // under every limit of an answer
  std::atomic<int> calls{0};
  HostilePlatform hp;
  hp.Set("GET /api/status/dep-big", [&](const bim::ws::HttpRequest&) {
    return bim::ws::HttpResponse{200, "application/json", {}, calls++ == 0 ? huge : many};
  });
  AgentAgainst f(hp);
  auto refused = f.Ctl({"status", "dep-big"});
  CHECK(refused.exit_code == 5);
  CHECK_MESSAGE(
      refused.err.find("status response holds more than 100000 JSON values") != std::string::npos,
      refused.err);
  auto s = f.Ctl({"status", "dep-big", "--json"});
  REQUIRE_MESSAGE(s.exit_code == 0, s.err);
  auto j = nlohmann::json::parse(s.out);
  // One event keeps 5000 lines at most, the last of which says how many more there were.
  REQUIRE(j["logs"].size() == 5000);
  CHECK(j["logs"].back() ==
        "[backend-im] 85001 more log lines of this event not kept: the agent keeps 5000 per event");
  MESSAGE("peak RSS " << PeakRssKib(f.AgentPid()) / 1024 << " MiB");
  CHECK_RESOURCE_BOUND(PeakRssKib(f.AgentPid()), kMaxAgentRssKib);
  CHECK_RESOURCE_BOUND(DatabaseBytes(f), 1 * static_cast<long>(kMiB));
}

namespace {

// A platform whose deploy answers dep-flood and whose stream sends `messages` distinct
// "building" messages with rising seq, each with one log line of `line_bytes`, then complete.
struct FloodingPlatform {
  HostilePlatform platform;
  int messages;
  size_t line_bytes;

  FloodingPlatform(int messages, size_t line_bytes) : messages(messages), line_bytes(line_bytes) {
    platform.Set("POST /api/deploy", [](const bim::ws::HttpRequest&) {
      return bim::ws::HttpResponse{
          200,
          "application/json",
          {},
          R"({"deploymentId":"dep-flood","projectId":"p","commitHash":"abc","status":"queued"})"};
    });
    platform.Set("GET /api/status/dep-flood", [](const bim::ws::HttpRequest&) {
      return bim::ws::HttpResponse{200,
                                   "application/json",
                                   {},
                                   R"({"id":"dep-flood","projectId":"p","commitHash":"abc",)"
                                   R"("status":"building","logs":[]})"};
    });
    bim::ws::WsHandlers h;
    h.on_open = [this](const std::shared_ptr<bim::ws::WsSession>& s) {
      if (s->id() != 1) return;  // one flood; a reconnect gets nothing new
      for (int i = 1; i <= this->messages; ++i) {
        std::string line = std::to_string(i) + " ";
        line.resize(this->line_bytes, static_cast<char>('a' + i % 26));
        s->Send(Message(i == 1 ? "queued" : "building", i, this->line_bytes ? line : ""));
      }
      // No close from here: websocketpp would cut the connection 2 s after Close() whatever
      // is still queued. The agent closes once it has the terminal message.
      s->Send(Message("complete", this->messages + 1, "done", "https://abc.backend.im"));
    };
    platform.SetWs(std::move(h));
    platform.Start();
  }

  static std::string Message(const std::string& status, int seq, const std::string& line,
                             const std::string& url = "") {
    std::string j = R"({"deploymentId":"dep-flood","projectId":"p","commitHash":"abc","status":")" +
                    status + R"(","seq":)" + std::to_string(seq) + R"(,"logs":[)" +
                    (line.empty() ? "" : "\"" + line + "\"") + "]";
    if (!url.empty()) j += R"(,"url":")" + url + "\"";
    return j + "}";
  }
};

// Deploys into the flood and waits until the agent has the deployment complete.
nlohmann::json DeployIntoFlood(AgentFixture& f, std::chrono::seconds limit) {
  auto d = f.Deploy(f.MakeProject("p"));
  REQUIRE(d["deploymentId"] == "dep-flood");
  auto deadline = steady_clock::now() + limit;
  nlohmann::json status;
  while (steady_clock::now() < deadline) {
    auto s = f.Ctl({"status", "dep-flood", "--json"});
    REQUIRE_MESSAGE(s.exit_code == 0, s.err.substr(0, 400));
    status = nlohmann::json::parse(s.out);
    if (status["status"] == "complete") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status;
}

}  // namespace

TEST_CASE("hostile platform: a flood of distinct 10 KB stream messages stops at the log budget") {
  // 30 MB of distinct messages with rising seq, seven times the 4 MiB budget: before the limits,
  // all of it went to disk (each line cut to 8 KiB, 24 MiB: over the database bound below).
  FloodingPlatform fp(3000, 10 * 1024);
  AgentFixture f({}, false);
  f.env()["BACKEND_IM_API_URL"] = fp.platform.url();
  f.LoginWithToken("t");
  auto started = steady_clock::now();
  auto status = DeployIntoFlood(f, std::chrono::seconds(25 * kSlowdown));
  CAPTURE(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started).count());
  CHECK(status["status"] == "complete");  // the status change after the flood still arrived
  CHECK(status["url"] == "https://abc.backend.im");
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  long rss = PeakRssKib(pid);
  long db = DatabaseBytes(f);
  MESSAGE("peak RSS " << rss / 1024 << " MiB, database " << db / 1024 << " KiB (wal "
                      << FileBytes(f.StateDir() + "/agent.db-wal") / 1024 << " KiB), "
                      << f.StoredEvents("dep-flood") << " events");
  CHECK_RESOURCE_BOUND(rss, kMaxAgentRssKib);
  // The deployment keeps 4 MiB of log text (some 4.5 MiB of pages in agent.db), and agent.db-wal
  // is cut back to 4 MiB at each checkpoint, which comes every thousand pages (4 MiB) written:
  // 13 MiB at most, 8.5 MiB measured. Before the limits: the whole flood.
  CHECK_RESOURCE_BOUND(db, 16 * static_cast<long>(kMiB));
  // The logs end with the note, once; each line was cut to 8 KiB.
  auto logs = status["logs"];
  REQUIRE(logs.size() > 1);
  CHECK(logs.size() < 600);
  CHECK(logs[0].get<std::string>().size() <= 8 * 1024);
  CHECK(logs[0].get<std::string>().find("[backend-im] line of 10240 bytes cut to 8 KiB") !=
        std::string::npos);
  CHECK(logs.back().get<std::string>().find("[backend-im] this deployment passed what the agent "
                                            "keeps") == 0);
  CHECK(CountOf(f.AgentLog(), "this deployment passed what the agent keeps") == 1);
  CHECK(f.Ctl({"history"}).exit_code == 0);
}

TEST_CASE("hostile platform: a flood of 10 500 distinct empty stream messages stops at 10 000") {
  FloodingPlatform fp(10500, 0);
  AgentFixture f({}, false);
  f.env()["BACKEND_IM_API_URL"] = fp.platform.url();
  f.LoginWithToken("t");
  auto status = DeployIntoFlood(f, std::chrono::seconds(25 * kSlowdown));
  CHECK(status["status"] == "complete");
  // 10 000 events, then only the status change to complete.
  CHECK(f.StoredEvents("dep-flood") == 10001);
  CHECK(status["logs"].back().get<std::string>().find("[backend-im] this deployment passed") == 0);
  MESSAGE("peak RSS " << PeakRssKib(f.AgentPid()) / 1024 << " MiB, database "
                      << DatabaseBytes(f) / 1024 << " KiB");
  CHECK_RESOURCE_BOUND(PeakRssKib(f.AgentPid()), kMaxAgentRssKib);
  auto w = f.Ctl({"watch", "dep-flood", "--json"});
  REQUIRE(w.exit_code == 0);
  CHECK(JsonLines(w.out).size() == 10001);
}
