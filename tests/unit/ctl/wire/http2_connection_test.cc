// The wire client's HTTP/2 connection (ctl/wire/http2_connection.h) on its own, with a stream
// that records what it is told, against the raw nghttp2 server of the grpc_wire tests: the
// request as the server got it, the response's frames in order, resets and GOAWAY as the
// stream sees them, and the waits (connecting, polling) ended by a deadline or a wake
// descriptor. No gRPC here: what the frames mean is ResponseDecoder's (its own tests).
#include "ctl/wire/http2_connection.h"

#include <doctest/doctest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/harness.h"
#include "tests/unit/ctl/raw_http2_server.h"

using namespace std::chrono_literals;
using bim::test::TempDir;
using bim::test::wire::Headers;
using bim::test::wire::RawConnection;
using bim::test::wire::RawServer;
namespace wire = bim::ctl::wire;

namespace {

using Clock = std::chrono::steady_clock;

// The stream's events as text, DATA run together, in the order they came.
class RecordingStream final : public wire::Http2StreamCallbacks {
 public:
  void OnHeadersBegin() override { events.push_back("headers"); }
  void OnHeader(std::string_view name, std::string_view value) override {
    events.push_back("  " + std::string(name) + ": " + std::string(value));
  }
  void OnHeadersEnd(bool end_stream) override {
    events.push_back(end_stream ? "end headers, end stream" : "end headers");
  }
  void OnData(std::string_view data) override {
    if (events.empty() || events.back().rfind("data ", 0) != 0) events.push_back("data ");
    events.back() += data;
  }
  void OnDataEndStream() override { events.push_back("end stream"); }
  void OnStreamClose(const wire::StreamClose& close) override {
    closed = true;
    events.push_back("close " + std::to_string(close.error_code) + " " +
                     std::string(close.error_name) + (close.refused ? " refused" : ""));
  }

  std::vector<std::string> events;
  bool closed = false;
};

const wire::HeaderField kRequest[] = {
    {":method", "POST"},         {":scheme", "http"}, {":path", "/test/Path"},
    {":authority", "localhost"}, {"x-meta", "v"},
};

// Turns until the stream closes or a turn fails; the failure, or OK.
wire::CallStatus RunUntilClosed(wire::Http2Connection& connection, const RecordingStream& stream,
                                Clock::duration timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  while (!stream.closed) {
    if (Clock::now() >= deadline) return {wire::Code::kDeadlineExceeded, "test timeout"};
    wire::CallStatus turned = connection.Turn(deadline);
    if (!turned.ok()) return turned;
  }
  return {};
}

// A listener whose backlog is full: connecting to it says EAGAIN until something is accepted.
class FullListener {
 public:
  FullListener() : path_(dir_ / "full.sock") {
    fd_ = bim::test::BindUnixSocket(path_);
    REQUIRE(fd_ >= 0);
    REQUIRE(::listen(fd_, 0) == 0);
    for (int i = 0; i < 64; ++i) {
      int c = bim::test::ConnectUnixSocket(path_, SOCK_STREAM | SOCK_NONBLOCK);
      if (c < 0) {
        REQUIRE(errno == EAGAIN);
        return;
      }
      clients_.push_back(c);
    }
    FAIL("the listener's backlog never filled");
  }
  ~FullListener() {
    for (int c : clients_) ::close(c);
    ::close(fd_);
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<int> clients_;
};

}  // namespace

TEST_CASE(
    "an Http2Connection sends the request's headers and body, and reports the response's frames "
    "in order") {
  std::mutex mu;
  Headers got_headers;   // guarded by mu
  std::string got_body;  // guarded by mu
  RawServer server([&](RawConnection& c, int32_t s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      got_headers = c.request_headers(s);
      got_body = c.request_body(s);
    }
    c.Respond(s, {{":status", "200"}, {"x-h", "1"}}, "hello, world", 5,
              Headers{{"grpc-status", "0"}, {"x-t", "2"}});
  });
  // Larger than the server's 64 KiB window: it flows only as WINDOW_UPDATEs come back.
  std::string body(300 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 >> 2);

  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), Clock::now() + 5s, {-1, -1}).ok());
  CHECK(connection.fd() >= 0);
  REQUIRE(connection.SubmitRequest(kRequest, body).ok());
  REQUIRE(RunUntilClosed(connection, stream).ok());

  const std::vector<std::string> expected = {
      "headers",          "  :status: 200",    "  x-h: 1",
      "end headers",      "data hello, world", "headers",
      "  grpc-status: 0", "  x-t: 2",          "end headers, end stream",
      "close 0 NO_ERROR",
  };
  CHECK(stream.events == expected);
  std::lock_guard<std::mutex> lock(mu);
  const Headers sent = {{":method", "POST"},
                        {":scheme", "http"},
                        {":path", "/test/Path"},
                        {":authority", "localhost"},
                        {"x-meta", "v"}};
  CHECK(got_headers == sent);
  CHECK(got_body == body);
  connection.Close();
  CHECK(connection.fd() == -1);
}

TEST_CASE("an Http2Connection reports a DATA frame that ends the stream") {
  RawServer server([](RawConnection& c, int32_t s) { c.Respond(s, {{":status", "200"}}, "xyz"); });
  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), std::nullopt, {-1, -1}).ok());
  REQUIRE(connection.SubmitRequest(kRequest, "").ok());
  REQUIRE(RunUntilClosed(connection, stream).ok());
  const std::vector<std::string> expected = {"headers",  "  :status: 200", "end headers",
                                             "data xyz", "end stream",     "close 0 NO_ERROR"};
  CHECK(stream.events == expected);
}

TEST_CASE("an Http2Connection reports RST_STREAM's error code and name to its stream") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.SendHeaders(s, {{":status", "200"}}, false);
    c.Reset(s, NGHTTP2_ENHANCE_YOUR_CALM);
  });
  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), std::nullopt, {-1, -1}).ok());
  REQUIRE(connection.SubmitRequest(kRequest, "").ok());
  REQUIRE(RunUntilClosed(connection, stream).ok());
  CHECK(stream.events.back() == "close 11 ENHANCE_YOUR_CALM");
}

TEST_CASE("an Http2Connection reports a stream that a GOAWAY left out as refused") {
  RawServer server([](RawConnection& c, int32_t) {
    c.Goaway(0);
    c.CloseAfterWrite();
  });
  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), std::nullopt, {-1, -1}).ok());
  REQUIRE(connection.SubmitRequest(kRequest, "").ok());
  REQUIRE(RunUntilClosed(connection, stream).ok());
  REQUIRE(stream.events.size() == 1);
  CHECK(stream.events[0].find("refused") != std::string::npos);
  // Nothing is left to read: the session or the socket says so.
  CHECK(connection.Turn(Clock::now() + 2s).code == wire::Code::kUnavailable);
}

TEST_CASE("an Http2Connection whose peer closes mid-stream fails its turn with UNAVAILABLE") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.SendHeaders(s, {{":status", "200"}}, false);
    c.CloseAfterWrite();
  });
  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), std::nullopt, {-1, -1}).ok());
  REQUIRE(connection.SubmitRequest(kRequest, "").ok());
  auto status = RunUntilClosed(connection, stream);
  CHECK(status.code == wire::Code::kUnavailable);
  CHECK(status.message.find("closed the connection before the call ended") != std::string::npos);
  CHECK_FALSE(stream.closed);
  CHECK(stream.events.back() == "end headers");
}

TEST_CASE("an Http2Connection's turn waits until its deadline, or a wake descriptor, and no more") {
  RawServer server([](RawConnection&, int32_t) {});  // never answers
  int wake = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(wake >= 0);
  RecordingStream stream;
  wire::Http2Connection connection(stream);
  REQUIRE(connection.Connect(server.path(), std::nullopt, {-1, wake}).ok());
  REQUIRE(connection.SubmitRequest(kRequest, "").ok());

  auto start = Clock::now();
  auto deadline = start + 100ms;
  wire::CallStatus turned;
  while (Clock::now() < deadline && turned.ok()) turned = connection.Turn(deadline);
  CHECK(turned.ok());
  CHECK(Clock::now() - start < 1s);

  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    uint64_t one = 1;
    CHECK(::write(wake, &one, sizeof one) == sizeof one);
  });
  start = Clock::now();
  do {
    turned = connection.Turn(start + 10s);
  } while (turned.ok() && Clock::now() - start < 5s);
  waker.join();
  CHECK(turned.code == wire::Code::kCancelled);
  CHECK(Clock::now() - start < 2s);
  CHECK(stream.events.empty());
  ::close(wake);
}

TEST_CASE("Http2Connection::Connect: no socket, nothing listening, or a bad path is UNAVAILABLE") {
  TempDir dir;
  RecordingStream stream;
  for (const std::string& path : {dir / "none.sock", std::string(), std::string(200, 'x')}) {
    CAPTURE(path);
    wire::Http2Connection connection(stream);
    auto status = connection.Connect(path, std::nullopt, {-1, -1});
    CHECK(status.code == wire::Code::kUnavailable);
  }
  std::string dead = dir / "dead.sock";
  int fd = bim::test::BindUnixSocket(dead);
  REQUIRE(fd >= 0);
  ::close(fd);  // the file stays, nothing listens
  wire::Http2Connection connection(stream);
  auto status = connection.Connect(dead, std::nullopt, {-1, -1});
  CHECK(status.code == wire::Code::kUnavailable);
  CHECK(status.message.find("refused") != std::string::npos);
}

TEST_CASE(
    "Http2Connection::Connect retries while the listener's backlog is full, until it connects, "
    "its deadline passes or a wake descriptor is readable") {
  FullListener listener;
  RecordingStream stream;
  SUBCASE("the deadline") {
    wire::Http2Connection connection(stream);
    auto start = Clock::now();
    auto status = connection.Connect(listener.path(), start + 100ms, {-1, -1});
    CHECK(status.code == wire::Code::kDeadlineExceeded);
    CHECK(status.message.find("while connecting to " + listener.path()) != std::string::npos);
    CHECK(Clock::now() - start >= 100ms);
    CHECK(Clock::now() - start < 1s);
  }
  SUBCASE("a wake descriptor") {
    int wake = ::eventfd(1, EFD_CLOEXEC);  // readable from the start
    wire::Http2Connection connection(stream);
    auto start = Clock::now();
    CHECK(connection.Connect(listener.path(), start + 10s, {wake, -1}).code ==
          wire::Code::kCancelled);
    CHECK(Clock::now() - start < 1s);
    ::close(wake);
  }
  SUBCASE("room in the backlog") {
    std::thread acceptor([&] {
      std::this_thread::sleep_for(30ms);
      int c = ::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
      CHECK(c >= 0);
      ::close(c);
    });
    wire::Http2Connection connection(stream);
    CHECK(connection.Connect(listener.path(), Clock::now() + 5s, {-1, -1}).ok());
    acceptor.join();
  }
}
