// HttpWsServer on websocketpp's asio server (ws/http_ws_server.h).
//
// websocketpp answers plain HTTP requests through its http handler; we defer each response
// so a handler can answer later (or never, by cutting the connection). Upgrades go through
// its validate handler, where a rejection carries our status and body.

#include "ws/http_ws_server.h"

#include <algorithm>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cctype>
#include <set>
#include <thread>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "common/contract.h"
#include "common/log.h"

namespace bim::ws {
namespace {

using Server = websocketpp::server<websocketpp::config::asio>;
using ConnectionPtr = Server::connection_ptr;
using Hdl = websocketpp::connection_hdl;

constexpr std::size_t kDefaultMaxBody = 64u * 1024 * 1024;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Reason(int status) {
  switch (status) {
    case 422:
      return "Unprocessable Entity";
    default:
      break;
  }
  std::string r = websocketpp::http::status_code::get_string(
      static_cast<websocketpp::http::status_code::value>(status));
  return r == "Unknown" ? "Status " + std::to_string(status) : r;
}

HttpRequest BuildRequest(const ConnectionPtr& con) {
  HttpRequest req;
  const auto& r = con->get_request();
  req.method = r.get_method();
  std::string target = r.get_uri();
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = contract::FormDecode(target.substr(q + 1));
  for (const auto& [name, value] : r.get_headers()) req.headers[Lower(name)] = value;
  req.body = r.get_body();
  req.remote = con->get_remote_endpoint();
  return req;
}

void ApplyResponse(const ConnectionPtr& con, const HttpResponse& resp) {
  con->set_status(static_cast<websocketpp::http::status_code::value>(resp.status),
                  Reason(resp.status));
  if (!resp.content_type.empty()) con->replace_header("Content-Type", resp.content_type);
  for (const auto& [name, value] : resp.headers) con->replace_header(name, value);
  con->set_body(resp.body);
}

// Plain HTTP connections answer one request and close: say so, so no client reuses them.
void ApplyPlainResponse(const ConnectionPtr& con, const HttpResponse& resp) {
  ApplyResponse(con, resp);
  con->replace_header("Connection", "close");
}

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

class HttpWsServer::Impl {
 public:
  Impl() {
    ep_.clear_access_channels(websocketpp::log::alevel::all);
    ep_.clear_error_channels(websocketpp::log::elevel::all);
    ep_.init_asio(&io_);
    ep_.set_reuse_addr(true);
    ep_.set_max_http_body_size(kDefaultMaxBody);
    ep_.set_user_agent("backend-im");
    // A peer that never answers our close frame (a raw reader such as curl) is dropped after
    // half a second; a WebSocket client on loopback answers in microseconds.
    ep_.set_close_handshake_timeout(500);
    ep_.set_http_handler([this](Hdl hdl) { OnHttp(hdl); });
    ep_.set_validate_handler([this](Hdl hdl) { return OnValidate(hdl); });
    ep_.set_open_handler([this](Hdl hdl) { OnOpen(hdl); });
    ep_.set_close_handler([this](Hdl hdl) { OnEnd(hdl, /*failed=*/false); });
    ep_.set_fail_handler([this](Hdl hdl) { OnEnd(hdl, /*failed=*/true); });
    ep_.set_message_handler([this](Hdl hdl, Server::message_ptr msg) { OnMessage(hdl, msg); });
  }

  ~Impl() {
    // Handlers destroyed with the io_context below may hold responders; they must not post.
    destroying_ = true;
    // Our objects that hold connections and timers go before the io_context they use.
    sessions_.clear();
    timers_.clear();
    signals_.reset();
  }

  class Responder;
  class Session;

  bool OnIoThread() const { return io_thread_.load() == std::this_thread::get_id(); }

  void RunOnIo(std::function<void()> fn) {
    if (OnIoThread()) {
      fn();
    } else {
      asio::post(io_, std::move(fn));
    }
  }

  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
    RunOnIo([this, delay, fn = std::move(fn)]() mutable {
      if (stopping_) return;
      auto timer = std::make_shared<asio::steady_timer>(io_, delay);
      timers_.insert(timer);
      timer->async_wait([this, timer, fn = std::move(fn)](const asio::error_code& ec) {
        timers_.erase(timer);
        if (ec || stopping_) return;
        Guarded("timer", fn);
      });
    });
  }

  Result<int> Listen(const std::string& host, int port) {
    if (port < 0 || port > 65535) {
      return Error(ErrorCode::kInvalidArgument, "port out of range: " + std::to_string(port));
    }
    asio::error_code aec;
    asio::ip::tcp::resolver resolver(io_);
    auto results =
        resolver.resolve(host, std::to_string(port), asio::ip::tcp::resolver::passive, aec);
    if (aec || results.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "cannot resolve listen address " + host + ": " + aec.message());
    }
    websocketpp::lib::error_code ec;
    ep_.listen(results.begin()->endpoint(), ec);
    if (ec) {
      return Error(ErrorCode::kUnavailable,
                   "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    ep_.start_accept(ec);
    if (ec) return Error(ErrorCode::kUnavailable, "cannot accept on " + host + ": " + ec.message());
    auto local = ep_.get_local_endpoint(aec);
    if (aec) return Error(ErrorCode::kUnavailable, "cannot read the bound port: " + aec.message());
    return static_cast<int>(local.port());
  }

  void StopOnSignals(const std::vector<int>& signals) {
    signals_ = std::make_unique<asio::signal_set>(io_);
    for (int s : signals) signals_->add(s);
    signals_->async_wait([this](const asio::error_code& ec, int) {
      if (!ec) DoStop();
    });
  }

  void Run() {
    io_thread_ = std::this_thread::get_id();
    work_.emplace(io_.get_executor());
    io_.run();
    io_thread_ = std::thread::id();
  }

  void Stop() {
    asio::post(io_, [this] { DoStop(); });
  }

  // Declared first, so it outlives every other member.
  std::atomic<bool> destroying_{false};
  HttpHandler http_;
  WsHandlers ws_;
  asio::io_context io_;
  Server ep_;

  template <typename Fn, typename... Args>
  void Guarded(const char* what, Fn& fn, Args&&... args) {
    // A bug in a handler must not take the whole server down with it.
    try {
      fn(std::forward<Args>(args)...);
    } catch (const std::exception& e) {
      log::Error("http/ws server: {} handler threw: {}", what, e.what());
    } catch (...) {
      log::Error("http/ws server: {} handler threw", what);
    }
  }

 private:
  void OnHttp(Hdl hdl);
  bool OnValidate(Hdl hdl);
  void OnOpen(Hdl hdl);
  void OnEnd(Hdl hdl, bool failed);
  void OnMessage(Hdl hdl, Server::message_ptr msg);

  void DoStop() {
    if (stopping_) return;
    stopping_ = true;
    websocketpp::lib::error_code ec;
    ep_.stop_listening(ec);
    for (auto& t : timers_) t->cancel();
    if (signals_) {
      asio::error_code aec;
      signals_->cancel(aec);
    }
    work_.reset();
    if (OpenSessions() == 0) {
      io_.stop();
      return;
    }
    CloseAllSessions();
    // Peers that do not answer the close get a second to do so.
    auto deadline = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(1));
    deadline->async_wait([this, deadline](const asio::error_code&) { io_.stop(); });
  }

  int OpenSessions() const;
  void CloseAllSessions();

  std::atomic<std::thread::id> io_thread_{};
  std::atomic<bool> stopping_{false};
  uint64_t next_session_id_ = 0;  // io thread
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::map<Hdl, std::shared_ptr<Session>, std::owner_less<Hdl>> sessions_;  // io thread
  std::set<std::shared_ptr<asio::steady_timer>> timers_;                    // io thread
  std::unique_ptr<asio::signal_set> signals_;
};

class HttpWsServer::Impl::Responder final : public HttpResponder {
 public:
  Responder(Impl* impl, ConnectionPtr con) : impl_(impl), con_(std::move(con)) {}

  ~Responder() override {
    if (!done_.exchange(true) && !impl_->destroying_) {
      ConnectionPtr con = std::move(con_);
      impl_->RunOnIo([con] {
        HttpResponse r{500,
                       "application/json",
                       {},
                       R"({"error":"internal","message":"the handler did not answer"})"};
        ApplyPlainResponse(con, r);
        websocketpp::lib::error_code ec;
        con->send_http_response(ec);
      });
    }
  }

  void Respond(HttpResponse response) override {
    if (done_.exchange(true) || impl_->destroying_) return;
    impl_->RunOnIo([con = con_, response = std::move(response)] {
      ApplyPlainResponse(con, response);
      websocketpp::lib::error_code ec;
      con->send_http_response(ec);
    });
  }

  void Abort() override {
    if (done_.exchange(true) || impl_->destroying_) return;
    impl_->RunOnIo([con = con_] { con->terminate(websocketpp::lib::error_code()); });
  }

 private:
  Impl* impl_;
  ConnectionPtr con_;
  std::atomic<bool> done_{false};
};

class HttpWsServer::Impl::Session final : public WsSession,
                                          public std::enable_shared_from_this<Session> {
 public:
  Session(Impl* impl, Hdl hdl, uint64_t id, HttpRequest request)
      : impl_(impl), hdl_(std::move(hdl)), id_(id), request_(std::move(request)) {}

  uint64_t id() const override { return id_; }
  const HttpRequest& request() const override { return request_; }
  bool IsOpen() const override { return open_ && !ending_; }

  bool Send(const std::string& text) override {
    if (!IsOpen()) return false;
    websocketpp::lib::error_code ec;
    impl_->ep_.send(hdl_, text, websocketpp::frame::opcode::text, ec);
    return !ec;
  }

  std::size_t BufferedBytes() const override {
    websocketpp::lib::error_code ec;
    auto con = impl_->ep_.get_con_from_hdl(hdl_, ec);
    return ec ? 0 : con->get_buffered_amount();
  }

  // Both act from a fresh io-thread turn, so on_close never runs inside the caller's code.
  void Close(int code, const std::string& reason) override {
    if (!IsOpen()) return;
    ending_ = true;
    asio::post(impl_->io_, [self = shared_from_this(), code, reason] {
      websocketpp::lib::error_code ec;
      self->impl_->ep_.close(self->hdl_, static_cast<websocketpp::close::status::value>(code),
                             reason, ec);
    });
  }

  void Drop() override {
    if (!IsOpen()) return;
    ending_ = true;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    asio::post(impl_->io_,
               [self = shared_from_this(), deadline] { self->DropWhenFlushed(deadline); });
  }

  bool opened() const { return open_; }
  void MarkOpen() { open_ = true; }
  void MarkEnded() { open_ = false; }

 private:
  // Waits (briefly) until websocketpp has handed every queued message to the socket, so
  // the peer sees exactly what was sent before the connection is cut.
  void DropWhenFlushed(std::chrono::steady_clock::time_point deadline) {
    websocketpp::lib::error_code ec;
    auto con = impl_->ep_.get_con_from_hdl(hdl_, ec);
    if (ec || con->get_state() != websocketpp::session::state::open) return;
    if (con->get_buffered_amount() > 0 && std::chrono::steady_clock::now() < deadline) {
      auto self = shared_from_this();
      auto timer = std::make_shared<asio::steady_timer>(impl_->io_, std::chrono::milliseconds(2));
      timer->async_wait(
          [self, timer, deadline](const asio::error_code&) { self->DropWhenFlushed(deadline); });
      return;
    }
    con->terminate(websocketpp::lib::error_code());
  }

  Impl* impl_;
  Hdl hdl_;
  uint64_t id_;
  HttpRequest request_;
  bool open_ = false;    // io thread
  bool ending_ = false;  // io thread: Close or Drop was called
};

// Upgrading sessions count too: a client may already see its handshake answered while our
// open handler has yet to run, and OnOpen closes such a session once it runs.
int HttpWsServer::Impl::OpenSessions() const { return static_cast<int>(sessions_.size()); }

void HttpWsServer::Impl::CloseAllSessions() {
  auto copy = sessions_;
  for (auto& [hdl, s] : copy) s->Close(websocketpp::close::status::going_away, "server stopping");
}

void HttpWsServer::Impl::OnHttp(Hdl hdl) {
  websocketpp::lib::error_code ec;
  auto con = ep_.get_con_from_hdl(hdl, ec);
  if (ec) return;
  HttpRequest req = BuildRequest(con);
  if (Lower(req.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    // websocketpp reads only Content-Length bodies.
    ApplyPlainResponse(con, HttpResponse{411,
                                         "application/json",
                                         {},
                                         R"({"error":"length_required","message":"send the )"
                                         R"(body with a Content-Length header, not chunked"})"});
    return;
  }
  if (stopping_ || !http_) {
    ApplyPlainResponse(
        con,
        HttpResponse{
            503, "application/json", {}, R"({"error":"unavailable","message":"server stopping"})"});
    return;
  }
  con->defer_http_response();
  auto responder = std::make_shared<Responder>(this, con);
  try {
    http_(req, responder);
  } catch (const std::exception& e) {
    log::Error("http/ws server: handler for {} {} threw: {}", req.method, req.path, e.what());
    responder->Respond(HttpResponse{
        500, "application/json", {}, R"({"error":"internal","message":"handler failed"})"});
  }
}

bool HttpWsServer::Impl::OnValidate(Hdl hdl) {
  websocketpp::lib::error_code ec;
  auto con = ep_.get_con_from_hdl(hdl, ec);
  if (ec) return false;
  HttpRequest req = BuildRequest(con);
  std::optional<HttpResponse> rejection;
  if (stopping_) {
    rejection = HttpResponse{
        503, "application/json", {}, R"({"error":"unavailable","message":"server stopping"})"};
  } else if (ws_.validate) {
    try {
      rejection = ws_.validate(req);
    } catch (const std::exception& e) {
      log::Error("http/ws server: upgrade validation threw: {}", e.what());
      rejection = HttpResponse{
          500, "application/json", {}, R"({"error":"internal","message":"validation failed"})"};
    }
  }
  if (rejection) {
    ApplyResponse(con, *rejection);
    return false;
  }
  sessions_[hdl] = std::make_shared<Session>(this, hdl, ++next_session_id_, std::move(req));
  return true;
}

void HttpWsServer::Impl::OnOpen(Hdl hdl) {
  auto it = sessions_.find(hdl);
  if (it == sessions_.end()) return;
  auto s = it->second;
  s->MarkOpen();
  if (stopping_) {
    s->Close(websocketpp::close::status::going_away, "server stopping");
    return;
  }
  if (ws_.on_open) Guarded("open", ws_.on_open, s);
}

void HttpWsServer::Impl::OnEnd(Hdl hdl, bool failed) {
  auto it = sessions_.find(hdl);
  if (it == sessions_.end()) return;  // a plain HTTP connection, or already gone
  auto s = it->second;
  sessions_.erase(it);
  bool was_open = s->opened();
  s->MarkEnded();
  if (was_open && !failed && ws_.on_close) {
    websocketpp::lib::error_code ec;
    auto con = ep_.get_con_from_hdl(hdl, ec);
    int code = ec ? websocketpp::close::status::abnormal_close : con->get_remote_close_code();
    Guarded("close", ws_.on_close, s, code);
  }
  if (stopping_ && OpenSessions() == 0) io_.stop();
}

void HttpWsServer::Impl::OnMessage(Hdl hdl, Server::message_ptr msg) {
  auto it = sessions_.find(hdl);
  if (it == sessions_.end() || !it->second->IsOpen() || !ws_.on_message) return;
  auto s = it->second;
  Guarded("message", ws_.on_message, s, msg->get_payload());
}

HttpWsServer::HttpWsServer() : impl_(std::make_unique<Impl>()) {}
HttpWsServer::~HttpWsServer() = default;

void HttpWsServer::SetHttpHandler(HttpHandler handler) { impl_->http_ = std::move(handler); }
void HttpWsServer::SetWsHandlers(WsHandlers handlers) { impl_->ws_ = std::move(handlers); }
void HttpWsServer::SetMaxBodySize(std::size_t bytes) { impl_->ep_.set_max_http_body_size(bytes); }
void HttpWsServer::SetServerName(const std::string& name) { impl_->ep_.set_user_agent(name); }
void HttpWsServer::StopOnSignals(const std::vector<int>& signals) { impl_->StopOnSignals(signals); }
Result<int> HttpWsServer::Listen(const std::string& host, int port) {
  return impl_->Listen(host, port);
}
void HttpWsServer::Run() { impl_->Run(); }
void HttpWsServer::Stop() { impl_->Stop(); }
void HttpWsServer::Post(std::function<void()> fn) {
  asio::post(impl_->io_, [impl = impl_.get(), fn = std::move(fn)] { impl->Guarded("posted", fn); });
}
void HttpWsServer::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  impl_->RunAfter(delay, std::move(fn));
}
bool HttpWsServer::OnIoThread() const { return impl_->OnIoThread(); }

}  // namespace bim::ws
