#include "common/path_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace bim {
namespace {

// Printable form of a path for an error message: control bytes escaped, length capped.
std::string Shown(std::string_view p) {
  std::string out;
  for (unsigned char c : p.substr(0, 120)) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (p.size() > 120) out += "...";
  return out;
}

Error Unsafe(std::string_view path, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unsafe path \"{}\": {}", Shown(path), why));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

Status CheckRelativePath(std::string_view path) {
  if (path.empty()) return Unsafe(path, "the name is empty");
  if (path.size() > kMaxPathBytes) {
    return Unsafe(path, fmt::format("longer than {} bytes", kMaxPathBytes));
  }
  for (unsigned char c : path) {
    if (c == 0) return Unsafe(path, "contains a NUL byte");
    if (c < 0x20 || c == 0x7f) return Unsafe(path, "contains a control character");
    if (c == '\\') return Unsafe(path, "contains a backslash");
  }
  if (!IsValidUtf8(path)) return Unsafe(path, "is not valid UTF-8");
  if (path.front() == '/') return Unsafe(path, "is absolute");
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg.empty()) return Unsafe(path, "has an empty segment");
    if (seg == ".") return Unsafe(path, "has a \".\" segment");
    if (seg == "..") return Unsafe(path, "has a \"..\" segment");
    if (seg.size() > kMaxSegmentBytes) {
      return Unsafe(path, fmt::format("has a segment longer than {} bytes", kMaxSegmentBytes));
    }
    if (EqualsIgnoreCase(seg, ".git") || EqualsIgnoreCase(seg, ".backend-im")) {
      return Unsafe(path, fmt::format("writes into {}, which belongs to local tools", seg));
    }
    pos = slash + 1;
  }
  return OkStatus();
}

}  // namespace bim
