// The websocketpp-backed Connector (ws/ws_client.h).
//
// One asio io_context and one thread per Connector, shared by a plain (ws://) and a TLS
// (wss://) endpoint. websocketpp objects are touched only on that thread: callers' threads
// post work to it and wait on a ConnectionState's condition variable. A connection_ptr never
// leaves the io thread; the state keeps only the connection_hdl.

#include "ws/ws_client.h"

#include <string.h>

#include <algorithm>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/steady_timer.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_client.hpp>

#include "common/rate_window.h"

namespace bim::ws {
namespace {

using PlainClient = websocketpp::client<websocketpp::config::asio_client>;
using TlsClient = websocketpp::client<websocketpp::config::asio_tls_client>;
using SslContext = asio::ssl::context;

// What one queued message costs besides its payload (the Event and its place in the deque), so
// that a flood of empty messages is bounded by max_queued_bytes too.
constexpr std::size_t kQueuedMessageOverhead = 64;

// What a Connection and its websocketpp handlers share. The handlers run on the io thread;
// Connect, Receive, Send and Close run on callers' threads.
class ConnectionState {
 public:
  enum class Phase { kConnecting, kOpen, kClosed };

  ConnectionState(bool tls, const ConnectOptions& options)
      : control_rate_(options.max_control_frames, options.rate_window),
        max_send_queue_bytes_(options.max_send_queue_bytes),
        tls_(tls),
        max_queued_bytes_(options.max_queued_bytes) {}

  bool tls() const { return tls_; }

  // The handshake succeeded; false when Connect already gave up on this connection.
  bool MarkOpen() {
    std::lock_guard lock(mu_);
    if (phase_ != Phase::kConnecting) return false;
    phase_ = Phase::kOpen;
    opened_ = true;
    cv_.notify_all();
    return true;
  }

  void FailConnect(Error error) {
    std::lock_guard lock(mu_);
    if (phase_ != Phase::kConnecting) return;
    phase_ = Phase::kClosed;
    connect_error_ = std::move(error);
    cv_.notify_all();
  }

  // Waits for the handshake's outcome. On timeout the connection is abandoned (its late
  // handlers are ignored) and an error comes back.
  std::optional<Error> WaitConnected(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    bool done = cv_.wait_for(lock, timeout, [&] { return phase_ != Phase::kConnecting; });
    if (!done) {
      phase_ = Phase::kClosed;
      return Error(ErrorCode::kUnavailable, "WebSocket connection not established within " +
                                                std::to_string(timeout.count()) + " ms");
    }
    // It may already have closed again; what it delivered is still waiting in events_.
    if (opened_) return std::nullopt;
    return connect_error_.value_or(Error(ErrorCode::kUnavailable, "WebSocket connection failed"));
  }

  // io thread. Queues a message; true when the queue has just gone over max_queued_bytes, and
  // the caller must pause reading (Receive then asks for a resume once it has taken half).
  bool PushMessage(std::string payload) {
    std::lock_guard lock(mu_);
    // websocketpp can run handlers after a close (zaphoyd/websocketpp#773): only an open
    // connection delivers messages.
    if (phase_ != Phase::kOpen) return false;
    queued_bytes_ += payload.size() + kQueuedMessageOverhead;
    events_.push_back(Event{EventKind::kMessage, std::move(payload), 0});
    cv_.notify_all();
    if (pause_wanted_ || queued_bytes_ <= max_queued_bytes_) return false;
    pause_wanted_ = true;
    return true;
  }

  // io thread, when a resume asked for by Receive arrives: false while the queue is still over
  // its limit (which asks Receive for another resume later).
  bool MayResume() {
    std::lock_guard lock(mu_);
    if (queued_bytes_ > max_queued_bytes_) {
      pause_wanted_ = true;
      return false;
    }
    return true;
  }

  // Ends the connection as seen by the reader; false when it had already ended.
  bool PushClosed(int code, std::string why) {
    std::lock_guard lock(mu_);
    if (phase_ == Phase::kClosed) return false;
    phase_ = Phase::kClosed;
    events_.push_back(Event{EventKind::kClosed, std::move(why), code});
    cv_.notify_all();
    return true;
  }

  // resume: set when reading was paused and the queue is now down to half; the caller then
  // asks the io thread to read again.
  Event Receive(std::chrono::milliseconds timeout, bool* resume) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return Event{};
    // kClosed stays at the front so that every later call sees it too.
    if (events_.front().kind == EventKind::kClosed) return events_.front();
    Event e = std::move(events_.front());
    events_.pop_front();
    queued_bytes_ -= e.payload.size() + kQueuedMessageOverhead;
    if (pause_wanted_ && queued_bytes_ <= max_queued_bytes_ / 2) {
      pause_wanted_ = false;
      *resume = true;
    }
    return e;
  }

  bool IsOpen() {
    std::lock_guard lock(mu_);
    return phase_ == Phase::kOpen;
  }

  // Set on the io thread before the connection starts; read there only afterwards.
  websocketpp::connection_hdl hdl_;
  // io thread only.
  std::shared_ptr<asio::steady_timer> ping_timer_;
  std::string tls_error_;       // why the peer's certificate was rejected
  bool awaiting_pong_ = false;  // a ping is out; the next one waits for its pong
  RateWindow control_rate_;     // the peer's pings and pongs
  const std::size_t max_send_queue_bytes_;
  bool reading_paused_ = false;  // PauseOn stopped reading; ResumeOn has not restarted it
  // While reading is paused no read handler holds the connection, and websocketpp's endpoint
  // does not own it: this does, until the resume or the close.
  std::shared_ptr<void> paused_connection_;

 private:
  const bool tls_;
  const std::size_t max_queued_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kConnecting;    // guarded by mu_
  bool opened_ = false;                 // guarded by mu_
  std::optional<Error> connect_error_;  // guarded by mu_
  std::deque<Event> events_;            // guarded by mu_
  std::size_t queued_bytes_ = 0;        // guarded by mu_: what events_ holds, overhead included
  bool pause_wanted_ = false;           // guarded by mu_: over the limit, not yet resumed
};

Error HandshakeError(int status, const std::string& body, const std::string& transport_error) {
  if (status == 0) {
    return Error(ErrorCode::kUnavailable, "WebSocket connection failed: " + transport_error);
  }
  std::string detail = "WebSocket handshake answered HTTP " + std::to_string(status);
  if (!body.empty()) detail += ": " + body.substr(0, 300);
  switch (status) {
    case 401:
      return Error(ErrorCode::kUnauthenticated, detail);
    case 404:
      return Error(ErrorCode::kNotFound, detail);
    case 429:
      return Error(ErrorCode::kRateLimited, detail);
    default:
      return Error(ErrorCode::kUnavailable, detail);
  }
}

// Overwrites 32 KiB of stack below its caller's frame, where the handlers it called left their
// locals. Not inlined, so the area is below the caller's frame, and through explicit_bzero, which
// the compiler may not drop as a dead store.
[[gnu::noinline]] void ScrubStack() {
  unsigned char area[32 * 1024];
  explicit_bzero(area, sizeof area);
}

// Owns the io thread and both endpoints. Shared by the Connector and its Connections, so a
// Connection that outlives its Connector still finds everything it points to.
class Core {
 public:
  explicit Core(TlsOptions tls) : tls_options_(std::move(tls)) {
    InitEndpoint(plain_);
    InitEndpoint(tls_);
    tls_.set_tls_init_handler(
        [this](websocketpp::connection_hdl hdl) { return MakeTlsContext(hdl); });
    // One handler at a time, each followed by ScrubStack: a handshake writes the request, with
    // its Authorization header, through buffers on this thread's stack, which would otherwise
    // keep a copy of the token long after the connection is gone.
    thread_ = std::thread([this] {
      while (io_.run_one() > 0) ScrubStack();
    });
  }

  ~Core() {
    asio::post(io_, [this] {
      std::lock_guard lock(mu_);
      for (auto& weak : live_) {
        if (auto st = weak.lock()) Abort(*st, websocketpp::close::status::going_away);
      }
      live_.clear();
      plain_.stop_perpetual();
      tls_.stop_perpetual();
    });
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // cannot happen by construction; never join ourselves
    } else {
      thread_.join();
    }
  }

  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  template <typename F>
  void Post(F f) {
    asio::post(io_, std::move(f));
  }

  Result<std::shared_ptr<ConnectionState>> Connect(const std::string& url,
                                                   const ConnectOptions& options) {
    bool tls;
    if (url.rfind("wss://", 0) == 0) {
      tls = true;
    } else if (url.rfind("ws://", 0) == 0) {
      tls = false;
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "not a WebSocket URL (want ws:// or wss://): " + url.substr(0, 200));
    }
    if (tls && !tls_options_.ca_file.empty() && !std::ifstream(tls_options_.ca_file).good()) {
      return Error(ErrorCode::kInvalidArgument, "cannot read the CA file " + tls_options_.ca_file);
    }
    auto st = std::make_shared<ConnectionState>(tls, options);
    {
      std::lock_guard lock(mu_);
      live_.erase(
          std::remove_if(live_.begin(), live_.end(), [](const auto& w) { return w.expired(); }),
          live_.end());
      live_.push_back(st);
    }
    Post([this, st, url, options] {
      if (st->tls()) {
        Start(tls_, st, url, options);
      } else {
        Start(plain_, st, url, options);
      }
    });
    if (auto err = st->WaitConnected(options.connect_timeout)) {
      Post([this, st] { Abort(*st, websocketpp::close::status::normal); });
      return *err;
    }
    return st;
  }

  void Send(const std::shared_ptr<ConnectionState>& st, std::string text) {
    Post([this, st, text = std::move(text)] {
      websocketpp::lib::error_code ec;
      if (st->tls()) {
        tls_.send(st->hdl_, text, websocketpp::frame::opcode::text, ec);
      } else {
        plain_.send(st->hdl_, text, websocketpp::frame::opcode::text, ec);
      }
    });
  }

  void Close(const std::shared_ptr<ConnectionState>& st) {
    Post([this, st] { Abort(*st, websocketpp::close::status::normal); });
  }

  void Cut(const std::shared_ptr<ConnectionState>& st) {
    Post([this, st] { Abort(*st, websocketpp::close::status::abnormal_close); });
  }

  // Reads again after a pause, unless the queue filled up again meanwhile.
  void Resume(const std::shared_ptr<ConnectionState>& st) {
    Post([this, st] {
      if (st->tls()) {
        ResumeOn(tls_, *st);
      } else {
        ResumeOn(plain_, *st);
      }
    });
  }

 private:
  template <typename Client>
  void InitEndpoint(Client& ep) {
    ep.clear_access_channels(websocketpp::log::alevel::all);
    ep.clear_error_channels(websocketpp::log::elevel::all);
    ep.init_asio(&io_);
    ep.start_perpetual();
    ep.set_close_handshake_timeout(2000);
    ep.set_user_agent("backend-im");
  }

  std::shared_ptr<SslContext> MakeTlsContext(websocketpp::connection_hdl) {
    auto ctx = std::make_shared<SslContext>(SslContext::tls_client);
    asio::error_code ec;
    ctx->set_options(SslContext::default_workarounds | SslContext::no_sslv2 | SslContext::no_sslv3 |
                         SslContext::no_tlsv1 | SslContext::no_tlsv1_1,
                     ec);
    // websocketpp verifies nothing by default: ask for the chain and the host name.
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    ctx->set_default_verify_paths(ec);
    if (!tls_options_.ca_file.empty()) ctx->load_verify_file(tls_options_.ca_file, ec);
    // websocketpp asks for the context inside get_connection, before the connection knows
    // its URI, so Start() leaves the host and state here first (io thread only). The
    // callback keeps the reason for a rejection, which the handshake error would lose.
    std::string host = pending_tls_host_;
    auto st = pending_tls_state_;
    ctx->set_verify_callback(
        [st, host, check_host = asio::ssl::host_name_verification(host)](
            bool preverified, asio::ssl::verify_context& vctx) mutable {
          if (!preverified) {
            int err = X509_STORE_CTX_get_error(vctx.native_handle());
            if (st)
              st->tls_error_ =
                  std::string("certificate not trusted: ") + X509_verify_cert_error_string(err);
            return false;
          }
          if (!check_host(preverified, vctx)) {
            if (st) st->tls_error_ = "certificate is not valid for host " + host;
            return false;
          }
          return true;
        },
        ec);
    return ctx;
  }

  template <typename Client>
  void Start(Client& ep, const std::shared_ptr<ConnectionState>& st, const std::string& url,
             const ConnectOptions& options) {
    websocketpp::lib::error_code ec;
    auto uri = std::make_shared<websocketpp::uri>(url);
    if (!uri->get_valid()) {
      st->FailConnect(
          Error(ErrorCode::kInvalidArgument, "bad WebSocket URL " + url.substr(0, 200)));
      return;
    }
    pending_tls_host_ = uri->get_host();
    pending_tls_state_ = st;
    auto con = ep.get_connection(uri, ec);
    pending_tls_state_.reset();
    if (ec) {
      st->FailConnect(Error(ErrorCode::kInvalidArgument,
                            "bad WebSocket URL " + url.substr(0, 200) + ": " + ec.message()));
      return;
    }
    st->hdl_ = con->get_handle();
    for (const auto& [name, value] : options.headers) con->append_header(name, value);
    con->set_open_handshake_timeout(static_cast<long>(options.connect_timeout.count()));
    con->set_max_message_size(options.max_message_size);

    con->set_open_handler([this, &ep, st, options](websocketpp::connection_hdl) {
      if (!st->MarkOpen()) {
        Abort(*st, websocketpp::close::status::normal);
        return;
      }
      if (options.ping_interval.count() > 0) SchedulePing(ep, st, options.ping_interval);
    });
    con->set_fail_handler([&ep, st](websocketpp::connection_hdl hdl) {
      websocketpp::lib::error_code gec;
      auto c = ep.get_con_from_hdl(hdl, gec);
      if (gec) {
        st->FailConnect(Error(ErrorCode::kUnavailable, "WebSocket connection failed"));
        return;
      }
      std::string why = c->get_ec().message();
      if (!st->tls_error_.empty()) {
        why = "TLS handshake failed: " + st->tls_error_;
      } else if (c->get_ec() ==
                     websocketpp::transport::asio::socket::make_error_code(
                         websocketpp::transport::asio::socket::error::tls_handshake_failed) &&
                 c->get_transport_ec()) {
        why += " (" + c->get_transport_ec().message() + ")";
      }
      st->FailConnect(HandshakeError(static_cast<int>(c->get_response_code()),
                                     c->get_response().get_body(), why));
    });
    con->set_message_handler(
        [&ep, st](websocketpp::connection_hdl hdl, typename Client::message_ptr msg) {
          // A watcher slower than the platform: stop reading, so the socket, not our memory,
          // holds what the platform sends next.
          if (st->PushMessage(std::move(msg->get_raw_payload()))) PauseOn(ep, *st, hdl);
        });
    con->set_close_handler([&ep, st](websocketpp::connection_hdl hdl) {
      CancelPing(*st);
      st->paused_connection_.reset();
      websocketpp::lib::error_code gec;
      auto c = ep.get_con_from_hdl(hdl, gec);
      int code = websocketpp::close::status::abnormal_close;
      std::string why = "connection dropped";
      if (!gec) {
        code = c->get_remote_close_code();
        if (!c->get_remote_close_reason().empty()) {
          why = c->get_remote_close_reason();
        } else if (code == websocketpp::close::status::abnormal_close) {
          why = "connection dropped without a close frame";
          if (c->get_ec()) why += " (" + c->get_ec().message() + ")";
        } else {
          why = "closed by the peer with code " + std::to_string(code);
        }
      }
      st->PushClosed(code, why);
    });
    // websocketpp answers every ping with a pong it queues itself, and reads the next frame at
    // once: a peer sending pings as fast as its socket takes them grew that queue, and the CPU
    // spent on it, without bound. Pings and unasked pongs are counted first.
    con->set_ping_handler([this, &ep, st](websocketpp::connection_hdl hdl, std::string) {
      return TakeControlFrame(ep, *st, hdl);
    });
    con->set_pong_handler([this, &ep, st](websocketpp::connection_hdl hdl, std::string) {
      // The answer to this side's ping (one is out at a time) is no flood, however short the
      // ping interval; only unasked pongs count.
      if (st->awaiting_pong_) {
        st->awaiting_pong_ = false;
        return;
      }
      TakeControlFrame(ep, *st, hdl);
    });
    if (options.pong_timeout.count() > 0) {
      con->set_pong_timeout(static_cast<long>(options.pong_timeout.count()));
      con->set_pong_timeout_handler([this, st, options](websocketpp::connection_hdl, std::string) {
        // A peer that does not answer pings is gone; report a drop and cut the socket.
        st->PushClosed(websocketpp::close::status::abnormal_close,
                       "no pong within " + std::to_string(options.pong_timeout.count()) +
                           " ms; connection considered dead");
        Abort(*st, websocketpp::close::status::abnormal_close);
      });
    }
    ep.connect(con);
  }

  // websocketpp's pause_reading() and resume_reading() only post their handlers: a read can be
  // issued before the pause lands, and a resume then starts a second read beside it. So both
  // run their handlers directly, on the io thread: a pause from inside the message handler
  // stops the read that handle_read_frame would issue next, and a resume issues the one read
  // that a pause left out. reading_paused_ says which of the two is in force.
  template <typename Client>
  static void PauseOn(Client& ep, ConnectionState& st, websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ep.get_con_from_hdl(hdl, ec);
    if (ec || st.reading_paused_) return;
    st.reading_paused_ = true;
    st.paused_connection_ = con;
    con->handle_pause_reading();
  }

  template <typename Client>
  static void ResumeOn(Client& ep, ConnectionState& st) {
    if (!st.reading_paused_ || !st.MayResume()) return;
    websocketpp::lib::error_code ec;
    auto con = ep.get_con_from_hdl(st.hdl_, ec);
    st.reading_paused_ = false;
    st.paused_connection_.reset();
    if (ec || con->get_state() == websocketpp::session::state::closed) return;
    con->handle_resume_reading();
  }

  // io thread, for each ping or pong from the peer: false (send no pong) once the peer is over
  // its rate, or is not reading what this side sends; the connection is then cut.
  template <typename Client>
  bool TakeControlFrame(Client& ep, ConnectionState& st, websocketpp::connection_hdl hdl) {
    if (!st.IsOpen()) return false;
    if (!st.control_rate_.Add(std::chrono::steady_clock::now())) {
      auto window = std::chrono::duration_cast<std::chrono::seconds>(st.control_rate_.window());
      CutForPolicy(st, "the server sent more than " + std::to_string(st.control_rate_.limit()) +
                           " pings and pongs within " + std::to_string(window.count()) + " s");
      return false;
    }
    return SendQueueWithinLimit(ep, st, hdl);
  }

  // io thread: false, and the connection cut, when more than the limit of what this side sent
  // is still waiting for the peer to read it.
  template <typename Client>
  bool SendQueueWithinLimit(Client& ep, ConnectionState& st, websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ep.get_con_from_hdl(hdl, ec);
    if (ec) return false;
    if (con->get_buffered_amount() <= st.max_send_queue_bytes_) return true;
    CutForPolicy(st, "the server has not read " + std::to_string(con->get_buffered_amount()) +
                         " bytes this side sent (its limit is " +
                         std::to_string(st.max_send_queue_bytes_) + ")");
    return false;
  }

  // io thread. Ends the connection for the reader with why, then cuts it at the socket: no close
  // handshake, whose wait would go on reading the peer's flood.
  void CutForPolicy(ConnectionState& st, const std::string& why) {
    st.PushClosed(kPolicyClose, why + "; closed by this side");
    Abort(st, websocketpp::close::status::abnormal_close);
  }

  template <typename Client>
  void SchedulePing(Client& ep, const std::shared_ptr<ConnectionState>& st,
                    std::chrono::milliseconds interval) {
    auto timer = std::make_shared<asio::steady_timer>(io_, interval);
    st->ping_timer_ = timer;
    timer->async_wait([this, &ep, st, interval, timer](const asio::error_code& ec) {
      if (ec || !st->IsOpen()) return;
      websocketpp::lib::error_code gec;
      auto con = ep.get_con_from_hdl(st->hdl_, gec);
      if (gec) return;
      if (!SendQueueWithinLimit(ep, *st, st->hdl_)) return;
      // websocketpp restarts the pong timer with every ping, so a ping interval shorter than
      // the pong timeout would keep a dead peer alive: ping again only after a pong.
      if (!st->awaiting_pong_) {
        st->awaiting_pong_ = true;
        con->ping("", gec);
      }
      SchedulePing(ep, st, interval);
    });
  }

  static void CancelPing(ConnectionState& st) {
    if (st.ping_timer_) {
      st.ping_timer_->cancel();
      st.ping_timer_.reset();
    }
  }

  // io thread. A clean close (code 1000/1001) for an open connection; anything else, or a
  // connection still connecting, is cut at the socket.
  void Abort(ConnectionState& st, websocketpp::close::status::value code) {
    CancelPing(st);
    st.PushClosed(websocketpp::close::status::normal, "closed by this side");
    if (st.tls()) {
      AbortOn(tls_, st, code);
    } else {
      AbortOn(plain_, st, code);
    }
    // A paused connection never reads the peer's close frame: its close-handshake timer (which
    // holds it now) ends it.
    st.paused_connection_.reset();
  }

  template <typename Client>
  void AbortOn(Client& ep, ConnectionState& st, websocketpp::close::status::value code) {
    websocketpp::lib::error_code ec;
    auto con = ep.get_con_from_hdl(st.hdl_, ec);
    if (ec) return;
    if (con->get_state() == websocketpp::session::state::open &&
        code != websocketpp::close::status::abnormal_close) {
      con->close(code, "", ec);
      if (!ec) return;
    }
    if (con->get_state() == websocketpp::session::state::closed) return;
    asio::error_code aec;
    con->get_raw_socket().close(aec);
  }

  TlsOptions tls_options_;
  std::string pending_tls_host_;                        // io thread only; see
  std::shared_ptr<ConnectionState> pending_tls_state_;  // MakeTlsContext
  asio::io_context io_;
  PlainClient plain_;
  TlsClient tls_;
  std::mutex mu_;
  std::vector<std::weak_ptr<ConnectionState>> live_;  // guarded by mu_
  std::thread thread_;
};

class WebSocketConnection final : public Connection {
 public:
  WebSocketConnection(std::shared_ptr<Core> core, std::shared_ptr<ConnectionState> st)
      : core_(std::move(core)), st_(std::move(st)) {}
  ~WebSocketConnection() override { Close(); }

  Event Receive(std::chrono::milliseconds timeout) override {
    bool resume = false;
    Event e = st_->Receive(timeout, &resume);
    if (resume) core_->Resume(st_);
    return e;
  }

  bool Send(const std::string& text) override {
    if (!st_->IsOpen()) return false;
    core_->Send(st_, text);
    return true;
  }

  void Close() override {
    if (st_->PushClosed(websocketpp::close::status::normal, "closed by this side")) {
      core_->Close(st_);
    }
  }

  void Cut() override {
    st_->PushClosed(kPolicyClose, "cut by this side");
    core_->Cut(st_);
  }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<ConnectionState> st_;
};

class WebSocketConnector final : public Connector {
 public:
  explicit WebSocketConnector(const TlsOptions& tls) : core_(std::make_shared<Core>(tls)) {}

  Result<std::unique_ptr<Connection>> Connect(const std::string& url,
                                              const ConnectOptions& options) override {
    auto st = core_->Connect(url, options);
    if (!st.ok()) return st.error();
    return std::unique_ptr<Connection>(
        std::make_unique<WebSocketConnection>(core_, std::move(st).value()));
  }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<Connector> MakeConnector(const TlsOptions& tls) {
  return std::make_unique<WebSocketConnector>(tls);
}

}  // namespace bim::ws
