#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

#include "common/terminal_text.h"

namespace bim::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_journal{false};
std::mutex g_write_mu;
std::string g_program = "backend-im";  // written once before threads start

// What Write keeps between records; guarded by g_write_mu.
struct Sink {
  std::string last;  // the last record written, escaped
  Level last_level = Level::kInfo;
  std::chrono::steady_clock::time_point last_written{};
  uint64_t repeats = 0;     // records like `last` not written since
  std::string rotate_path;  // "": stderr is not a file of ours
  uint64_t rotate_at = 0;   // bytes
};
Sink g_sink;
constexpr std::chrono::seconds kFoldWindow{60};

// Each level's name in the log and in BACKEND_IM_LOG_LEVEL, and its sd-daemon(3) priority.
struct LevelInfo {
  Level level;
  const char* name;
  int syslog_priority;
};

constexpr LevelInfo kLevels[] = {
    {Level::kDebug, "debug", 7},
    {Level::kInfo, "info", 6},
    {Level::kWarn, "warn", 4},
    {Level::kError, "error", 3},
};

const LevelInfo* InfoOf(Level l) {
  for (const auto& info : kLevels) {
    if (info.level == l) return &info;
  }
  return nullptr;
}

const char* LevelName(Level l) {
  const LevelInfo* info = InfoOf(l);
  return info ? info->name : "?";
}

int SyslogPriority(Level l) {
  const LevelInfo* info = InfoOf(l);
  return info ? info->syslog_priority : 6;
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "warning") return Level::kWarn;
  for (const auto& info : kLevels) {
    if (name == info.name) return info.level;
  }
  return std::nullopt;
}

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return g_level; }

void InitFromEnvironment(const std::string& program) {
  g_program = program;
  const char* js = std::getenv("JOURNAL_STREAM");
  g_journal = js != nullptr && *js != '\0';
}

namespace {

bool TokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._~+/=-", c) != nullptr;
}

bool StartsWithNoCase(std::string_view text, size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  }
  return true;
}

}  // namespace

// One pass over the text: after a credential's name and its separators, the run of token
// characters becomes [redacted]. Names match in any case.
std::string Redact(std::string_view text) {
  struct Marker {
    std::string_view name;        // lower case
    std::string_view separators;  // one or more of these must follow the name
  };
  static constexpr Marker kMarkers[] = {{"bearer", " \t\r\n\f\v"},
                                        {"access_token", "\"=: \t\r\n\f\v"},
                                        {"refresh_token", "\"=: \t\r\n\f\v"},
                                        {"device_code", "\"=: \t\r\n\f\v"}};
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool redacted = false;
    for (const Marker& m : kMarkers) {
      if (!StartsWithNoCase(text, i, m.name)) continue;
      size_t j = i + m.name.size();
      size_t sep_end = j;
      while (sep_end < text.size() && m.separators.find(text[sep_end]) != std::string_view::npos)
        ++sep_end;
      size_t value_end = sep_end;
      while (value_end < text.size() && TokenChar(text[value_end])) ++value_end;
      if (sep_end == j || value_end == sep_end) continue;
      out.append(text.substr(i, sep_end - i));
      out.append("[redacted]");
      i = value_end;
      redacted = true;
      break;
    }
    if (!redacted) out.push_back(text[i++]);
  }
  return out;
}

namespace {

std::string FormatLine(Level level, std::string_view safe) {
  if (g_journal) return fmt::format("<{}>{}\n", SyslogPriority(level), safe);
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z {} {}[{}]: {}\n", ts, static_cast<int>(ms.count()),
                     LevelName(level), g_program, static_cast<int>(getpid()), safe);
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Locked. Makes room for `adding` more bytes in the rotated file (see RotateStderrFile).
void RotateIfFull(size_t adding) {
  if (g_sink.rotate_path.empty()) return;
  struct stat err {};
  if (::fstat(STDERR_FILENO, &err) != 0 || !S_ISREG(err.st_mode)) return;
  if (static_cast<uint64_t>(err.st_size) + adding <= g_sink.rotate_at) return;
  std::fflush(stderr);
  const std::string& path = g_sink.rotate_path;
  int fd = -1;
  if (::rename(path.c_str(), (path + ".1").c_str()) == 0) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  if (fd < 0) {
    (void)::ftruncate(STDERR_FILENO, 0);  // O_APPEND: the next write starts at 0
    return;
  }
  struct stat out {};
  if (::fstat(STDOUT_FILENO, &out) == 0 && SameFile(out, err)) {
    std::fflush(stdout);
    ::dup2(fd, STDOUT_FILENO);
  }
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

}  // namespace

void Write(Level level, std::string_view message) {
  // Messages quote the platform's words (error bodies, skipped frames, commit hashes): escaped,
  // they can neither drive the terminal of whoever reads the log nor forge a record of their
  // own with a line break (journald takes each line, "<3>" prefix and all, as one record).
  std::string safe = terminal::Escape(Redact(message), terminal::Newlines::kEscape);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(g_write_mu);
  if (level == g_sink.last_level && safe == g_sink.last &&
      now - g_sink.last_written < kFoldWindow) {
    ++g_sink.repeats;
    return;
  }
  std::string out;
  if (g_sink.repeats > 0) {
    out = FormatLine(g_sink.last_level,
                     fmt::format("(the previous message came {} more times)", g_sink.repeats));
  }
  out += FormatLine(level, safe);
  g_sink.last = std::move(safe);
  g_sink.last_level = level;
  g_sink.last_written = now;
  g_sink.repeats = 0;
  RotateIfFull(out.size());
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

bool RotateStderrFile(const std::string& path, uint64_t max_bytes) {
  struct stat err {};
  struct stat file {};
  if (::fstat(STDERR_FILENO, &err) != 0 || !S_ISREG(err.st_mode) ||
      ::stat(path.c_str(), &file) != 0 || !SameFile(err, file)) {
    return false;
  }
  std::lock_guard lock(g_write_mu);
  g_sink.rotate_path = max_bytes > 0 ? path : "";
  g_sink.rotate_at = max_bytes;
  RotateIfFull(0);
  return true;
}

bool Throttle::Allow(uint64_t* held_back) {
  auto now = std::chrono::steady_clock::now();
  if (last_ && now - *last_ < interval_) {
    ++held_back_;
    return false;
  }
  last_ = now;
  *held_back = held_back_;
  held_back_ = 0;
  return true;
}

}  // namespace bim::log
