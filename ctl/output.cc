#include "ctl/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace bim::ctl {

Style::Style() {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  color_ = tty && !(no_color && *no_color) && !(term && std::string(term) == "dumb");
}

Styled Style::Wrap(const char* code, std::string_view s) const {
  std::string shown = terminal::Escape(s);
  if (!color_ || code == nullptr) return Styled(std::move(shown));
  return Styled(fmt::format("\033[{}m{}\033[0m", code, shown));
}

void PrintJson(const nlohmann::json& j) {
  std::string s = Dump(j) + "\n";
  std::fwrite(s.data(), 1, s.size(), stdout);
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatIso(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  // Calendar arithmetic, not gmtime_r: glibc reads the time zone (/etc/localtime) before its
  // first conversion, even to UTC, and every `--json` reply shows times (docs/PERFORMANCE.md).
  using namespace std::chrono;
  const sys_time<milliseconds> at{milliseconds(unix_ms)};
  const auto day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss time{at - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count(),
                     time.subseconds().count());
}

std::string Dump(const nlohmann::json& j, int indent) {
  std::string out = j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  // nlohmann escapes U+0000..U+001F only: DEL and the C1 controls U+0080..U+009F (C2 80..C2 9F
  // in UTF-8, which some terminals act on: U+009B is CSI) go out raw. Such bytes can only stand
  // inside a JSON string of the dump, where \u007f and \u0080..\u009f mean the same characters.
  std::string safe;
  safe.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    auto next = i + 1 < out.size() ? static_cast<unsigned char>(out[i + 1]) : 0;
    if (c == 0x7F) {
      safe += "\\u007f";
    } else if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {
      safe += fmt::format("\\u{:04x}", next);
      ++i;
    } else {
      safe += out[i];
    }
  }
  return safe;
}

}  // namespace bim::ctl
