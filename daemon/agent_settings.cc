#include "daemon/agent_settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace bim::daemon {

Result<AgentSettings> ResolveAgentSettings(const DaemonOptions& flags, const Environment& env,
                                           const Config& config, const std::string& config_path,
                                           const std::string& build_version) {
  AgentSettings s;

  std::string level_name = flags.log_level;
  if (level_name.empty()) level_name = env.Get("BACKEND_IM_LOG_LEVEL");
  if (level_name.empty()) level_name = config.log_level.value_or("info");
  auto level = log::ParseLevel(level_name);
  if (!level) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("unknown log level \"{}\" (debug, info, warn, error)", level_name));
  }
  s.log_level = *level;

  if (!flags.api_url.empty()) {
    s.api_url = flags.api_url;
    s.api_url_source = "--api-url";
  } else if (std::string v = env.Get("BACKEND_IM_API_URL"); !v.empty()) {
    s.api_url = v;
    s.api_url_source = "BACKEND_IM_API_URL";
  } else if (config.api_url) {
    s.api_url = *config.api_url;
    s.api_url_source = "api_url in " + config_path;
  } else {
    s.api_url = kDefaultApiUrl;
  }

  s.ca_file = env.Get("BACKEND_IM_CA_FILE");
  if (s.ca_file.empty()) s.ca_file = config.ca_file.value_or("");
  s.environment_token = env.Get("BACKEND_IM_TOKEN");
  if (std::string k = env.Get("BACKEND_IM_WS_KEEPALIVE_MS"); !k.empty()) {
    s.keepalive = std::chrono::milliseconds(std::clamp(std::atoll(k.c_str()), 100LL, 600000LL));
  }
  s.version = env.Get("BACKEND_IM_VERSION_OVERRIDE");
  if (s.version.empty()) s.version = build_version;
  s.autostarted = env.Get("BACKEND_IM_AUTOSTARTED") == "1";
  // A ctl clears INVOCATION_ID for the agents it starts, and marks those.
  s.systemd_managed = !s.autostarted && !env.Get("INVOCATION_ID").empty();
  return s;
}

}  // namespace bim::daemon
