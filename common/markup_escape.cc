#include "common/markup_escape.h"

namespace bim {
namespace {

// The entity that stands for c, or null when c stands for itself.
const char* Entity(char c, bool quotes) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return quotes ? "&quot;" : nullptr;
    case '\'':
      return quotes ? "&#39;" : nullptr;
    default:
      return nullptr;
  }
}

std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (const char* entity = Entity(c, quotes)) {
      out += entity;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeMarkupText(std::string_view text) { return Escape(text, /*quotes=*/false); }

std::string EscapeMarkupAttribute(std::string_view text) { return Escape(text, /*quotes=*/true); }

}  // namespace bim
