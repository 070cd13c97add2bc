#pragma once
// A TCP proxy on 127.0.0.1 in front of another local port, for faults the peer itself cannot
// make: Stall() freezes every connection open at that moment (bytes stop flowing both ways,
// the sockets stay open), while connections made afterwards flow normally.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/integration/loopback.h"

namespace bim::test {

class StallProxy {
 public:
  explicit StallProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ListenOnLoopback(&port_);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~StallProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& c : conns_) c->thread.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Stall() {
    std::lock_guard lock(mu_);
    for (auto& c : conns_) c->stalled = true;
  }

 private:
  struct Conn {
    int a = -1, b = -1;
    std::atomic<bool> stalled{false};
    std::thread thread;
  };

  void Accept() {
    while (!stopping_) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->a = client;
      c->b = upstream;
      Conn* raw = c.get();
      c->thread = std::thread([this, raw] { Pump(raw); });
      std::lock_guard lock(mu_);
      conns_.push_back(std::move(c));
    }
  }

  void Pump(Conn* c) {
    char buf[65536];
    while (!stopping_) {
      if (c->stalled) {  // hold the connection open, move nothing
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      pollfd fds[2] = {{c->a, POLLIN, 0}, {c->b, POLLIN, 0}};
      if (::poll(fds, 2, 50) <= 0) continue;
      if (c->stalled) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0 || ::write(i == 0 ? c->b : c->a, buf, static_cast<size_t>(n)) != n)
          closed = true;
      }
      if (closed) break;
    }
    ::close(c->a);
    ::close(c->b);
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> conns_;  // guarded by mu_
};

}  // namespace bim::test
