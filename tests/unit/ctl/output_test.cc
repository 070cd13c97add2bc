// The ctl's two ways out: text for people, where no value can drive the terminal, and JSON,
// which stays exact.
#include "ctl/output.h"

#include <doctest/doctest.h>

#include <string>

using namespace bim::ctl;
using nlohmann::json;

namespace {

const std::string kHostile =
    "a\x1b]0;t\x07 \x1b[2J\r\b\t\n\xc2\x9b"
    "1m\x7f\xc2\xa9 ✓";

}  // namespace

TEST_CASE("Terminal keeps the format string and escapes every value") {
  CHECK(Terminal("{}\n", kHostile) ==
        "a\\x1b]0;t\\x07 \\x1b[2J\\r\\x08\\t\\n\\u009b1m\\x7f\xc2\xa9 ✓\n");
  CHECK(Terminal("{:>4} of {} {}\n", 12, std::string("x\r"), "y\x1b") == "  12 of x\\r y\\x1b\n");
  CHECK(Terminal("{}", Lines{"two\nlines\r"}) == "two\nlines\\r");
  Style style;  // no terminal in a test: no colour, values escaped all the same
  CHECK(Terminal("[{}]", style.Bold("\x1b]8;;x\x1b\\")) == "[\\x1b]8;;x\\x1b\\]");
  CHECK(Terminal("[{}]", style.Plain("ok")) == "[ok]");
}

TEST_CASE("JSON output round-trips any string and carries no control character raw") {
  std::string out = Dump(json{{"s", kHostile}, {"list", {kHostile, "\x7f"}}});
  for (size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    CHECK(c >= 0x20);
    CHECK(c != 0x7f);
    if (c == 0xC2) CHECK(static_cast<unsigned char>(out[i + 1]) > 0x9F);
  }
  CHECK(out.find("\\u009b") != std::string::npos);
  CHECK(out.find("\\u007f") != std::string::npos);
  auto back = json::parse(out);
  CHECK(back["s"] == kHostile);
  CHECK(back["list"] == json({kHostile, "\x7f"}));
  CHECK(Dump(json("\xc2\xa9 ✓")) == "\"\xc2\xa9 ✓\"");  // other text is left as it is
}
