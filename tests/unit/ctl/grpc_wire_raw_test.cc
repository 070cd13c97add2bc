// The ctl's gRPC wire client (ctl/grpc_wire.h) against a raw HTTP/2 server written here with
// nghttp2's server session, for what gRPC's own server never sends: HTTP errors, compressed
// messages, odd framing, early GOAWAY and dropped connections. Where practical gRPC C++'s client
// meets the same server, and the two must report the same code.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/harness.h"
#include "tests/unit/ctl/grpc_wire_test_util.h"

using namespace std::chrono_literals;
using bim::test::TempDir;
using bim::wiretest::Reply;
using bim::wiretest::Request;
using namespace bim::test::wire;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string Framed(std::string_view message, uint8_t flag = 0) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flag);
  uint32_t n = static_cast<uint32_t>(message.size());
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>(n >> (8 * (3 - i)));
  return out + std::string(message);
}

std::string ReplyBytes(std::string payload) {
  Reply r;
  r.set_payload(std::move(payload));
  return r.SerializeAsString();
}

class RawServer;

// One connection's HTTP/2 server session, as the script sees it.
class RawConnection {
 public:
  // The response's body: `data` in DATA frames of at most `chunk` bytes, then trailers (or
  // END_STREAM on the last DATA frame when there are none).
  // With end_stream false and no trailers, the stream stays open after the data.
  void Respond(int32_t stream, const Headers& headers, std::string data = "", size_t chunk = 16384,
               std::optional<Headers> trailers = std::nullopt, bool end_stream = true) {
    body_ = std::move(data);
    body_sent_ = 0;
    chunk_ = chunk;
    trailers_ = std::move(trailers);
    end_stream_ = end_stream;
    auto nva = Nva(headers);
    nghttp2_data_provider provider{};
    provider.read_callback = &RawConnection::ReadBody;
    bool has_body = !body_.empty() || trailers_.has_value();
    REQUIRE(nghttp2_submit_response(session_, stream, nva.data(), nva.size(),
                                    has_body ? &provider : nullptr) == 0);
  }
  // Response headers without END_STREAM, nothing else.
  void SendHeaders(int32_t stream, const Headers& headers, bool end_stream) {
    auto nva = Nva(headers);
    REQUIRE(nghttp2_submit_headers(session_, end_stream ? NGHTTP2_FLAG_END_STREAM : 0, stream,
                                   nullptr, nva.data(), nva.size(), nullptr) >= 0);
  }
  void Goaway(int32_t last_stream_id) {
    REQUIRE(nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_stream_id, NGHTTP2_NO_ERROR,
                                  nullptr, 0) == 0);
  }
  void Reset(int32_t stream, uint32_t error_code) {
    REQUIRE(nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error_code) == 0);
  }
  // Closes the connection once what was submitted is written.
  void CloseAfterWrite() { close_ = true; }

 private:
  friend class RawServer;
  static std::vector<nghttp2_nv> Nva(const Headers& headers) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [k, v] : headers) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    return nva;
  }
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user_data) {
    auto* c = static_cast<RawConnection*>(user_data);
    size_t n = std::min({length, c->chunk_, c->body_.size() - c->body_sent_});
    std::memcpy(buf, c->body_.data() + c->body_sent_, n);
    c->body_sent_ += n;
    if (c->body_sent_ == c->body_.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (c->trailers_) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        auto nva = Nva(*c->trailers_);
        nghttp2_submit_trailer(session, stream, nva.data(), nva.size());
      } else if (!c->end_stream_) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  std::string body_;
  size_t body_sent_ = 0;
  size_t chunk_ = 16384;
  std::optional<Headers> trailers_;
  bool end_stream_ = true;
  bool close_ = false;
  RawServer* server_ = nullptr;
};

// Listens on a Unix socket and runs the script for each request once it has fully arrived;
// every connection gets its own thread. Stops and joins them when destroyed.
class RawServer {
 public:
  using Script = std::function<void(RawConnection&, int32_t stream)>;
  explicit RawServer(Script script) : path_(dir_ / "raw.sock"), script_(std::move(script)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    REQUIRE(::pipe(stop_) == 0);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~RawServer() {
    ::close(stop_[1]);  // every poll below sees POLLHUP on stop_[0]
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(stop_[0]);
    ::close(listen_fd_);
  }
  const std::string& path() const { return path_; }
  int connections() const { return accepted_.load(); }

 private:
  void Accept() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[1].revents != 0) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto* conn = static_cast<RawConnection*>(user_data);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      conn->server_->script_(*conn, frame->hd.stream_id);
    }
    return 0;
  }

  void Serve(int fd) {
    RawConnection conn;
    conn.server_ = this;
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &RawServer::OnFrameRecv);
    nghttp2_session_server_new(&conn.session_, callbacks, &conn);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(conn.session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    bool open = true;
    while (open) {
      // Write everything submitted (blocking: our clients always read).
      const uint8_t* data;
      ssize_t n;
      while (open && (n = nghttp2_session_mem_send(conn.session_, &data)) > 0) {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(fd, data + off, n - off, MSG_NOSIGNAL);
          if (w <= 0) {
            open = false;
            break;
          }
          off += w;
        }
      }
      if (!open || conn.close_) break;
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[1].revents != 0) break;
      uint8_t buf[16384];
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0 || nghttp2_session_mem_recv(conn.session_, buf, r) < 0) break;
    }
    nghttp2_session_del(conn.session_);
    ::close(fd);
  }

  TempDir dir_;
  std::string path_;
  Script script_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor touches it until the join
  std::atomic<int> accepted_{0};
};

const Headers kOk = {{":status", "200"}, {"content-type", "application/grpc"}};
Headers Status(int code, std::string message = "") {
  Headers h = {{"grpc-status", std::to_string(code)}};
  if (!message.empty()) h.emplace_back("grpc-message", std::move(message));
  return h;
}

struct Outcome {
  int ours;
  int theirs;
  std::string our_message;
  std::string their_message;
};

// The same unary call from our client and from gRPC C++'s.
Outcome BothUnary(const RawServer& server, Reply* reply = nullptr,
                  std::chrono::milliseconds timeout = 2s) {
  Reply scratch;
  wire::CallContext ctx;
  ctx.set_timeout(timeout);
  auto ours = wire::Channel(server.path()).Unary(kEcho, Request(), reply ? reply : &scratch, ctx);
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + timeout);
  Reply greply;
  auto theirs = GrpcStub(server.path(), 4 * 1024 * 1024)->Echo(&gctx, Request(), &greply);
  MESSAGE("ours: " << CodeOf(ours) << " \"" << ours.message << "\"; gRPC C++: " << CodeOf(theirs)
                   << " \"" << theirs.error_message() << "\"");
  return {CodeOf(ours), CodeOf(theirs), ours.message, theirs.error_message()};
}

constexpr int kCode(wire::Code c) { return static_cast<int>(c); }

}  // namespace

TEST_CASE("HTTP 503 without grpc-status is UNAVAILABLE, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, {{":status", "503"}, {"content-type", "text/plain"}}, "busy");
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kUnavailable));
  CHECK(o.our_message.find("503") != std::string::npos);
  CHECK(o.ours == o.theirs);
}

TEST_CASE(
    "HTTP statuses without grpc-status map to gRPC codes as doc/http-grpc-status-mapping.md says") {
  const std::pair<int, wire::Code> table[] = {
      {400, wire::Code::kInternal},         {401, wire::Code::kUnauthenticated},
      {403, wire::Code::kPermissionDenied}, {404, wire::Code::kUnimplemented},
      {429, wire::Code::kUnavailable},      {502, wire::Code::kUnavailable},
      {504, wire::Code::kUnavailable},      {500, wire::Code::kUnknown},
  };
  for (auto [http, code] : table) {
    CAPTURE(http);
    RawServer server([http = http](RawConnection& c, int32_t s) {
      c.SendHeaders(s, {{":status", std::to_string(http)}}, true);
    });
    auto o = BothUnary(server);
    CHECK(o.ours == kCode(code));
    CHECK(o.ours == o.theirs);
  }
}

TEST_CASE("a non-200 response that carries grpc-status reports that status") {
  RawServer server([](RawConnection& c, int32_t s) {
    Headers h = {{":status", "500"}, {"content-type", "application/grpc"}};
    for (auto& kv : Status(7, "denied")) h.push_back(kv);
    c.SendHeaders(s, h, true);
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kPermissionDenied));
  CHECK(o.our_message == "denied");
  CHECK(o.ours == o.theirs);
}

TEST_CASE("trailers without grpc-status are UNKNOWN") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, kOk, Framed(ReplyBytes("x")), 16384, Headers{{"x-other", "1"}});
  });
  wire::CallContext ctx;
  Reply reply;
  auto ours = wire::Channel(server.path()).Unary(kEcho, Request(), &reply, ctx);
  CHECK(ours.code == wire::Code::kUnknown);
  CHECK(wire::First(ctx.trailing_metadata(), "x-other") == "1");
  // No comparison: Debian's gRPC C++ 1.51 client aborts on this response (an assertion on an
  // empty absl::optional<grpc_status_code>). Its older code said UNKNOWN, "No status received".
}

TEST_CASE("a reply with the compressed flag set is INTERNAL, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, kOk, Framed(ReplyBytes("x"), 1), 16384, Status(0));
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kInternal));
  // gRPC C++ 1.51 reports OK here: without grpc-encoding it takes the message as it is. The
  // protocol says the flag means the grpc-encoding's compression, and none was negotiated.
}

TEST_CASE("a message split byte by byte across DATA frames arrives whole") {
  const std::string body = Framed(ReplyBytes("split across frames")) + Framed(ReplyBytes("2nd"));
  RawServer server([&](RawConnection& c, int32_t s) { c.Respond(s, kOk, body, 1, Status(0)); });
  wire::CallContext ctx;
  ctx.set_timeout(2s);
  auto reader = wire::Channel(server.path()).ServerStream(kStream, Request(), ctx);
  Reply r;
  REQUIRE(reader->Read(&r));
  CHECK(r.payload() == "split across frames");
  REQUIRE(reader->Read(&r));
  CHECK(r.payload() == "2nd");
  CHECK_FALSE(reader->Read(&r));
  CHECK(reader->Finish().ok());
}

TEST_CASE("a message that ends mid-way when the stream ends is INTERNAL") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, kOk, Framed(ReplyBytes("cut short")).substr(0, 8), 16384, Status(0));
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kInternal));
  // gRPC C++ 1.51 drops the partial message silently: UNIMPLEMENTED ("No message returned")
  // for a unary call, and a stream would just look shorter.
}

TEST_CASE("a unary reply that fails to parse is INTERNAL") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, kOk, Framed("\x0a\x7f truncated"), 16384, Status(0));
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kInternal));
  // gRPC C++ 1.51 reports UNIMPLEMENTED "No message returned for unary request" here (a TODO in
  // its client_unary_call.h); ours says what happened.
}

TEST_CASE("a unary call answered without a message is UNIMPLEMENTED, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) { c.Respond(s, kOk, "", 16384, Status(0)); });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kUnimplemented));
  CHECK(o.ours == o.theirs);
}

TEST_CASE("a GOAWAY with last-stream-id 0 before any reply is UNAVAILABLE") {
  RawServer server([](RawConnection& c, int32_t) {
    c.Goaway(0);
    c.CloseAfterWrite();
  });
  wire::CallContext ctx;
  ctx.set_timeout(2s);
  Reply reply;
  auto start = std::chrono::steady_clock::now();
  auto ours = wire::Channel(server.path()).Unary(kEcho, Request(), &reply, ctx);
  CHECK(ours.code == wire::Code::kUnavailable);
  CHECK(ours.message.find("GOAWAY") != std::string::npos);
  CHECK(Since(start) < 500ms);
  CHECK(server.connections() == 1);
  // gRPC C++ retries a call that a GOAWAY refused on a new connection (transparent retry), and
  // so keeps trying this server until its deadline; we report at once and leave retries to the
  // caller.
}

TEST_CASE("a GOAWAY that covers our stream lets the call finish") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Goaway(s);
    c.Respond(s, kOk, Framed(ReplyBytes("after goaway")), 16384, Status(0));
  });
  Reply reply;
  auto o = BothUnary(server, &reply);
  CHECK(o.ours == kCode(wire::Code::kOk));
  CHECK(reply.payload() == "after goaway");
  CHECK(o.ours == o.theirs);
}

TEST_CASE("a connection closed after the response headers is UNAVAILABLE, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.SendHeaders(s, kOk, false);
    c.CloseAfterWrite();
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kUnavailable));
  CHECK(o.our_message.find("closed the connection") != std::string::npos);
  CHECK(o.ours == o.theirs);
}

TEST_CASE(
    "a connection closed mid-stream after some messages is UNAVAILABLE, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, kOk, Framed(ReplyBytes("1")) + Framed(ReplyBytes("2")), 16384, std::nullopt,
              false);
    c.CloseAfterWrite();
  });
  wire::CallContext ctx;
  auto reader = wire::Channel(server.path()).ServerStream(kStream, Request(), ctx);
  int n = 0;
  for (Reply r; reader->Read(&r);) ++n;
  auto ours = reader->Finish();
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + 2s);
  auto greader = GrpcStub(server.path(), 1024)->Stream(&gctx, Request());
  int gn = 0;
  for (Reply r; greader->Read(&r);) ++gn;
  auto theirs = greader->Finish();
  CHECK(n == 2);
  CHECK(gn == 2);
  CHECK(ours.code == wire::Code::kUnavailable);
  CHECK(CodeOf(ours) == CodeOf(theirs));
}

TEST_CASE("RST_STREAM maps its HTTP/2 error code to a gRPC code, as for gRPC's client") {
  const std::pair<uint32_t, wire::Code> table[] = {
      {NGHTTP2_CANCEL, wire::Code::kCancelled},
      {NGHTTP2_INTERNAL_ERROR, wire::Code::kInternal},
      {NGHTTP2_NO_ERROR, wire::Code::kInternal},
      {NGHTTP2_ENHANCE_YOUR_CALM, wire::Code::kResourceExhausted},
  };
  for (auto [error, code] : table) {
    CAPTURE(error);
    RawServer server([error = error](RawConnection& c, int32_t s) {
      c.SendHeaders(s, kOk, false);
      c.Reset(s, error);
    });
    auto o = BothUnary(server);
    CHECK(o.ours == kCode(code));
    CHECK(o.ours == o.theirs);
  }
}

TEST_CASE("a grpc-message with malformed percent escapes arrives as sent, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.SendHeaders(s,
                  {{":status", "200"},
                   {"content-type", "application/grpc"},
                   {"grpc-status", "9"},
                   {"grpc-message", "50%zz done %4"}},
                  true);
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kFailedPrecondition));
  CHECK(o.our_message == "50%zz done %4");
  CHECK(o.ours == o.theirs);
  CHECK(o.our_message == o.their_message);
}

TEST_CASE("a grpc-status that is not a number is UNKNOWN, as for gRPC's client") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.SendHeaders(
        s, {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "x1"}}, true);
  });
  auto o = BothUnary(server);
  CHECK(o.ours == kCode(wire::Code::kUnknown));
  CHECK(o.ours == o.theirs);
}

TEST_CASE("binary metadata that is not base64 does not break the call") {
  RawServer server([](RawConnection& c, int32_t s) {
    c.Respond(s, {{":status", "200"}, {"content-type", "application/grpc"}, {"x-b-bin", "!!*"}},
              Framed(ReplyBytes("ok")), 16384, Headers{{"grpc-status", "0"}, {"y-bin", ""}});
  });
  wire::CallContext ctx;
  Reply reply;
  auto status = wire::Channel(server.path()).Unary(kEcho, Request(), &reply, ctx);
  CHECK(status.ok());
  CHECK(reply.payload() == "ok");
  CHECK(ctx.initial_metadata().count("x-b-bin") == 1);
  CHECK(ctx.trailing_metadata().count("y-bin") == 1);
}
