#pragma once
// Helpers for the ws/ tests: an HttpWsServer on its own thread, and raw TCP sockets for
// peers that misbehave in ways a real server never would (never answering, never ponging).

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "ws/http_ws_server.h"

namespace bim::ws::testing {

// An HttpWsServer on 127.0.0.1 and a free port, served by its own thread until destroyed.
class ServerThread {
 public:
  explicit ServerThread(const std::function<void(HttpWsServer&)>& setup) {
    setup(server_);
    auto port = server_.Listen("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
    thread_ = std::thread([this] { server_.Run(); });
  }
  ~ServerThread() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      server_.Stop();
      thread_.join();
    }
  }
  HttpWsServer& server() { return server_; }
  int port() const { return port_; }
  std::string ws(const std::string& path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string http(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  HttpWsServer server_;
  int port_ = 0;
  std::thread thread_;
};

inline sockaddr_in Loopback(int port, const char* ip = "127.0.0.1") {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A listening socket on a free loopback port; *port gets the port.
inline int ListenTcp(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(0);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A port nothing listens on (bound once, then released).
inline int UnusedPort() {
  int port = 0;
  ::close(ListenTcp(&port));
  return port;
}

inline int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a = Loopback(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Reads until the end of an HTTP head (or EOF).
inline std::string ReadHead(int fd) {
  std::string data;
  char c;
  while (data.find("\r\n\r\n") == std::string::npos && ::read(fd, &c, 1) == 1) data += c;
  return data;
}

inline void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
inline std::string WebSocketAccept(const std::string& key) {
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha1(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

inline std::string HeaderValue(const std::string& head, const std::string& name) {
  auto pos = head.find(name + ": ");
  if (pos == std::string::npos) return "";
  auto start = pos + name.size() + 2;
  return head.substr(start, head.find("\r\n", start) - start);
}

// The server's half of a WebSocket handshake: the 101 answer to a request with this head.
inline std::string UpgradeAnswer(const std::string& head) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
         WebSocketAccept(HeaderValue(head, "Sec-WebSocket-Key")) + "\r\n\r\n";
}

// The same on a raw socket: reads the request's head and answers it.
inline void AnswerUpgrade(int fd) { WriteAll(fd, UpgradeAnswer(ReadHead(fd))); }

}  // namespace bim::ws::testing
