// The one percent-encoding (common/percent_encoding.h): every byte value through PercentEncode
// and back, the malformed escapes PercentDecode keeps, and grpc-message as gRPC's servers
// encode it (PROTOCOL-HTTP2.md: every byte but space and visible ASCII other than '%' as %XX).
#include "common/percent_encoding.h"

#include <doctest/doctest.h>

#include <cctype>
#include <string>

namespace {

std::string AllBytes() {
  std::string out;
  for (int i = 0; i < 256; ++i) out += static_cast<char>(i);
  return out;
}

}  // namespace

TEST_CASE("PercentEncode keeps the unreserved characters and writes every other byte as %XX") {
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    char c = static_cast<char>(i);
    bool unreserved = std::isalnum(i) || c == '-' || c == '_' || c == '.' || c == '~';
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string expected =
        unreserved ? std::string(1, c) : std::string{'%', kHex[i >> 4], kHex[i & 15]};
    CHECK(bim::PercentEncode(std::string(1, c)) == expected);
  }
  CHECK(bim::PercentEncode("a b+c/é") == "a%20b%2Bc%2F%C3%A9");
}

TEST_CASE("PercentDecode undoes PercentEncode for every byte, and reads hex in either case") {
  const std::string all = AllBytes();
  CHECK(bim::PercentDecode(bim::PercentEncode(all)) == all);
  CHECK(bim::PercentDecode("caf%c3%a9 %C3%A9 %7e%7E") == "café é ~~");
}

TEST_CASE("PercentDecode keeps a malformed escape and a '+' as they came") {
  CHECK(bim::PercentDecode("%") == "%");
  CHECK(bim::PercentDecode("100%") == "100%");
  CHECK(bim::PercentDecode("%4") == "%4");
  CHECK(bim::PercentDecode("%41%") == "A%");
  CHECK(bim::PercentDecode("%zz %4g %g4") == "%zz %4g %g4");
  CHECK(bim::PercentDecode("%%41") == "%A");
  CHECK(bim::PercentDecode("a+b %2B") == "a+b +");
  CHECK(bim::PercentDecode("") == "");
  CHECK(bim::PercentDecode(std::string("a\0b%00", 6)) == std::string("a\0b\0", 4));
}

TEST_CASE("PercentDecode reads grpc-message as gRPC's servers percent-encode it") {
  // gRPC leaves space and visible ASCII but '%' as they are, where PercentEncode would not.
  CHECK(bim::PercentDecode("na%C3%AFve 100%25 sure%0Aline two %E2%9C%93 %2541 a+b (x)") ==
        "naïve 100% sure\nline two ✓ %41 a+b (x)");
  static constexpr char kControlAndPunctuation[] =
      "tab\tcr\rnul\0del\x7f!\"#$&'*,/:;<=>?@[\\]^`{|}";
  CHECK(bim::PercentDecode("tab%09cr%0Dnul%00del%7F!\"#$&'*,/:;<=>?@[\\]^`{|}") ==
        std::string(kControlAndPunctuation, sizeof kControlAndPunctuation - 1));
  // Every byte gRPC must encode, encoded as gRPC's rule says, comes back.
  const std::string all = AllBytes();
  std::string grpc_encoded;
  for (unsigned char c : all) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      grpc_encoded += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      grpc_encoded += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  CHECK(bim::PercentDecode(grpc_encoded) == all);
}
