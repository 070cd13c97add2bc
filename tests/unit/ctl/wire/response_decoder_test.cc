// The response side of a call (ctl/wire/response_decoder.h), played frame by frame with no
// connection: what each shape of response ends the call with, where the metadata goes, and
// which messages survive which end.
#include "ctl/wire/response_decoder.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wire = bim::ctl::wire;

namespace {

using Fields = std::vector<std::pair<std::string_view, std::string_view>>;

std::string Framed(std::string_view message) {
  std::string out(wire::kMessagePrefixBytes, '\0');
  wire::EncodeMessagePrefix(static_cast<uint32_t>(message.size()), out.data());
  return out.append(message);
}

// A decoder and the metadata it fills, with the frames a connection would report.
struct Response {
  explicit Response(size_t max_message_bytes = 1024)
      : decoder(max_message_bytes, &initial, &trailing) {}

  void Headers(const Fields& fields, bool end_stream) {
    decoder.OnHeadersBegin();
    for (auto [name, value] : fields) decoder.OnHeader(name, value);
    decoder.OnHeadersEnd(end_stream);
  }
  void Data(std::string_view bytes, bool end_stream = false) {
    decoder.OnData(bytes);
    if (end_stream) decoder.OnDataEndStream();
  }
  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    while (decoder.has_message()) out.push_back(decoder.PopMessage());
    return out;
  }

  wire::Metadata initial;
  wire::Metadata trailing;
  wire::ResponseDecoder decoder;
};

const Fields kOk = {{":status", "200"}, {"content-type", "application/grpc"}};

}  // namespace

TEST_CASE("headers, messages and trailers: the trailers' status, and metadata split in two") {
  Response r;
  r.Headers({{":status", "200"}, {"content-type", "application/grpc"}, {"x-a", "1"}}, false);
  CHECK_FALSE(r.decoder.done());
  CHECK(r.initial == wire::Metadata{{"x-a", "1"}});
  r.Data(Framed("one") + Framed("two"));
  r.Headers({{"grpc-status", "0"}, {"x-t", "2"}, {"x-t", "3"}}, true);
  REQUIRE(r.decoder.done());
  CHECK(r.decoder.status().ok());
  CHECK(r.decoder.status().message.empty());
  CHECK(r.trailing == wire::Metadata{{"x-t", "2"}, {"x-t", "3"}});
  CHECK(r.Messages() == std::vector<std::string>{"one", "two"});
}

TEST_CASE("a trailers-only response: its one block is the trailers, and its status the call's") {
  Response r;
  r.Headers({{":status", "200"},
             {"content-type", "application/grpc"},
             {"grpc-status", "5"},
             {"grpc-message", "not%20here"},
             {"x-k", "v"}},
            true);
  REQUIRE(r.decoder.done());
  CHECK(r.decoder.status().code == wire::Code::kNotFound);
  CHECK(r.decoder.status().message == "not here");
  CHECK(r.initial.empty());
  CHECK(r.trailing == wire::Metadata{{"x-k", "v"}});
}

TEST_CASE("grpc-message is percent-decoded, a malformed escape and a '+' staying as they came") {
  Response r;
  r.Headers(kOk, false);
  r.Headers({{"grpc-status", "9"}, {"grpc-message", "caf%C3%A9 100%25 a+b %zz %4"}}, true);
  CHECK(r.decoder.status().code == wire::Code::kFailedPrecondition);
  CHECK(r.decoder.status().message == "café 100% a+b %zz %4");
}

TEST_CASE("trailers without grpc-status end the call UNKNOWN, and so does a DATA END_STREAM") {
  Response trailers;
  trailers.Headers(kOk, false);
  trailers.Data(Framed("m"));
  trailers.Headers({{"x-other", "1"}}, true);
  CHECK(trailers.decoder.status().code == wire::Code::kUnknown);
  CHECK(trailers.trailing == wire::Metadata{{"x-other", "1"}});

  Response data_end;
  data_end.Headers(kOk, false);
  data_end.Data(Framed("m"), true);
  CHECK(data_end.decoder.status().code == wire::Code::kUnknown);
  CHECK(data_end.Messages() == std::vector<std::string>{"m"});
}

TEST_CASE("a non-200 response without grpc-status fails as its headers arrive, with gRPC's code") {
  Response r;
  r.Headers({{":status", "503"}, {"content-type", "text/plain"}, {"x-a", "1"}}, false);
  REQUIRE(r.decoder.done());
  CHECK(r.decoder.status().code == wire::Code::kUnavailable);
  CHECK(r.decoder.status().message == "HTTP status 503 from the agent");
  CHECK(r.initial == wire::Metadata{{"x-a", "1"}});
  r.Data(Framed("ignored"), true);
  CHECK_FALSE(r.decoder.has_message());

  Response with_status;  // a grpc-status decides, whatever the HTTP status
  with_status.Headers({{":status", "500"}, {"grpc-status", "7"}, {"grpc-message", "denied"}}, true);
  CHECK(with_status.decoder.status().code == wire::Code::kPermissionDenied);
  CHECK(with_status.decoder.status().message == "denied");
}

TEST_CASE("an interim 1xx response is skipped, and the block after it is the response") {
  Response r;
  r.Headers({{":status", "100"}, {"x-interim", "1"}}, false);
  CHECK_FALSE(r.decoder.done());
  CHECK(r.initial.empty());
  r.Headers({{":status", "200"}, {"x-a", "1"}}, false);
  r.Data(Framed("m"));
  r.Headers({{"grpc-status", "0"}}, true);
  CHECK(r.decoder.status().ok());
  CHECK(r.initial == wire::Metadata{{"x-a", "1"}});
  CHECK(r.Messages() == std::vector<std::string>{"m"});
}

TEST_CASE("a response that ends inside a message is INTERNAL even when its status is OK") {
  for (size_t cut : {size_t{2}, size_t{7}}) {  // inside the prefix, inside the message
    CAPTURE(cut);
    Response r;
    r.Headers(kOk, false);
    r.Data(Framed("whole") + Framed("cut short").substr(0, cut));
    r.Headers({{"grpc-status", "0"}}, true);
    CHECK(r.decoder.status().code == wire::Code::kInternal);
    CHECK(r.decoder.status().message.find("inside a message") != std::string::npos);
    CHECK(r.Messages() == std::vector<std::string>{"whole"});
  }
}

TEST_CASE("a message over the limit ends the call RESOURCE_EXHAUSTED and keeps those before it") {
  Response r(8);
  r.Headers(kOk, false);
  r.Data(Framed("12345678") + Framed("123456789"));
  REQUIRE(r.decoder.done());
  CHECK(r.decoder.status().code == wire::Code::kResourceExhausted);
  r.Headers({{"grpc-status", "0"}}, true);  // too late to change anything
  CHECK(r.decoder.status().code == wire::Code::kResourceExhausted);
  CHECK(r.Messages() == std::vector<std::string>{"12345678"});

  Response compressed;
  compressed.Headers(kOk, false);
  std::string flagged = Framed("x");
  flagged[0] = 1;
  compressed.Data(flagged);
  CHECK(compressed.decoder.status().code == wire::Code::kInternal);
}

TEST_CASE("a reset stream ends the call with its error's code, a GOAWAY refusal UNAVAILABLE") {
  Response reset;
  reset.Headers(kOk, false);
  reset.decoder.OnStreamClose({8, "CANCEL", false});
  CHECK(reset.decoder.status().code == wire::Code::kCancelled);
  CHECK(reset.decoder.status().message == "the agent reset the stream (HTTP/2 error 8, CANCEL)");

  Response refused;
  refused.decoder.OnStreamClose({7, "REFUSED_STREAM", true});
  CHECK(refused.decoder.status().code == wire::Code::kUnavailable);
  CHECK(refused.decoder.status().message.find("GOAWAY") != std::string::npos);

  Response ended;  // the close that follows a complete response changes nothing
  ended.Headers(kOk, false);
  ended.Headers({{"grpc-status", "0"}}, true);
  ended.decoder.OnStreamClose({0, "NO_ERROR", false});
  CHECK(ended.decoder.status().ok());
}

TEST_CASE("binary metadata arrives decoded, and the transport's headers stay out of metadata") {
  Response r;
  r.Headers({{":status", "200"},
             {"content-type", "application/grpc"},
             {"grpc-encoding", "identity"},
             {"grpc-accept-encoding", "identity"},
             {"x-b-bin", "AAH/"}},
            false);
  r.Headers({{"grpc-status", "0"}, {"grpc-message", ""}, {"x-t-bin", "!!*"}}, true);
  CHECK(r.initial == wire::Metadata{{"x-b-bin", std::string("\0\x01\xff", 3)}});
  CHECK(r.trailing == wire::Metadata{{"x-t-bin", "!!*"}});  // not base64: as it came
}

TEST_CASE("the first end of a call wins, and only a cancellation or deadline drops messages") {
  for (auto code : {wire::Code::kCancelled, wire::Code::kDeadlineExceeded}) {
    Response r;
    r.Headers(kOk, false);
    r.Data(Framed("1") + Framed("2"));
    r.decoder.End(code, "ended here");
    CHECK(r.decoder.status().code == code);
    CHECK_FALSE(r.decoder.has_message());
  }
  Response r;
  r.Headers(kOk, false);
  r.Data(Framed("1") + Framed("2"));
  r.decoder.End(wire::Code::kUnavailable, "closed");
  r.decoder.End(wire::Code::kInternal, "later");
  r.Headers({{"grpc-status", "0"}}, true);
  CHECK(r.decoder.status().code == wire::Code::kUnavailable);
  CHECK(r.decoder.status().message == "closed");
  CHECK(r.decoder.message_count() == 2);
}

TEST_CASE("Fail turns a call that ended OK into the failure and leaves a failed one as it was") {
  Response ok;
  ok.Headers(kOk, false);
  ok.Headers({{"grpc-status", "0"}}, true);
  ok.decoder.Fail(wire::Code::kInternal, "cannot parse");
  CHECK(ok.decoder.status().code == wire::Code::kInternal);
  CHECK(ok.decoder.status().message == "cannot parse");

  Response failed;
  failed.Headers(kOk, false);
  failed.Headers({{"grpc-status", "14"}, {"grpc-message", "gone"}}, true);
  failed.decoder.Fail(wire::Code::kInternal, "cannot parse");
  CHECK(failed.decoder.status().code == wire::Code::kUnavailable);
  CHECK(failed.decoder.status().message == "gone");

  Response running;
  running.decoder.Fail(wire::Code::kInternal, "cannot parse");
  CHECK(running.decoder.done());
  CHECK(running.decoder.status().code == wire::Code::kInternal);
}
