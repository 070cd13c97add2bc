#include "mock-api/log_classifier.h"

namespace bim::mock {
namespace {

using contract::LogLevel;

struct Prefix {
  std::string_view text;
  LogLevel level;
};

// uvicorn's level prefixes (its formatter pads them with spaces to one width).
constexpr Prefix kPrefixes[] = {{"DEBUG:", LogLevel::kDebug},
                                {"INFO:", LogLevel::kInfo},
                                {"WARNING:", LogLevel::kWarning},
                                {"ERROR:", LogLevel::kError},
                                {"CRITICAL:", LogLevel::kError}};

constexpr std::string_view kTraceback = "Traceback (most recent call last):";
// The lines Python prints between two chained tracebacks.
constexpr std::string_view kChained[] = {"During handling of the above exception",
                                         "The above exception was the direct cause"};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Indented(std::string_view s) { return !s.empty() && (s.front() == ' ' || s.front() == '\t'); }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// "GET /x?y=1 HTTP/1.1": a method in capitals, a target, a version.
bool RequestLine(std::string_view r) {
  size_t space = r.find(' ');
  if (space == 0 || space == std::string_view::npos) return false;
  for (char c : r.substr(0, space)) {
    if (c < 'A' || c > 'Z') return false;
  }
  size_t version = r.rfind(" HTTP/");
  return version != std::string_view::npos && version > space;
}

}  // namespace

std::optional<int> AccessStatus(std::string_view m) {
  // CLIENT - "REQUEST LINE" STATUS[ PHRASE], CLIENT empty when the peer has no address.
  size_t dash = m.find("- \"");
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view client = m.substr(0, dash);
  if (!client.empty()) {
    if (client.back() != ' ') return std::nullopt;
    client.remove_suffix(1);
    if (client.find_first_of("\" ") != std::string_view::npos) return std::nullopt;
  }
  size_t close = m.rfind('"');
  if (close <= dash + 2) return std::nullopt;
  if (!RequestLine(m.substr(dash + 3, close - dash - 3))) return std::nullopt;
  std::string_view status = m.substr(close + 1);
  if (status.size() < 4 || status[0] != ' ' || !Digit(status[1]) || !Digit(status[2]) ||
      !Digit(status[3]) || (status.size() > 4 && status[4] != ' ')) {
    return std::nullopt;
  }
  return (status[1] - '0') * 100 + (status[2] - '0') * 10 + (status[3] - '0');
}

LineClass ClassifyLine(std::string_view text, bool in_traceback) {
  if (in_traceback) {
    // Its frames are indented; the first line that is not is the exception, which ends it.
    return {LogLevel::kError, "app", Indented(text)};
  }
  if (StartsWith(text, kTraceback)) return {LogLevel::kError, "app", true};
  for (auto chained : kChained) {
    if (StartsWith(text, chained)) return {LogLevel::kError, "app", false};
  }
  for (const auto& prefix : kPrefixes) {
    if (!StartsWith(text, prefix.text)) continue;
    std::string_view message = text.substr(prefix.text.size());
    if (!message.empty() && message.front() != ' ') break;  // "INFO:x" is not uvicorn's
    if (auto status = AccessStatus(TrimLeft(message))) {
      LogLevel level = *status >= 500   ? LogLevel::kError
                       : *status >= 400 ? LogLevel::kWarning
                                        : LogLevel::kInfo;
      return {level, "access", false};
    }
    return {prefix.level, "app", false};
  }
  return {LogLevel::kInfo, "app", false};
}

}  // namespace bim::mock
