#include "ctl/client_settings.h"

#include <fmt/format.h>

#include <charconv>

namespace bim::ctl {
namespace {

// Milliseconds in [0, max]; false (with a warning) for anything else. Unset leaves out as is.
void ReadMillis(const Environment& env, const char* name, long long max,
                std::chrono::milliseconds& out, std::vector<std::string>& warnings) {
  std::string v = env.Get(name);
  if (v.empty()) return;
  long long n = -1;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 0 || n > max) {
    warnings.push_back(fmt::format("ignoring {}={:?}: expected milliseconds from 0 to {}", name,
                                   v.substr(0, 64), max));
    return;
  }
  out = std::chrono::milliseconds(n);
}

}  // namespace

ClientSettings ReadClientSettings(const Environment& env) {
  ClientSettings s;
  s.socket = env.Get("BACKEND_IM_SOCKET");
  s.agent_binary = env.Get("BACKEND_IMD");
  s.autostart = env.Get("BACKEND_IM_NO_AUTOSTART") != "1";
  ReadMillis(env, "BACKEND_IM_CALL_TIMEOUT_MS", 24LL * 3600 * 1000, s.call_timeout_cap, s.warnings);
  ReadMillis(env, "BACKEND_IM_REATTACH_GRACE_MS", 600000, s.reattach_grace, s.warnings);
  return s;
}

}  // namespace bim::ctl
