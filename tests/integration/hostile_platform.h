#pragma once
// A platform under the test's control, for answers backend-im-mock would never give: it runs
// our HttpWsServer on a thread of its own on 127.0.0.1 and a free port, and each test decides
// what every route answers. Routes not set answer 404.

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <thread>

#include "ws/http_ws_server.h"

namespace bim::test {

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

  void Set(const std::string& method_path, Route route) { routes_[method_path] = std::move(route); }
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
  }

  ~HostilePlatform() {
    if (thread_.joinable()) {
      server_.Stop();
      thread_.join();
    }
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  ws::HttpWsServer& server() { return server_; }

 private:
  ws::HttpWsServer server_;
  std::map<std::string, Route> routes_;  // written before Start(), read on the io thread
  std::thread thread_;
  int port_ = 0;
};

}  // namespace bim::test
