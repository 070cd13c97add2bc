// gRPC's mapping onto HTTP/2 as the wire client writes and reads it (ctl/wire/grpc_protocol.h):
// grpc-timeout, the request's header block, binary metadata, and the codes of HTTP statuses and
// HTTP/2 errors (PROTOCOL-HTTP2.md, doc/http-grpc-status-mapping.md).
#include "ctl/wire/grpc_protocol.h"

#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace wire = bim::ctl::wire;
using namespace std::chrono_literals;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields FieldsOf(const wire::RequestHeaders& headers) {
  Fields out;
  for (const auto& f : headers.fields()) out.emplace_back(f.name, f.value);
  return out;
}

}  // namespace

TEST_CASE("grpc-timeout takes the finest unit that fits in 8 digits, rounded up") {
  CHECK(wire::EncodeTimeout(0ns) == "0n");
  CHECK(wire::EncodeTimeout(1ns) == "1n");
  CHECK(wire::EncodeTimeout(99'999'999ns) == "99999999n");
  CHECK(wire::EncodeTimeout(100'000'000ns) == "100000u");
  CHECK(wire::EncodeTimeout(100'000'001ns) == "100001u");  // never less time than allowed
  CHECK(wire::EncodeTimeout(7s) == "7000000u");
  CHECK(wire::EncodeTimeout(1h) == "3600000m");
  CHECK(wire::EncodeTimeout(100'000s) == "100000S");
  CHECK(wire::EncodeTimeout(100'000'000s + 1ns) == "1666667M");
  // The longest steady_clock duration there is, about 292 years, still fits in hours.
  CHECK(wire::EncodeTimeout(std::chrono::steady_clock::duration::max()) == "2562048H");
}

TEST_CASE("a request's headers: pseudo-headers first, then gRPC's, then the metadata as sent") {
  const wire::Metadata metadata = {
      {"X-Upper", "Mixed Case kept"},
      {"x-data-bin", std::string("\0\x01\xfe\xff", 4)},
      {"x-empty", ""},
  };
  wire::RequestHeaders headers;
  REQUIRE(headers.Build("/pkg.Service/Method", "5S", metadata).ok());
  const Fields expected = {
      {":method", "POST"},
      {":scheme", "http"},
      {":path", "/pkg.Service/Method"},
      {":authority", "localhost"},
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"user-agent", "backend-im-ctl grpc-wire/1"},
      {"grpc-timeout", "5S"},
      {"x-upper", "Mixed Case kept"},  // the multimap's order: upper case sorts first
      {"x-data-bin", "AAH+/w"},        // base64, unpadded as gRPC sends it
      {"x-empty", ""},
  };
  CHECK(FieldsOf(headers) == expected);

  REQUIRE(headers.Build("/a/b", "", {}).ok());
  CHECK(headers.fields().size() == 7);  // no deadline, no grpc-timeout
  CHECK(headers.fields().back().name == "user-agent");
}

TEST_CASE("request metadata that gRPC refuses or that would break the header block fails") {
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"", "v"},
           {"bad key", "v"},
           {"x\nkey", "v"},
           {":path", "/x"},
           {"content-type", "text/plain"},
           {"te", "gzip"},
           {"grpc-timeout", "1S"},
           {"Grpc-Status", "0"},
           {"x-line", "a\r\nx-injected: 1"},
           {"x-del", "\x7f"},
           {"x-utf8", "caf\xc3\xa9"},
       }) {
    CAPTURE(key);
    CAPTURE(value);
    wire::RequestHeaders headers;
    auto status = headers.Build("/a/b", "", {{key, value}});
    CHECK(status.code == wire::Code::kInternal);
    CHECK(status.message.find("\"" + key + "\"") != std::string::npos);
  }
  // A -bin value may hold any bytes.
  wire::RequestHeaders headers;
  CHECK(headers.Build("/a/b", "", {{"x-raw-bin", "a\r\nb\x7f\xc3"}}).ok());
}

TEST_CASE("base64 of binary metadata: unpadded out, padded or not in, anything else as it came") {
  CHECK(wire::Base64Encode("") == "");
  CHECK(wire::Base64Encode("f") == "Zg");
  CHECK(wire::Base64Encode("fo") == "Zm8");
  CHECK(wire::Base64Encode("foo") == "Zm9v");
  CHECK(wire::Base64Encode("foob") == "Zm9vYg");
  CHECK(wire::Base64Decode("Zm9vYg") == "foob");
  CHECK(wire::Base64Decode("Zm9vYg==") == "foob");
  CHECK(wire::Base64Decode("Zg") == "f");
  CHECK(wire::Base64Decode("!!*") == "!!*");
  CHECK(wire::Base64Decode(std::string("Zm\0v", 4)) == std::string("Zm\0v", 4));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 17) {
    CAPTURE(n);
    CHECK(wire::Base64Decode(wire::Base64Encode(all.substr(0, n))) == all.substr(0, n));
  }
  CHECK(wire::MetadataValue("x-bin", "Zm9v") == "foo");
  CHECK(wire::MetadataValue("x-text", "Zm9v") == "Zm9v");
}

TEST_CASE("the transport's own headers are not the application's metadata") {
  for (const char* key : {"", ":status", "content-type", "grpc-status", "grpc-message",
                          "grpc-encoding", "grpc-accept-encoding", "te"}) {
    CAPTURE(key);
    CHECK(wire::IsTransportHeader(key));
  }
  for (const char* key : {"x-trace", "user-agent", "grpc-trace-bin", "content-length"}) {
    CAPTURE(key);
    CHECK_FALSE(wire::IsTransportHeader(key));
  }
}

TEST_CASE("grpc-status and :status parse as gRPC reads them") {
  CHECK(wire::ParseGrpcStatus("0") == wire::Code::kOk);
  CHECK(wire::ParseGrpcStatus("007") == wire::Code::kPermissionDenied);
  CHECK(wire::ParseGrpcStatus("16") == wire::Code::kUnauthenticated);
  for (const char* bad : {"", "17", "-1", "x1", "1 ", "0000000007", "99999999999"}) {
    CAPTURE(bad);
    CHECK(wire::ParseGrpcStatus(bad) == wire::Code::kUnknown);
  }
  CHECK(wire::ParseHttpStatus("200") == 200);
  CHECK(wire::ParseHttpStatus("503") == 503);
  CHECK(wire::ParseHttpStatus("2x0") == 1000);
  CHECK(wire::ParseHttpStatus("20000") == 1000);
}

TEST_CASE("HTTP statuses and HTTP/2 error codes map to gRPC codes as gRPC maps them") {
  const std::pair<int, wire::Code> http[] = {
      {400, wire::Code::kInternal},         {401, wire::Code::kUnauthenticated},
      {403, wire::Code::kPermissionDenied}, {404, wire::Code::kUnimplemented},
      {429, wire::Code::kUnavailable},      {502, wire::Code::kUnavailable},
      {503, wire::Code::kUnavailable},      {504, wire::Code::kUnavailable},
      {500, wire::Code::kUnknown},          {302, wire::Code::kUnknown},
  };
  for (auto [status, code] : http) {
    CAPTURE(status);
    CHECK(wire::CodeForHttpStatus(status) == code);
  }
  // nghttp2's names for RFC 9113's numbers, which the mapping spells out itself.
  const std::pair<uint32_t, wire::Code> http2[] = {
      {NGHTTP2_REFUSED_STREAM, wire::Code::kUnavailable},
      {NGHTTP2_CANCEL, wire::Code::kCancelled},
      {NGHTTP2_ENHANCE_YOUR_CALM, wire::Code::kResourceExhausted},
      {NGHTTP2_INADEQUATE_SECURITY, wire::Code::kPermissionDenied},
      {NGHTTP2_NO_ERROR, wire::Code::kInternal},
      {NGHTTP2_PROTOCOL_ERROR, wire::Code::kInternal},
      {NGHTTP2_INTERNAL_ERROR, wire::Code::kInternal},
      {NGHTTP2_FLOW_CONTROL_ERROR, wire::Code::kInternal},
  };
  for (auto [error, code] : http2) {
    CAPTURE(error);
    CHECK(wire::CodeForHttp2Error(error) == code);
  }
}
