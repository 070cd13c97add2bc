#include "daemon/daemon_main.h"

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/agent_record.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/curl_http_client.h"
#include "common/dns_resolver.h"
#include "common/environment.h"
#include "common/log.h"
#include "common/malloc_tunables.h"
#include "common/paths.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "common/version.h"
#include "daemon/agent_core.h"
#include "daemon/agent_service.h"
#include "daemon/agent_settings.h"
#include "daemon/database.h"
#include "daemon/desktop_notifier.h"
#include "daemon/instance_lock.h"
#include "daemon/peer_checked_listener.h"
#include "daemon/platform_client.h"
#include "ws/ws_client.h"

namespace bim::daemon {
namespace {

constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

// Exit statuses a restart cannot cure; the unit lists them in RestartPreventExitStatus=, so
// systemd says why once instead of restarting in a loop.
constexpr int kExitRefusedConfig = 2;
constexpr int kExitAnotherAgent = 3;

// Says why the agent cannot start where whoever started it looks: the log, and the notify
// socket, which systemd shows in `systemctl --user status` (STATUS=, ERRNO=) and which a ctl
// that started the agent on demand reads to print the reason at once.
int FailStart(int exit_code, int errno_value, const std::string& message) {
  log::Error("{}", message);
  sd_notifyf(0, "STATUS=%s\nERRNO=%d", message.c_str(), errno_value);
  return exit_code;
}

// The agent holds the user's tokens: no core dump may carry them anywhere (it would land in the
// working folder it inherited, often a project that `deploy` then uploads), and no other
// process of the user may read its memory through /proc or ptrace without privilege.
int g_wipe_errno = 0;  // why WipeFreedMemory could not re-execute the agent

void KeepSecretsIn() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  // Nor keep the folder of whoever started it busy (or be found there).
  if (::chdir("/") != 0) log::Warn("cannot change to /: {}", std::strerror(errno));
}

}  // namespace

void WipeFreedMemory(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)argv;
#else
  constexpr const char* kMarker = "BACKEND_IMD_WIPES_FREED_MEMORY";
  const char* had = std::getenv("GLIBC_TUNABLES");
  // Whoever started the agent may have passed the settings already (the ctl does): glibc read
  // them at start-up, and loading every library a second time is spared.
  if (std::getenv(kMarker) || (had && WipesFreedMemory(had))) {
    ::unsetenv(kMarker);  // nothing the agent starts should inherit it
    return;
  }
  std::string tunables = WithWipeTunables(had ? had : "");
  ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  ::setenv(kMarker, "1", 1);
  ::execv("/proc/self/exe", argv);
  // Still running as before; RunDaemon says so once the log is open.
  g_wipe_errno = errno;
  ::unsetenv(kMarker);
#endif
}

int RunDaemon(const DaemonOptions& options) {
  log::InitFromEnvironment("backend-imd");
  if (g_wipe_errno != 0) {
    log::Warn("freed memory is not wiped (cannot re-execute /proc/self/exe: {})",
              std::strerror(g_wipe_errno));
  }
  ::umask(077);
  KeepSecretsIn();

  // Signals go to one thread that waits for them; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto config = LoadConfig(paths::ConfigFile());
  if (!config.ok()) return FailStart(kExitRefusedConfig, EINVAL, config.error().message);
  auto settings =
      ResolveAgentSettings(options, ProcessEnvironment(), *config, paths::ConfigFile(), kVersion);
  if (!settings.ok()) return FailStart(kExitRefusedConfig, EINVAL, settings.error().message);
  log::SetLevel(settings->log_level);
  const std::string& api_url = settings->api_url;
  const std::string& ca_file = settings->ca_file;
  const bool autostarted = settings->autostarted;
  const bool systemd_managed = settings->systemd_managed;

  std::string state_dir = options.state_dir.empty() ? paths::StateDir() : options.state_dir;
  std::string socket_path = options.socket_path.empty() ? paths::SocketPath() : options.socket_path;
  for (const std::string& dir : {state_dir, paths::Dirname(socket_path)}) {
    if (auto s = paths::EnsurePrivateDir(dir); !s.ok()) {
      std::string message = s.error().message;
      if (systemd_managed) {
        message +=
            "; the unit lets the agent write only to ~/.local/state/backend-im and "
            "$XDG_RUNTIME_DIR/backend-im: leave XDG_STATE_HOME and BACKEND_IM_SOCKET unset for "
            "the user manager, or allow the folder with `systemctl --user edit backend-imd` "
            "(ReadWritePaths=)";
      }
      return FailStart(kExitRefusedConfig, EACCES, message);
    }
  }
  AgentRecord self{::getpid(), socket_path,
                   systemd_managed ? AgentRecord::kStartedBySystemd
                   : autostarted   ? AgentRecord::kStartedByCtl
                                   : AgentRecord::kStartedByHand};
  // The unit's agent takes over from an on-demand one instead of failing (and, under
  // Restart=on-failure, being started again and again beside it).
  auto lock = InstanceLock::AcquireAfterStopping(
      AgentLockPath(state_dir), self, LockWait{std::chrono::seconds(10), systemd_managed});
  if (!lock.ok()) {
    int code = lock.error().code == ErrorCode::kConflict ? kExitAnotherAgent : 1;
    return FailStart(code, lock.error().code == ErrorCode::kConflict ? EBUSY : EIO,
                     lock.error().message);
  }
  // We hold the lock: whatever is at the socket path is a dead agent's leftover.
  ::unlink(socket_path.c_str());
  // Only the lock holder rotates agent.log: an agent that lost the race appends its reason.
  log::RotateStderrFile(state_dir + "/agent.log", settings->log_max_bytes);

  std::string db_path = state_dir + "/agent.db";
  struct stat db_stat {};
  if (::stat(db_path.c_str(), &db_stat) == 0 && db_stat.st_size == 0) {
    log::Warn("{} is empty (truncated?); starting a new history and login", db_path);
  }
  auto db = Database::Open(db_path);
  if (!db.ok()) {
    // A restart cannot cure a damaged file: say how to get going again.
    return FailStart(kExitRefusedConfig, EIO,
                     fmt::format("{}. If the file is damaged, move it aside (mv {} {}.broken) and "
                                 "the agent starts with an empty history; you will have to log "
                                 "in again",
                                 db.error().message, db_path, db_path));
  }

  RealClock clock;
  StdRandom random;
  StopSignal stop;
  CurlHttpClient http(ca_file);
  auto connector = ws::MakeConnector(ws::TlsOptions{ca_file});
  PlatformClient platform(api_url, http, *connector, clock, random, stop, RetryPolicy{},
                          settings->api_url_source);
  if (!platform.url_problem().ok()) log::Error("{}", platform.url_problem().error().message);
  // Where `domains verify` looks records up itself; a value it cannot use is refused now, not
  // at the first verify.
  auto resolver = dns::MakeResolver(settings->dns_server);
  if (!resolver.ok()) {
    return FailStart(kExitRefusedConfig, EINVAL,
                     "BACKEND_IM_DNS_SERVER: " + resolver.error().message);
  }
  // Opens no connection and starts no thread until a deployment this agent created ends.
  DesktopNotifier notifier(settings->session_bus);
  if (!settings->notify) log::Info("desktop notices are off (BACKEND_IM_NOTIFY or notify)");
  CoreSettings core_settings;
  core_settings.environment_token = settings->environment_token;
  core_settings.keepalive = settings->keepalive;
  core_settings.notifier = &notifier;
  core_settings.notify = settings->notify;
  core_settings.snapshots = settings->snapshots;
  core_settings.resolver = resolver->get();
  core_settings.domain_check_first_delay = settings->domain_check_first_delay;
  std::string status_prefix =
      platform.url_problem().ok() ? "" : "platform URL refused, local commands only; ";
  core_settings.report_status = [status_prefix](const std::string& status) {
    sd_notifyf(0, "STATUS=%s%s", status_prefix.c_str(), status.c_str());
  };
  AgentCore core(**db, platform, clock, random, stop, std::move(core_settings));
  Agent& agent = core.agent();

  // Set by the signal thread or the Shutdown RPC; main waits on it.
  StopSignal shutdown_requested;
  ServiceInfo info;
  info.version = settings->version;
  info.started_at_ms = clock.NowUnixMs();
  info.systemd_managed = systemd_managed;
  info.autostarted = autostarted;
  info.socket_path = socket_path;
  if (!platform.url_problem().ok()) info.platform_problem = platform.url_problem().error().message;
  info.state_dir = state_dir;
  AgentService service(agent, info, [&shutdown_requested] { shutdown_requested.Stop(); });

  auto listener = PeerCheckedListener::Listen(socket_path);
  if (!listener.ok()) return FailStart(1, EIO, listener.error().message);
  // No listening port of gRPC's own: connections come from the listener, peer-checked.
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return FailStart(1, EIO, "cannot start the gRPC server");
  (*listener)->Start(server.get());

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != 0) log::Info("received signal {}; stopping", sig);
    shutdown_requested.Stop();
  });

  agent.ResumeWatching();
  // Creates that a previous agent sent but did not see answered: off the start-up path, since
  // the platform may be slow.
  std::atomic<bool> resumed{false};
  std::thread resume_thread([&agent, &resumed] {
    agent.ResumePendingDeploys();
    resumed = true;
  });
  log::Info("backend-imd {} listening on {} (platform {})", info.version, socket_path, api_url);
  // A ctl that started us listens only until READY=1; unset NOTIFY_SOCKET then, so later
  // STATUS= lines go nowhere rather than to whoever binds that address next.
  sd_notifyf(autostarted ? 1 : 0, "READY=1\nMAINPID=%d", getpid());
  agent.ReportStatus();

  // With WatchdogSec= set, answer at half the interval; otherwise sleep until told to stop.
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) watchdog_usec = 0;
  std::chrono::microseconds tick(watchdog_usec / 2);
  if (tick.count() > 0) {
    while (shutdown_requested.SleepFor(tick)) sd_notify(0, "WATCHDOG=1");
  } else {
    shutdown_requested.Wait();
  }
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  core.BeginShutdown();
  (*listener)->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  core.StopWatching();
  auto drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!resumed && std::chrono::steady_clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (resumed) resume_thread.join();
  if (!resumed || !service.DrainWorkers(std::chrono::seconds(3))) {
    // A call is still waiting on the platform (e.g. a long upload). Everything worth keeping is
    // already in the database, so leave now rather than free what that thread still uses.
    log::Warn("a call to the platform is still running; exiting without waiting for it");
    (*listener)->RemoveSocket();
    sd_notify(0, "STATUS=stopped");
    std::fflush(stderr);
    std::_Exit(0);
  }
  server->Wait();
  (*listener)->RemoveSocket();
  // Wake the signal thread if the stop came over the socket.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  // The server has shut down and no call is left, so our own objects (the core, the database,
  // the lock) are destroyed below as usual. gRPC's teardown is skipped: the destructor of the
  // last gRPC object joins gRPC's internal threads, and one of them (a poller with a 10 s
  // timeout) sometimes kept a stopping agent alive for up to 10 s after its work was done
  // (1 stop in 20 after a 20 MB reply, seen in the Ctrl-C-during-generate test). The process
  // exits right after; tests/sanitizer/lsan.supp names this one object.
  (void)server.release();
  log::Info("stopped");
  return 0;
}

}  // namespace bim::daemon
