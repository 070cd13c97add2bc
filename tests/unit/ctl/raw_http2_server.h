#pragma once
// A raw HTTP/2 server on a Unix socket, written with nghttp2's server session, for tests of the
// ctl's wire client (ctl/grpc_wire.h, ctl/wire/) that need what gRPC's own server never sends:
// HTTP errors, odd framing, early GOAWAY, resets and dropped connections. A script answers each
// request once it has fully arrived. Test code: failures are doctest's REQUIREs.

#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/harness.h"

namespace bim::test::wire {

using Headers = std::vector<std::pair<std::string, std::string>>;

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

  // What the client sent on a stream: its header fields in order, and its DATA. Complete when
  // the script runs.
  const Headers& request_headers(int32_t stream) { return requests_[stream].headers; }
  const std::string& request_body(int32_t stream) { return requests_[stream].body; }

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
  struct Request {
    Headers headers;
    std::string body;
  };
  std::map<int32_t, Request> requests_;
};

// Listens on a Unix socket and runs the script for each request once it has fully arrived;
// every connection gets its own thread. Stops and joins them when destroyed.
class RawServer {
 public:
  using Script = std::function<void(RawConnection&, int32_t stream)>;
  explicit RawServer(Script script) : path_(dir_ / "raw.sock"), script_(std::move(script)) {
    listen_fd_ = BindUnixSocket(path_);
    REQUIRE(listen_fd_ >= 0);
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

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    auto* conn = static_cast<RawConnection*>(user_data);
    conn->requests_[frame->hd.stream_id].headers.emplace_back(
        std::string(reinterpret_cast<const char*>(name), namelen),
        std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t len,
                         void* user_data) {
    auto* conn = static_cast<RawConnection*>(user_data);
    conn->requests_[stream].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
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
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &RawServer::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &RawServer::OnDataChunk);
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

}  // namespace bim::test::wire
