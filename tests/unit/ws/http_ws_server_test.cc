// HttpWsServer over real sockets: deferred and lost responses, request parsing, timers on
// the io thread, limits, and how it stops.

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "tests/support/harness.h"
#include "tests/unit/ws/ws_test_util.h"
#include "ws/ws_client.h"

namespace bim::ws {
namespace {

using namespace std::chrono_literals;
using testing::ServerThread;

TEST_CASE("a request arrives parsed: method, path, decoded query, lower-case headers, body") {
  std::mutex mu;
  HttpRequest seen;
  ServerThread server([&](HttpWsServer& s) {
    s.SetHttpHandler([&](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
      {
        std::lock_guard lock(mu);
        seen = req;
      }
      r->Respond(HttpResponse{201, "text/plain", {{"X-Thing", "yes"}}, "made"});
    });
  });
  auto reply = test::HttpRequest("PUT", server.http("/a/b%20c?x=1&name=J%C3%B6rg+M&flag"),
                                 "payload", {"X-Custom-Header: Value"});
  CHECK(reply.status == 201);
  CHECK(reply.body == "made");
  CHECK(reply.headers["x-thing"] == "yes");
  CHECK(reply.headers["content-type"] == "text/plain");
  CHECK(reply.headers["connection"] == "close");
  std::lock_guard lock(mu);
  CHECK(seen.method == "PUT");
  CHECK(seen.path == "/a/b%20c");
  CHECK(seen.query["x"] == "1");
  CHECK(seen.query["name"] == "J\xC3\xB6rg M");
  CHECK(seen.query.count("flag") == 1);
  CHECK(seen.Header("x-custom-header") == "Value");
  CHECK(seen.body == "payload");
  CHECK_FALSE(seen.remote.empty());
}

TEST_CASE("a response can come later, from another thread") {
  std::mutex mu;
  std::shared_ptr<HttpResponder> pending;
  ServerThread server([&](HttpWsServer& s) {
    s.SetHttpHandler([&](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
      std::lock_guard lock(mu);
      pending = std::move(r);
    });
  });
  std::thread answerer([&] {
    for (;;) {
      std::this_thread::sleep_for(20ms);
      std::lock_guard lock(mu);
      if (pending) {
        pending->Respond(HttpResponse{200, "text/plain", {}, "late"});
        pending->Respond(HttpResponse{500, "text/plain", {}, "ignored"});
        pending.reset();
        return;
      }
    }
  });
  auto reply = test::HttpRequest("GET", server.http("/"));
  answerer.join();
  CHECK(reply.status == 200);
  CHECK(reply.body == "late");
}

TEST_CASE("Abort closes the connection with no response at all") {
  ServerThread server([](HttpWsServer& s) {
    s.SetHttpHandler([](const HttpRequest&, std::shared_ptr<HttpResponder> r) { r->Abort(); });
  });
  auto reply = test::HttpRequest("POST", server.http("/"), "body");
  CHECK(reply.status == 0);
}

TEST_CASE("a handler that throws or forgets to answer gets a 500, and the server goes on") {
  ServerThread server([](HttpWsServer& s) {
    s.SetHttpHandler([](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
      if (req.path == "/throw") throw std::runtime_error("boom");
      if (req.path == "/forget") return;
      r->Respond(HttpResponse{200, "text/plain", {}, "fine"});
    });
  });
  CHECK(test::HttpRequest("GET", server.http("/throw")).status == 500);
  CHECK(test::HttpRequest("GET", server.http("/forget")).status == 500);
  CHECK(test::HttpRequest("GET", server.http("/ok")).body == "fine");
}

TEST_CASE("bodies over the limit get 413, and chunked bodies get 411") {
  ServerThread server([](HttpWsServer& s) {
    s.SetMaxBodySize(1000);
    s.SetHttpHandler([](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
      r->Respond(HttpResponse{200, "text/plain", {}, std::to_string(req.body.size())});
    });
  });
  CHECK(test::HttpRequest("POST", server.http("/"), std::string(1000, 'x')).body == "1000");
  CHECK(test::HttpRequest("POST", server.http("/"), std::string(1001, 'x')).status == 413);
  CHECK(test::HttpRequest("POST", server.http("/"), "abc", {"Transfer-Encoding: chunked"}).status ==
        411);
}

TEST_CASE("Post and RunAfter run on the io thread, timers in order") {
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<int> on_io{0};
  ServerThread server([](HttpWsServer&) {});
  auto& s = server.server();
  auto note = [&](std::string what) {
    if (s.OnIoThread()) ++on_io;
    std::lock_guard lock(mu);
    order.push_back(std::move(what));
  };
  CHECK_FALSE(s.OnIoThread());
  s.RunAfter(150ms, [&] { note("150"); });
  s.RunAfter(50ms, [&] { note("50"); });
  s.Post([&] { note("post"); });
  s.Post([] { throw std::runtime_error("a throwing callback does not stop the server"); });
  CHECK(test::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return order.size() == 3;
      },
      5s));
  std::lock_guard lock(mu);
  CHECK(order == std::vector<std::string>{"post", "50", "150"});
  CHECK(on_io == 3);
}

TEST_CASE("a peer that vanishes without a close frame ends its session with 1006") {
  std::mutex mu;
  std::vector<int> codes;
  ServerThread server([&](HttpWsServer& s) {
    WsHandlers h;
    h.on_close = [&](const std::shared_ptr<WsSession>&, int code) {
      std::lock_guard lock(mu);
      codes.push_back(code);
    };
    s.SetWsHandlers(std::move(h));
  });
  int fd = testing::ConnectTcp(server.port());
  testing::WriteAll(fd,
                    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
  std::string head = testing::ReadHead(fd);
  CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(testing::HeaderValue(head, "Sec-WebSocket-Accept") ==
        testing::WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="));
  ::close(fd);
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(10ms);
    std::lock_guard lock(mu);
    if (!codes.empty()) break;
  }
  std::lock_guard lock(mu);
  CHECK(codes == std::vector<int>{1006});
}

TEST_CASE("Stop closes open sessions with 1001 and makes Run return") {
  auto server = std::make_unique<ServerThread>([](HttpWsServer&) {});
  auto connector = MakeConnector({});
  auto c = connector->Connect(server->ws("/"), {});
  REQUIRE(c.ok());
  auto start = std::chrono::steady_clock::now();
  server->Stop();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  auto e = (*c)->Receive(2s);
  CHECK(e.kind == EventKind::kClosed);
  CHECK(e.close_code == 1001);
}

TEST_CASE("Listen reports a port in use and an address it cannot bind") {
  ServerThread first([](HttpWsServer&) {});
  HttpWsServer second;
  auto busy = second.Listen("127.0.0.1", first.port());
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().message.find(std::to_string(first.port())) != std::string::npos);
  HttpWsServer third;
  CHECK_FALSE(third.Listen("no-such-host.invalid", 0).ok());
  CHECK_FALSE(third.Listen("127.0.0.1", 70000).ok());
}

}  // namespace
}  // namespace bim::ws
