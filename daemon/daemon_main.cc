#include "daemon/daemon_main.h"

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/config.h"
#include "common/curl_http_client.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "common/version.h"
#include "daemon/agent.h"
#include "daemon/agent_service.h"
#include "daemon/auth_manager.h"
#include "daemon/database.h"
#include "daemon/deployment_store.h"
#include "daemon/instance_lock.h"
#include "daemon/peer_checked_listener.h"
#include "daemon/platform_client.h"
#include "daemon/token_store.h"
#include "daemon/watch_hub.h"
#include "ws/ws_client.h"

namespace bim::daemon {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Set by a signal thread or the Shutdown RPC; main waits on it.
class ShutdownLatch {
 public:
  void Request() {
    {
      std::lock_guard lock(mu_);
      requested_ = true;
    }
    cv_.notify_all();
  }
  // True once a stop was requested; false when timeout passed first.
  bool WaitFor(std::chrono::microseconds timeout) {
    std::unique_lock lock(mu_);
    if (timeout.count() <= 0) {
      cv_.wait(lock, [this] { return requested_; });
      return true;
    }
    return cv_.wait_for(lock, timeout, [this] { return requested_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
};

constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

}  // namespace

int RunDaemon(const DaemonOptions& options) {
  log::InitFromEnvironment("backend-imd");
  ::umask(077);

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
  if (!config.ok()) {
    log::Error("{}", config.error().message);
    return 2;
  }
  std::string level_name = options.log_level;
  if (level_name.empty()) level_name = Env("BACKEND_IM_LOG_LEVEL");
  if (level_name.empty()) level_name = config->log_level.value_or("info");
  auto level = log::ParseLevel(level_name);
  if (!level) {
    log::Error("unknown log level \"{}\" (debug, info, warn, error)", level_name);
    return 2;
  }
  log::SetLevel(*level);

  std::string api_url = options.api_url;
  if (api_url.empty()) api_url = Env("BACKEND_IM_API_URL");
  if (api_url.empty()) api_url = config->api_url.value_or(kDefaultApiUrl);
  if (auto s = ValidateApiUrl(api_url); !s.ok()) {
    log::Error("{}", s.error().message);
    return 2;
  }
  std::string ca_file = Env("BACKEND_IM_CA_FILE");
  if (ca_file.empty()) ca_file = config->ca_file.value_or("");

  std::string state_dir = options.state_dir.empty() ? paths::StateDir() : options.state_dir;
  std::string socket_path = options.socket_path.empty() ? paths::SocketPath() : options.socket_path;
  for (const std::string& dir : {state_dir, paths::Dirname(socket_path)}) {
    if (auto s = paths::EnsurePrivateDir(dir); !s.ok()) {
      log::Error("{}", s.error().message);
      return 1;
    }
  }
  auto lock = InstanceLock::AcquireAfterStopping(state_dir + "/agent.lock", socket_path,
                                                 std::chrono::seconds(10));
  if (!lock.ok()) {
    log::Error("{}", lock.error().message);
    return 1;
  }
  // We hold the lock: whatever is at the socket path is a dead agent's leftover.
  ::unlink(socket_path.c_str());

  auto db = Database::Open(state_dir + "/agent.db");
  if (!db.ok()) {
    log::Error("{}", db.error().message);
    return 1;
  }

  RealClock clock;
  StdRandom random;
  StopSignal stop;
  CurlHttpClient http(ca_file);
  PlatformClient platform(api_url, http, random, stop);
  DeploymentStore store(**db, clock);
  TokenStore tokens(**db);
  WatchHub hub;
  auto connector = ws::MakeConnector(ws::TlsOptions{ca_file});
  AuthManager auth(platform, tokens, clock, random, stop, Env("BACKEND_IM_TOKEN"));
  auto report_status = [](const std::string& status) {
    sd_notifyf(0, "STATUS=%s", status.c_str());
  };
  std::chrono::milliseconds keepalive(20000);
  if (std::string k = Env("BACKEND_IM_WS_KEEPALIVE_MS"); !k.empty()) {
    keepalive = std::chrono::milliseconds(std::clamp(std::atoll(k.c_str()), 100LL, 600000LL));
  }
  Agent agent(AgentDeps{store, hub, platform, auth, *connector, clock, random, stop, report_status,
                        keepalive});

  ShutdownLatch latch;
  ServiceInfo info;
  info.version =
      Env("BACKEND_IM_VERSION_OVERRIDE").empty() ? kVersion : Env("BACKEND_IM_VERSION_OVERRIDE");
  info.started_at_ms = clock.NowUnixMs();
  info.systemd_managed = !Env("NOTIFY_SOCKET").empty() || !Env("INVOCATION_ID").empty();
  info.autostarted = Env("BACKEND_IM_AUTOSTARTED") == "1";
  info.socket_path = socket_path;
  info.state_dir = state_dir;
  AgentService service(agent, info, [&latch] { latch.Request(); });

  auto listener = PeerCheckedListener::Listen(socket_path);
  if (!listener.ok()) {
    log::Error("{}", listener.error().message);
    return 1;
  }
  // No listening port of gRPC's own: connections come from the listener, peer-checked.
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    log::Error("cannot start the gRPC server");
    return 1;
  }
  (*listener)->Start(server.get());

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != 0) log::Info("received signal {}; stopping", sig);
    latch.Request();
  });

  agent.ResumeWatching();
  log::Info("backend-imd {} listening on {} (platform {})", info.version, socket_path, api_url);
  sd_notifyf(0, "READY=1\nMAINPID=%d", getpid());
  agent.ReportStatus();

  // With WatchdogSec= set, answer at half the interval; otherwise sleep until told to stop.
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) watchdog_usec = 0;
  std::chrono::microseconds tick(watchdog_usec / 2);
  while (!latch.WaitFor(tick)) sd_notify(0, "WATCHDOG=1");
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  stop.Stop();
  (*listener)->Stop();
  hub.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  agent.StopWatching();
  if (!service.DrainWorkers(std::chrono::seconds(3))) {
    // A call is still waiting on the platform (e.g. a long upload). Everything worth keeping is
    // already in the database, so leave now rather than free what that thread still uses.
    log::Warn("a call to the platform is still running; exiting without waiting for it");
    ::unlink(socket_path.c_str());
    sd_notify(0, "STATUS=stopped");
    std::fflush(stderr);
    std::_Exit(0);
  }
  server->Wait();
  ::unlink(socket_path.c_str());
  // Wake the signal thread if the stop came over the socket.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  log::Info("stopped");
  return 0;
}

}  // namespace bim::daemon
