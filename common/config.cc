#include "common/config.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace bim {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Config> ParseConfig(std::string_view text) {
  Config c;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("config line {}: expected `key = value`", line_no));
    }
    std::string key(Trim(line.substr(0, eq)));
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (value.find('\0') != std::string_view::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("config line {}: NUL in value", line_no));
    }
    if (key == "api_url") {
      c.api_url = std::string(value);
    } else if (key == "ca_file") {
      c.ca_file = std::string(value);
    } else if (key == "log_level") {
      c.log_level = std::string(value);
    } else if (key == "log_max_mb") {
      c.log_max_mb = std::string(value);
    } else if (key == "notify") {
      c.notify = std::string(value);
    } else if (key == "snapshot_keep") {
      c.snapshot_keep = std::string(value);
    } else if (key == "snapshot_max_mb") {
      c.snapshot_max_mb = std::string(value);
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("config line {}: unknown key \"{}\" (known: api_url, ca_file, "
                               "log_level, log_max_mb, notify, snapshot_keep, snapshot_max_mb)",
                               line_no, key.substr(0, 64)));
    }
  }
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Config{};
    return Error(ErrorCode::kIo, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseConfig(ss.str());
  if (!c.ok()) return Error(c.error().code, path + ": " + c.error().message);
  return c;
}

}  // namespace bim
