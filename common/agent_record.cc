#include "common/agent_record.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace bim {
namespace {

// Owned by this user, and neither group- nor world-writable.
bool OwnedPrivately(const struct stat& st) {
  return st.st_uid == ::getuid() && (st.st_mode & 022) == 0;
}

}  // namespace

std::string FormatAgentRecord(const AgentRecord& record) {
  return fmt::format("{}\nsocket={}\nstarted_by={}\n", record.pid, record.socket_path,
                     record.started_by);
}

std::optional<AgentRecord> ParseAgentRecord(std::string_view text) {
  AgentRecord record;
  bool first = true;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (first) {
      first = false;
      auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), record.pid);
      if (ec != std::errc() || end != line.data() + line.size() || record.pid <= 0) {
        return std::nullopt;
      }
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (key == "socket") {
      record.socket_path = value;
    } else if (key == "started_by") {
      record.started_by = value;
    }
  }
  if (first) return std::nullopt;
  return record;
}

std::string AgentLockPath(const std::string& state_dir) { return state_dir + "/agent.lock"; }

std::optional<AgentRecord> ReadAgentRecord(const std::string& state_dir) {
  struct stat dir {};
  if (::lstat(state_dir.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode) || !OwnedPrivately(dir)) {
    return std::nullopt;
  }
  int fd = ::open(AgentLockPath(state_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  struct stat file {};
  char buf[4096];
  ssize_t n = -1;
  if (::fstat(fd, &file) == 0 && S_ISREG(file.st_mode) && OwnedPrivately(file)) {
    n = ::pread(fd, buf, sizeof buf, 0);
  }
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return ParseAgentRecord(std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace bim
