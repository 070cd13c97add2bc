#pragma once
// Logging to stderr, one line per record, journald-friendly.
//
// When JOURNAL_STREAM is set (stderr is connected to journald) each line starts with a
// syslog priority prefix such as "<6>", which journald turns into the record's priority;
// otherwise lines start with a UTC timestamp and the level. Thread-safe.
//
// Nothing that is a credential may be logged: callers pass Redact()ed values, and Log itself
// masks anything that looks like a bearer token as a second line of defence.
//
// Every record is one line of text a terminal shows as it is: Write escapes control
// characters, escape sequences, line breaks and invalid UTF-8 (terminal::Escape).

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
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

// Writes one record. A record the same as the one before (same level and text) within a
// minute of the last written is not written but counted; the count comes as a line of its own,
// "(the previous message came N more times)", before the next record that is written.
void Write(Level level, std::string_view message);

// For a process whose stderr is its own log file (the agent started by a ctl writes to
// agent.log): when stderr is the file at `path`, records that would take it past max_bytes
// first move it to path.1, replacing the one there, and start a new file at path, which stderr
// (and stdout, when it was the same file) then write to; the two hold about 2 × max_bytes at
// most. Where the file cannot be moved it is emptied instead: a log must never fill a disk.
// Returns false, and changes nothing, when stderr is not that file (a terminal, the journal).
// Call before threads start.
bool RotateStderrFile(const std::string& path, uint64_t max_bytes);

// Masks "Bearer xxx", "access_token=..." and similar in text meant for a log.
std::string Redact(std::string_view text);

// For a message that can repeat in a tight loop (a failing accept, a peer hammering the socket):
// lets one through per interval and counts the rest, so a log cannot grow without bound.
// One thread per Throttle.
class Throttle {
 public:
  explicit Throttle(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  // True when a message may be written now; then *held_back is how many were not since the
  // last one that was.
  bool Allow(uint64_t* held_back);

 private:
  std::chrono::steady_clock::duration interval_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  uint64_t held_back_ = 0;
};

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug)
    Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
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
