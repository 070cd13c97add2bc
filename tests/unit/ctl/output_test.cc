// The ctl's two ways out: text for people, where no value can drive the terminal, and JSON,
// which stays exact.
#include "ctl/output.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <ctime>
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

TEST_CASE("FormatIso writes UTC with milliseconds, the same as the C library's gmtime") {
  CHECK(FormatIso(0) == "");
  CHECK(FormatIso(-5) == "");
  CHECK(FormatIso(1) == "1970-01-01T00:00:00.001Z");
  CHECK(FormatIso(951782400000) == "2000-02-29T00:00:00.000Z");  // a leap day
  CHECK(FormatIso(1700000000123) == "2023-11-14T22:13:20.123Z");
  CHECK(FormatIso(4102444799999) == "2099-12-31T23:59:59.999Z");
  // Against gmtime_r over a spread of instants, one every ~3.1 days for 130 years.
  for (int64_t ms = 1; ms < 4102444800000; ms += 271'828'183) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    REQUIRE(gmtime_r(&t, &tm) != nullptr);
    char buf[96];  // room for any int the format could be given
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    CHECK(FormatIso(ms) == buf);
  }
}
