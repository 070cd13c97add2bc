#include "common/config.h"

#include <fmt/format.h>

#include <algorithm>
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

struct Key {
  std::string_view name;
  std::optional<std::string> Config::*value;
};

// Every key of the file, and the field it sets.
constexpr Key kKeys[] = {
    {"api_url", &Config::api_url},
    {"ca_file", &Config::ca_file},
    {"log_level", &Config::log_level},
    {"log_max_mb", &Config::log_max_mb},
    {"notify", &Config::notify},
    {"snapshot_keep", &Config::snapshot_keep},
    {"snapshot_max_mb", &Config::snapshot_max_mb},
};

std::string KnownKeys() {
  std::string names;
  for (const Key& k : kKeys) {
    if (!names.empty()) names += ", ";
    names += k.name;
  }
  return names;
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
    auto known = std::find_if(std::begin(kKeys), std::end(kKeys),
                              [&](const Key& k) { return k.name == key; });
    if (known == std::end(kKeys)) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("config line {}: unknown key \"{}\" (known: {})", line_no,
                               key.substr(0, 64), KnownKeys()));
    }
    c.*(known->value) = std::string(value);
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
