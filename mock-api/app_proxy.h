#pragma once
// AppProxy: one project's address on this machine, http://127.0.0.1:PORT. It accepts TCP
// connections on loopback only and forwards each, byte for byte, to the Unix socket of the
// project's current app; SetUpstream switches new connections to another app (connections
// already open stay with theirs). With no app to forward to, it answers 502 with a line
// saying so.
//
// Threading: lives on the io_context's thread (the AppSupervisor's); every method runs there.

#include <asio.hpp>
#include <memory>
#include <string>

namespace bim::mock {

class AppProxy {
 public:
  // Listens on 127.0.0.1 on a free port. Throws asio::system_error when it cannot.
  AppProxy(asio::io_context& io, std::string project);
  ~AppProxy();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The Unix socket new connections go to; empty: none (502).
  void SetUpstream(std::string unix_socket) { upstream_ = std::move(unix_socket); }
  const std::string& upstream() const { return upstream_; }

 private:
  void Accept();

  asio::io_context& io_;
  std::string project_;
  asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::string upstream_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bim::mock
