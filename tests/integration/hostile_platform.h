#pragma once
// A platform under the test's control, for answers backend-im-mock would never give: it runs
// our HttpWsServer on a thread of its own on 127.0.0.1 and a free port, and each test decides
// what every route answers. Routes not set answer 404.
//
// Raw routes (SetRaw) answer with whatever bytes the test writes on the socket, for answers no
// HTTP server of ours would write: a compressed body the client never asked for, a body
// without Content-Length, a chunked body that never ends. With any raw route set, a TCP front
// on its own port reads each request's head: a raw route gets the connection, anything else
// (WebSocket upgrades included) is passed through to the server unchanged.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/loopback.h"
#include "ws/http_ws_server.h"

namespace bim::test {

// One connection handed to a raw route, after the request's head and body were read.
class RawConnection {
 public:
  RawConnection(int fd, const std::atomic<bool>& stopping, std::string head = "")
      : fd_(fd), stopping_(stopping), head_(std::move(head)) {}

  // The request's head: its request line and header lines.
  const std::string& head() const { return head_; }
  // The socket, for a route that reads too (a WebSocket peer).
  int fd() const { return fd_; }

  // Writes all of data; false once the peer has gone or the platform is stopping, so a route
  // that writes forever ends when the client hangs up.
  bool Write(std::string_view data) {
    while (!data.empty()) {
      if (stopping_) return false;
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (p.revents & (POLLERR | POLLHUP)) return false;
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      written_ += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  uint64_t written() const { return written_; }

 private:
  int fd_;
  const std::atomic<bool>& stopping_;
  std::string head_;
  uint64_t written_ = 0;
};

class HostilePlatform {
 public:
  using Route = std::function<ws::HttpResponse(const ws::HttpRequest&)>;

  HostilePlatform() {
    // The token check every client makes first.
    routes_["GET /api/auth/verify"] = [](const ws::HttpRequest&) {
      return ws::HttpResponse{
          200, "application/json", {}, R"({"valid":true,"userId":"u","email":"e@example.com"})"};
    };
  }

  using RawRoute = std::function<void(RawConnection&)>;

  void Set(const std::string& method_path, Route route) { routes_[method_path] = std::move(route); }
  // "GET /api/status/x": the path without its query. Set before Start().
  void SetRaw(const std::string& method_path, RawRoute route) {
    raw_routes_[method_path] = std::move(route);
  }
  void SetWs(ws::WsHandlers handlers) { server_.SetWsHandlers(std::move(handlers)); }

  void Start() {
    server_.SetHttpHandler(
        [this](const ws::HttpRequest& req, std::shared_ptr<ws::HttpResponder> r) {
          auto it = routes_.find(req.method + " " + req.path);
          if (it == routes_.end()) {
            r->Respond(ws::HttpResponse{
                404, "application/json", {}, R"({"error":"not_found","message":"no"})"});
            return;
          }
          r->Respond(it->second(req));
        });
    auto port = server_.Listen("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
    thread_ = std::thread([this] { server_.Run(); });
    if (!raw_routes_.empty()) StartFront();
  }

  ~HostilePlatform() {
    stopping_ = true;
    if (front_fd_ >= 0) {
      ::shutdown(front_fd_, SHUT_RDWR);
      ::close(front_fd_);
      front_thread_.join();
      std::lock_guard lock(conns_mu_);
      for (auto& t : conns_) t.join();
    }
    if (thread_.joinable()) {
      server_.Stop();
      thread_.join();
    }
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(front_fd_ >= 0 ? front_port_ : port_);
  }
  ws::HttpWsServer& server() { return server_; }

 private:
  void StartFront() {
    front_fd_ = ListenOnLoopback(&front_port_);
    front_thread_ = std::thread([this] {
      while (!stopping_) {
        int client = ::accept4(front_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        std::lock_guard lock(conns_mu_);
        conns_.emplace_back([this, client] { Serve(client); });
      }
    });
  }

  // Reads until the end of the request's head; "" when the peer went away first.
  std::string ReadHead(int fd) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      pollfd p{fd, POLLIN, 0};
      if (stopping_) return "";
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return "";
      head.append(buf, static_cast<size_t>(n));
    }
    return head;
  }

  void Serve(int client) {
    std::string head = ReadHead(client);
    size_t end = head.find("\r\n\r\n");
    if (end == std::string::npos) {
      ::close(client);
      return;
    }
    // "GET /api/status/x?y HTTP/1.1" -> "GET /api/status/x"
    std::string line = head.substr(0, head.find("\r\n"));
    std::string method = line.substr(0, line.find(' '));
    std::string target = line.substr(method.size() + 1);
    target = target.substr(0, target.find(' '));
    std::string key = method + " " + target.substr(0, target.find('?'));
    auto raw = raw_routes_.find(key);
    if (raw == raw_routes_.end()) {
      Pass(client, head);
      return;
    }
    // Read the request body too: closing a socket with unread bytes sends a reset, which the
    // client may see before the answer.
    size_t body = 0;
    std::string lower = head.substr(0, end);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      body = std::strtoull(lower.c_str() + at + 17, nullptr, 10);
    }
    size_t have = head.size() - end - 4;
    char buf[65536];
    while (have < body && !stopping_) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) break;
      have += static_cast<size_t>(n);
    }
    RawConnection conn(client, stopping_, head.substr(0, end));
    raw->second(conn);
    ::shutdown(client, SHUT_WR);
    ::close(client);
  }

  // Everything else goes to the server as it came, both ways, until either side closes.
  void Pass(int client, const std::string& head) {
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::send(up, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) {
      ::close(up);
      ::close(client);
      return;
    }
    char buf[65536];
    bool open = true;
    while (open && !stopping_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        RawConnection to(i == 0 ? up : client, stopping_);
        if (n <= 0 || !to.Write(std::string_view(buf, static_cast<size_t>(n)))) open = false;
      }
    }
    ::close(up);
    ::close(client);
  }

  ws::HttpWsServer server_;
  std::map<std::string, Route> routes_;         // written before Start(), read on the io thread
  std::map<std::string, RawRoute> raw_routes_;  // written before Start(), read by the front
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  int front_fd_ = -1;  // the TCP front, when there are raw routes
  int front_port_ = 0;
  std::thread front_thread_;
  std::mutex conns_mu_;
  std::vector<std::thread> conns_;  // guarded by conns_mu_
};

// Starts hp, then an agent with no mock that takes hp for the platform, logged in with the token
// "t" that hp accepts unless log_in is false.
class AgentAgainst : public AgentFixture {
 public:
  explicit AgentAgainst(HostilePlatform& hp, bool log_in = true) : AgentFixture({}, false) {
    hp.Start();
    env()["BACKEND_IM_API_URL"] = hp.url();
    if (log_in) LoginWithToken("t");
  }
};

}  // namespace bim::test
