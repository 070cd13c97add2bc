// terminal::Escape: nothing that can drive a terminal gets through, and text stays as it was.
#include "common/terminal_text.h"

#include <doctest/doctest.h>

#include <string>

#include "common/path_policy.h"

using bim::terminal::Escape;
using bim::terminal::Newlines;

namespace {

// What may reach a terminal: valid UTF-8 with no C0 control (a newline only when kept), no DEL
// and no C1 control.
bool SafeForTerminal(const std::string& s, bool newline_ok) {
  if (!bim::IsValidUtf8(s)) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n' && newline_ok) continue;
    if (c < 0x20 || c == 0x7F) return false;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("Escape shows C0 controls and DEL instead of sending them") {
  CHECK(Escape("\x1b]0;owned\x07") == "\\x1b]0;owned\\x07");  // OSC title
  CHECK(Escape("\x1b[2J\x1b[H") == "\\x1b[2J\\x1b[H");        // clear screen
  CHECK(Escape("\x1b]8;;https://e\x1b\\x\x1b]8;;\x1b\\") ==   // hyperlink
        "\\x1b]8;;https://e\\x1b\\x\\x1b]8;;\\x1b\\");
  CHECK(Escape("ok\rfake\b\b") == "ok\\rfake\\x08\\x08");
  CHECK(Escape("a\tb\nc") == "a\\tb\\nc");
  CHECK(Escape(std::string("nul\0here", 8)) == "nul\\x00here");
  CHECK(Escape("del\x7f") == "del\\x7f");
}

TEST_CASE("Escape keeps newlines only when told to") {
  CHECK(Escape("one\ntwo\r\n", Newlines::kKeep) == "one\ntwo\\r\n");
  CHECK(Escape("one\ntwo", Newlines::kEscape) == "one\\ntwo");
}

TEST_CASE("Escape shows C1 controls and bidi overrides as code points") {
  CHECK(Escape("\xc2\x9b"
               "31m") == "\\u009b31m");  // U+009B is CSI on some terminals
  CHECK(Escape("\xc2\x80\xc2\x9f") == "\\u0080\\u009f");
  CHECK(Escape("\xe2\x80\xae"
               "gpj.exe") == "\\u202egpj.exe");  // RIGHT-TO-LEFT OVERRIDE
  CHECK(Escape("\xe2\x81\xa6x\xe2\x81\xa9") == "\\u2066x\\u2069");
  CHECK(Escape("a\xe2\x80\xa8"
               "b") == "a\\u2028b");  // LINE SEPARATOR
}

TEST_CASE("Escape keeps printable text and valid UTF-8 byte for byte") {
  for (const char* s : {"", "deployment d-1 is building", "héllo ✓ 日本語 🚀", "C:\\path\\x1b",
                        "\xc2\xa0nbsp and \xc2\xa9", "https://a1b2c3.backend.im/?q=1#x"}) {
    CHECK(Escape(s) == s);
  }
}

TEST_CASE("Escape shows each byte that is not valid UTF-8") {
  CHECK(Escape("\xff\xfe ok") == "\\xff\\xfe ok");
  CHECK(Escape("\x9b"
               "31m") == "\\x9b31m");                           // a bare C1 byte
  CHECK(Escape("\xc0\xaf") == "\\xc0\\xaf");                    // overlong "/"
  CHECK(Escape("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");           // overlong "/"
  CHECK(Escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a surrogate
  CHECK(Escape("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(Escape("cut \xe2\x9c") == "cut \\xe2\\x9c");            // truncated at the end
  CHECK(Escape("\xe2\x9c\x1b") == "\\xe2\\x9c\\x1b");           // truncated by a control
}

TEST_CASE("Escape's output is safe for every one- and two-byte input and for byte triples") {
  std::string in;
  for (int a = 0; a < 256; ++a) {
    in.assign(1, static_cast<char>(a));
    CHECK(SafeForTerminal(Escape(in), false));
    for (int b = 0; b < 256; ++b) {
      in.assign({static_cast<char>(a), static_cast<char>(b)});
      std::string once = Escape(in);
      REQUIRE_MESSAGE(SafeForTerminal(once, false), a << " " << b);
      REQUIRE(Escape(once) == once);  // idempotent
      REQUIRE(SafeForTerminal(Escape(in, Newlines::kKeep), true));
    }
  }
  // Every lead byte with every second byte and a few third bytes covers the 3-byte rules.
  for (int a = 0xE0; a <= 0xF4; ++a) {
    for (int b = 0x80; b <= 0xBF; ++b) {
      for (int c : {0x00, 0x1b, 0x80, 0x9b, 0xBF, 0xC2}) {
        in.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), '\x80'});
        REQUIRE(SafeForTerminal(Escape(in), false));
      }
    }
  }
}
