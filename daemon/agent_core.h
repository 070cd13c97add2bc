#pragma once
// The agent put together: the one place that wires its store, login, hub and watchers to a
// platform and a clock. backend-imd builds it from the real parts (SQLite on disk, PlatformClient,
// RealClock); the unit tests build the same thing from a fake platform and simulated time
// (tests/support/fake_platform.h), so what they test is wired as the agent runs it.

#include <chrono>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/dns_resolver.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/agent.h"
#include "daemon/auth_manager.h"
#include "daemon/database.h"
#include "daemon/deployment_store.h"
#include "daemon/domain_checker.h"
#include "daemon/domain_store.h"
#include "daemon/log_hub.h"
#include "daemon/notifier.h"
#include "daemon/platform.h"
#include "daemon/snapshot_store.h"
#include "daemon/token_store.h"
#include "daemon/watch_hub.h"

namespace bim::daemon {

struct CoreSettings {
  // A token from the environment (BACKEND_IM_TOKEN), used when nobody logged in; may be empty.
  std::string environment_token;
  // How often each upstream stream is checked (BACKEND_IM_WS_KEEPALIVE_MS).
  std::chrono::milliseconds keepalive{20000};
  // Told what the agent is doing (the daemon passes it to systemd as STATUS=). May be empty.
  std::function<void(const std::string&)> report_status;
  // Told when a deployment this agent created ends (desktop notices); null: nobody. Off when
  // notify is false (BACKEND_IM_NOTIFY=0), whatever notifier is given.
  Notifier* notifier = nullptr;
  bool notify = true;
  // What the snapshots of deployed trees keep (BACKEND_IM_SNAPSHOT_KEEP,
  // BACKEND_IM_SNAPSHOT_MAX_MB).
  SnapshotPolicy snapshots;
  // Where `domains verify` looks records up itself (BACKEND_IM_DNS_SERVER); null: it does not.
  dns::Resolver* resolver = nullptr;
  // The first wait of each custom domain's background check (BACKEND_IM_DOMAIN_CHECK_MS); it
  // doubles up to max.
  std::chrono::milliseconds domain_check_first_delay = kDomainCheckFirstDelay;
  std::chrono::milliseconds domain_check_max_delay = kDomainCheckMaxDelay;
};

class AgentCore {
 public:
  // Everything passed in must outlive the core.
  AgentCore(Database& db, Platform& platform, const Clock& clock, Random& random, StopSignal& stop,
            CoreSettings settings);
  ~AgentCore();

  Agent& agent() { return agent_; }
  DeploymentStore& store() { return store_; }
  SnapshotStore& snapshots() { return snapshots_; }
  WatchHub& hub() { return hub_; }
  AuthManager& auth() { return auth_; }
  DomainStore& domains() { return domain_store_; }
  LogHub& log_hub() { return log_hub_; }

  // The first half of stopping: signals stop (every wait on the clock ends) and ends every
  // watch stream. Then the daemon stops its server, and calls StopWatching().
  void BeginShutdown();
  // Joins every watcher thread.
  void StopWatching() { agent_.StopWatching(); }

 private:
  StopSignal& stop_;
  DeploymentStore store_;
  SnapshotStore snapshots_;
  TokenStore tokens_;
  WatchHub hub_;
  AuthManager auth_;
  DomainStore domain_store_;
  DomainChecker domain_checker_;
  LogHub log_hub_;
  Agent agent_;
};

}  // namespace bim::daemon
