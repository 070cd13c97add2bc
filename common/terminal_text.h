#pragma once
// Text from elsewhere (the platform, a file, a peer) made safe for a terminal or a log line.
//
// Escape() shows every character that could drive a terminal instead of letting it through:
// C0 controls (ESC, CR, BS, BEL, ...) and DEL as \x1b, \r, \t, \n, \x7f; C1 controls encoded
// as UTF-8 (U+0080..U+009F, which some terminals take as ESC sequences: U+009B is CSI) and the
// bidirectional and line-separator formatting characters (U+061C, U+200E, U+200F,
// U+2028..U+202E, U+2066..U+2069, which reorder or break what is shown) as \u009b; and every
// byte that is not part of valid UTF-8 (overlong forms and surrogates included) as \xff. The
// rest, printable ASCII and valid UTF-8 text, is kept byte for byte. Backslashes are kept as
// they are, so what Escape returns is unchanged by another Escape (it is idempotent), at the
// price that a literal "\x1b" in the input reads the same as an escaped ESC.
//
// Pure, allocation only, never throws on any input: fuzzed by tests/fuzz/fuzz_terminal_text.cc.

#include <string>
#include <string_view>

namespace bim::terminal {

enum class Newlines {
  kEscape,  // one value is one line: "\n" becomes the two characters \n
  kKeep,    // text whose line breaks are meant (a message of several lines)
};

std::string Escape(std::string_view text, Newlines newlines = Newlines::kEscape);

}  // namespace bim::terminal
