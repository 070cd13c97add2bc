#pragma once
// The mock's deployments: each one walks the seed's stages on timers (one per
// --stage-delay-ms); with --run-apps, the stages that have real work on this machine
// (committing, building, deploying, health_check, complete) move on when an AppSupervisor has
// done it, and a step that fails ends the deployment `failed` with its logs. A deployment that
// completes serves its environment (production unless the deploy named another). A promote is a
// deployment too: of a complete one's commit to another environment, without committing and
// building (with --run-apps, from the files the supervisor kept of it). It keeps every stage
// message it produced (numbered by seq 1, 2, 3...), and streams them to any number of WebSocket
// watchers, each of which first gets the ones it missed. Fault flags that act on WebSockets
// (--ws-drop-after, --ws-malformed-after) are applied here, per watcher. The runtime logs of its
// deployments' apps (RuntimeLogs) are kept here too, fed by the supervisor.
//
// Threading: not thread-safe; every method runs on the server's io thread, and so do the
// timers it sets on the server.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/random.h"
#include "mock-api/app_supervisor.h"
#include "mock-api/contract_breaks.h"
#include "mock-api/environments.h"
#include "mock-api/mock_options.h"
#include "mock-api/runtime_logs.h"
#include "ws/http_ws_server.h"

namespace bim::mock {

class DeploymentRunner {
 public:
  // environments: the projects' environments; a deployment serves in one, and its app gets
  // that environment's variables. clock: the time its runtime logs' lines are read at.
  DeploymentRunner(ws::HttpWsServer& server, const MockOptions& options, Random& random,
                   Environments& environments, const Clock& clock);
  ~DeploymentRunner();

  // Starts a deployment of an already validated request (its environment, when it names one,
  // exists); ws_base is "ws://host:port".
  contract::DeployResponse Create(const contract::DeployRequest& request,
                                  const std::string& ws_base);
  // Starts a deployment of source, which is complete, to environment, which exists in its
  // project. Its app gets environment's variables as they are now.
  contract::DeployResponse Promote(const std::string& source, const std::string& environment,
                                   const std::string& ws_base);
  bool Exists(const std::string& id) const;
  std::optional<contract::StatusResponse> Status(const std::string& id) const;

  // Sends the deployment's messages with seq > since (all of them when since is unset),
  // then each new one as it happens; closes the session (1000) after the terminal one.
  void Watch(const std::shared_ptr<ws::WsSession>& session, const std::string& id,
             std::optional<int64_t> since);
  void Unwatch(uint64_t session_id);
  // Drops every open stream, of stages and of logs, without a close frame (an outage begins).
  void DropAll();

  // The runtime logs of every deployment (each one is Add()ed when it is created).
  RuntimeLogs& logs() { return logs_; }

  // Mock only (GET /mock/deployments): a JSON array with every deployment's id, projectId,
  // commitHash, status, seq, number of watchers and of log streams (logStreams), oldest first.
  std::string SummaryJson() const;
  // Mock only (GET /mock/apps): with --run-apps, a JSON array of the apps the platform runs
  // (deploymentId, projectId, pid, serving, url); without, an empty array.
  std::string AppsJson() const;

 private:
  struct Watcher {
    std::shared_ptr<ws::WsSession> session;
    int sent = 0;
    bool malformed_sent = false;
    bool drop = false;  // --ws-drop-after applies to this connection
  };
  struct Deployment {
    std::string id;
    std::string project_id;
    std::string environment;
    std::string commit_hash;
    size_t file_count = 0;
    size_t bytes = 0;
    bool has_requirements = false;
    std::optional<std::string> previous_commit;  // of the same project, if different
    std::string promoted_from;                   // a promote: the deployment it promotes
    std::string failure;                         // why it fails, when it does
    std::vector<std::string> failure_logs;       // --run-apps: what the failed step said
    bool real = false;        // --run-apps: its stages do their work (AppSupervisor)
    contract::FileMap files;  // until the supervisor kept them
    std::map<std::string, std::string> variables;  // a promote's, until the supervisor has them
    std::vector<std::string> carried;   // what the last step did, opening the next message
    std::string url;                    // the address the supervisor serves it at
    std::vector<contract::Stage> plan;  // the stages it will pass, in order
    size_t next = 0;                    // index into plan of the next stage
    std::vector<contract::StageMessage> messages;
    std::vector<Watcher> watchers;
  };

  // Stores d, sends its first message and sets its timer; the answer to its request.
  contract::DeployResponse Begin(Deployment d, const std::string& ws_base);
  void Advance(const std::string& id);
  // --run-apps: hands stage's work to the supervisor; StepDone moves on when it is done.
  void Work(Deployment& d, contract::Stage stage);
  void StepDone(const std::string& id, AppStep step);
  void Emit(Deployment& d, contract::Stage stage);
  std::vector<std::string> LogsFor(const Deployment& d, contract::Stage stage) const;
  // What a stage says when it is a timer (every stage without --run-apps).
  std::vector<std::string> SimulatedLogs(const Deployment& d, contract::Stage stage) const;
  void Deliver(Watcher& w, const contract::StageMessage& m);
  void SendMalformed(Watcher& w);
  std::string WireJson(const contract::StageMessage& m) const;

  ws::HttpWsServer& server_;
  const MockOptions& options_;
  ContractBreaks breaks_;
  Random& random_;
  Environments& environments_;
  const Clock& clock_;
  RuntimeLogs logs_;
  std::map<std::string, Deployment> deployments_;   // by id
  std::vector<std::string> order_;                  // ids, oldest first
  std::map<std::string, std::string> last_commit_;  // project -> commit hash
  std::map<uint64_t, std::string> watched_;         // session id -> deployment id
  int ws_connections_ = 0;
  std::unique_ptr<AppSupervisor> apps_;  // with --run-apps
};

}  // namespace bim::mock
