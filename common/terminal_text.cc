#include "common/terminal_text.h"

#include <cstdint>

namespace bim::terminal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendByteEscape(std::string& out, unsigned char c) {
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

void AppendCodePointEscape(std::string& out, uint32_t cp) {  // cp <= 0xFFFF here
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 15];
}

// Formatting characters that change how the text around them is shown: the bidirectional
// marks, embeddings, overrides and isolates ("Trojan Source"), and the line and paragraph
// separators.
bool IsFormatControl(uint32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// The length of the valid UTF-8 sequence at text[i] and its code point, or 0 when the bytes
// there are not one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t DecodeUtf8(std::string_view text, size_t i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i + k < text.size() && byte(k) >= lo && byte(k) <= hi;
  };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) {
    *cp = (uint32_t{b0} & 0x1F) << 6 | (byte(1) & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
    unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be a surrogate
    if (cont(1, lo, hi) && cont(2)) {
      *cp = (uint32_t{b0} & 0x0F) << 12 | (uint32_t{byte(1)} & 0x3F) << 6 | (byte(2) & 0x3F);
      return 3;
    }
    return 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;  // F4 90.. would be above U+10FFFF
    if (cont(1, lo, hi) && cont(2) && cont(3)) {
      *cp = (uint32_t{b0} & 0x07) << 18 | (uint32_t{byte(1)} & 0x3F) << 12 |
            (uint32_t{byte(2)} & 0x3F) << 6 | (byte(3) & 0x3F);
      return 4;
    }
  }
  return 0;
}

}  // namespace

std::string Escape(std::string_view text, Newlines newlines) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) {
      AppendByteEscape(out, static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (cp == '\n' && newlines == Newlines::kKeep) {
      out += '\n';
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F) {
      AppendByteEscape(out, static_cast<unsigned char>(cp));
    } else if ((cp >= 0x80 && cp <= 0x9F) || IsFormatControl(cp)) {
      AppendCodePointEscape(out, cp);
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace bim::terminal
