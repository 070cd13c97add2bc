// The ctl's gRPC wire client (ctl/grpc_wire.h) against gRPC C++'s own server, on a Unix socket
// in a temporary folder. Where a result is subtle, gRPC C++'s own client makes the same call to
// the same server and the two must agree: the reference is code nobody here wrote.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/harness.h"
#include "tests/unit/ctl/grpc_wire_test_util.h"

using namespace std::chrono_literals;
using bim::test::TempDir;
using namespace bim::test::wire;

namespace {

constexpr int kServerLimit = 300 * 1024 * 1024;

// Does what each request asks (wire_test.proto), and lets the test wait for what it saw.
class TestService final : public bim::wiretest::WireTest::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const Request* req, Reply* reply) override {
    Observe(ctx);
    if (!Wait(ctx, *req)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    if (req->fail_code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(req->fail_code()), req->fail_message());
    }
    reply->set_payload(req->reply_size() > 0 ? std::string(req->reply_size(), 'r')
                                             : req->payload());
    return grpc::Status::OK;
  }

  grpc::Status Stream(grpc::ServerContext* ctx, const Request* req,
                      grpc::ServerWriter<Reply>* writer) override {
    Observe(ctx);
    for (int i = 1; i <= req->count(); ++i) {
      Reply reply;
      reply.set_index(i);
      if (i == req->big_index()) {
        reply.set_payload(std::string(req->big_size(), 'b'));
      } else {
        reply.set_payload(req->reply_size() > 0 ? std::string(req->reply_size(), 'r')
                                                : req->payload());
      }
      if (!writer->Write(reply)) return grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
    }
    if (!Wait(ctx, *req)) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    if (req->fail_code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(req->fail_code()), req->fail_message());
    }
    return grpc::Status::OK;
  }

  // Waits until pred() holds for what the handlers saw, for at most timeout.
  template <typename Pred>
  bool WaitUntil(Pred pred, std::chrono::milliseconds timeout = 2s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  // Guarded by mu_; read them inside WaitUntil's predicate or after it.
  int calls = 0;
  int waiting = 0;                            // handlers waiting for a cancellation or a release
  int cancellations = 0;                      // cancellations the handlers saw
  bim::ctl::wire::Metadata request_metadata;  // the last call's
  std::optional<std::chrono::system_clock::time_point> deadline;  // the last call's

 private:
  void Observe(grpc::ServerContext* ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls;
    request_metadata = ToMetadata(ctx->client_metadata());
    deadline.reset();
    if (ctx->deadline() != std::chrono::system_clock::time_point::max()) deadline = ctx->deadline();
    // x- keys come back as initial and trailing metadata.
    for (const auto& [key, value] : request_metadata) {
      if (key.rfind("x-", 0) != 0) continue;
      ctx->AddInitialMetadata("initial-" + key, value);
      ctx->AddTrailingMetadata("trailing-" + key, value);
    }
    cv_.notify_all();
  }

  // False when the call was cancelled while the handler waited.
  bool Wait(grpc::ServerContext* ctx, const Request& req) {
    if (!req.wait_for_cancel() && !req.wait_for_release()) return true;
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting;
    cv_.notify_all();
    // The sync API has no event for a cancellation: look every millisecond.
    while (!ctx->IsCancelled() && !(req.wait_for_release() && released_)) {
      cv_.wait_for(lock, 1ms);
    }
    --waiting;
    bool cancelled = ctx->IsCancelled();
    if (cancelled) ++cancellations;
    cv_.notify_all();
    return !cancelled;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

class TestServer {
 public:
  TestServer() : socket_path_(dir_ / "agent.sock") {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(kServerLimit);
    builder.SetMaxSendMessageSize(kServerLimit);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~TestServer() { Shutdown(std::chrono::system_clock::now()); }
  void Shutdown(std::chrono::system_clock::time_point deadline) {
    if (server_) server_->Shutdown(deadline);
  }
  const std::string& path() const { return socket_path_; }
  TestService& service() { return service_; }

 private:
  TempDir dir_;
  std::string socket_path_;
  TestService service_;
  std::unique_ptr<grpc::Server> server_;
};

Request EchoOf(std::string payload) {
  Request req;
  req.set_payload(std::move(payload));
  return req;
}

// The reply payload size whose whole serialized Reply is exactly `bytes`.
int64_t PayloadForReplyOf(size_t bytes) {
  for (int64_t n = static_cast<int64_t>(bytes) - 1; n > 0; --n) {
    Reply r;
    r.set_payload(std::string(n, 'r'));
    if (r.ByteSizeLong() == bytes) return n;
    if (r.ByteSizeLong() < bytes) break;
  }
  FAIL("no payload gives a reply of " << bytes << " bytes");
  return 0;
}

// A test server, our channel to it, and gRPC's own client of it with its default 4 MiB limit.
struct ServerAndBothClients {
  TestServer server;
  wire::Channel channel{server.path()};
  std::unique_ptr<bim::wiretest::WireTest::Stub> stub = GrpcStub(server.path(), 4 * 1024 * 1024);
};

}  // namespace

TEST_CASE("a unary call echoes its request through gRPC's own server") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  ctx.set_timeout(5s);
  Reply reply;
  auto status = channel.Unary(kEcho, EchoOf("hello"), &reply, ctx);
  CHECK(status.ok());
  CHECK(status.message == "");
  CHECK(reply.payload() == "hello");
  CHECK(ctx.initial_metadata().empty());
  CHECK(ctx.trailing_metadata().empty());
}

TEST_CASE("empty request and reply messages are messages, not missing ones") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  Reply reply;
  reply.set_payload("stale");
  auto status = channel.Unary(kEcho, Request(), &reply, ctx);
  CHECK(status.ok());
  CHECK(reply.payload().empty());

  Request req;
  req.set_count(3);  // three empty replies
  wire::CallContext sctx;
  auto stream = channel.ServerStream(kStream, req, sctx);
  int n = 0;
  for (Reply r; stream->Read(&r);) CHECK(r.index() == ++n);
  CHECK(n == 3);
  CHECK(stream->Finish().ok());
}

// Larger than our 16 MiB windows, so WINDOW_UPDATEs must keep it flowing. The slowest test here
// (about 0.5 s of it is gRPC's server, the same with gRPC's own client).
TEST_CASE("a 20 MiB message goes each way") {
  TestServer server;
  wire::Channel channel(server.path(), 64 * 1024 * 1024);
  std::string big(20 * 1024 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7919 >> 5);
  wire::CallContext ctx;
  ctx.set_timeout(20s);
  Reply reply;
  auto status = channel.Unary(kEcho, EchoOf(big), &reply, ctx);
  REQUIRE(status.ok());
  CHECK(reply.payload() == big);
}

TEST_CASE(
    "a reply of exactly max_message_bytes passes and one byte more is RESOURCE_EXHAUSTED, as for "
    "gRPC's client") {
  TestServer server;
  constexpr size_t kLimit = 5 * 1024 * 1024 + 3;  // above gRPC's default 4 MiB
  wire::Channel channel(server.path(), kLimit);
  auto stub = GrpcStub(server.path(), static_cast<int>(kLimit));
  for (size_t size : {kLimit, kLimit + 1}) {
    CAPTURE(size);
    Request req;
    req.set_reply_size(PayloadForReplyOf(size));
    wire::CallContext ctx;
    ctx.set_timeout(10s);
    Reply reply;
    auto ours = channel.Unary(kEcho, req, &reply, ctx);
    grpc::ClientContext gctx;
    gctx.set_deadline(std::chrono::system_clock::now() + 10s);
    Reply greply;
    auto theirs = stub->Echo(&gctx, req, &greply);
    CHECK(CodeOf(ours) == CodeOf(theirs));
    if (size == kLimit) {
      CHECK(ours.ok());
      CHECK(reply.ByteSizeLong() == kLimit);
    } else {
      CHECK(ours.code == wire::Code::kResourceExhausted);
      CHECK(ours.message.find("larger than") != std::string::npos);
    }
  }
}

TEST_CASE("a server stream delivers thousands of messages and a big one, in order") {
  TestServer server;
  wire::Channel channel(server.path(), 16 * 1024 * 1024);
  Request req;
  req.set_payload("small");
  req.set_count(3000);
  req.set_big_index(1500);
  req.set_big_size(9 * 1024 * 1024);
  wire::CallContext ctx;
  ctx.set_timeout(20s);
  auto stream = channel.ServerStream(kStream, req, ctx);
  int n = 0;
  bool payloads_ok = true;
  for (Reply r; stream->Read(&r);) {
    ++n;
    if (r.index() != n) break;
    size_t want = n == 1500 ? 9 * 1024 * 1024 : 5;
    payloads_ok = payloads_ok && r.payload().size() == want;
  }
  CHECK(n == 3000);
  CHECK(payloads_ok);
  CHECK(stream->Finish().ok());
}

TEST_CASE_FIXTURE(
    ServerAndBothClients,
    "request metadata reaches the server, and its initial and trailing metadata reach the client "
    "as gRPC's client sees them") {
  const std::string binary("\0\x01\xfe\xff bin", 8);

  wire::CallContext ctx;
  ctx.AddMetadata("x-trace", "abc 123");
  ctx.AddMetadata("X-Upper", "lowered");
  ctx.AddMetadata("x-data-bin", binary);
  Reply reply;
  REQUIRE(channel.Unary(kEcho, EchoOf("m"), &reply, ctx).ok());
  bim::ctl::wire::Metadata seen;
  REQUIRE(server.service().WaitUntil([&] {
    seen = server.service().request_metadata;
    return true;
  }));
  CHECK(wire::First(seen, "x-trace") == "abc 123");
  CHECK(wire::First(seen, "x-upper") == "lowered");
  CHECK(wire::First(seen, "x-data-bin") == binary);
  CHECK(wire::First(seen, "user-agent").find("backend-im") != std::string::npos);
  CHECK(wire::First(ctx.initial_metadata(), "initial-x-trace") == "abc 123");
  CHECK(wire::First(ctx.initial_metadata(), "initial-x-data-bin") == binary);
  CHECK(wire::First(ctx.trailing_metadata(), "trailing-x-upper") == "lowered");
  CHECK(wire::First(ctx.trailing_metadata(), "trailing-x-data-bin") == binary);

  grpc::ClientContext gctx;
  gctx.AddMetadata("x-trace", "abc 123");
  gctx.AddMetadata("x-upper", "lowered");
  gctx.AddMetadata("x-data-bin", binary);
  Reply greply;
  REQUIRE(stub->Echo(&gctx, EchoOf("m"), &greply).ok());
  CHECK(ctx.initial_metadata() == ToMetadata(gctx.GetServerInitialMetadata()));
  CHECK(ctx.trailing_metadata() == ToMetadata(gctx.GetServerTrailingMetadata()));

  // A stream's initial metadata is there once the first Read() returned.
  Request req;
  req.set_count(2);
  wire::CallContext sctx;
  sctx.AddMetadata("x-s", "1");
  auto stream = channel.ServerStream(kStream, req, sctx);
  Reply r;
  REQUIRE(stream->Read(&r));
  CHECK(wire::First(sctx.initial_metadata(), "initial-x-s") == "1");
  CHECK(stream->Finish().ok());
  CHECK(wire::First(sctx.trailing_metadata(), "trailing-x-s") == "1");
}

TEST_CASE_FIXTURE(
    ServerAndBothClients,
    "an error whose message needs percent-encoding arrives intact, trailers-only and after stream "
    "messages, as for gRPC's client") {
  const std::string text = "naïve 100% sure\nline two ✓ %41 a+b";
  Request req;
  req.set_fail_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  req.set_fail_message(text);

  SUBCASE("unary, before any message") {
    wire::CallContext ctx;
    ctx.AddMetadata("x-k", "v");
    Reply reply;
    auto ours = channel.Unary(kEcho, req, &reply, ctx);
    grpc::ClientContext gctx;
    gctx.AddMetadata("x-k", "v");
    Reply greply;
    auto theirs = stub->Echo(&gctx, req, &greply);
    CHECK(ours.code == wire::Code::kFailedPrecondition);
    CHECK(ours.message == text);
    CHECK(CodeOf(ours) == CodeOf(theirs));
    CHECK(ours.message == theirs.error_message());
    CHECK(ctx.initial_metadata() == ToMetadata(gctx.GetServerInitialMetadata()));
    CHECK(ctx.trailing_metadata() == ToMetadata(gctx.GetServerTrailingMetadata()));
  }
  SUBCASE("a stream, after three messages") {
    req.set_count(3);
    wire::CallContext ctx;
    auto stream = channel.ServerStream(kStream, req, ctx);
    auto [n, ours] = ReadToEnd(*stream);
    grpc::ClientContext gctx;
    auto reader = stub->Stream(&gctx, req);
    auto [gn, theirs] = ReadToEnd(*reader);
    CHECK(n == 3);
    CHECK(gn == 3);
    CHECK(ours.code == wire::Code::kFailedPrecondition);
    CHECK(ours.message == text);
    CHECK(ours.message == theirs.error_message());
  }
}

TEST_CASE_FIXTURE(
    ServerAndBothClients,
    "a status message with every ASCII character, '%', '+', spaces and UTF-8 of each length "
    "arrives from gRPC's server exactly as it left") {
  std::string text = "\t\r\n\x01\x1f\x7f 100% %41 %zz %4 a+b+ c  é ✓ 😀 %C3%A9 ";
  for (int i = 0; i < 128; ++i) text += static_cast<char>(i);  // '\0' and every control character
  Request req;
  req.set_fail_code(static_cast<int>(grpc::StatusCode::ABORTED));
  req.set_fail_message(text);

  for (bool stream : {false, true}) {
    CAPTURE(stream);
    wire::CallContext ctx;
    ctx.set_timeout(5s);
    wire::CallStatus ours;
    if (stream) {
      req.set_count(2);
      auto reader = channel.ServerStream(kStream, req, ctx);
      for (Reply r; reader->Read(&r);) {
      }
      ours = reader->Finish();
    } else {
      Reply reply;
      ours = channel.Unary(kEcho, req, &reply, ctx);
    }
    CHECK(ours.code == wire::Code::kAborted);
    CHECK(ours.message.size() == text.size());
    CHECK(ours.message == text);
  }
  // The text is one gRPC carries intact: its own client gets it back as it left too.
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + 5s);
  Reply greply;
  auto theirs = stub->Echo(&gctx, req, &greply);
  CHECK(theirs.error_message() == text);
}

TEST_CASE("the deadline reaches the server as grpc-timeout") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  ctx.set_timeout(7s);
  auto expected = std::chrono::system_clock::now() + 7s;
  Reply reply;
  REQUIRE(channel.Unary(kEcho, EchoOf("t"), &reply, ctx).ok());
  std::optional<std::chrono::system_clock::time_point> deadline;
  server.service().WaitUntil([&] {
    deadline = server.service().deadline;
    return true;
  });
  REQUIRE(deadline.has_value());
  CHECK(*deadline > expected - 500ms);
  CHECK(*deadline < expected + 500ms);
}

TEST_CASE(
    "a deadline ends a waiting call with DEADLINE_EXCEEDED in bounded time, and the server sees "
    "the cancellation") {
  TestServer server;
  wire::Channel channel(server.path());
  Request req;
  req.set_wait_for_cancel(true);
  SUBCASE("unary") {
    wire::CallContext ctx;
    ctx.set_timeout(150ms);
    auto start = std::chrono::steady_clock::now();
    Reply reply;
    auto status = channel.Unary(kEcho, req, &reply, ctx);
    CHECK(status.code == wire::Code::kDeadlineExceeded);
    CHECK(Since(start) >= 140ms);
    CHECK(Since(start) < 600ms);
  }
  SUBCASE("a stream, after some messages") {
    req.set_count(2);
    wire::CallContext ctx;
    ctx.set_timeout(150ms);
    auto start = std::chrono::steady_clock::now();
    auto stream = channel.ServerStream(kStream, req, ctx);
    int n = 0;
    for (Reply r; stream->Read(&r);) ++n;
    CHECK(n == 2);
    CHECK(stream->Finish().code == wire::Code::kDeadlineExceeded);
    CHECK(Since(start) < 600ms);
  }
  CHECK(server.service().WaitUntil([&] { return server.service().cancellations == 1; }));
}

TEST_CASE("a deadline already passed fails at once with DEADLINE_EXCEEDED") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  ctx.set_deadline(std::chrono::steady_clock::now() - 1ms);
  Reply reply;
  CHECK(channel.Unary(kEcho, EchoOf("x"), &reply, ctx).code == wire::Code::kDeadlineExceeded);
  server.service().WaitUntil([] { return true; });
  CHECK(server.service().calls == 0);
}

TEST_CASE("Cancel from another thread ends a blocked stream read with CANCELLED promptly") {
  TestServer server;
  wire::Channel channel(server.path());
  Request req;
  req.set_count(3);
  req.set_wait_for_cancel(true);
  wire::CallContext ctx;
  ctx.set_timeout(10s);
  auto stream = channel.ServerStream(kStream, req, ctx);
  Reply r;
  for (int i = 0; i < 3; ++i) REQUIRE(stream->Read(&r));
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    // Once the handler waits, the next Read() blocks in poll until Cancel() wakes it.
    server.service().WaitUntil([&] { return server.service().waiting == 1; });
    cancelled_at = std::chrono::steady_clock::now();
    ctx.Cancel();
  });
  CHECK_FALSE(stream->Read(&r));
  auto returned_at = std::chrono::steady_clock::now();
  canceller.join();
  auto status = stream->Finish();
  CHECK(status.code == wire::Code::kCancelled);
  CHECK(returned_at - cancelled_at < 300ms);
  CHECK(ctx.cancelled());
  CHECK(server.service().WaitUntil([&] { return server.service().cancellations == 1; }));
}

TEST_CASE(
    "an interrupt descriptor that becomes readable ends a blocked stream read as Cancel does") {
  TestServer server;
  wire::Channel channel(server.path());
  int efd = ::eventfd(0, EFD_CLOEXEC);
  REQUIRE(efd >= 0);
  Request req;
  req.set_count(2);
  req.set_wait_for_cancel(true);
  wire::CallContext ctx;
  ctx.set_timeout(10s);
  ctx.set_interrupt_fd(efd);
  auto stream = channel.ServerStream(kStream, req, ctx);
  Reply r;
  for (int i = 0; i < 2; ++i) REQUIRE(stream->Read(&r));
  std::thread interrupter([&] {
    server.service().WaitUntil([&] { return server.service().waiting == 1; });
    uint64_t one = 1;
    CHECK(::write(efd, &one, sizeof one) == sizeof one);  // what the ctl's SIGINT handler does
  });
  CHECK_FALSE(stream->Read(&r));
  interrupter.join();
  CHECK(stream->Finish().code == wire::Code::kCancelled);
  CHECK(ctx.cancelled());
  CHECK(server.service().WaitUntil([&] { return server.service().cancellations == 1; }));
  // Still readable (the call never reads it): the next call with it ends at once.
  wire::CallContext next;
  next.set_interrupt_fd(efd);
  Reply reply;
  CHECK(channel.Unary(kEcho, EchoOf("x"), &reply, next).code == wire::Code::kCancelled);
  ::close(efd);
}

TEST_CASE("Cancel before a call starts ends it with CANCELLED without reaching the server") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  ctx.Cancel();
  Reply reply;
  CHECK(channel.Unary(kEcho, EchoOf("x"), &reply, ctx).code == wire::Code::kCancelled);
  auto stream = channel.ServerStream(kStream, Request(), ctx);
  CHECK_FALSE(stream->Read(&reply));
  CHECK(stream->Finish().code == wire::Code::kCancelled);
  CHECK(server.service().calls == 0);
}

TEST_CASE(
    "Cancel racing with calls as they start and finish ends each call cleanly and leaks no "
    "descriptor") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext warm_up;
  Reply warm_reply;
  REQUIRE(channel.Unary(kEcho, EchoOf("warm-up"), &warm_reply, warm_up).ok());
  int before = OpenFdCount();
  int ok = 0;
  int cancelled = 0;
  for (int i = 0; i < 200; ++i) {
    wire::CallContext ctx;
    ctx.set_timeout(5s);
    std::atomic<bool> go{false};
    std::thread canceller([&] {
      while (!go.load()) {
      }
      for (int spin = 0; spin < (i % 20) * 500; ++spin)
        std::atomic_signal_fence(std::memory_order_seq_cst);
      ctx.Cancel();
    });
    go = true;
    Reply reply;
    auto status = channel.Unary(kEcho, EchoOf("race"), &reply, ctx);
    canceller.join();
    if (status.ok()) {
      ++ok;
    } else {
      CHECK(status.code == wire::Code::kCancelled);
      ++cancelled;
    }
  }
  MESSAGE(ok << " calls finished before the cancellation, " << cancelled << " after");
  // gRPC's server closes its ends of the connections as it notices them closed: no event to
  // wait for in this process, so look until the count is back.
  auto start = std::chrono::steady_clock::now();
  while (OpenFdCount() > before && Since(start) < 2s) std::this_thread::sleep_for(5ms);
  CHECK(OpenFdCount() <= before);  // the warm-up's server end may be gone too
}

TEST_CASE(
    "a server shut down with a stream open ends the call with the code gRPC's client reports") {
  auto run = [](auto read_all) {
    TestServer server;
    Request req;
    req.set_count(2);
    req.set_wait_for_cancel(true);
    std::thread shutdown([&] {
      server.service().WaitUntil([&] { return server.service().waiting == 1; });
      server.Shutdown(std::chrono::system_clock::now());  // cancels the calls in flight
    });
    auto start = std::chrono::steady_clock::now();
    auto [n, code] = read_all(server.path(), req);
    shutdown.join();
    CHECK(n == 2);
    CHECK(Since(start) < 2s);
    return code;
  };
  int ours = run([](const std::string& path, const Request& req) {
    wire::Channel channel(path);
    wire::CallContext ctx;
    ctx.set_timeout(5s);
    auto stream = channel.ServerStream(kStream, req, ctx);
    auto [n, status] = ReadToEnd(*stream);
    MESSAGE("ours: " << CodeOf(status) << " " << status.message);
    return std::pair(n, CodeOf(status));
  });
  int theirs = run([](const std::string& path, const Request& req) {
    auto stub = GrpcStub(path, 4 * 1024 * 1024);
    grpc::ClientContext gctx;
    gctx.set_deadline(std::chrono::system_clock::now() + 5s);
    auto reader = stub->Stream(&gctx, req);
    auto [n, status] = ReadToEnd(*reader);
    MESSAGE("gRPC C++: " << CodeOf(status) << " " << status.error_message());
    return std::pair(n, CodeOf(status));
  });
  CHECK(ours == theirs);
  CHECK((ours == static_cast<int>(wire::Code::kUnavailable) ||
         ours == static_cast<int>(wire::Code::kCancelled)));
}

TEST_CASE(
    "a graceful shutdown (GOAWAY) lets the call in flight finish, and a new call is UNAVAILABLE as "
    "for gRPC's client") {
  TestServer server;
  wire::Channel channel(server.path());
  Request req;
  req.set_payload("in flight");
  req.set_wait_for_release(true);
  wire::CallContext ctx;
  ctx.set_timeout(5s);
  Reply reply;
  wire::CallStatus in_flight;
  std::thread call([&] { in_flight = channel.Unary(kEcho, req, &reply, ctx); });
  REQUIRE(server.service().WaitUntil([&] { return server.service().waiting == 1; }));
  std::thread shutdown([&] { server.Shutdown(std::chrono::system_clock::now() + 5s); });
  // Shutdown() stops listening and sends GOAWAY together; a refused connection shows it began.
  wire::CallStatus refused;
  auto start = std::chrono::steady_clock::now();
  do {
    wire::CallContext probe;
    Reply r;
    refused = channel.Unary(kEcho, EchoOf("new"), &r, probe);
  } while (refused.code != wire::Code::kUnavailable && Since(start) < 2s);
  server.service().Release();
  call.join();
  shutdown.join();
  CHECK(in_flight.ok());
  CHECK(reply.payload() == "in flight");
  CHECK(refused.code == wire::Code::kUnavailable);

  wire::CallContext after;
  Reply r;
  auto ours = channel.Unary(kEcho, EchoOf("after"), &r, after);
  auto stub = GrpcStub(server.path(), 4 * 1024 * 1024);
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + 2s);
  auto theirs = stub->Echo(&gctx, EchoOf("after"), &r);
  CHECK(ours.code == wire::Code::kUnavailable);
  CHECK(CodeOf(ours) == CodeOf(theirs));
}

TEST_CASE("a socket nobody listens on is UNAVAILABLE, as for gRPC's client") {
  TempDir dir;
  std::string path = dir / "dead.sock";
  int fd = bim::test::BindUnixSocket(path);
  REQUIRE(fd >= 0);
  ::close(fd);  // the file stays, nothing listens

  wire::CallContext ctx;
  Reply reply;
  auto ours = wire::Channel(path).Unary(kEcho, EchoOf("x"), &reply, ctx);
  CHECK(ours.code == wire::Code::kUnavailable);
  CHECK(ours.message.find("refused") != std::string::npos);
  CHECK(ours.message.find(path) != std::string::npos);
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + 2s);
  auto theirs = GrpcStub(path, 1024)->Echo(&gctx, EchoOf("x"), &reply);
  CHECK(CodeOf(ours) == CodeOf(theirs));
}

TEST_CASE("a socket path that does not exist is UNAVAILABLE, as for gRPC's client") {
  TempDir dir;
  std::string path = dir / "no/such.sock";
  wire::CallContext ctx;
  Reply reply;
  auto ours = wire::Channel(path).Unary(kEcho, EchoOf("x"), &reply, ctx);
  CHECK(ours.code == wire::Code::kUnavailable);
  CHECK(ours.message.find("No such file") != std::string::npos);
  grpc::ClientContext gctx;
  gctx.set_deadline(std::chrono::system_clock::now() + 2s);
  auto theirs = GrpcStub(path, 1024)->Echo(&gctx, EchoOf("x"), &reply);
  CHECK(CodeOf(ours) == CodeOf(theirs));

  auto stream = wire::Channel(path).ServerStream(kStream, Request(), ctx);
  CHECK_FALSE(stream->Read(&reply));
  CHECK(stream->Finish().code == wire::Code::kUnavailable);
  CHECK(wire::Channel("").Unary(kEcho, Request(), &reply, ctx).code == wire::Code::kUnavailable);
  CHECK(wire::Channel(std::string(200, 'x')).Unary(kEcho, Request(), &reply, ctx).code ==
        wire::Code::kUnavailable);
}

TEST_CASE("an unknown method is UNIMPLEMENTED, unary and streaming") {
  TestServer server;
  wire::Channel channel(server.path());
  wire::CallContext ctx;
  Reply reply;
  CHECK(channel.Unary("/bim.wiretest.WireTest/Nope", Request(), &reply, ctx).code ==
        wire::Code::kUnimplemented);
  wire::CallContext sctx;
  auto stream = channel.ServerStream("/bim.wiretest.Nope/Stream", Request(), sctx);
  CHECK_FALSE(stream->Read(&reply));
  CHECK(stream->Finish().code == wire::Code::kUnimplemented);
}

TEST_CASE("calls from several threads at once each get their own reply") {
  TestServer server;
  wire::Channel channel(server.path());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string payload = std::to_string(t) + ":" + std::to_string(i);
        wire::CallContext ctx;
        ctx.set_timeout(10s);
        Reply reply;
        if (i % 5 == 0) {
          Request req = EchoOf(payload);
          req.set_count(4);
          auto stream = channel.ServerStream(kStream, req, ctx);
          int n = 0;
          for (Reply r; stream->Read(&r);) n += r.payload() == payload;
          if (stream->Finish().ok() && n == 4) ++good;
        } else if (channel.Unary(kEcho, EchoOf(payload), &reply, ctx).ok() &&
                   reply.payload() == payload) {
          ++good;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == 8 * 25);
}

TEST_CASE("invalid request metadata fails the call instead of corrupting the headers") {
  TestServer server;
  wire::Channel channel(server.path());
  Reply reply;
  for (auto [key, value] : {std::pair<std::string, std::string>{"x-bad", "line\nbreak"},
                            {"bad key", "v"},
                            {":path", "/x"},
                            {"", "v"}}) {
    CAPTURE(key);
    wire::CallContext ctx;
    ctx.AddMetadata(key, value);
    CHECK(channel.Unary(kEcho, EchoOf("x"), &reply, ctx).code == wire::Code::kInternal);
  }
  CHECK(server.service().calls == 0);
}

TEST_CASE("a channel's verifier sees the call's own connection before anything is sent") {
  SUBCASE("a refusal ends the call with the verifier's status, and the server gets no byte") {
    // A listener that never accepts: the kernel completes the connection from its backlog, and
    // whatever the client sent waits there to be read.
    TempDir dir;
    std::string path = dir / "listener.sock";
    int listener = bim::test::BindUnixSocket(path);
    REQUIRE(listener >= 0);
    REQUIRE(::listen(listener, 8) == 0);

    int verified = 0;
    wire::Channel channel(path);
    channel.set_verifier([&](int fd) {
      ++verified;
      ucred peer{};
      socklen_t len = sizeof peer;
      CHECK(::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0);
      CHECK(peer.pid == ::getpid());  // connected, to our own listener
      return wire::CallStatus{wire::Code::kPermissionDenied, "not the agent"};
    });
    const int fds_before = OpenFdCount();
    wire::CallContext ctx;
    ctx.set_timeout(5s);
    Reply reply;
    auto status = channel.Unary(kEcho, EchoOf("secret"), &reply, ctx);
    CHECK(status.code == wire::Code::kPermissionDenied);
    CHECK(status.message == "not the agent");
    CHECK_FALSE(ctx.connected());
    wire::CallContext sctx;
    auto stream = channel.ServerStream(kStream, EchoOf("secret"), sctx);
    CHECK_FALSE(stream->Read(&reply));
    CHECK(stream->Finish().code == wire::Code::kPermissionDenied);
    CHECK_FALSE(sctx.connected());
    stream.reset();
    CHECK(verified == 2);
    CHECK(OpenFdCount() == fds_before);

    for (int i = 0; i < 2; ++i) {
      int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      REQUIRE(conn >= 0);
      char buf[256];
      CHECK(::read(conn, buf, sizeof buf) == 0);  // closed, and nothing before the close
      ::close(conn);
    }
    ::close(listener);
  }
  SUBCASE("an accepted peer gets the call, and the context says it connected") {
    TestServer server;
    int verified = 0;
    wire::Channel channel(server.path());
    channel.set_verifier([&](int) {
      ++verified;
      return wire::CallStatus{};
    });
    wire::CallContext ctx;
    ctx.set_timeout(5s);
    Reply reply;
    CHECK(channel.Unary(kEcho, EchoOf("hello"), &reply, ctx).ok());
    CHECK(reply.payload() == "hello");
    CHECK(ctx.connected());
    CHECK(verified == 1);
  }
  SUBCASE("nothing listening: the verifier is not asked, and the call never connected") {
    TempDir dir;
    int verified = 0;
    wire::Channel channel(dir / "none.sock");
    channel.set_verifier([&](int) {
      ++verified;
      return wire::CallStatus{};
    });
    wire::CallContext ctx;
    Reply reply;
    CHECK(channel.Unary(kEcho, EchoOf("x"), &reply, ctx).code == wire::Code::kUnavailable);
    CHECK_FALSE(ctx.connected());
    CHECK(verified == 0);
  }
}
