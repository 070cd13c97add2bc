#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <regex>

#include <unistd.h>

namespace bim::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_journal{false};
std::mutex g_write_mu;
std::string g_program = "backend-im";  // written once before threads start

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

// sd-daemon(3) priorities.
int SyslogPriority(Level l) {
  switch (l) {
    case Level::kDebug: return 7;
    case Level::kInfo: return 6;
    case Level::kWarn: return 4;
    case Level::kError: return 3;
  }
  return 6;
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return g_level; }

void InitFromEnvironment(const std::string& program) {
  g_program = program;
  const char* js = std::getenv("JOURNAL_STREAM");
  g_journal = js != nullptr && *js != '\0';
}

std::string Redact(std::string_view text) {
  static const std::regex kPatterns(
      R"((Bearer\s+|access_token["=:\s]+|refresh_token["=:\s]+|device_code["=:\s]+)[A-Za-z0-9._~+/=-]+)",
      std::regex::icase);
  return std::regex_replace(std::string(text), kPatterns, "$1[redacted]");
}

void Write(Level level, std::string_view message) {
  std::string safe = Redact(message);
  std::string line;
  if (g_journal) {
    line = fmt::format("<{}>{}\n", SyslogPriority(level), safe);
  } else {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    line = fmt::format("{}.{:03d}Z {} {}[{}]: {}\n", ts, static_cast<int>(ms.count()),
                       LevelName(level), g_program, static_cast<int>(getpid()), safe);
  }
  std::lock_guard lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace bim::log
