// backend-im-mock's fault flags, its seed-only mode, its --help, its shutdown, and its
// robustness against bytes that are not HTTP.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <regex>
#include <thread>

#include "tests/integration/mock_test_util.h"

namespace bim::test {
namespace {

std::vector<std::string> Args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--token", kToken, "--stage-delay-ms", "30"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<int64_t> Seqs(const std::vector<contract::StageMessage>& ms) {
  std::vector<int64_t> out;
  for (const auto& m : ms) out.push_back(m.seq.value_or(-1));
  return out;
}

// Sends raw bytes to 127.0.0.1:port and returns whatever comes back before the close.
std::string RawExchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  (void)!::write(fd, bytes.data(), bytes.size());
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST_CASE("--ws-drop-after N cuts the first stream after N messages with 1006") {
  MockPlatform mock(Args({"--ws-drop-after", "3"}));
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("drop"));
  auto first = ReadToEnd(*Watch(*connector, *d.websocket_url));
  REQUIRE(first.end.kind == ws::EventKind::kClosed);
  CHECK(first.end.close_code == 1006);
  CHECK(Seqs(Messages(first)) == std::vector<int64_t>{1, 2, 3});
  // Only the first connection is cut (--ws-drop-times defaults to 1): resume from 3.
  auto rest = ReadToEnd(*Watch(*connector, WsUrl(mock, d.deployment_id, "&since=3")));
  CHECK(rest.end.close_code == 1000);
  CHECK(Seqs(Messages(rest)) == std::vector<int64_t>{4, 5, 6, 7, 8});
}

TEST_CASE("--ws-drop-times 0 cuts every stream, and --ws-drop-times 2 the first two") {
  MockPlatform every(Args({"--ws-drop-after", "2", "--ws-drop-times", "0"}));
  auto connector = ws::MakeConnector({});
  auto d = Deploy(every, SampleFiles("every"));
  WaitTerminal(every, d.deployment_id);
  for (int i = 0; i < 3; ++i) {
    auto t = ReadToEnd(*Watch(*connector, *d.websocket_url));
    CHECK(t.end.close_code == 1006);
    CHECK(t.frames.size() == 2);
  }
  MockPlatform two(Args({"--ws-drop-after", "1", "--ws-drop-times", "2"}));
  auto d2 = Deploy(two, SampleFiles("two"));
  WaitTerminal(two, d2.deployment_id);
  std::vector<int> codes;
  for (int i = 0; i < 3; ++i)
    codes.push_back(ReadToEnd(*Watch(*connector, *d2.websocket_url)).end.close_code);
  CHECK(codes == std::vector<int>{1006, 1006, 1000});
}

TEST_CASE("--ws-malformed-after N sends one frame that is not JSON, then carries on") {
  MockPlatform mock(Args({"--ws-malformed-after", "2"}));
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("malformed"));
  auto t = ReadToEnd(*Watch(*connector, *d.websocket_url));
  CHECK(t.end.close_code == 1000);
  REQUIRE(t.frames.size() == 9);
  std::vector<int64_t> seqs;
  for (size_t i = 0; i < t.frames.size(); ++i) {
    auto m = contract::ParseStageMessage(t.frames[i]);
    if (i == 2) {
      CHECK_FALSE(m.ok());
      CHECK(nlohmann::json::accept(t.frames[i]) == false);
    } else {
      REQUIRE(m.ok());
      seqs.push_back(*m->seq);
    }
  }
  CHECK(seqs == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("--fault-first N answers the first N API requests with 429 and Retry-After") {
  MockPlatform mock(Args({"--fault-status", "429", "--fault-first", "2", "--retry-after", "7"}));
  CHECK(HttpRequest("GET", mock.http_url() + "/healthz").status == 200);  // not counted
  for (int i = 0; i < 2; ++i) {
    auto r = HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer());
    CheckError(r, 429, "rate_limited");
    CHECK(r.headers["retry-after"] == "7");
  }
  CHECK(HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer()).status == 200);
}

TEST_CASE("--fault-path limits the injected failures to the paths it names") {
  MockPlatform mock(
      Args({"--fault-status", "429", "--fault-first", "1", "--fault-path", "/api/deploy"}));
  // Other requests neither fail nor count.
  CHECK(HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer()).status == 200);
  auto body = DeployBody(SampleFiles("fault-path"));
  CheckError(HttpRequest("POST", mock.http_url() + "/api/deploy", body, Bearer()), 429,
             "rate_limited");
  CHECK(HttpRequest("POST", mock.http_url() + "/api/deploy", body, Bearer()).status == 200);
}

TEST_CASE("--fault-status 503 also covers /oauth/*, before authentication") {
  MockPlatform mock({"--fault-first", "2"});
  auto r = HttpRequest("POST", mock.http_url() + "/oauth/device/code", "client_id=backend-im-cli",
                       {"Content-Type: application/x-www-form-urlencoded"});
  CheckError(r, 503, "unavailable");
  CHECK(r.headers["retry-after"] == "1");
  CheckError(HttpRequest("GET", mock.http_url() + "/api/auth/verify"), 503, "unavailable");
  CheckError(HttpRequest("GET", mock.http_url() + "/api/auth/verify"), 401, "unauthorized");
}

TEST_CASE("--fault-rate P faults about that share of requests, the same way for a --seed") {
  auto statuses = [](std::vector<std::string> args) {
    MockPlatform mock(Args(std::move(args)));
    std::vector<long> out;
    for (int i = 0; i < 40; ++i) {
      out.push_back(HttpRequest("GET", mock.http_url() + "/api/auth/verify", "", Bearer()).status);
    }
    return out;
  };
  auto a = statuses({"--fault-rate", "0.5", "--seed", "42"});
  auto b = statuses({"--fault-rate", "0.5", "--seed", "42"});
  CHECK(a == b);
  auto faulted = std::count(a.begin(), a.end(), 503L);
  CHECK(faulted >= 8);
  CHECK(faulted <= 32);
  CHECK(std::count(a.begin(), a.end(), 200L) == 40 - faulted);
  auto all = statuses({"--fault-rate", "1"});
  CHECK(std::count(all.begin(), all.end(), 503L) == 40);
}

TEST_CASE("--delay-ms delays every response") {
  auto time_of = [](const MockPlatform& mock) {
    auto start = std::chrono::steady_clock::now();
    auto r = HttpRequest("GET", mock.http_url() + "/healthz");
    CHECK(r.status == 200);
    return std::chrono::steady_clock::now() - start;
  };
  MockPlatform slow(Args({"--delay-ms", "400"}));
  MockPlatform fast(Args({}));
  CHECK(time_of(slow) >= std::chrono::milliseconds(400));
  CHECK(time_of(fast) < std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  CheckError(HttpRequest("GET", slow.http_url() + "/api/auth/verify"), 401, "unauthorized");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(400));
}

TEST_CASE("--delay-path limits --delay-ms to the paths it names") {
  MockPlatform mock(Args({"--delay-ms", "400", "--delay-path", "/api/auth"}));
  auto start = std::chrono::steady_clock::now();
  CHECK(HttpRequest("GET", mock.http_url() + "/healthz").status == 200);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300));
  start = std::chrono::steady_clock::now();
  CheckError(HttpRequest("GET", mock.http_url() + "/api/auth/verify"), 401, "unauthorized");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(400));
  CHECK(Run({MockBinary(), "--delay-path", "api"}).exit_code != 0);  // not a path
}

TEST_CASE("--drop-deploy-response-first N: the deployment is made but its response is lost") {
  MockPlatform mock(Args({"--drop-deploy-response-first", "1"}));
  auto headers = Bearer();
  headers.push_back("Idempotency-Key: lost-1");
  auto body = DeployBody(SampleFiles("lost"));
  auto lost = HttpRequest("POST", mock.http_url() + "/api/deploy", body, headers);
  CHECK(lost.status == 0);  // the connection closed without a response

  auto list = ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body);
  REQUIRE(list.size() == 1);
  std::string id = list[0]["id"];
  auto s = Status(mock, id);
  CHECK(s.commit_hash == CommitHash(SampleFiles("lost")));

  auto retry = HttpRequest("POST", mock.http_url() + "/api/deploy", body, headers);
  REQUIRE(retry.status == 200);
  CHECK(ParseJson(retry.body)["deploymentId"] == id);
  CHECK(ParseJson(HttpRequest("GET", mock.http_url() + "/mock/deployments").body).size() == 1);
}

TEST_CASE("--fail-at STAGE fails every deployment there") {
  MockPlatform mock(Args({"--fail-at", "deploying"}));
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles("fail"));
  auto ms = Messages(ReadToEnd(*Watch(*connector, *d.websocket_url)));
  CHECK(Statuses(ms) == std::vector<std::string>{"queued", "committing", "creating_namespace",
                                                 "creating_pvc", "building", "deploying",
                                                 "failed"});
  CHECK(ms.back().logs.back().find("--fail-at deploying") != std::string::npos);

  for (const char* bad : {"complete", "failed", "exploded"}) {
    auto r = Run({MockBinary(), "--fail-at", bad, "--port", "0"}, {}, std::chrono::seconds(10));
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("--seed-only speaks only the seed's contract") {
  MockPlatform mock(Args({"--seed-only"}));
  auto connector = ws::MakeConnector({});
  auto g =
      HttpRequest("POST", mock.http_url() + "/api/generate", R"({"prompt":"users"})", Bearer());
  REQUIRE(g.status == 200);
  CHECK_FALSE(ParseJson(g.body).contains("projectId"));
  // Error codes are the platform's own, not the contract's extension (400 invalid_request).
  CheckError(HttpRequest("POST", mock.http_url() + "/api/generate", R"({"prompt":" "})", Bearer()),
             400, "bad_request");
  CheckError(HttpRequest("GET", mock.http_url() + "/api/status/nope", "", Bearer()), 404,
             "not_found");
  CheckError(
      HttpRequest("POST", mock.http_url() + "/oauth/device/code", "client_id=backend-im-cli"), 404,
      "not_found");
  CheckError(HttpRequest("POST", mock.http_url() + "/oauth/token", "grant_type=refresh_token"), 404,
             "not_found");

  auto d = Deploy(mock, SampleFiles("seed"));
  auto t = ReadToEnd(*Watch(*connector, WsUrl(mock, d.deployment_id, "&since=5")));
  for (const auto& f : t.frames) CHECK_FALSE(ParseJson(f).contains("seq"));
  CHECK(Statuses(Messages(t)) == SuccessNames());  // since ignored: everything
  auto s = HttpRequest("GET", mock.http_url() + "/api/status/" + d.deployment_id, "", Bearer());
  CHECK_FALSE(ParseJson(s.body).contains("seq"));

  auto headers = Bearer();
  headers.push_back("Idempotency-Key: same");
  auto body = DeployBody(SampleFiles("idem"));
  auto a = ParseJson(HttpRequest("POST", mock.http_url() + "/api/deploy", body, headers).body);
  auto b = ParseJson(HttpRequest("POST", mock.http_url() + "/api/deploy", body, headers).body);
  CHECK(a["deploymentId"] != b["deploymentId"]);
}

TEST_CASE("SIGTERM stops the mock cleanly, even with a stream open") {
  MockPlatform mock({"--token", kToken, "--stage-delay-ms", "5000"});
  auto connector = ws::MakeConnector({});
  auto d = Deploy(mock, SampleFiles());
  auto conn = Watch(*connector, *d.websocket_url);
  REQUIRE(conn->Receive(std::chrono::seconds(5)).kind == ws::EventKind::kMessage);
  mock.process().Signal(SIGTERM);
  auto code = mock.process().Wait(std::chrono::seconds(5));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  auto end = conn->Receive(std::chrono::seconds(5));
  CHECK(end.kind == ws::EventKind::kClosed);
  CHECK(end.close_code == 1001);
}

TEST_CASE("--help documents every flag") {
  auto r = Run({MockBinary(), "--help"}, {}, std::chrono::seconds(10));
  CHECK(r.exit_code == 0);
  for (const char* flag : {"--host",
                           "--port",
                           "--port-file",
                           "--token",
                           "--stage-delay-ms",
                           "--token-ttl",
                           "--auto-approve-after",
                           "--device-interval",
                           "--device-code-ttl",
                           "--oauth-client-id",
                           "--seed",
                           "--log-requests",
                           "--ws-drop-after",
                           "--ws-drop-times",
                           "--ws-malformed-after",
                           "--fault-status",
                           "--fault-rate",
                           "--fault-first",
                           "--retry-after",
                           "--delay-ms",
                           "--drop-deploy-response-first",
                           "--seed-only",
                           "--fail-at",
                           "--ws-cat"}) {
    CHECK_MESSAGE(r.out.find(flag) != std::string::npos, flag);
  }
  CHECK(Run({MockBinary(), "--fault-status", "500"}, {}, std::chrono::seconds(10)).exit_code != 0);
}

TEST_CASE("bytes that are not HTTP get an error or a close, and the mock carries on") {
  MockPlatform mock(Args({}));
  std::string big_claim =
      "POST /api/deploy HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
  CHECK(RawExchange(mock.port(), big_claim).find("413") != std::string::npos);
  RawExchange(mock.port(), "GARBAGE\r\n\r\n");
  RawExchange(mock.port(), std::string(20000, 'A'));
  RawExchange(mock.port(), "GET / HTTP/1.1\r\n");  // never finished
  RawExchange(mock.port(), "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{");
  auto chunked = RawExchange(mock.port(),
                             "POST /api/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                             "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(chunked.find("411") != std::string::npos);
  auto upgrade = RawExchange(mock.port(),
                             "GET /ws?deploymentId=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n\r\n");
  // websocketpp itself answers an upgrade without Sec-WebSocket-Version (500, sadly).
  CHECK(upgrade.rfind("HTTP/1.1 ", 0) == 0);
  CHECK(HttpRequest("GET", mock.http_url() + "/healthz").status == 200);
  CHECK(mock.process().Running());
}

TEST_CASE("a request body of several MiB arrives whole") {
  MockPlatform mock(Args({}));
  contract::FileMap files = SampleFiles();
  files["data/blob.txt"] = std::string(5 * 1024 * 1024, 'x');
  auto d = Deploy(mock, files);
  CHECK(d.commit_hash == CommitHash(files));
}

}  // namespace
}  // namespace bim::test
