#include "ctl/wire/grpc_protocol.h"

#include <algorithm>
#include <cstring>

#include "ctl/wire/text.h"

namespace bim::ctl::wire {
namespace {

constexpr char kUserAgent[] = "backend-im-ctl grpc-wire/1";

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// HTTP/2's error codes (RFC 9113, section 7) that gRPC reads as something other than INTERNAL.
constexpr uint32_t kRefusedStream = 0x7;
constexpr uint32_t kCancel = 0x8;
constexpr uint32_t kEnhanceYourCalm = 0xb;
constexpr uint32_t kInadequateSecurity = 0xc;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Header names gRPC accepts in metadata: lower-case letters, digits, '-', '_' and '.'.
bool ValidKey(std::string_view key) {
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return !key.empty();
}

// Printable ASCII, as gRPC requires of a value that is not binary.
bool ValidValue(std::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

std::string EncodeTimeout(std::chrono::steady_clock::duration remaining) {
  // Each unit is so many of the one before it, from nanoseconds.
  static constexpr char kUnits[] = "numSMH";
  static constexpr uint16_t kSteps[] = {1, 1000, 1000, 1000, 60, 60};
  constexpr int64_t kMaxValue = 99'999'999;
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(remaining).count();
  int64_t unit_ns = 1;
  for (size_t i = 0; i < std::size(kSteps); ++i) {
    unit_ns *= kSteps[i];
    int64_t n = ns / unit_ns + (ns % unit_ns > 0 ? 1 : 0);  // rounded up
    if (n <= kMaxValue) return std::to_string(n) + kUnits[i];
  }
  return "";
}

CallStatus RequestHeaders::Build(std::string_view method, std::string_view timeout,
                                 const Metadata& metadata) {
  metadata_.clear();
  for (const auto& [key, value] : metadata) {
    std::string name(key);
    for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!ValidKey(name) || IsTransportHeader(name) || name.starts_with("grpc-")) {
      return {Code::kInternal, Cat({"invalid request metadata key \"", key, "\""})};
    }
    bool binary = EndsWith(name, "-bin");
    if (!binary && !ValidValue(value)) {
      return {Code::kInternal, Cat({"invalid value for request metadata \"", key, "\""})};
    }
    metadata_.push_back(std::move(name));
    metadata_.push_back(binary ? Base64Encode(value) : value);
  }
  size_ = 7 + (timeout.empty() ? 0 : 1) + metadata_.size() / 2;
  fields_ = std::make_unique<HeaderField[]>(size_);
  HeaderField* field = fields_.get();
  *field++ = {":method", "POST"};
  *field++ = {":scheme", "http"};
  *field++ = {":path", method};
  *field++ = {":authority", "localhost"};
  *field++ = {"content-type", "application/grpc"};
  *field++ = {"te", "trailers"};
  *field++ = {"user-agent", kUserAgent};
  if (!timeout.empty()) *field++ = {"grpc-timeout", timeout};
  for (size_t i = 0; i + 1 < metadata_.size(); i += 2) *field++ = {metadata_[i], metadata_[i + 1]};
  return {};
}

bool IsTransportHeader(std::string_view key) {
  return key.empty() || key[0] == ':' || key == "content-type" || key == "grpc-status" ||
         key == "grpc-message" || key == "grpc-encoding" || key == "grpc-accept-encoding" ||
         key == "te";
}

std::string MetadataValue(std::string_view key, std::string_view value) {
  return EndsWith(key, "-bin") ? Base64Decode(value) : std::string(value);
}

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

int ParseHttpStatus(std::string_view value) {
  int status = 0;
  for (char c : value) {
    status = (c >= '0' && c <= '9' && status < 1000) ? status * 10 + (c - '0') : 1000;
  }
  return status;
}

Code ParseGrpcStatus(std::string_view value) {
  if (value.empty() || value.size() > 9) return Code::kUnknown;
  int code = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return Code::kUnknown;
    code = code * 10 + (c - '0');
  }
  if (code > static_cast<int>(Code::kUnauthenticated)) return Code::kUnknown;
  return static_cast<Code>(code);
}

Code CodeForHttpStatus(int http_status) {
  switch (http_status) {
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

// PROTOCOL-HTTP2.md, "Errors".
Code CodeForHttp2Error(uint32_t error_code) {
  switch (error_code) {
    case kRefusedStream:
      return Code::kUnavailable;
    case kCancel:
      return Code::kCancelled;
    case kEnhanceYourCalm:
      return Code::kResourceExhausted;
    case kInadequateSecurity:
      return Code::kPermissionDenied;
    default:
      return Code::kInternal;
  }
}

}  // namespace bim::ctl::wire
