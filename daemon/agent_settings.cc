#include "daemon/agent_settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace bim::daemon {
namespace {

std::optional<bool> ParseSwitch(const std::string& v) {
  if (v == "1" || v == "on" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "off" || v == "false" || v == "no") return false;
  return std::nullopt;
}

// A path as a D-Bus address value: bytes outside [-0-9A-Za-z_/.\\*] %-escaped.
std::string BusPathAddress(const std::string& path) {
  std::string out = "unix:path=";
  for (unsigned char c : path) {
    if (std::isalnum(c) || (c != 0 && std::strchr("-_/.\\*", c))) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02x}", c);
    }
  }
  return out;
}

// A whole number in [min, max] from the first of flag, environment and config file that has
// one; fallback when none has.
Result<int64_t> Number(const std::string& flag, const char* flag_name, const Environment& env,
                       const char* env_name, const std::optional<std::string>& config,
                       const char* config_key, int64_t min, int64_t max, int64_t fallback) {
  std::string value = flag, source = flag_name;
  if (value.empty()) value = env.Get(env_name), source = env_name;
  if (value.empty() && config) value = *config, source = config_key;
  if (value.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(value.c_str(), &end, 10);
  if (errno != 0 || end == value.c_str() || *end != '\0' || n < min || n > max) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{} is \"{}\": give a whole number from {} to {}", source,
                             value.substr(0, 64), min, max));
  }
  return static_cast<int64_t>(n);
}

}  // namespace

Result<AgentSettings> ResolveAgentSettings(const DaemonOptions& flags, const Environment& env,
                                           const Config& config, const std::string& config_path,
                                           const std::string& build_version, uid_t uid) {
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
  auto log_mb = Number(flags.log_max_mb, "--log-max-mb", env, "BACKEND_IM_LOG_MAX_MB",
                       config.log_max_mb, "log_max_mb", 1, 1024, kDefaultLogMaxMiB);
  if (!log_mb.ok()) return log_mb.error();
  s.log_max_bytes = static_cast<uint64_t>(*log_mb) * 1024 * 1024;

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
  auto keep = Number(flags.snapshot_keep, "--snapshot-keep", env, "BACKEND_IM_SNAPSHOT_KEEP",
                     config.snapshot_keep, "snapshot_keep", 0, 1000,
                     SnapshotPolicy::kDefaultKeepPerProject);
  if (!keep.ok()) return keep.error();
  s.snapshots.keep_per_project = static_cast<int>(*keep);
  auto max_mb = Number(flags.snapshot_max_mb, "--snapshot-max-mb", env,
                       "BACKEND_IM_SNAPSHOT_MAX_MB", config.snapshot_max_mb, "snapshot_max_mb", 1,
                       1048576, SnapshotPolicy::kDefaultMaxBytes / (1024 * 1024));
  if (!max_mb.ok()) return max_mb.error();
  s.snapshots.max_bytes = *max_mb * 1024 * 1024;
  s.version = env.Get("BACKEND_IM_VERSION_OVERRIDE");
  if (s.version.empty()) s.version = build_version;
  s.autostarted = env.Get("BACKEND_IM_AUTOSTARTED") == "1";
  // A ctl clears INVOCATION_ID for the agents it starts, and marks those.
  s.systemd_managed = !s.autostarted && !env.Get("INVOCATION_ID").empty();

  std::string notify = env.Get("BACKEND_IM_NOTIFY");
  std::string notify_source = "BACKEND_IM_NOTIFY";
  if (notify.empty() && config.notify) {
    notify = *config.notify;
    notify_source = "notify in " + config_path;
  }
  if (!notify.empty()) {
    auto on = ParseSwitch(notify);
    if (!on) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("{} is \"{}\": say 1 or 0 (on, off)",
                                                            notify_source, notify.substr(0, 64)));
    }
    s.notify = *on;
  }
  s.session_bus = env.Get("DBUS_SESSION_BUS_ADDRESS");
  if (std::string runtime = env.Get("XDG_RUNTIME_DIR"); s.session_bus.empty() && !runtime.empty()) {
    s.session_bus = BusPathAddress(runtime + "/bus");
  }
  if (s.session_bus.empty()) s.session_bus = fmt::format("unix:path=/run/user/{}/bus", uid);
  // Its form is the resolver's to judge (dns::MakeResolver), when the agent starts.
  s.dns_server = env.Get("BACKEND_IM_DNS_SERVER");
  auto check_ms = Number("", "", env, "BACKEND_IM_DOMAIN_CHECK_MS", std::nullopt, "", 10, 600000,
                         s.domain_check_first_delay.count());
  if (!check_ms.ok()) return check_ms.error();
  s.domain_check_first_delay = std::chrono::milliseconds(*check_ms);
  return s;
}

}  // namespace bim::daemon
