#pragma once
// A small HTTP + WebSocket server on one port, for backend-im-mock and for tests.
//
// Built on websocketpp (so it lives in bim_ws, as C++17), but this header carries no
// websocketpp or asio types. HTTP connections answer one request each and then close.
//
// Threading: everything runs on one io thread, the one that calls Run(). Every handler,
// every RunAfter/Post callback and every WsSession method runs there, so code built on this
// server needs no locks of its own. From other threads only Post, RunAfter, Stop and the
// HttpResponder methods may be called.
//
// Ownership: the server owns its connections. An HttpResponder or WsSession handed to a
// handler may be kept; once its connection is gone its methods do nothing.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace bim::ws {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query, not decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address, for logs

  // The header's value, or "" when absent; name in lower case.
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers one HTTP request, now or later. Only the first Respond or Abort counts; a
// responder dropped without either answers 500. Any thread.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void Respond(HttpResponse response) = 0;
  // Closes the TCP connection without any response, as when a response is lost.
  virtual void Abort() = 0;
};

// One accepted WebSocket connection. io thread only.
class WsSession {
 public:
  virtual ~WsSession() = default;
  virtual uint64_t id() const = 0;  // 1, 2, 3... in the order connections were accepted
  virtual const HttpRequest& request() const = 0;  // the upgrade request
  virtual bool IsOpen() const = 0;
  // Queues a text message; false when the session is no longer open.
  virtual bool Send(const std::string& text) = 0;
  // Bytes of the messages Send queued that are not yet being written to the socket (a write
  // in progress holds what it took from the queue besides), so a sender can stop queueing for
  // a peer that reads too slowly.
  virtual std::size_t BufferedBytes() const = 0;
  // Close and Drop end the session at once as far as IsOpen and Send are concerned; the
  // connection itself ends on a later turn of the io thread, so on_close never runs inside
  // the caller.
  // A clean close with a close frame.
  virtual void Close(int code, const std::string& reason) = 0;
  // Ends the TCP connection without a close frame, after anything already queued was
  // written; the peer sees an abnormal close (1006).
  virtual void Drop() = 0;
};

struct WsHandlers {
  // Decides on an upgrade request: nullopt accepts it, a response rejects it with that
  // status and body. Unset: every upgrade is accepted.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> validate;
  std::function<void(const std::shared_ptr<WsSession>&)> on_open;
  std::function<void(const std::shared_ptr<WsSession>&, const std::string&)> on_message;
  // Once per opened session, however it ended; close_code is 1006 after a drop.
  std::function<void(const std::shared_ptr<WsSession>&, int close_code)> on_close;
};

class HttpWsServer {
 public:
  using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpResponder>)>;

  HttpWsServer();
  ~HttpWsServer();
  HttpWsServer(const HttpWsServer&) = delete;
  HttpWsServer& operator=(const HttpWsServer&) = delete;

  // Set these before Run().
  void SetHttpHandler(HttpHandler handler);
  void SetWsHandlers(WsHandlers handlers);
  void SetMaxBodySize(std::size_t bytes);       // default 64 MiB; larger requests get 413
  void SetServerName(const std::string& name);  // the Server header
  // Stop() when one of these signals arrives (e.g. SIGTERM, SIGINT).
  void StopOnSignals(const std::vector<int>& signals);

  // Binds host:port (port 0: any free one) and returns the bound port.
  Result<int> Listen(const std::string& host, int port);

  // Serves on the calling thread until Stop().
  void Run();
  // Stops accepting, closes WebSocket sessions (1001) and makes Run() return. Thread-safe.
  void Stop();

  // Runs fn on the io thread. Thread-safe.
  void Post(std::function<void()> fn);
  // Runs fn on the io thread after delay, unless the server stops first. Thread-safe.
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  bool OnIoThread() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bim::ws
