#pragma once
// How the ctl shows things: for people on a terminal (colour unless NO_COLOR), plain lines when
// stdout is not a terminal, and JSON for scripts and assistants.
//
// Everything the ctl prints for people goes through Print/PrintErr (or Terminal), which keep
// the format string, the ctl's own words, as written and escape every value with
// terminal::Escape: whatever the platform, the agent or a file put in a value, no control
// character, escape sequence (colours, titles, hyperlinks, cursor moves), line break or invalid
// UTF-8 reaches the terminal; it is shown as \x1b, \r, \n, ... instead. The one exception is
// Styled, which only Style makes: its colour codes around a value it escaped itself. JSON goes
// out through PrintJson, exact (the JSON escaping covers control characters, and Dump writes
// DEL and C1 controls as \u007f, \u0080..\u009f too), so a script reads back the platform's bytes
// as they were.

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "backend_im/v1/agent.pb.h"
#include "common/terminal_text.h"

namespace bim::ctl {

// Text for a terminal that Style made: its own colour codes around an escaped value.
class Styled {
 public:
  const std::string& text() const { return text_; }

 private:
  friend class Style;
  explicit Styled(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

class Style {
 public:
  Style();
  Styled Plain(std::string_view s) const { return Wrap(nullptr, s); }
  Styled Bold(std::string_view s) const { return Wrap("1", s); }
  Styled Dim(std::string_view s) const { return Wrap("2", s); }
  Styled Green(std::string_view s) const { return Wrap("32", s); }
  Styled Red(std::string_view s) const { return Wrap("31", s); }
  Styled Yellow(std::string_view s) const { return Wrap("33", s); }
  Styled Cyan(std::string_view s) const { return Wrap("36", s); }

 private:
  Styled Wrap(const char* code, std::string_view s) const;
  bool color_;
};

// A value whose line breaks are meant (a message that lists files one a line): escaped like any
// other, except for its newlines. Use it for the ctl's own messages only, never for the
// platform's words. Lives no longer than the Print it is made for.
struct Lines {
  std::string_view text;
};

namespace detail {
// How Terminal shows one value: strings escaped, Styled as made, numbers as numbers.
inline std::string Shown(std::string_view s) { return terminal::Escape(s); }
inline std::string Shown(const Lines& s) {
  return terminal::Escape(s.text, terminal::Newlines::kKeep);
}
inline std::string Shown(const Styled& s) { return s.text(); }
template <typename T>
requires std::is_arithmetic_v<T> T Shown(T v) { return v; }
template <typename T>
using ShownType = decltype(Shown(std::declval<T>()));
}  // namespace detail

// fmt::format, with every argument shown safely (see the top of this file).
template <typename... Args>
std::string Terminal(fmt::format_string<detail::ShownType<Args>...> f, Args&&... args) {
  return fmt::format(f, detail::Shown(std::forward<Args>(args))...);
}

template <typename... Args>
void Print(fmt::format_string<detail::ShownType<Args>...> f, Args&&... args) {
  std::string s = fmt::format(f, detail::Shown(std::forward<Args>(args))...);
  std::fwrite(s.data(), 1, s.size(), stdout);
}

template <typename... Args>
void PrintErr(fmt::format_string<detail::ShownType<Args>...> f, Args&&... args) {
  std::string s = fmt::format(f, detail::Shown(std::forward<Args>(args))...);
  std::fflush(stdout);  // what went to stdout first shows first, also when both go to one file
  std::fwrite(s.data(), 1, s.size(), stderr);
}

// One JSON document on a line of its own, on stdout.
void PrintJson(const nlohmann::json& j);

std::string FormatTime(int64_t unix_ms);  // local time, "2026-11-25 19:04:05"
std::string FormatIso(int64_t unix_ms);   // UTC, "2026-11-25T19:04:05.123Z"
// One JSON value per line; invalid UTF-8 is replaced, never a crash. DEL and the C1 controls
// (U+0080..U+009F) are written as \u007f and \u0080..\u009f: the same JSON, and no terminal
// acts on them.
std::string Dump(const nlohmann::json& j, int indent = -1);

}  // namespace bim::ctl
