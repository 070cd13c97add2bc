#include "common/paths.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bim::paths {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string Home() {
  std::string h = Env("HOME");
  return h.empty() ? std::string("/tmp") : h;
}

// XDG says relative values are invalid and must be ignored.
std::string XdgDir(const char* var, const char* fallback_below_home) {
  std::string v = Env(var);
  if (!v.empty() && v[0] == '/') return v;
  return Home() + "/" + fallback_below_home;
}

}  // namespace

std::string StateDir() { return XdgDir("XDG_STATE_HOME", ".local/state") + "/backend-im"; }
std::string ConfigDir() { return XdgDir("XDG_CONFIG_HOME", ".config") + "/backend-im"; }
std::string ConfigFile() { return ConfigDir() + "/config"; }

std::string SocketPath() {
  std::string s = Env("BACKEND_IM_SOCKET");
  if (!s.empty()) return s;
  std::string run = Env("XDG_RUNTIME_DIR");
  if (!run.empty() && run[0] == '/') return run + "/backend-im/agent.sock";
  return StateDir() + "/agent.sock";
}

std::string Dirname(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status EnsurePrivateDir(const std::string& dir) {
  // Create parents with the default mode, then the leaf 0700.
  for (size_t pos = 1; pos < dir.size(); ++pos) {
    if (dir[pos] != '/') continue;
    std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error(ErrorCode::kIo, fmt::format("cannot create {}: {}", parent, std::strerror(errno)));
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(ErrorCode::kIo, fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  }
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) {
    return Error(ErrorCode::kIo, fmt::format("cannot stat {}: {}", dir, std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("{} is not a directory; remove it and try again", dir));
  }
  if (st.st_uid != ::getuid()) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("{} belongs to uid {}, not to you (uid {}); remove it or set "
                             "BACKEND_IM_SOCKET / XDG_STATE_HOME to a folder of your own",
                             dir, st.st_uid, ::getuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("{} is accessible by other users (mode {:o}); run: chmod 700 {}", dir,
                             st.st_mode & 0777, dir));
  }
  return OkStatus();
}

}  // namespace bim::paths
