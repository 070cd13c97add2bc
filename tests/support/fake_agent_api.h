#pragma once
// FakeAgentApi: the agent in memory, for unit tests of the ctl's operations, commands and MCP
// tools without a process. It keeps a login, deployments with their files and events, and
// answers each AgentApi call the way the agent does (not found, not logged in, ...). Tests set
// its state and its failures directly and read back what it was asked.
//
// A deployment runs at once: Deploy and Rollback store it with the events it will have
// (queued, building with a log line, deploying, then complete with its URL or failed, as
// `outcome` says), and with its final status; Watch sends the events after after_seq. A
// deployment made while `hold` is set stays at its first events and never ends: a Watch with a
// deadline then ends as if the deadline had come, without waiting; one without a deadline ends
// at once with an agent error (the fake never blocks).
//
// One thread at a time.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/contract.h"
#include "ctl/agent_api.h"

namespace bim::test {

class FakeAgentApi final : public ctl::AgentApi {
 public:
  enum class Outcome { kComplete, kFailed, kCompleteWithoutUrl };

  struct Stored {
    backend_im::v1::Deployment deployment;
    contract::FileMap files;
    std::vector<backend_im::v1::DeploymentEvent> events;
    bool files_kept = true;
  };

  FakeAgentApi();

  // ---- the fake agent's state ----
  std::string api_url = "https://api.backend.im";
  bool logged_in = false;
  std::string email = "dev@example.com";
  std::string user_id = "user-1";
  std::string source;  // how the login came: "device", "token"
  std::string accepted_token = "good-token";
  // The device login: how many checks answer PENDING, and the state after them.
  int login_pending_checks = 0;
  backend_im::v1::LoginCheckReply::State login_end = backend_im::v1::LoginCheckReply::APPROVED;
  // What Generate answers.
  contract::FileMap generate_files;
  std::string generate_project = "proj-gen";
  // How the next deployments end, and whether they stop half-way (see the top).
  Outcome outcome = Outcome::kComplete;
  bool hold = false;
  // Sent before a Watch's events, as the agent's notices (seq 0).
  std::vector<std::string> notices;
  // Every call of a method named here (GetInfo, AuthStatus, Deploy, ...) fails with its error.
  std::map<std::string, ctl::OpError> failures;
  // The platform's environments (an extension): false as on a seed-only platform, where every
  // environment call fails with the agent's "not offered" error and deployments name none.
  bool environments_offered = true;
  struct FakeEnvironment {
    std::map<std::string, std::string> variables;
    std::string deployment_id;  // what it serves
    std::string url;
  };
  // Per project; a project gets production and staging when it is first touched.
  std::map<std::string, std::map<std::string, FakeEnvironment>> environments;
  // Variables whose values ListVariables withholds even when asked for them (has_value false).
  std::set<std::string> withheld_values;
  // Custom domains (an extension): false as on a seed-only platform, where every domain call
  // fails with the agent's "not offered" error. Per project, by name; AddDomain makes a domain
  // asking for a TXT and an A record, pending, and VerifyDomain answers what a test put here
  // (with its records' agent_* fields as the agent's lookup).
  bool domains_offered = true;
  std::map<std::string, std::map<std::string, backend_im::v1::Domain>> domains;
  // Runtime logs: false as on a platform without them (GetLogs and FollowLogs fail with the
  // agent's "does not offer app logs" error). app_logs: each deployment's lines, oldest first.
  // A follow sends start, the tail, then follow_items (skipped counts, notices, an end); with no
  // end among them it ends as Ctrl-C would (the fake never blocks).
  bool logs_offered = true;
  std::map<std::string, std::vector<backend_im::v1::LogLine>> app_logs;
  std::vector<backend_im::v1::LogItem> follow_items;
  // Appends a line to a deployment's log (the next seq; its level, text), returning it.
  backend_im::v1::LogLine& AddLogLine(const std::string& deployment_id, const std::string& level,
                                      const std::string& text);
  // Running(): false when no agent runs; refused: what listens is not the user's agent.
  bool running = true;
  std::string refused;
  backend_im::v1::AgentInfo info;

  // ---- what it was asked ----
  std::vector<std::string> calls;  // method names, in order
  std::optional<backend_im::v1::DeployRequest> last_deploy;
  std::optional<backend_im::v1::GenerateRequest> last_generate;
  std::optional<backend_im::v1::RollbackRequest> last_rollback;
  std::optional<backend_im::v1::SetVariableRequest> last_set;
  std::optional<backend_im::v1::ListVariablesRequest> last_list_variables;
  std::optional<backend_im::v1::PromoteRequest> last_promote;
  std::optional<backend_im::v1::AddDomainRequest> last_add_domain;
  std::optional<backend_im::v1::GetLogsRequest> last_get_logs;
  std::optional<backend_im::v1::FollowLogsRequest> last_follow_logs;
  int finished = 0;
  bool stopped = false;

  // A deployment stored as Deploy would store it (files kept), for tests that need history.
  const backend_im::v1::Deployment& AddDeployment(const std::string& project,
                                                  const contract::FileMap& files,
                                                  Outcome how = Outcome::kComplete);
  Stored* Find(const std::string& id);
  // The stored deployment id, or the agent's answer when there is none (not found).
  ctl::OpResult<const Stored*> Known(const std::string& id);
  // The number of calls of method.
  int Count(const std::string& method) const;

  // ---- AgentApi ----
  ctl::OpResult<backend_im::v1::AgentInfo> GetInfo(ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::AuthStatusReply> AuthStatus(
      const backend_im::v1::AuthStatusRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::AuthStatusReply> LoginWithToken(
      const backend_im::v1::LoginWithTokenRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::LoginStartReply> LoginStart(ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::LoginCheckReply> LoginCheck(
      const backend_im::v1::LoginCheckRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::LogoutReply> Logout(ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::GenerateReply> Generate(
      const backend_im::v1::GenerateRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::DeployReply> Deploy(const backend_im::v1::DeployRequest& request,
                                                    ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::DeployReply> Rollback(
      const backend_im::v1::RollbackRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::Deployment> Status(const backend_im::v1::StatusRequest& request,
                                                   ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::HistoryReply> History(const backend_im::v1::HistoryRequest& request,
                                                      ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::FilesReply> GetFiles(const backend_im::v1::GetFilesRequest& request,
                                                     ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::ListEnvironmentsReply> ListEnvironments(
      const backend_im::v1::ListEnvironmentsRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::AddEnvironmentReply> AddEnvironment(
      const backend_im::v1::AddEnvironmentRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::RemoveEnvironmentReply> RemoveEnvironment(
      const backend_im::v1::RemoveEnvironmentRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::ListVariablesReply> ListVariables(
      const backend_im::v1::ListVariablesRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::SetVariableReply> SetVariable(
      const backend_im::v1::SetVariableRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::UnsetVariableReply> UnsetVariable(
      const backend_im::v1::UnsetVariableRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::DeployReply> Promote(const backend_im::v1::PromoteRequest& request,
                                                     ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::AddDomainReply> AddDomain(
      const backend_im::v1::AddDomainRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::ListDomainsReply> ListDomains(
      const backend_im::v1::ListDomainsRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::VerifyDomainReply> VerifyDomain(
      const backend_im::v1::VerifyDomainRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<backend_im::v1::RemoveDomainReply> RemoveDomain(
      const backend_im::v1::RemoveDomainRequest& request, ctl::CancelToken& cancel) override;
  ctl::OpResult<bool> Watch(const backend_im::v1::WatchRequest& request,
                            std::optional<std::chrono::steady_clock::time_point> deadline,
                            const StreamHooks& hooks, ctl::CancelToken& cancel) override;

  ctl::OpResult<backend_im::v1::GetLogsReply> GetLogs(const backend_im::v1::GetLogsRequest& request,
                                                      ctl::CancelToken& cancel) override;
  ctl::OpResult<bool> FollowLogs(const backend_im::v1::FollowLogsRequest& request,
                                 const LogHooks& hooks, ctl::CancelToken& cancel) override;

  const std::string& socket_path() const override { return socket_; }
  Result<bool> Running() override;
  std::optional<backend_im::v1::AgentInfo> RunningInfo() override;
  bim::Status Stop(std::chrono::milliseconds timeout) override;
  void Finish() override { ++finished; }

 private:
  // Records the call; its failure when one is set, or the cancel.
  std::optional<ctl::OpError> Enter(const std::string& method, ctl::CancelToken& cancel);
  // Enter, and the platform's refusal when nobody is logged in (the calls that reach it),
  // keeping the request in `last`.
  std::optional<ctl::OpError> EnterLoggedIn(const std::string& method, ctl::CancelToken& cancel);
  template <typename Request>
  std::optional<ctl::OpError> EnterLoggedIn(const std::string& method, const Request& request,
                                            std::optional<Request>& last,
                                            ctl::CancelToken& cancel) {
    last = request;
    return EnterLoggedIn(method, cancel);
  }
  backend_im::v1::AuthStatusReply Auth() const;
  Stored& Store(const std::string& project, const contract::FileMap& files, Outcome how, bool hold,
                const std::string& environment = "");
  // The project's environments (made on first touch), or the agent's answer on a platform
  // without them.
  ctl::OpResult<std::map<std::string, FakeEnvironment>*> Environments(const std::string& project);
  ctl::OpResult<FakeEnvironment*> EnvironmentOf(const std::string& project,
                                                const std::string& name);
  // The project's domain, or the agent's answer (not offered, not found).
  ctl::OpResult<backend_im::v1::Domain*> DomainOf(const std::string& project,
                                                  const std::string& name);
  // The deployment a logs request names (as the agent chooses it) and the reply's head.
  template <typename Request>
  ctl::OpResult<backend_im::v1::GetLogsReply> LogsOf(const Request& request, int tail);

  std::string socket_ = "/run/user/1000/backend-im/agent.sock";
  std::vector<Stored> deployments_;  // oldest first
  int next_id_ = 1;
  int64_t now_ms_ = 1780000000000;  // 2026-05-28, and a second later at each deployment
};

}  // namespace bim::test
