#include "ctl/grpc_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include "common/percent_encoding.h"

namespace bim::ctl::wire {

namespace {

using Clock = std::chrono::steady_clock;

// The client's flow-control windows (stream and connection). nghttp2 sends WINDOW_UPDATE as the
// data is consumed, so a message of any size flows; a large window only saves round trips.
constexpr int32_t kWindowBytes = 16 * 1024 * 1024;
// How much we read, and how much encoded output we keep queued, per turn of the poll loop. The
// read buffer stays under malloc's mmap threshold (128 KiB): a larger one is mapped and unmapped
// again by every call.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kWriteHighWater = 256 * 1024;
constexpr size_t kPrefixBytes = 5;  // compressed flag + big-endian length
constexpr char kUserAgent[] = "backend-im-ctl grpc-wire/1";

std::string ErrnoText(int err) { return std::strerror(err); }

// gRPC's grpc-timeout: at most 8 digits and a unit, rounded up so the server never sees less
// time than the client allows. Empty when the deadline is too far away to express.
std::string EncodeTimeout(Clock::duration remaining) {
  using namespace std::chrono;
  constexpr int64_t kMaxValue = 99'999'999;
  auto ceil_count = [&](auto unit) -> int64_t { return ceil<decltype(unit)>(remaining).count(); };
  if (int64_t n = ceil_count(nanoseconds(1)); n <= kMaxValue) return std::to_string(n) + "n";
  if (int64_t n = ceil_count(microseconds(1)); n <= kMaxValue) return std::to_string(n) + "u";
  if (int64_t n = ceil_count(milliseconds(1)); n <= kMaxValue) return std::to_string(n) + "m";
  if (int64_t n = ceil_count(seconds(1)); n <= kMaxValue) return std::to_string(n) + "S";
  if (int64_t n = ceil_count(minutes(1)); n <= kMaxValue) return std::to_string(n) + "M";
  if (int64_t n = ceil_count(hours(1)); n <= kMaxValue) return std::to_string(n) + "H";
  return "";
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Binary (-bin) metadata travels base64-encoded; gRPC sends it unpadded and accepts both.
std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64Alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kBase64Alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

// Undecodable input comes back as it was: metadata is the server's to get wrong, not a reason
// to fail the call.
std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kBase64Alphabet, c);
    if (c == '\0' || p == nullptr) return std::string(in);
    acc = (acc << 6) | static_cast<uint32_t>(p - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Header names gRPC accepts in metadata: lower-case letters, digits, '-', '_' and '.'.
bool ValidKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// Printable ASCII, as gRPC requires of a non-binary value.
bool ValidValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// The headers the transport uses itself; gRPC C++ keeps them out of the application's metadata.
bool IsTransportHeader(std::string_view key) {
  return key.empty() || key[0] == ':' || key == "content-type" || key == "grpc-status" ||
         key == "grpc-message" || key == "grpc-encoding" || key == "grpc-accept-encoding" ||
         key == "te";
}

// doc/http-grpc-status-mapping.md: for a response without grpc-status.
Code CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return Code::kInternal;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code::kUnavailable;
    default:
      return Code::kUnknown;
  }
}

// How gRPC reads an RST_STREAM's HTTP/2 error code (PROTOCOL-HTTP2.md, "Errors").
Code CodeForHttp2Error(uint32_t error_code) {
  switch (error_code) {
    case NGHTTP2_REFUSED_STREAM:
      return Code::kUnavailable;
    case NGHTTP2_CANCEL:
      return Code::kCancelled;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return Code::kResourceExhausted;
    case NGHTTP2_INADEQUATE_SECURITY:
      return Code::kPermissionDenied;
    default:
      return Code::kInternal;
  }
}

std::string_view View(const uint8_t* data, size_t len) {
  return {reinterpret_cast<const char*>(data), len};
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

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// One call on its own connection: connect, send the request, then read what the server sends,
// in a poll loop on this thread. Not thread-safe; the context's Cancel() reaches it through the
// eventfd that the context holds while the call runs.
class Call {
 public:
  Call(const std::string& socket_path, size_t max_message_bytes, CallContext& ctx)
      : socket_path_(socket_path), max_message_bytes_(max_message_bytes), ctx_(ctx) {}
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Connects, has verifier (when not empty) check the connection, and queues the request; the
  // call may already be over (see done_).
  void Start(std::string_view method, const google::protobuf::MessageLite& request,
             const Channel::Verifier& verifier);
  bool Read(google::protobuf::MessageLite* message);
  bool Ready() const;
  CallStatus Finish();
  // The rest of a unary call: exactly one message, then the status.
  CallStatus FinishUnary(google::protobuf::MessageLite* reply);
  // Ends the call with status; resets the stream when the server may still be working on it.
  void End(Code code, std::string message);

 private:
  enum class HeaderBlock { kNone, kResponse, kTrailers };

  // Runs the poll loop until the call is over, or (until_message) a message is queued.
  void Pump(bool until_message);
  // Resets the stream if it is still open, closes the connection and gives back the eventfd.
  void Teardown();
  // Ends the call from what the server sent, once it ended its side of the stream.
  void EndFromResponse();
  bool Connect();
  bool FlushOutput();
  bool ReadInput();
  std::optional<int> PollTimeoutMs() const;
  bool DeadlinePassed() const { return deadline_ && Clock::now() >= *deadline_; }
  void OnData(std::string_view data);
  void ReleaseCancelFd();

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source*, void* user_data);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  const std::string socket_path_;
  const size_t max_message_bytes_;
  CallContext& ctx_;
  std::optional<Clock::time_point> deadline_;

  int fd_ = -1;
  int cancel_fd_ = -1;  // our eventfd, also in ctx_.cancel_fd_ while the call runs
  nghttp2_session* session_ = nullptr;
  int32_t stream_id_ = -1;

  std::string body_;  // the length-prefixed request
  size_t body_sent_ = 0;
  std::string out_;  // encoded frames not yet written
  size_t out_sent_ = 0;
  // Not zero-filled (a vector would be): a small reply then touches one page of it, where
  // clearing all of it cost a quick ctl command 64 page faults and a 256 KiB memset.
  std::unique_ptr<uint8_t[]> in_;

  // The response as it arrives.
  HeaderBlock block_ = HeaderBlock::kNone;
  bool response_headers_seen_ = false;
  int http_status_ = 0;
  std::optional<int> grpc_status_;
  std::string grpc_message_;
  Metadata headers_;  // the block being received
  std::string prefix_;
  bool in_message_ = false;
  size_t message_size_ = 0;
  std::string message_;
  std::deque<std::string> messages_;
  std::optional<int32_t> goaway_last_stream_id_;
  uint32_t goaway_error_code_ = 0;

  bool in_callbacks_ = false;  // inside nghttp2_session_mem_recv()
  int write_error_ = 0;        // errno of a failed send; we still read what the agent sent
  bool done_ = false;
  CallStatus status_;
};

Call::~Call() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (fd_ >= 0) ::close(fd_);
  ReleaseCancelFd();
}

void Call::ReleaseCancelFd() {
  if (cancel_fd_ < 0) return;
  {
    std::lock_guard<std::mutex> lock(ctx_.mu_);
    ctx_.cancel_fd_ = -1;
  }
  ::close(cancel_fd_);
  cancel_fd_ = -1;
}

void Call::End(Code code, std::string message) {
  if (done_) return;
  done_ = true;
  status_ = CallStatus{code, std::move(message)};
  if (code == Code::kCancelled || code == Code::kDeadlineExceeded) messages_.clear();
  // nghttp2 must not be driven from inside its own callbacks: ReadInput() tears down after them.
  if (!in_callbacks_) Teardown();
}

void Call::Teardown() {
  // Tell the server to stop working on the call, as far as the socket takes it without waiting;
  // the connection closing next tells it too.
  if (session_ != nullptr && stream_id_ > 0 && fd_ >= 0 && write_error_ == 0 &&
      nghttp2_session_find_stream(session_, stream_id_) != nullptr &&
      nghttp2_session_get_stream_remote_close(session_, stream_id_) == 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
    FlushOutput();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ReleaseCancelFd();
}

void Call::Start(std::string_view method, const google::protobuf::MessageLite& request,
                 const Channel::Verifier& verifier) {
  ctx_.initial_metadata_.clear();
  ctx_.trailing_metadata_.clear();
  ctx_.connected_ = false;
  deadline_ = ctx_.deadline_;

  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd_ < 0) return End(Code::kInternal, "eventfd: " + ErrnoText(errno));
  {
    std::lock_guard<std::mutex> lock(ctx_.mu_);
    if (!ctx_.cancelled_) ctx_.cancel_fd_ = cancel_fd_;
  }
  if (ctx_.cancelled()) return End(Code::kCancelled, "the call was cancelled");
  if (DeadlinePassed()) return End(Code::kDeadlineExceeded, "deadline exceeded before the call");

  // The request, length-prefixed; a message must fit gRPC's 32-bit length.
  size_t size = request.ByteSizeLong();
  if (size > UINT32_MAX || size > static_cast<size_t>(INT_MAX)) {
    return End(Code::kResourceExhausted, "the request message is too large to send");
  }
  body_.resize(kPrefixBytes + size);
  body_[0] = 0;
  for (int i = 0; i < 4; ++i) body_[1 + i] = static_cast<char>((size >> (8 * (3 - i))) & 0xff);
  if (!request.SerializeToArray(body_.data() + kPrefixBytes, static_cast<int>(size))) {
    return End(Code::kInternal, "cannot serialize the request message");
  }

  // Request headers; keys go lower case, and nothing may break the header block.
  std::vector<std::pair<std::string, std::string>> extra;
  for (const auto& [key, value] : ctx_.request_metadata_) {
    std::string lower(key);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!ValidKey(lower) || IsTransportHeader(lower) || lower.rfind("grpc-", 0) == 0) {
      return End(Code::kInternal, "invalid request metadata key \"" + key + "\"");
    }
    if (EndsWith(lower, "-bin")) {
      extra.emplace_back(std::move(lower), Base64Encode(value));
    } else if (!ValidValue(value)) {
      return End(Code::kInternal, "invalid value for request metadata \"" + key + "\"");
    } else {
      extra.emplace_back(std::move(lower), value);
    }
  }
  std::string timeout;
  if (deadline_) timeout = EncodeTimeout(*deadline_ - Clock::now());

  if (!Connect()) return;
  // Nothing has been sent yet, and nothing will be unless the verifier accepts the peer.
  if (verifier) {
    CallStatus verdict = verifier(fd_);
    if (!verdict.ok()) return End(verdict.code, std::move(verdict.message));
  }
  ctx_.connected_ = true;

  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&option) != 0) {
    if (callbacks != nullptr) nghttp2_session_callbacks_del(callbacks);
    return End(Code::kInternal, "out of memory");
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks,
                                                          &Guard<&Call::OnBeginHeaders>::Run);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Guard<&Call::OnHeader>::Run);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Guard<&Call::OnFrameRecv>::Run);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                            &Guard<&Call::OnDataChunk>::Run);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
                                                         &Guard<&Call::OnStreamClose>::Run);
  int rv = nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_option_del(option);
  if (rv != 0) {
    session_ = nullptr;
    return End(Code::kInternal, std::string("nghttp2: ") + nghttp2_strerror(rv));
  }

  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindowBytes},
  };
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindowBytes);
  }
  if (rv != 0) return End(Code::kInternal, std::string("nghttp2: ") + nghttp2_strerror(rv));

  std::vector<nghttp2_nv> nva = {
      Nv(":method", "POST"),
      Nv(":scheme", "http"),
      Nv(":path", method),
      Nv(":authority", "localhost"),
      Nv("content-type", "application/grpc"),
      Nv("te", "trailers"),
      Nv("user-agent", kUserAgent),
  };
  if (!timeout.empty()) nva.push_back(Nv("grpc-timeout", timeout));
  for (const auto& [key, value] : extra) nva.push_back(Nv(key, value));

  nghttp2_data_provider provider{};
  provider.read_callback = &Call::ReadBody;
  stream_id_ = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, this);
  if (stream_id_ < 0) {
    return End(Code::kInternal,
               std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(stream_id_)));
  }
}

bool Call::Connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.empty() || socket_path_.size() >= sizeof addr.sun_path) {
    End(Code::kUnavailable, "invalid socket path \"" + socket_path_ + "\"");
    return false;
  }
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    End(Code::kUnavailable, "socket: " + ErrnoText(errno));
    return false;
  }
  // A Unix socket connects at once, or says EAGAIN while the listener's backlog is full; then
  // we try again (there is nothing to wait for) until the deadline or a cancellation.
  std::chrono::milliseconds backoff(1);
  while (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EINPROGRESS) {
      End(Code::kUnavailable, "cannot connect to " + socket_path_ + ": " + ErrnoText(err));
      return false;
    }
    if (err == EINPROGRESS) break;  // not for AF_UNIX today; poll sees the result below
    pollfd pfd[2] = {{cancel_fd_, POLLIN, 0}, {ctx_.interrupt_fd_, POLLIN, 0}};
    int timeout = static_cast<int>(backoff.count());
    if (auto t = PollTimeoutMs()) timeout = std::min(timeout, *t);
    ::poll(pfd, ctx_.interrupt_fd_ >= 0 ? 2 : 1, timeout);
    if (pfd[1].revents != 0) ctx_.Cancel();
    if (ctx_.cancelled()) {
      End(Code::kCancelled, "the call was cancelled");
      return false;
    }
    if (DeadlinePassed()) {
      End(Code::kDeadlineExceeded, "deadline exceeded while connecting to " + socket_path_);
      return false;
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
  return true;
}

std::optional<int> Call::PollTimeoutMs() const {
  if (!deadline_) return std::nullopt;
  auto now = Clock::now();
  if (now >= *deadline_) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

ssize_t Call::ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                       nghttp2_data_source*, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  size_t n = std::min(length, call->body_.size() - call->body_sent_);
  std::memcpy(buf, call->body_.data() + call->body_sent_, n);
  call->body_sent_ += n;
  if (call->body_sent_ == call->body_.size()) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    std::string().swap(call->body_);
    call->body_sent_ = 0;
  }
  return static_cast<ssize_t>(n);
}

int Call::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != call->stream_id_) return 0;
  call->headers_.clear();
  call->block_ = call->response_headers_seen_ ? HeaderBlock::kTrailers : HeaderBlock::kResponse;
  return 0;
}

int Call::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                   size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                   void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  if (frame->hd.stream_id != call->stream_id_ || call->block_ == HeaderBlock::kNone) return 0;
  std::string_view key = View(name, namelen);
  std::string_view val = View(value, valuelen);
  if (key == ":status") {
    int status = 0;
    for (char c : val) {
      status = (c >= '0' && c <= '9' && status < 1000) ? status * 10 + (c - '0') : 1000;
    }
    call->http_status_ = status;
  } else if (key == "grpc-status") {
    int code = 0;
    bool valid = !val.empty() && val.size() <= 9;
    for (char c : val) {
      if (c < '0' || c > '9') valid = false;
      code = valid ? code * 10 + (c - '0') : 0;
    }
    // gRPC reads a status it cannot parse as UNKNOWN.
    call->grpc_status_ = valid ? code : static_cast<int>(Code::kUnknown);
  } else if (key == "grpc-message") {
    // Percent-encoded (PROTOCOL-HTTP2.md); a malformed escape stays as it came.
    call->grpc_message_ = PercentDecode(val);
  } else if (!IsTransportHeader(key)) {
    std::string v = EndsWith(key, "-bin") ? Base64Decode(val) : std::string(val);
    call->headers_.emplace(std::string(key), std::move(v));
  }
  return 0;
}

int Call::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    call->goaway_last_stream_id_ = frame->goaway.last_stream_id;
    call->goaway_error_code_ = frame->goaway.error_code;
    return 0;
  }
  if (call->done_ || frame->hd.stream_id != call->stream_id_) return 0;
  bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && call->block_ != HeaderBlock::kNone) {
    HeaderBlock block = call->block_;
    call->block_ = HeaderBlock::kNone;
    if (block == HeaderBlock::kResponse) {
      if (call->http_status_ >= 100 && call->http_status_ < 200) return 0;  // interim: ignored
      call->response_headers_seen_ = true;
      if (end_stream) {
        // Trailers-only: the one block is the trailers.
        call->ctx_.trailing_metadata_ = std::move(call->headers_);
      } else {
        call->ctx_.initial_metadata_ = std::move(call->headers_);
        // Like gRPC, a non-200 response without a grpc-status fails as soon as it is seen.
        if (call->http_status_ != 200 && !call->grpc_status_) {
          call->End(CodeForHttpStatus(call->http_status_),
                    "HTTP status " + std::to_string(call->http_status_) + " from the agent");
          return 0;
        }
      }
    } else {
      call->ctx_.trailing_metadata_ = std::move(call->headers_);
    }
    call->headers_.clear();
  }
  if (end_stream && (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
    call->EndFromResponse();
  }
  return 0;
}

void Call::EndFromResponse() {
  if (done_) return;
  if (http_status_ != 200 && !grpc_status_) {
    return End(CodeForHttpStatus(http_status_),
               "HTTP status " + std::to_string(http_status_) + " from the agent");
  }
  if (in_message_ || !prefix_.empty()) {
    return End(Code::kInternal, "the stream ended inside a message");
  }
  if (!grpc_status_) return End(Code::kUnknown, "the response carried no grpc-status");
  int code = *grpc_status_;
  if (code < 0 || code > static_cast<int>(Code::kUnauthenticated))
    code = static_cast<int>(Code::kUnknown);
  End(static_cast<Code>(code), grpc_message_);
}

int Call::OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                      void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  if (stream_id == call->stream_id_ && !call->done_) call->OnData(View(data, len));
  return 0;
}

void Call::OnData(std::string_view data) {
  while (!data.empty() && !done_) {
    if (!in_message_) {
      size_t take = std::min(kPrefixBytes - prefix_.size(), data.size());
      prefix_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (prefix_.size() < kPrefixBytes) return;
      auto byte = [&](int i) {
        return static_cast<uint32_t>(static_cast<unsigned char>(prefix_[i]));
      };
      uint8_t flag = static_cast<uint8_t>(byte(0));
      message_size_ = (byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4);
      prefix_.clear();
      if (flag != 0) {
        return End(Code::kInternal,
                   "the agent sent a compressed message, and no compression was negotiated");
      }
      if (message_size_ > max_message_bytes_) {
        return End(Code::kResourceExhausted, "received a message larger than the limit (" +
                                                 std::to_string(message_size_) + " vs. " +
                                                 std::to_string(max_message_bytes_) + " bytes)");
      }
      in_message_ = true;
      message_.clear();
      message_.reserve(std::min<size_t>(message_size_, 16 * 1024 * 1024));
    }
    size_t take = std::min(message_size_ - message_.size(), data.size());
    message_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (message_.size() == message_size_) {
      messages_.push_back(std::move(message_));
      message_ = std::string();
      in_message_ = false;
    }
  }
}

int Call::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  if (stream_id != call->stream_id_ || call->done_) return 0;
  // A stream the agent ended normally ended the call in OnFrameRecv; this one was cut short.
  if (call->goaway_last_stream_id_ && *call->goaway_last_stream_id_ < stream_id) {
    call->End(Code::kUnavailable, "the agent refused the call (GOAWAY)");
  } else {
    call->End(CodeForHttp2Error(error_code), "the agent reset the stream (HTTP/2 error " +
                                                 std::to_string(error_code) + ", " +
                                                 nghttp2_http2_strerror(error_code) + ")");
  }
  return 0;
}

bool Call::FlushOutput() {
  while (fd_ >= 0 && write_error_ == 0) {
    if (out_sent_ == out_.size()) {
      out_.clear();
      out_sent_ = 0;
    }
    while (out_.size() - out_sent_ < kWriteHighWater) {
      const uint8_t* chunk = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &chunk);
      if (n < 0) {
        End(Code::kInternal, std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(n)));
        return false;
      }
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
    }
    if (out_sent_ == out_.size()) return true;
    ssize_t n =
        ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      // The agent may have answered and closed before taking the whole request: what it sent
      // is still to be read, and decides the call.
      write_error_ = errno;
      out_.clear();
      out_sent_ = 0;
      return true;
    }
    out_sent_ += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

bool Call::ReadInput() {
  if (!in_) in_ = std::make_unique_for_overwrite<uint8_t[]>(kReadChunk);
  ssize_t n = ::recv(fd_, in_.get(), kReadChunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  if (n <= 0) {
    // A reset is a close too: the agent went away with some of our frames unread.
    std::string what = "the agent closed the connection";
    if (goaway_last_stream_id_) what += " after GOAWAY";
    what += " before the call ended";
    if (n < 0) what += " (" + ErrnoText(errno) + ")";
    if (write_error_ != 0) what += " (sending: " + ErrnoText(write_error_) + ")";
    End(Code::kUnavailable, what);
    return false;
  }
  in_callbacks_ = true;
  ssize_t used = nghttp2_session_mem_recv(session_, in_.get(), static_cast<size_t>(n));
  in_callbacks_ = false;
  if (used < 0) {
    End(Code::kInternal,
        std::string("HTTP/2 error from the agent: ") + nghttp2_strerror(static_cast<int>(used)));
  }
  if (done_) {
    Teardown();
    return false;
  }
  return true;
}

void Call::Pump(bool until_message) {
  while (!done_) {
    if (ctx_.cancelled()) return End(Code::kCancelled, "the call was cancelled");
    if (DeadlinePassed()) return End(Code::kDeadlineExceeded, "deadline exceeded");
    if (until_message && !messages_.empty()) return;
    if (!FlushOutput()) return;
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      return End(Code::kUnavailable, "the HTTP/2 session with the agent ended");
    }
    pollfd fds[3] = {{fd_, POLLIN, 0}, {cancel_fd_, POLLIN, 0}, {ctx_.interrupt_fd_, POLLIN, 0}};
    if (out_sent_ < out_.size()) fds[0].events |= POLLOUT;
    int rc = ::poll(fds, ctx_.interrupt_fd_ >= 0 ? 3 : 2, PollTimeoutMs().value_or(-1));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return End(Code::kInternal, "poll: " + ErrnoText(errno));
    }
    if (fds[2].revents != 0) {
      ctx_.Cancel();
      continue;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!ReadInput()) return;
    }
  }
}

bool Call::Ready() const { return done_ || !messages_.empty(); }

bool Call::Read(google::protobuf::MessageLite* message) {
  Pump(true);  // also notices a cancellation or the deadline while messages are queued
  if (messages_.empty()) return false;
  std::string bytes = std::move(messages_.front());
  messages_.pop_front();
  if (!message->ParseFromString(bytes)) {
    messages_.clear();
    if (!done_) {
      End(Code::kInternal, "cannot parse a message from the agent");
    } else if (status_.ok()) {
      status_ = CallStatus{Code::kInternal, "cannot parse a message from the agent"};
    }
    return false;
  }
  return true;
}

CallStatus Call::Finish() {
  while (!done_) {
    messages_.clear();
    Pump(true);
  }
  messages_.clear();
  return status_;
}

CallStatus Call::FinishUnary(google::protobuf::MessageLite* reply) {
  if (!done_) Pump(false);
  if (!status_.ok()) return status_;
  if (messages_.empty()) return {Code::kUnimplemented, "no message returned for a unary call"};
  if (messages_.size() > 1) {
    return {Code::kInternal, "more than one message returned for a unary call"};
  }
  if (!reply->ParseFromString(messages_.front())) {
    return {Code::kInternal, "cannot parse the reply message from the agent"};
  }
  return status_;
}

StreamReader::StreamReader(std::unique_ptr<Call> call) : call_(std::move(call)) {}
StreamReader::~StreamReader() = default;

bool StreamReader::Read(google::protobuf::MessageLite* message) {
  try {
    return call_->Read(message);
  } catch (...) {
    return false;
  }
}

bool StreamReader::Ready() const { return call_->Ready(); }

CallStatus StreamReader::Finish() {
  try {
    return call_->Finish();
  } catch (const std::exception& e) {
    return {Code::kInternal, e.what()};
  }
}

Channel::Channel(std::string socket_path, size_t max_message_bytes)
    : socket_path_(std::move(socket_path)), max_message_bytes_(max_message_bytes) {}

CallStatus Channel::Unary(std::string_view method, const google::protobuf::MessageLite& request,
                          google::protobuf::MessageLite* reply, CallContext& ctx) const {
  try {
    Call call(socket_path_, max_message_bytes_, ctx);
    call.Start(method, request, verifier_);
    return call.FinishUnary(reply);
  } catch (const std::exception& e) {
    return {Code::kInternal, e.what()};
  }
}

std::unique_ptr<StreamReader> Channel::ServerStream(std::string_view method,
                                                    const google::protobuf::MessageLite& request,
                                                    CallContext& ctx) const {
  auto call = std::make_unique<Call>(socket_path_, max_message_bytes_, ctx);
  try {
    call->Start(method, request, verifier_);
  } catch (const std::exception& e) {
    call->End(Code::kInternal, e.what());
  }
  return std::unique_ptr<StreamReader>(new StreamReader(std::move(call)));
}

}  // namespace bim::ctl::wire
