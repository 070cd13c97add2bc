#include "ctl/wire/http2_connection.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ctl/wire/text.h"

namespace bim::ctl::wire {
namespace {

using Clock = std::chrono::steady_clock;

// The client's flow-control windows (stream and connection). nghttp2 sends WINDOW_UPDATE as the
// data is consumed, so a message of any size flows; a large window only saves round trips.
constexpr int32_t kWindowBytes = 16 * 1024 * 1024;
// How much we read, and how much encoded output we keep queued, per turn of the loop. The read
// buffer stays under malloc's mmap threshold (128 KiB): a larger one is mapped and unmapped
// again by every call.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kWriteHighWater = 256 * 1024;

std::string NghttpError(std::string_view what, int rv) { return Cat({what, nghttp2_strerror(rv)}); }

// poll's timeout for the deadline: -1 (none), or the milliseconds left, rounded up.
int PollTimeoutMs(Http2Connection::Deadline deadline) {
  if (!deadline) return -1;
  auto now = Clock::now();
  if (now >= *deadline) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

std::string_view View(const uint8_t* data, size_t len) {
  return {reinterpret_cast<const char*>(data), len};
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// nghttp2 is C: an exception (bad_alloc) must not unwind through it. Guard<&F>::Run is F, turning
// an exception into a callback failure, which fails the session and so the call.
template <auto Fn>
struct Guard;
template <typename... Args, int (*Fn)(Args...)>
struct Guard<Fn> {
  static int Run(Args... args) noexcept {
    try {
      return Fn(args...);
    } catch (...) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }
};

}  // namespace

// nghttp2's callbacks: each passes what concerns the connection's one stream on to it.
struct Http2Callbacks {
  static Http2Connection& Of(void* user_data) { return *static_cast<Http2Connection*>(user_data); }
  static bool Ours(const Http2Connection& c, const nghttp2_frame* frame) {
    return frame->hd.type == NGHTTP2_HEADERS && frame->hd.stream_id == c.stream_id_;
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
    Http2Connection& c = Of(user_data);
    size_t n = std::min(length, c.body_.size() - c.body_sent_);
    std::memcpy(buf, c.body_.data() + c.body_sent_, n);
    c.body_sent_ += n;
    if (c.body_sent_ == c.body_.size()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      std::string().swap(c.body_);
      c.body_sent_ = 0;
    }
    return static_cast<ssize_t>(n);
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Connection& c = Of(user_data);
    if (Ours(c, frame)) c.stream_.OnHeadersBegin();
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    Http2Connection& c = Of(user_data);
    if (Ours(c, frame)) c.stream_.OnHeader(View(name, namelen), View(value, valuelen));
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Connection& c = Of(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_last_stream_id_ = frame->goaway.last_stream_id;
      return 0;
    }
    if (frame->hd.stream_id != c.stream_id_) return 0;
    bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      c.stream_.OnHeadersEnd(end_stream);
    } else if (frame->hd.type == NGHTTP2_DATA && end_stream) {
      c.stream_.OnDataEndStream();
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data) {
    Http2Connection& c = Of(user_data);
    if (stream_id == c.stream_id_) c.stream_.OnData(View(data, len));
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    Http2Connection& c = Of(user_data);
    if (stream_id != c.stream_id_) return 0;
    StreamClose close;
    close.error_code = error_code;
    close.error_name = nghttp2_http2_strerror(error_code);
    close.refused = c.goaway_last_stream_id_ && *c.goaway_last_stream_id_ < stream_id;
    c.stream_.OnStreamClose(close);
    return 0;
  }
};

Http2Connection::~Http2Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (fd_ >= 0) ::close(fd_);
}

CallStatus Http2Connection::Connect(const std::string& path, Deadline deadline,
                                    std::array<int, 2> wake_fds) {
  wake_fds_ = wake_fds;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return {Code::kUnavailable, Cat({"invalid socket path \"", path, "\""})};
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return {Code::kUnavailable, Cat({"socket: ", std::strerror(errno)})};
  // A Unix socket connects at once, or says EAGAIN while the listener's backlog is full; then
  // we try again (there is nothing to wait for) until the deadline or a wake descriptor.
  std::chrono::milliseconds backoff(1);
  while (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EINPROGRESS) {
      return {Code::kUnavailable, Cat({"cannot connect to ", path, ": ", std::strerror(err)})};
    }
    if (err == EINPROGRESS) break;  // not for AF_UNIX today; poll sees the result later
    pollfd fds[2] = {{wake_fds_[0], POLLIN, 0}, {wake_fds_[1], POLLIN, 0}};
    int timeout = static_cast<int>(backoff.count());
    if (int left = PollTimeoutMs(deadline); left >= 0) timeout = std::min(timeout, left);
    ::poll(fds, 2, timeout);  // a negative fd is skipped
    if (fds[0].revents != 0 || fds[1].revents != 0) {
      return {Code::kCancelled, "the call was cancelled"};
    }
    if (deadline && Clock::now() >= *deadline) {
      return {Code::kDeadlineExceeded, "deadline exceeded while connecting to " + path};
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
  return {};
}

CallStatus Http2Connection::SubmitRequest(std::span<const HeaderField> headers, std::string body) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&option) != 0) {
    if (callbacks != nullptr) nghttp2_session_callbacks_del(callbacks);
    return {Code::kInternal, "out of memory"};
  }
  using C = Http2Callbacks;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks,
                                                          &Guard<&C::OnBeginHeaders>::Run);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Guard<&C::OnHeader>::Run);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Guard<&C::OnFrameRecv>::Run);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                            &Guard<&C::OnDataChunk>::Run);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Guard<&C::OnStreamClose>::Run);
  int rv = nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_option_del(option);
  if (rv != 0) {
    session_ = nullptr;
    return {Code::kInternal, NghttpError("nghttp2: ", rv)};
  }

  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindowBytes},
  };
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindowBytes);
  }
  if (rv != 0) return {Code::kInternal, NghttpError("nghttp2: ", rv)};

  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size());
  for (const HeaderField& field : headers) nva.push_back(Nv(field.name, field.value));
  body_ = std::move(body);
  body_sent_ = 0;
  nghttp2_data_provider provider{};
  provider.read_callback = &Http2Callbacks::ReadBody;
  stream_id_ = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, this);
  if (stream_id_ < 0) return {Code::kInternal, NghttpError("nghttp2: ", stream_id_)};
  return {};
}

CallStatus Http2Connection::Flush() {
  while (fd_ >= 0 && write_error_ == 0) {
    if (out_sent_ == out_.size()) {
      out_.clear();
      out_sent_ = 0;
    }
    while (out_.size() - out_sent_ < kWriteHighWater) {
      const uint8_t* chunk = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &chunk);
      if (n < 0) return {Code::kInternal, NghttpError("nghttp2: ", static_cast<int>(n))};
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
    }
    if (out_sent_ == out_.size()) return {};
    ssize_t n =
        ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      write_error_ = errno;
      out_.clear();
      out_sent_ = 0;
      return {};
    }
    out_sent_ += static_cast<size_t>(n);
  }
  return {};
}

CallStatus Http2Connection::ReadInput() {
  if (!in_) in_ = std::make_unique_for_overwrite<uint8_t[]>(kReadChunk);
  ssize_t n = ::recv(fd_, in_.get(), kReadChunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return {};
  if (n <= 0) {
    // A reset is a close too: the agent went away with some of our frames unread.
    std::string what = "the agent closed the connection";
    if (goaway_last_stream_id_) what += " after GOAWAY";
    what += " before the call ended";
    if (n < 0) what += Cat({" (", std::strerror(errno), ")"});
    if (write_error_ != 0) what += Cat({" (sending: ", std::strerror(write_error_), ")"});
    return {Code::kUnavailable, std::move(what)};
  }
  ssize_t used = nghttp2_session_mem_recv(session_, in_.get(), static_cast<size_t>(n));
  if (used < 0) {
    return {Code::kInternal, NghttpError("HTTP/2 error from the agent: ", static_cast<int>(used))};
  }
  return {};
}

CallStatus Http2Connection::Turn(Deadline deadline) {
  if (CallStatus flushed = Flush(); !flushed.ok()) return flushed;
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    return {Code::kUnavailable, "the HTTP/2 session with the agent ended"};
  }
  pollfd fds[3] = {{fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}, {wake_fds_[1], POLLIN, 0}};
  if (out_sent_ < out_.size()) fds[0].events |= POLLOUT;
  int rc = ::poll(fds, 3, PollTimeoutMs(deadline));  // a negative fd is skipped
  if (rc < 0) {
    if (errno == EINTR) return {};
    return {Code::kInternal, Cat({"poll: ", std::strerror(errno)})};
  }
  if (fds[1].revents != 0 || fds[2].revents != 0)
    return {Code::kCancelled, "the call was cancelled"};
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) return ReadInput();
  return {};
}

bool Http2Connection::StreamOpenAtPeer() const {
  return session_ != nullptr && stream_id_ > 0 &&
         nghttp2_session_find_stream(session_, stream_id_) != nullptr &&
         nghttp2_session_get_stream_remote_close(session_, stream_id_) == 0;
}

void Http2Connection::Close() {
  if (fd_ < 0) return;
  // Tell the peer to stop working on the stream, as far as the socket takes it without
  // waiting; the connection closing next tells it too.
  if (write_error_ == 0 && StreamOpenAtPeer()) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
    Flush();
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace bim::ctl::wire
