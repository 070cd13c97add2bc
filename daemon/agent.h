#pragma once
// The agent's core: what `backend-imd` does, independent of gRPC. AgentService adapts it to the
// wire; tests could drive it directly.
//
// Owns the watchers (one DeploymentWatcher per deployment not yet terminal) and resumes them on
// start. Calls block; they are made from the service's worker threads. A call that asks the
// platform takes the caller's Deadline and gives up by it with a platform timeout
// (see Platform), so a slow platform is never mistaken for a slow agent.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/auth_manager.h"
#include "daemon/deployment_store.h"
#include "daemon/deployment_watcher.h"
#include "daemon/platform.h"
#include "daemon/watch_hub.h"

namespace bim::daemon {

struct AgentDeps {
  DeploymentStore& store;
  WatchHub& hub;
  Platform& platform;
  AuthManager& auth;
  const Clock& clock;
  Random& random;
  StopSignal& stop;
  // Told what the agent is doing whenever the set of followed deployments changes, e.g.
  // "watching 2 deployments" (the daemon passes it to systemd as STATUS=). May be empty.
  std::function<void(const std::string&)> report_status;
  // How often each upstream stream is pinged (BACKEND_IM_WS_KEEPALIVE_MS, default 20 s).
  std::chrono::milliseconds keepalive{20000};
};

class Agent {
 public:
  explicit Agent(AgentDeps deps);
  ~Agent();

  // Resumes watching every deployment that is not terminal.
  void ResumeWatching();
  // Stops every watcher thread (after deps.stop was signalled).
  void StopWatching();

  Result<contract::GenerateResponse> Generate(const std::string& prompt,
                                              Deadline deadline = kNoDeadline);
  // Records the create (its Idempotency-Key and body) before sending it, so that an agent that
  // dies before the answer is recorded sends the same create again when it next starts; one cut
  // off by the deadline is among those.
  Result<DeploymentRecord> Deploy(const contract::FileMap& files, const std::string& project_id,
                                  const std::string& directory, Deadline deadline = kNoDeadline);
  // Sends every unanswered create again, with its key, and records what the platform made.
  // Blocks while the platform is slow: the daemon calls it from a thread of its own.
  void ResumePendingDeploys();
  // From the store; a deployment the store does not know is looked up on the platform, recorded
  // and followed.
  Result<DeploymentRecord> Find(const std::string& id, Deadline deadline = kNoDeadline);
  std::vector<std::string> WatchedDeployments();
  // Reports the current activity through report_status.
  void ReportStatus();

  DeploymentStore& store() { return deps_.store; }
  WatchHub& hub() { return deps_.hub; }
  AuthManager& auth() { return deps_.auth; }
  const std::string& api_url() const { return deps_.platform.base_url(); }
  const Clock& clock() const { return deps_.clock; }

 private:
  void EnsureWatching(const DeploymentRecord& record);
  Result<DeploymentRecord> Create(const PendingDeploy& pending, const contract::DeployRequest& req,
                                  Deadline deadline);
  // Stores how a deployment that the platform's deploy answer says has ended, ended.
  void RecordEnded(const std::string& id, contract::Stage answered, Deadline deadline);

  AgentDeps deps_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<DeploymentWatcher>> watchers_;  // guarded by mu_
  std::atomic<int> active_{0};  // watchers still following their deployment
};

}  // namespace bim::daemon
