#pragma once
// The config file, $XDG_CONFIG_HOME/backend-im/config: one `key = value` per line, `#` starts
// a comment line, blank lines are ignored, values may be "quoted". Unknown keys are errors
// (a typo must not be silently ignored); each error names the line.
//
//   api_url   = https://api.backend.im
//   ca_file   = /etc/ssl/my-ca.pem
//   log_level = info
//   log_max_mb = 10
//   notify    = 0
//   snapshot_keep = 20
//   snapshot_max_mb = 200

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bim {

struct Config {
  std::optional<std::string> api_url;
  std::optional<std::string> ca_file;
  std::optional<std::string> log_level;
  std::optional<std::string> log_max_mb;
  std::optional<std::string> notify;
  std::optional<std::string> snapshot_keep;
  std::optional<std::string> snapshot_max_mb;
};

Result<Config> ParseConfig(std::string_view text);
// A missing file is an empty Config, not an error.
Result<Config> LoadConfig(const std::string& path);

inline constexpr const char* kDefaultApiUrl = "https://api.backend.im";

}  // namespace bim
