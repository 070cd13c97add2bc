#include "ctl/agent_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/agent_record.h"
#include "common/agent_wire.h"
#include "common/malloc_tunables.h"
#include "common/paths.h"
#include "common/unix_socket.h"
#include "common/version.h"
#include "ctl/output.h"
#include "ctl/readiness_listener.h"

namespace bim::ctl {
namespace {

// common/agent_wire.h's metadata keys (bim::wire, not the wire client's bim::ctl::wire).
using ::bim::wire::kAutostartedKey;
using ::bim::wire::kErrorCodeKey;
using ::bim::wire::kVersionKey;
constexpr size_t kMaxMessageBytes = 256 * 1024 * 1024;

// backend-imd next to this binary (a build tree or /usr/bin), else on PATH.
std::string AgentBinary(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir = paths::Dirname(self);
    std::string candidate = dir + "/backend-imd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "backend-imd";
}

// True while pid runs; a zombie (exited, not yet reaped by its new parent) counts as gone.
bool ProcessAlive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat;
  if (std::FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r")) {
    char buf[256] = {0};
    stat.assign(buf, std::fread(buf, 1, sizeof buf - 1, f));
    std::fclose(f);
  }
  auto paren = stat.rfind(')');
  return !(paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

}  // namespace

AgentClient::AgentClient() : AgentClient(ReadClientSettings(ProcessEnvironment())) {}

AgentClient::AgentClient(ClientSettings settings)
    : settings_(std::move(settings)), socket_path_(DiscoverSocket()) {
  for (const auto& w : settings_.warnings) PrintErr("warning: {}\n", w);
}

wire::Channel AgentClient::channel() const {
  wire::Channel channel(socket_path_, kMaxMessageBytes);
  channel.set_verifier([path = socket_path_](int fd) {
    Status verdict = VerifyPeer(fd, path);
    if (verdict.ok()) return wire::CallStatus{};
    return wire::CallStatus{wire::Code::kPermissionDenied, verdict.error().message};
  });
  return channel;
}

bool AgentClient::Listening(const std::string& path) { return AcceptsConnections(path); }

std::string AgentClient::DiscoverSocket() const {
  if (!settings_.socket.empty()) return settings_.socket;
  // Each probe costs the ctl ~0.2 ms and the agent as much (docs/PERFORMANCE.md): none when the
  // record names the default path anyway.
  std::string fallback = paths::SocketPath();
  auto record = ReadAgentRecord(paths::StateDir());
  if (record && !record->socket_path.empty() && record->socket_path != fallback &&
      Listening(record->socket_path)) {
    return record->socket_path;
  }
  return fallback;
}

Status AgentClient::StartAgent() {
  std::string binary = AgentBinary(settings_.agent_binary);
  std::string log_dir = paths::StateDir();
  if (auto s = paths::EnsurePrivateDir(log_dir); !s.ok()) return s;
  std::string log_path = log_dir + "/agent.log";
  auto notify = ReadinessListener::Open();
  if (!notify.ok()) return notify.error();

  // The agent's allocator settings (common/malloc_tunables.h), made before fork: passed at its
  // start, they spare it re-executing itself to apply them.
  const char* had_tunables = std::getenv("GLIBC_TUNABLES");
  std::string tunables = WithWipeTunables(had_tunables ? had_tunables : "");

  pid_t child = ::fork();
  if (child < 0)
    return Error(ErrorCode::kInternal, fmt::format("fork failed: {}", std::strerror(errno)));
  if (child == 0) {
    // Detach twice so the agent is nobody's child here and outlives this terminal.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    // Every other descriptor, in one system call; one by one where close_range is refused (an
    // older kernel, a seccomp filter).
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    }
    ::setenv("BACKEND_IM_AUTOSTARTED", "1", 1);
    ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    // The agent reports to us, not to a service manager this ctl may itself run under.
    ::setenv("NOTIFY_SOCKET", notify->address().c_str(), 1);
    for (const char* name : {"INVOCATION_ID", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                             "LISTEN_PID", "LISTEN_FDNAMES"}) {
      ::unsetenv(name);
    }
    char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
    ::execvp(binary.c_str(), argv);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);

  ReadinessListener::Report report = notify->Wait(std::chrono::seconds(3));
  // Another client may have started an agent at the same time, which won: use it.
  std::string found = DiscoverSocket();
  if (Listening(found)) {
    socket_path_ = found;
    return CheckAgent();
  }
  if (report.failed) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("backend-imd did not start: {}", report.message));
  }
  return Error(ErrorCode::kUnavailable,
               fmt::format("started {} but it did not listen on {} within 3 s; see {} for why",
                           binary, found, log_path));
}

Status AgentClient::CheckAgent() const {
  // Connecting sends nothing; the one connection then serves as the probe and for SO_PEERCRED.
  int fd = ConnectUnixSocket(socket_path_);
  if (fd < 0) {
    return Error(ErrorCode::kUnavailable, fmt::format("no agent is listening on {}: {}",
                                                      socket_path_, std::strerror(errno)));
  }
  Status verdict = VerifyPeer(fd, socket_path_);
  ::close(fd);
  return verdict;
}

Status AgentClient::VerifyPeer(int fd, const std::string& socket_path) {
  ucred peer{};
  socklen_t len = sizeof peer;
  bool ours = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.uid == ::getuid();
  std::string dir = paths::Dirname(socket_path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_uid != ::getuid() || (st.st_mode & 022) != 0)) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("refusing to talk to the agent socket {}: its folder belongs to uid "
                             "{} or others can write it (mode {:o}), so anyone could have put "
                             "that socket there. Remove {}, or set BACKEND_IM_SOCKET or "
                             "XDG_RUNTIME_DIR to a folder of your own",
                             socket_path, st.st_uid, st.st_mode & 0777, dir));
  }
  if (::lstat(socket_path.c_str(), &st) == 0 &&
      (!S_ISSOCK(st.st_mode) || st.st_uid != ::getuid())) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("refusing to talk to {}: it is not a socket of yours (owner uid {}); "
                             "remove it",
                             socket_path, st.st_uid));
  }
  if (!ours) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("refusing to talk to {}: the process listening there (pid {}) runs "
                             "as uid {}, not as you (uid {})",
                             socket_path, peer.pid, peer.uid, ::getuid()));
  }
  return OkStatus();
}

Status AgentClient::Connect() {
  // CheckAgent's kUnavailable means nothing listens there: one connection, not a probe and then
  // the check's own.
  auto listening_checked = [](const Status& s) {
    return s.ok() || s.error().code != ErrorCode::kUnavailable;
  };
  if (Status s = CheckAgent(); listening_checked(s)) return s;
  // The agent may have moved (a systemd unit took over from an on-demand agent).
  socket_path_ = DiscoverSocket();
  if (Status s = CheckAgent(); listening_checked(s)) return s;
  if (!settings_.autostart) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("no agent is listening on {}; start it with `systemctl --user start "
                             "backend-imd` (or run `backend-imd`), or unset "
                             "BACKEND_IM_NO_AUTOSTART to let backend-im start it",
                             socket_path_));
  }
  return StartAgent();
}

std::unique_ptr<wire::CallContext> AgentClient::NewContext(
    std::chrono::milliseconds timeout) const {
  auto ctx = std::make_unique<wire::CallContext>();
  if (timeout.count() > 0) {
    // A cap, never a longer wait, and streams (no deadline) keep none.
    if (settings_.call_timeout_cap.count() > 0) {
      timeout = std::min(timeout, settings_.call_timeout_cap);
    }
    ctx->set_timeout(timeout);
  }
  return ctx;
}

void AgentClient::CheckReply(const wire::CallContext& ctx) {
  const wire::Metadata& md = ctx.initial_metadata();
  std::string version = wire::First(md, kVersionKey);
  if (version.empty() || version == kVersion || warned_) return;
  warned_ = true;
  bool autostarted = wire::First(md, kAutostartedKey) == "1";
  if (autostarted) {
    PrintErr(
        "note: the running agent is version {} and this backend-im is {}; restarting the agent "
        "after this command.\n",
        version, kVersion);
    outdated_autostarted_ = true;
  } else {
    PrintErr(
        "warning: the running agent is version {} but this backend-im is {}. Restart it to pick "
        "up the new version: `systemctl --user restart backend-imd` (or `backend-im daemon "
        "stop`).\n",
        version, kVersion);
  }
}

void AgentClient::RestartIfOutdated() {
  if (!outdated_autostarted_) return;
  outdated_autostarted_ = false;
  if (!StopAgent(std::chrono::seconds(10)).ok()) return;
  if (settings_.autostart) (void)StartAgent();
}

Status AgentClient::StopAgent(std::chrono::milliseconds timeout) {
  backend_im::v1::AgentInfo info;
  {
    auto ctx = NewContext(std::chrono::seconds(5));
    auto st = Call(rpc::kGetInfo, {}, &info, *ctx);
    if (!st.ok()) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("cannot reach the agent on {}: {}", socket_path_, st.message));
    }
    ctx = NewContext(std::chrono::seconds(5));
    backend_im::v1::ShutdownReply reply;
    st = Call(rpc::kShutdown, {}, &reply, *ctx);
    if (!st.ok()) {
      return Error(ErrorCode::kUnavailable,
                   fmt::format("the agent did not accept the stop: {}", st.message));
    }
  }
  // The agent's gRPC server finishes stopping only once its clients have hung up: each call
  // above closed its own connection when it returned, so none of ours holds it up.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto running = [&] {
    return Listening(socket_path_) || ProcessAlive(static_cast<int>(info.pid()));
  };
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (running()) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("the agent (pid {}) did not stop within {} s", info.pid(),
                             std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  }
  return OkStatus();
}

bool AgentClient::AgentGone(const wire::CallContext& ctx, const wire::CallStatus& status) {
  return (status.code == wire::Code::kUnavailable || status.code == wire::Code::kCancelled) &&
         wire::First(ctx.trailing_metadata(), kErrorCodeKey).empty();
}

bool AgentClient::Reconnect() {
  auto deadline = std::chrono::steady_clock::now() + settings_.reattach_grace;
  for (;;) {
    std::string found = DiscoverSocket();
    if (Listening(found)) {
      socket_path_ = found;
      // The agent that is stopping may still accept connections for a moment without passing
      // the check: that is no reason to stop waiting for the next one.
      if (CheckAgent().ok()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace bim::ctl
