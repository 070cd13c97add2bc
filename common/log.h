#pragma once
// Logging to stderr, one line per record, journald-friendly.
//
// When JOURNAL_STREAM is set (stderr is connected to journald) each line starts with a
// syslog priority prefix such as "<6>", which journald turns into the record's priority;
// otherwise lines start with a UTC timestamp and the level. Thread-safe.
//
// Nothing that is a credential may be logged: callers pass Redact()ed values, and Log itself
// masks anything that looks like a bearer token as a second line of defence.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace bim::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::optional<Level> ParseLevel(std::string_view name);
void SetLevel(Level level);
Level GetLevel();
// Reads JOURNAL_STREAM once; call before threads start (tests may call it again).
void InitFromEnvironment(const std::string& program);

void Write(Level level, std::string_view message);

// Masks "Bearer xxx", "access_token=..." and similar in text meant for a log.
std::string Redact(std::string_view text);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kInfo) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kWarn) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bim::log
