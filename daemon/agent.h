#pragma once
// The agent's core and its application API: every operation of `backend-imd` exists here once
// (deploy, rollback, promote, generate, status, history, snapshots, watch, login, environments
// and variables, custom domains), independent of gRPC.
// AgentService only translates messages and errors; the unit tests drive the same calls against a
// fake platform (agent_scenarios_test.cc, agent_service_test.cc).
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
#include <semaphore>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/dns_resolver.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/auth_manager.h"
#include "daemon/deployment_store.h"
#include "daemon/deployment_watcher.h"
#include "daemon/domain_checker.h"
#include "daemon/domain_store.h"
#include "daemon/log_hub.h"
#include "daemon/notifier.h"
#include "daemon/platform.h"
#include "daemon/snapshot_store.h"
#include "daemon/subscription.h"
#include "daemon/watch_hub.h"

namespace bim::daemon {

struct AgentDeps : WatcherServices {
  SnapshotStore& snapshots;
  // Told what the agent is doing whenever the set of followed deployments changes, e.g.
  // "watching 2 deployments" (the daemon passes it to systemd as STATUS=). May be empty.
  std::function<void(const std::string&)> report_status;
  // How often each upstream stream is pinged (BACKEND_IM_WS_KEEPALIVE_MS, default 20 s).
  std::chrono::milliseconds keepalive{20000};
  // Told when a deployment this agent created ends; null: nobody (see Agent::Ended).
  Notifier* notifier = nullptr;
  // The followers of runtime logs (FollowLogs); null: following is refused.
  LogHub* log_hub = nullptr;
  // Custom domains: the ones added through this agent, their background checks, and where
  // `domains verify` looks records up itself (BACKEND_IM_DNS_SERVER). Null: the agent offers
  // no domain commands (they fail kInternal); a null resolver only leaves its own lookups out.
  DomainStore* domain_store = nullptr;
  DomainChecker* domain_checker = nullptr;
  dns::Resolver* resolver = nullptr;
};

// What the agent's own lookup found at one record's name (`domains verify`), beside what the
// platform found (the record's found and ok).
struct RecordLookup {
  std::vector<std::string> found;
  std::string error;  // why the lookup got no answer; "" when it got one
  bool ok = false;    // found holds the record's value
};

// A domain as `domains verify` shows it: the platform's answer after it looked the records up
// just now, and the agent's own lookup of each record (lookups[i] is of domain.records[i]).
struct DomainVerification {
  contract::Domain domain;
  std::vector<RecordLookup> lookups;
  std::string resolver;  // where the agent asked; "" when it has no resolver
};

// A deployment as `status` and `history` show it.
struct DeploymentView {
  DeploymentRecord record;
  // What keeps it from being followed: the hub's notice when there is one (it says why even a
  // problem cannot be stored), else the stored stream problem. Empty: none.
  std::string problem;
  LogText logs;             // only when asked for; bounded (limits::kMaxReplyLogBytes)
  bool restorable = false;  // its files are kept (SnapshotStore): rollback, restore, diff
};

// A generated project, and the agent's turn to hold a generate answer, which the caller keeps
// until it has passed the files on (AgentService: until gRPC has sent its reply). An answer is
// held about twice while it comes in (its bytes, then the files parsed from them) and twice
// again while it goes out (the reply, then its encoding). Answers take turns, so however many
// generates run at once the agent holds at most twice the largest answer
// (limits::kMaxGenerateAnswerBytes) for them; only the answers wait in line, the platform
// generates side by side.
struct Generated {
  contract::GenerateResponse response;
  std::shared_ptr<void> turn;
};

// A deployment and the exact files it uploaded.
struct DeploymentFiles {
  DeploymentRecord record;
  contract::FileMap files;
};

// Which deployment's runtime logs: one by id, or the one a project's environment shows.
struct LogsTarget {
  std::string deployment_id;
  std::string project_id;
  std::string environment;  // with project_id; empty: production
};

// A deployment whose runtime logs were asked for, and how it was chosen.
struct LogsSource {
  DeploymentRecord record;
  // For people: "" when it was named by id, else e.g. "the newest complete deployment of
  // project p (production)".
  std::string chosen;
};

// A page of a deployment's runtime logs, filtered.
struct LogsAnswer {
  LogsSource source;
  std::vector<contract::LogLine> lines;  // oldest first
  int64_t cursor = 0;                    // the newest seq the platform has (0: none)
  int64_t first = 1;                     // the oldest it keeps
};

// A follow of a deployment's runtime logs: its follower gives the items, the first ones being
// the tail that was asked for (unless it resumed after a seq).
struct LogsFollow {
  LogsSource source;
  int64_t cursor = 0;  // where the follower began
  std::unique_ptr<LogFollower> follower;
};

class Agent {
 public:
  explicit Agent(AgentDeps deps);
  ~Agent();

  // Resumes watching every deployment that is not terminal, and checking every custom domain
  // whose certificate's end the person has not been told.
  void ResumeWatching();
  // Stops every watcher thread and the domain checks (after deps.stop was signalled).
  void StopWatching();

  Result<Generated> Generate(const std::string& prompt, Deadline deadline = kNoDeadline);
  // Records the create (its Idempotency-Key and body) before sending it, so that an agent that
  // dies before the answer is recorded sends the same create again when it next starts; one cut
  // off by the deadline is among those.
  // environment empty: where the platform deploys by default.
  Result<DeploymentRecord> Deploy(const contract::FileMap& files, const std::string& project_id,
                                  const std::string& directory, const std::string& environment = "",
                                  Deadline deadline = kNoDeadline);
  // Deploys the files of an earlier deployment again: a new deployment through Deploy's path
  // (its own Idempotency-Key), recorded with restored_of. to_id empty: the newest complete
  // deployment of project_id whose files differ from the current one (the project's newest
  // complete deployment), so rolling back again steps further back. kNotFound when there is
  // nothing to roll back to, the deployment is unknown, or its files are no longer kept;
  // kInvalidArgument when neither is named, or they disagree. environment: roll back that
  // environment only (its deployments, and the new one goes there); empty with to_id: the new one
  // goes where to_id went; empty without: refused when the project's complete deployments went
  // to more than one environment (which one is meant?).
  Result<DeploymentRecord> Rollback(const std::string& project_id, const std::string& to_id,
                                    const std::string& environment = "",
                                    Deadline deadline = kNoDeadline);
  // Starts a complete deployment's files in another environment: a new deployment, no upload,
  // recorded with promoted_of. As a deploy, the create is recorded before it is sent and sent
  // again with its key by the next agent when this one dies first (ResumePendingDeploys).
  Result<DeploymentRecord> Promote(const std::string& deployment_id, const std::string& environment,
                                   Deadline deadline = kNoDeadline);

  // Environments and variables: the platform's (an extension; see Platform). Values pass
  // through: a value is in the agent only for the call that carries it, and no error, log line
  // or record ever holds one.
  Result<contract::EnvironmentList> Environments(const std::string& project_id,
                                                 Deadline deadline = kNoDeadline);
  bim::Status AddEnvironment(const std::string& project_id, const std::string& name,
                             Deadline deadline = kNoDeadline);
  bim::Status RemoveEnvironment(const std::string& project_id, const std::string& name,
                                Deadline deadline = kNoDeadline);
  Result<contract::VariableList> Variables(const std::string& project_id,
                                           const std::string& environment, bool with_values,
                                           Deadline deadline = kNoDeadline);
  bim::Status SetVariable(const std::string& project_id, const std::string& environment,
                          const std::string& key, const std::string& value,
                          Deadline deadline = kNoDeadline);
  bim::Status UnsetVariable(const std::string& project_id, const std::string& environment,
                            const std::string& key, Deadline deadline = kNoDeadline);
  // Custom domains: the platform's (an extension; see Platform). Each domain added here is
  // remembered, and its certificate checked in the background until it is issued or failed,
  // which the desktop is told once (DomainChecker). domain: normalised (case, one trailing dot)
  // and validated first. environment empty: production (AddDomain); every one (Domains).
  Result<contract::Domain> AddDomain(const std::string& project_id, const std::string& domain,
                                     const std::string& environment,
                                     Deadline deadline = kNoDeadline);
  // The project's domains as the platform has them; the states of those added here are recorded.
  Result<contract::DomainList> Domains(const std::string& project_id,
                                       const std::string& environment,
                                       Deadline deadline = kNoDeadline);
  // Makes the platform look the records up now, and looks each one up itself.
  Result<DomainVerification> VerifyDomain(const std::string& project_id, const std::string& domain,
                                          Deadline deadline = kNoDeadline);
  // Removes it from the platform, and forgets it here (its checks stop).
  bim::Status RemoveDomain(const std::string& project_id, const std::string& domain,
                           Deadline deadline = kNoDeadline);
  // "PROJECT DOMAIN" of each domain whose certificate is being checked.
  std::vector<std::string> CheckedDomains();

  // A deployment of this agent's history and the files it uploaded; kNotFound when the
  // deployment is unknown or its files are no longer kept.
  Result<DeploymentFiles> Files(const std::string& id);
  // Sends every unanswered create again, with its key, and records what the platform made.
  // Blocks while the platform is slow: the daemon calls it from a thread of its own.
  void ResumePendingDeploys();
  // From the store; a deployment the store does not know is looked up on the platform, recorded
  // and followed.
  Result<DeploymentRecord> Find(const std::string& id, Deadline deadline = kNoDeadline);
  // Find's first half, which never asks the platform: the record when the store holds it,
  // std::nullopt when only the platform could say (then Find blocks while it asks).
  Result<std::optional<DeploymentRecord>> FindRecorded(const std::string& id);
  // Find, then the deployment as a person reads it: its problem (the hub's notice, newer than the
  // stored stream problem, when there is one) and its logs.
  Result<DeploymentView> Status(const std::string& id, Deadline deadline = kNoDeadline);
  // Status when it needs no platform (the store holds the deployment, or the id is invalid);
  // std::nullopt when it would ask the platform. Front ends answer this on their own thread,
  // and hand only the rest to one that may block.
  std::optional<Result<DeploymentView>> StatusIfRecorded(const std::string& id);
  // A record as `status` and `history` show it (with its logs when asked).
  Result<DeploymentView> Describe(const DeploymentRecord& d, bool with_logs);
  // Newest first, at most limit (1..1000; 0 or less: 20). project_id empty: every project;
  // environment empty: every environment.
  Result<std::vector<DeploymentView>> History(const std::string& project_id, int limit,
                                              const std::string& environment = "");
  // A watch of one deployment from after_seq on, delivered to sink: see Subscription. Begin it
  // once the deployment was found (Find, which may ask the platform).
  std::unique_ptr<Subscription> Subscribe(const std::string& id, int64_t after_seq,
                                          Subscription::Sink& sink);
  // Looks the subscription's deployment up (Find) and begins it: refused when it cannot be
  // found, ended once its terminal event is delivered. Blocks while the platform is asked.
  void BeginWatch(Subscription& subscription);
  // BeginWatch when it needs no platform (as StatusIfRecorded); false, and the subscription not
  // begun, when it would ask the platform.
  bool BeginWatchIfRecorded(Subscription& subscription);

  // Login. AuthStatus with verify asks the platform who the token belongs to.
  Result<AuthState> AuthStatus(bool verify, Deadline deadline = kNoDeadline);
  Result<LoginTicket> LoginStart() { return deps_.auth.LoginStart(); }
  // Waits up to wait (at most 60 s) for the login to leave pending.
  Result<LoginOutcome> LoginCheck(const std::string& login_id, std::chrono::seconds wait);
  Result<AuthState> LoginWithToken(const std::string& token, Deadline deadline = kNoDeadline) {
    return deps_.auth.LoginWithToken(token, deadline);
  }
  // True when someone was logged in.
  Result<bool> Logout() { return deps_.auth.Logout(); }
  AuthState Auth() { return deps_.auth.State(); }

  std::vector<std::string> WatchedDeployments();
  // How many watches are open, over every deployment.
  size_t OpenWatches() { return deps_.hub.TotalWatchers(); }
  // Reports the current activity through report_status.
  void ReportStatus();

  const std::string& api_url() const { return deps_.platform.base_url(); }
  const Clock& clock() const { return deps_.clock; }

  // ---- Runtime logs: the platform's (an extension; see Platform::Logs). On a platform without
  // them, kRejected saying so.
  // The deployment target names: by id (Find), else the newest deployment of the project's
  // environment in this agent's history that completed, else its newest one.
  Result<LogsSource> LogsSourceOf(const LogsTarget& target, Deadline deadline = kNoDeadline);
  // The newest `tail` lines (1..1000; 0 or less: 100) that filter selects.
  Result<LogsAnswer> Logs(const LogsTarget& target, const LogFilter& filter, int tail,
                          Deadline deadline = kNoDeadline);
  // Follows the logs through the LogHub: after the seq `after` when given, else the newest
  // `tail` lines first (0: none), then every new one.
  Result<LogsFollow> FollowLogs(const LogsTarget& target, const LogFilter& filter, int tail,
                                std::optional<int64_t> after, Deadline deadline = kNoDeadline);

 private:
  void EnsureWatching(const DeploymentRecord& record);
  Result<DeploymentRecord> DeployTree(const contract::FileMap& files, const std::string& project_id,
                                      const std::string& directory, const std::string& environment,
                                      const std::string& restored_of, Deadline deadline);
  // A platform call that answers ok or an error, with the token (refreshed once on a 401).
  bim::Status CallPlatform(const std::function<bim::Status(const std::string& token)>& call);
  // A deploy may go to environment: the platform offers environments and the project has it.
  bim::Status CheckDeployEnvironment(const std::string& project_id, const std::string& environment,
                                     Deadline deadline);
  Result<DeploymentRecord> RollbackTarget(const std::string& project_id, const std::string& to_id,
                                          const std::string& environment);
  Error NotKept(const DeploymentRecord& d) const;
  // The stored record of id; kNotFound (saying where to look) when the agent has none.
  Result<DeploymentRecord> Recorded(const std::string& id);
  // Sends a pending create (a deploy with req, or a promote: pending.promoted_of) and records the
  // deployment it made, with files (when known) kept as its snapshot.
  Result<DeploymentRecord> Create(const PendingDeploy& pending, const contract::DeployRequest* req,
                                  const contract::FileMap* files, Deadline deadline);
  // The pending create like this one, with its key, or this one recorded with a new key.
  Result<PendingDeploy> Pending(PendingDeploy pending);
  // Stores how a deployment that the platform's deploy answer says has ended, ended.
  void RecordEnded(const std::string& id, contract::Stage answered, Deadline deadline);
  // The domain checks, or the error that says the agent was put together without them.
  Result<DomainChecker*> Checker();
  // The deployment's end was stored just now, by this agent: tells the notifier when the
  // deployment is one this agent created (a record with a directory; see the .cc).
  void Ended(const EventRecord& end);

  AgentDeps deps_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<DeploymentWatcher>> watchers_;  // guarded by mu_
  std::atomic<int> active_{0};  // watchers still following their deployment
  // One generate answer held at a time (Generated); released by whichever thread lets go of
  // the last copy of its turn.
  std::counting_semaphore<1> generate_turn_{1};
};

}  // namespace bim::daemon
