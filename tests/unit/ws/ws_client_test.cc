// bim::ws::MakeConnector against an in-process HttpWsServer, raw sockets that misbehave, and
// `openssl s_server` for the TLS checks.

#include "ws/ws_client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>

#include "tests/support/harness.h"
#include "tests/unit/ws/ws_test_util.h"

namespace bim::ws {
namespace {

using namespace std::chrono_literals;
using testing::ServerThread;

// Echoes messages; on open says which Authorization header came; ?close=N closes with N,
// ?drop=N drops after sending N messages; ?status=N rejects the upgrade with N.
void EchoServer(HttpWsServer& s) {
  WsHandlers h;
  h.validate = [](const HttpRequest& req) -> std::optional<HttpResponse> {
    auto it = req.query.find("status");
    if (it == req.query.end()) return std::nullopt;
    return HttpResponse{std::stoi(it->second),
                        "application/json",
                        {},
                        R"({"error":"nope","message":"rejected on purpose"})"};
  };
  h.on_open = [](const std::shared_ptr<WsSession>& s) {
    s->Send("auth:" + s->request().Header("authorization"));
    const auto& q = s->request().query;
    if (auto it = q.find("drop"); it != q.end()) {
      for (int i = 0; i < std::stoi(it->second); ++i) s->Send("m" + std::to_string(i));
      s->Drop();
    } else if (auto c = q.find("close"); c != q.end()) {
      s->Close(std::stoi(c->second), "bye");
    } else if (auto big = q.find("big"); big != q.end()) {
      s->Send(std::string(std::stoul(big->second), 'x'));
    }
  };
  h.on_message = [](const std::shared_ptr<WsSession>& s, const std::string& m) {
    s->Send("echo:" + m);
  };
  s.SetWsHandlers(std::move(h));
}

std::unique_ptr<Connection> MustConnect(Connector& c, const std::string& url,
                                        ConnectOptions o = {}) {
  auto r = c.Connect(url, o);
  INFO(url << ": " << (r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  return std::move(r).value();
}

TEST_CASE("messages go both ways and headers reach the server") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.headers.emplace_back("Authorization", "Bearer t0k");
  auto c = MustConnect(*connector, server.ws("/x"), o);
  auto first = c->Receive(5s);
  CHECK(first.kind == EventKind::kMessage);
  CHECK(first.payload == "auth:Bearer t0k");
  REQUIRE(c->Send("hello"));
  auto echo = c->Receive(5s);
  CHECK(echo.kind == EventKind::kMessage);
  CHECK(echo.payload == "echo:hello");
  CHECK(c->Receive(50ms).kind == EventKind::kTimeout);
}

TEST_CASE("a close from the server reports its code and reason, every time asked") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  auto c = MustConnect(*connector, server.ws("/?close=4001"));
  CHECK(c->Receive(5s).kind == EventKind::kMessage);
  auto end = c->Receive(5s);
  CHECK(end.kind == EventKind::kClosed);
  CHECK(end.close_code == 4001);
  CHECK(end.payload == "bye");
  auto again = c->Receive(10ms);
  CHECK(again.kind == EventKind::kClosed);
  CHECK(again.close_code == 4001);
  CHECK_FALSE(c->Send("late"));
}

TEST_CASE("a dropped connection delivers what came before it, then 1006") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  auto c = MustConnect(*connector, server.ws("/?drop=3"));
  std::vector<std::string> got;
  Event e;
  while ((e = c->Receive(5s)).kind == EventKind::kMessage) got.push_back(e.payload);
  CHECK(got == std::vector<std::string>{"auth:", "m0", "m1", "m2"});
  CHECK(e.kind == EventKind::kClosed);
  CHECK(e.close_code == 1006);
}

TEST_CASE("handshake statuses map to error codes, with the server's body in the message") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  struct Case {
    int status;
    ErrorCode code;
  };
  for (auto [status, code] :
       {Case{401, ErrorCode::kUnauthenticated}, Case{404, ErrorCode::kNotFound},
        Case{429, ErrorCode::kRateLimited}, Case{503, ErrorCode::kUnavailable},
        Case{400, ErrorCode::kUnavailable}, Case{403, ErrorCode::kUnavailable},
        Case{500, ErrorCode::kUnavailable}}) {
    CAPTURE(status);
    auto r = connector->Connect(server.ws("/?status=" + std::to_string(status)), {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
    CHECK(r.error().message.find(std::to_string(status)) != std::string::npos);
    CHECK(r.error().message.find("rejected on purpose") != std::string::npos);
  }
}

TEST_CASE("refused connections and bad URLs fail fast") {
  auto connector = MakeConnector({});
  auto start = std::chrono::steady_clock::now();
  auto refused =
      connector->Connect("ws://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/", {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  for (const char* url : {"http://127.0.0.1/", "127.0.0.1:80", "", "ws://"}) {
    CAPTURE(url);
    auto r = connector->Connect(url, {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("connect_timeout bounds a server that never answers the handshake") {
  int port = 0;
  int fd = testing::ListenTcp(&port);  // the kernel accepts; nobody ever answers
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.connect_timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = connector->Connect("ws://127.0.0.1:" + std::to_string(port) + "/", o);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(took >= 250ms);
  CHECK(took < 2s);
  connector.reset();  // shuts down cleanly with the abandoned attempt
  ::close(fd);
}

TEST_CASE("a peer that stops answering pings is reported as a drop") {
  int port = 0;
  int lfd = testing::ListenTcp(&port);
  std::thread peer([lfd] {
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) return;
    testing::AnswerUpgrade(fd);
    char buf[512];
    while (::read(fd, buf, sizeof buf) > 0) {
    }  // swallow pings, never pong
    ::close(fd);
  });
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.ping_interval = 100ms;
  o.pong_timeout = 200ms;
  auto c = MustConnect(*connector, "ws://127.0.0.1:" + std::to_string(port) + "/", o);
  auto start = std::chrono::steady_clock::now();
  auto e = c->Receive(5s);
  CHECK(e.kind == EventKind::kClosed);
  CHECK(e.close_code == 1006);
  CHECK(e.payload.find("pong") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  c.reset();
  peer.join();
  ::close(lfd);
}

// A raw peer that completes the handshake, then sends 125-byte pings (or unasked pongs) as fast
// as its socket takes them for at most 10 s, reading what comes back only when `reads`. Ends
// when the connection is cut; *frames counts what it sent.
std::thread FloodingPeer(int lfd, unsigned char opcode, bool reads, std::atomic<long>* frames) {
  return std::thread([lfd, opcode, reads, frames] {
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) return;
    testing::AnswerUpgrade(fd);
    std::string frame = {static_cast<char>(0x80 | opcode), 125};
    frame += std::string(125, 'p');
    std::string batch;
    for (int i = 0; i < 64; ++i) batch += frame;
    std::atomic<bool> done{false};
    std::thread reader;
    if (reads) {
      reader = std::thread([fd, &done] {
        char buf[65536];
        while (!done && ::recv(fd, buf, sizeof buf, 0) > 0) {
        }
      });
    }
    auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      ssize_t n = ::send(fd, batch.data(), batch.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      *frames += n / static_cast<long>(frame.size());
    }
    done = true;
    ::shutdown(fd, SHUT_RDWR);
    if (reader.joinable()) reader.join();
    ::close(fd);
  });
}

TEST_CASE("a peer that floods pings or unasked pongs is cut at the rate limit, read or not") {
  for (unsigned char opcode : {0x9, 0xA}) {
    for (bool reads : {true, false}) {
      CAPTURE(static_cast<int>(opcode));
      CAPTURE(reads);
      int port = 0;
      int lfd = testing::ListenTcp(&port);
      std::atomic<long> frames{0};
      std::thread peer = FloodingPeer(lfd, opcode, reads, &frames);
      auto connector = MakeConnector({});
      ConnectOptions o;
      o.ping_interval = 0ms;  // no pings of ours: every pong is unasked
      auto c = MustConnect(*connector, "ws://127.0.0.1:" + std::to_string(port) + "/", o);
      auto start = std::chrono::steady_clock::now();
      auto e = c->Receive(10s);
      auto took = std::chrono::steady_clock::now() - start;
      CHECK(e.kind == EventKind::kClosed);
      CHECK(e.close_code == kPolicyClose);
      CHECK_MESSAGE(e.payload.find("more than 30 pings and pongs within 10 s") != std::string::npos,
                    e.payload);
      CHECK(took < 2s);
      c.reset();
      peer.join();
      ::close(lfd);
      MESSAGE("the peer got " << frames.load() << " frames out before it was cut");
    }
  }
}

TEST_CASE("a peer that never reads what this side sends is cut before that passes the limit") {
  // No rate limit here, so only the queue bound can end it: the peer's pings queue pongs that
  // the kernel's buffers take first, then websocketpp's queue, which must stop at 64 KiB.
  int port = 0;
  int lfd = testing::ListenTcp(&port);
  std::atomic<long> frames{0};
  std::thread peer = FloodingPeer(lfd, 0x9, /*reads=*/false, &frames);
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.ping_interval = 0ms;
  o.max_control_frames = 1'000'000'000;
  o.max_send_queue_bytes = 64 * 1024;
  auto c = MustConnect(*connector, "ws://127.0.0.1:" + std::to_string(port) + "/", o);
  auto e = c->Receive(15s);
  CHECK(e.kind == EventKind::kClosed);
  CHECK(e.close_code == kPolicyClose);
  CHECK_MESSAGE(e.payload.find("has not read") != std::string::npos, e.payload);
  c.reset();
  peer.join();
  ::close(lfd);
  MESSAGE("cut after " << frames.load() << " pings");
}

TEST_CASE("a peer that answers pings keeps the connection") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.ping_interval = 30ms;
  o.pong_timeout = 200ms;
  auto c = MustConnect(*connector, server.ws("/"), o);
  CHECK(c->Receive(5s).kind == EventKind::kMessage);
  // Kept: a window of more than two pong timeouts in which the connection must stay open.
  CHECK(c->Receive(500ms).kind == EventKind::kTimeout);
  REQUIRE(c->Send("still here"));
  CHECK(c->Receive(5s).payload == "echo:still here");
}

TEST_CASE("Close from another thread wakes a blocked Receive") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  auto c = MustConnect(*connector, server.ws("/"));
  CHECK(c->Receive(5s).kind == EventKind::kMessage);
  std::atomic<bool> woke{false};
  Event got;
  std::thread reader([&] {
    got = c->Receive(10s);
    woke = true;
  });
  // Kept: a window in which Receive must not return (nothing arrives), so no event to wait on.
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(woke.load());
  auto start = std::chrono::steady_clock::now();
  c->Close();
  reader.join();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK(got.kind == EventKind::kClosed);
  CHECK(got.close_code == 1000);
  c->Close();  // idempotent
  CHECK_FALSE(c->Send("x"));
}

TEST_CASE("a message over max_message_size ends the connection") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.max_message_size = 1000;
  auto c = MustConnect(*connector, server.ws("/?big=5000"), o);
  CHECK(c->Receive(5s).kind == EventKind::kMessage);  // "auth:"
  auto e = c->Receive(5s);
  CHECK(e.kind == EventKind::kClosed);
  CHECK(e.close_code != 1000);
}

TEST_CASE("a reader slower than its peer stops reading the socket and still gets every message") {
  // A raw peer that writes 20 MiB of 1 KiB messages as fast as the socket takes them: more than
  // the 16 MiB checked below, which loopback's socket buffers never reach.
  constexpr int kMessages = 20 * 1024;
  int port = 0;
  int lfd = testing::ListenTcp(&port);
  std::atomic<int> sent{0};
  std::thread peer([&] {
    int fd = ::accept(lfd, nullptr, nullptr);
    testing::AnswerUpgrade(fd);
    for (int i = 0; i < kMessages; ++i) {
      std::string payload = std::to_string(i);
      payload.resize(1024, '.');
      // A text frame, unmasked, with a 16-bit length.
      std::string frame = std::string{'\x81', '\x7e', '\x04', '\x00'} + payload;
      if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) != ssize_t(frame.size())) break;
      sent = i + 1;
    }
    // The client's close frame, answered, and then the server closes the TCP connection first,
    // as RFC 6455 has it: the client's close then takes no timeout.
    char buf[512];
    if (::read(fd, buf, sizeof buf) > 0) ::send(fd, "\x88\x00", 2, MSG_NOSIGNAL);
    ::close(fd);
  });
  auto connector = MakeConnector({});
  ConnectOptions o;
  o.max_queued_bytes = 64 * 1024;
  o.ping_interval = 0ms;
  auto c = MustConnect(*connector, "ws://127.0.0.1:" + std::to_string(port) + "/", o);
  // Until the peer is blocked: no message sent for 100 ms. Without the pause the client would
  // have read all 20 MiB into memory by then; with it, only what the two sockets' buffers hold
  // got past the peer. Kept: a client that has stopped reading shows only as a quiet window,
  // so there is no event to wait on.
  auto give_up = std::chrono::steady_clock::now() + 5s;
  for (int last = -1; (sent == 0 || sent != last) && std::chrono::steady_clock::now() < give_up;) {
    last = sent;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(sent > 0);
  CHECK(sent < 16 * 1024);
  for (int i = 0; i < kMessages; ++i) {
    auto e = c->Receive(5s);
    INFO(i << ": " << e.payload.substr(0, 200));
    REQUIRE(e.kind == EventKind::kMessage);
    REQUIRE(e.payload.substr(0, e.payload.find('.')) == std::to_string(i));
  }
  CHECK(sent == kMessages);
  c.reset();
  peer.join();
  ::close(lfd);
}

TEST_CASE("many connections at once, and a connection that outlives its connector") {
  ServerThread server(EchoServer);
  auto connector = MakeConnector({});
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < 20; ++i) conns.push_back(MustConnect(*connector, server.ws("/")));
  for (size_t i = 0; i < conns.size(); ++i) {
    CHECK(conns[i]->Receive(5s).kind == EventKind::kMessage);
    conns[i]->Send(std::to_string(i));
  }
  for (size_t i = 0; i < conns.size(); ++i)
    CHECK(conns[i]->Receive(5s).payload == "echo:" + std::to_string(i));
  connector.reset();
  CHECK(conns[0]->Send("after"));
  CHECK(conns[0]->Receive(5s).payload == "echo:after");
  conns.clear();
}

// TLS against `openssl s_server -www`, which speaks HTTPS but not WebSocket: a handshake
// that gets as far as an HTTP answer proves that the TLS checks passed.
class TlsPeer {
 public:
  TlsPeer() {
    auto r = test::Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        dir_ / "key.pem", "-out", dir_ / "cert.pem", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                       {}, 60s);
    if (r.exit_code != 0) return;
    port_ = testing::UnusedPort();
    server_ = std::make_unique<test::Process>(
        std::vector<std::string>{"openssl", "s_server", "-accept", std::to_string(port_), "-cert",
                                 dir_ / "cert.pem", "-key", dir_ / "key.pem", "-www", "-quiet"});
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && server_->Running()) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = testing::Loopback(port_);
      bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (up) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  bool ready() const { return ready_; }
  std::string ca() const { return dir_ / "cert.pem"; }
  std::string url(const char* host) const {
    return std::string("wss://") + host + ":" + std::to_string(port_) + "/";
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<test::Process> server_;
  int port_ = 0;
  bool ready_ = false;
};

TEST_CASE("wss checks the certificate chain and the host name") {
  TlsPeer peer;
  if (!peer.ready()) {
    MESSAGE("openssl is not available; skipping the TLS checks");
    return;
  }
  auto untrusted = MakeConnector({})->Connect(peer.url("127.0.0.1"), {});
  REQUIRE_FALSE(untrusted.ok());
  CHECK(untrusted.error().code == ErrorCode::kUnavailable);
  CHECK(untrusted.error().message.find("certificate not trusted") != std::string::npos);

  auto trusted = MakeConnector({peer.ca()})->Connect(peer.url("127.0.0.1"), {});
  REQUIRE_FALSE(trusted.ok());  // TLS passed; s_server then answers HTTP, not WebSocket
  CHECK(trusted.error().message.find("answered HTTP") != std::string::npos);
  auto by_name = MakeConnector({peer.ca()})->Connect(peer.url("localhost"), {});
  REQUIRE_FALSE(by_name.ok());
  CHECK(by_name.error().message.find("answered HTTP") != std::string::npos);

  auto wrong_host = MakeConnector({peer.ca()})->Connect(peer.url("127.0.0.2"), {});
  REQUIRE_FALSE(wrong_host.ok());
  CHECK(wrong_host.error().message.find("not valid for host 127.0.0.2") != std::string::npos);

  auto no_ca = MakeConnector({"/nonexistent/ca.pem"})->Connect(peer.url("127.0.0.1"), {});
  REQUIRE_FALSE(no_ca.ok());
  CHECK(no_ca.error().code == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace bim::ws
