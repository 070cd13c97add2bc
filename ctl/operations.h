#pragma once
// Operations: everything backend-im does for a person or an assistant, written once, against
// the agent's API (AgentApi) and the local files. The CLI (ctl/commands/) and the MCP tools
// (ctl/mcp/tools.h) only translate: they parse their input, call an operation, and present its
// outcome, text or --json for the CLI and structuredContent for MCP, both through the shared
// models (ctl/models.h). An operation presents nothing.
//
// Failures are classified once (OpError, ctl/op_result.h): the agent's by AgentApi, the local
// files' here; the CLI maps the class to an exit code (ExitCodeFor) and MCP to an error result
// whose text says what the model should do next (ToolErrorText).
//
// Each operation takes a CancelToken: MCP cancels a request through it (notifications/cancelled),
// the CLI on Ctrl-C; a cancel interrupts the call to the agent in flight at once.
//
// Thread-safety: MCP runs operations on several threads at once; Operations keeps no state of
// its own, and AgentApi's implementations are safe for that.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend_im/v1/agent.pb.h"
#include "common/contract.h"
#include "common/result.h"
#include "ctl/agent_api.h"
#include "ctl/cancel_token.h"
#include "ctl/op_result.h"
#include "ctl/project_files.h"
#include "ctl/tree_diff.h"

namespace bim::ctl {

// ---- operations ---------------------------------------------------------------------------

struct GenerateOutcome {
  std::string directory;  // absolute
  std::string project_id;
  contract::FileMap files;
  WriteReport report;
};

struct DeployOutcome {
  backend_im::v1::Deployment deployment;
  ProjectSnapshot snapshot;
  std::string directory;  // absolute
  std::string note;       // a warning worth showing (e.g. the project id not remembered)
};

struct WatchOutcome {
  // The deployment as the agent's store has it at the end (logs included).
  backend_im::v1::Deployment deployment;
  bool timed_out = false;  // the wait's time limit came first
};

// A deployment and the files it uploaded, as the agent keeps them.
struct FilesOutcome {
  backend_im::v1::Deployment deployment;
  contract::FileMap files;
};

struct RestoreOutcome {
  backend_im::v1::Deployment deployment;
  std::string directory;  // absolute
  contract::FileMap files;
  WriteReport report;
};

// Two trees compared: from and to name each side (a deployment id, or a folder as given).
struct DiffOutcome {
  std::string from;
  std::string to;
  TreeDiff diff;
};

// The largest value of a variable that the platform keeps (docs/API_CONTRACTS.md §6.1).
inline constexpr size_t kMaxVariableValueBytes = 32 * 1024;

// What a change to an environment or a variable named: never a value.
struct EnvironmentChange {
  std::string project_id;
  std::string environment;
  std::string key;  // the variable's; empty for a change to the environment itself
};

// The variables of a project's environments (one reply per environment, by name).
struct VariablesOutcome {
  std::string project_id;
  std::vector<backend_im::v1::ListVariablesReply> environments;
};

// A dotenv file written (`env pull`) or read (`env import`): its keys, never their values.
struct VariableFileOutcome {
  std::string project_id;
  std::string environment;
  std::string file;               // absolute
  std::vector<std::string> keys;  // in the file's order
  // pull: the keys whose values hold "${", which python-dotenv expands unless told not to.
  std::vector<std::string> expanded;
};

// A custom domain removed: which, from which project.
struct DomainChange {
  std::string project_id;
  std::string domain;
};

// Which deployment's runtime logs, and which of their lines (docs/API_CONTRACTS.md §6.2).
struct LogsQuery {
  std::string id;           // the deployment; when empty, the project's (see Operations::Logs)
  std::string dir;          // a project folder: its remembered project
  std::string project_id;   // a project (over dir's)
  std::string environment;  // the project's environment; empty: production
  std::string since;        // 30s, 15m, 2h, 1d, or Unix ms; empty: any time
  std::string level;        // debug, info, warning or error: that level and above; empty: all
  std::string grep;         // a plain substring of the text; empty: all
  int tail = 100;           // the newest N lines (1 to 1000; 0 with a follow: none)
};

// Logs for an assistant, within its caps (LogsForAssistant).
struct LogsReport {
  backend_im::v1::GetLogsReply logs;  // its lines as many as the caps left room for, newest kept
  bool cut = false;                   // lines were left out for the caps
  int64_t lines_left_out = 0;
  // A deployment that failed: itself with the platform's stage logs from the stage it failed at
  // on (their first lines, within a share of the caps), that stage, and the app's last error
  // lines.
  std::optional<backend_im::v1::Deployment> failure;
  std::string failed_stage;  // the stage it reached before failed ("health_check"); "": unknown
  std::vector<backend_im::v1::LogLine> errors;
};

class Operations {
 public:
  explicit Operations(AgentApi& agent) : agent_(agent) {}

  // Auth.
  OpResult<backend_im::v1::AuthStatusReply> AuthStatus(bool verify, CancelToken& cancel);
  OpResult<backend_im::v1::AuthStatusReply> LoginWithToken(const std::string& token,
                                                           CancelToken& cancel);
  OpResult<backend_im::v1::LoginStartReply> LoginStart(CancelToken& cancel);
  OpResult<backend_im::v1::LoginCheckReply> LoginCheck(const std::string& login_id,
                                                       int wait_seconds, CancelToken& cancel);
  // Waits until a login started with LoginStart is no longer pending, and gives its last state:
  // PENDING only when `deadline` came first (none: until the agent says approved, denied or
  // expired). The agent holds each check until the state changes (20 s at most, 10 s with a
  // deadline, or what is left of it); on_pending, when set, is called after each check that
  // found it still pending (MCP's progress notices).
  OpResult<backend_im::v1::LoginCheckReply> AwaitLogin(
      const std::string& login_id, std::optional<std::chrono::steady_clock::time_point> deadline,
      CancelToken& cancel, const std::function<void()>& on_pending = {});
  OpResult<bool> Logout(CancelToken& cancel);  // whether someone was logged in

  // Generates from prompt and writes the files into dir (see WriteProjectFiles), remembering the
  // platform's project in the folder. The folder is checked before the platform is asked.
  // Between the answer and the files being in place, Ctrl-C waits (interrupt::Deferred).
  OpResult<GenerateOutcome> Generate(const std::string& prompt, const std::string& dir, bool force,
                                     CancelToken& cancel);

  // Reads the project in dir (ReadProjectFiles), uploads it to project_id (default: the one
  // remembered in the folder) and remembers the project the platform chose. environment: where
  // it goes (empty: where the platform deploys by default).
  OpResult<DeployOutcome> Deploy(const std::string& dir, const std::string& project_id,
                                 const std::string& environment, CancelToken& cancel);

  // Deploys an earlier deployment's files again (the agent's Rollback): to `to` when given, else
  // to the previous complete deployment of project_id (default: the one remembered in dir); with
  // environment, that environment's previous one, deployed to it again.
  OpResult<backend_im::v1::Deployment> Rollback(const std::string& dir,
                                                const std::string& project_id,
                                                const std::string& to,
                                                const std::string& environment,
                                                CancelToken& cancel);
  // Starts the files of a complete deployment in another environment, as a new deployment.
  OpResult<backend_im::v1::Deployment> Promote(const std::string& id,
                                               const std::string& environment, CancelToken& cancel);
  // The files a deployment uploaded, from the agent's snapshots.
  OpResult<FilesOutcome> Files(const std::string& id, CancelToken& cancel);
  // Writes a deployment's files into dir with generate's safe writing (WriteProjectFiles), and
  // remembers its project there when the folder has none yet.
  OpResult<RestoreOutcome> Restore(const std::string& id, const std::string& dir, bool force,
                                   CancelToken& cancel);
  // from_id's files against to_id's, or against the folder dir when to_id is empty. from_id
  // empty: the newest deployment of the project remembered in dir.
  OpResult<DiffOutcome> Diff(const std::string& from_id, const std::string& to_id,
                             const std::string& dir, CancelToken& cancel);
  // The newest deployment of project_id, with its files when the agent keeps them; nullopt when
  // the project has none here.
  OpResult<std::optional<FilesOutcome>> LastDeployment(const std::string& project_id,
                                                       CancelToken& cancel);

  // Follows a deployment until it is complete or failed, or until timeout (zero: no limit),
  // calling hooks.on_event for each event after after_seq. Follows a replacement agent when the
  // agent goes away mid-stream. The outcome holds the stored deployment; a complete deployment
  // without a usable URL is a platform error, a failed one is kDeployFailed only for callers
  // that ask (see FinalOutcome).
  struct WatchHooks {
    std::function<void(const backend_im::v1::DeploymentEvent&)> on_event;
    std::function<void()> on_reattach;  // the agent was replaced; following on there
    // The agent's note on why nothing new arrives (e.g. it cannot store events: a full disk);
    // "" once it is gone. Not an event: seq 0 on the stream.
    std::function<void(const std::string& notice)> on_notice;
    // Called before the watch waits for the agent's next event, and not between events that
    // arrived together: where a front end that buffers what it prints flushes it.
    std::function<void()> before_wait;
    // Only the outcome is needed (the CLI): when the stream's terminal event settles it
    // (failed, or complete with a usable URL), WatchOutcome::deployment holds what that event
    // says (id, status, stage, url, seq) and the agent is not asked for the whole record, one
    // call fewer (docs/PERFORMANCE.md). Otherwise (false, or a complete event without a usable URL)
    // the record comes from the agent's store, logs and stream problem included.
    bool outcome_only = false;
  };
  OpResult<WatchOutcome> Watch(const std::string& id, int64_t after_seq,
                               std::chrono::milliseconds timeout, const WatchHooks& hooks,
                               CancelToken& cancel);

  // The agent's own state (`daemon status`).
  OpResult<backend_im::v1::AgentInfo> Info(CancelToken& cancel);

  OpResult<backend_im::v1::Deployment> Status(const std::string& id, CancelToken& cancel);
  // environment: only that environment's deployments; empty: all.
  OpResult<std::vector<backend_im::v1::Deployment>> History(const std::string& project_id,
                                                            int limit,
                                                            const std::string& environment,
                                                            CancelToken& cancel);

  // ---- environments and variables: an extension of the platform's (on one without it, every
  // call fails kPlatform with the agent's words). Each names its project by project_id, else by
  // the one remembered in dir (a usage error when neither does). No value is ever in an error.
  OpResult<backend_im::v1::ListEnvironmentsReply> Environments(const std::string& dir,
                                                               const std::string& project_id,
                                                               CancelToken& cancel);
  OpResult<EnvironmentChange> AddEnvironment(const std::string& dir, const std::string& project_id,
                                             const std::string& name, CancelToken& cancel);
  OpResult<EnvironmentChange> RemoveEnvironment(const std::string& dir,
                                                const std::string& project_id,
                                                const std::string& name, CancelToken& cancel);
  // The variables of environment, or of every environment when it is empty (one
  // ListEnvironments, then one ListVariables each); values only when with_values.
  OpResult<VariablesOutcome> Variables(const std::string& dir, const std::string& project_id,
                                       const std::string& environment, bool with_values,
                                       CancelToken& cancel);
  // Every variable of environment with its value; a kPlatform error naming the keys whose value
  // the platform withheld (`env pull` and `dev --env` refuse to go on without them).
  OpResult<backend_im::v1::ListVariablesReply> Values(const std::string& dir,
                                                      const std::string& project_id,
                                                      const std::string& environment,
                                                      CancelToken& cancel);
  // value: 1 to kMaxVariableValueBytes of UTF-8 without NUL, as the platform takes it.
  OpResult<EnvironmentChange> SetVariable(const std::string& dir, const std::string& project_id,
                                          const std::string& environment, const std::string& key,
                                          const std::string& value, CancelToken& cancel);
  OpResult<EnvironmentChange> UnsetVariable(const std::string& dir, const std::string& project_id,
                                            const std::string& environment, const std::string& key,
                                            CancelToken& cancel);
  // Writes environment's variables into file as dotenv (ctl/dotenv.h), mode 0600 from its
  // creation on: never over an existing file unless force (kConflict), never where deploy would
  // upload it from dir, when dir is the project's folder (a usage error, before the platform is
  // asked), and nothing at all when a value was withheld.
  OpResult<VariableFileOutcome> Pull(const std::string& dir, const std::string& project_id,
                                     const std::string& environment, const std::string& file,
                                     bool force, CancelToken& cancel);
  // Sets each variable of the dotenv file in environment. A line it cannot read, or a value the
  // platform would refuse, is a usage error before anything is set. When a set fails half-way,
  // the error says which keys were set before it.
  OpResult<VariableFileOutcome> Import(const std::string& dir, const std::string& project_id,
                                       const std::string& environment, const std::string& file,
                                       CancelToken& cancel);

  // ---- custom domains: an extension of the platform's (on one without it, every call fails
  // kPlatform with the agent's words). The project as for environments; a domain as typed,
  // normalised (case, one trailing dot) and validated first (a usage error, before the agent is
  // asked). environment: empty for production (add) or for every one (list).
  OpResult<backend_im::v1::Domain> AddDomain(const std::string& dir, const std::string& project_id,
                                             const std::string& domain,
                                             const std::string& environment, CancelToken& cancel);
  OpResult<backend_im::v1::ListDomainsReply> Domains(const std::string& dir,
                                                     const std::string& project_id,
                                                     const std::string& environment,
                                                     CancelToken& cancel);
  // The platform's lookup of each record just now, and the agent's own.
  OpResult<backend_im::v1::VerifyDomainReply> VerifyDomain(const std::string& dir,
                                                           const std::string& project_id,
                                                           const std::string& domain,
                                                           CancelToken& cancel);
  OpResult<DomainChange> RemoveDomain(const std::string& dir, const std::string& project_id,
                                      const std::string& domain, CancelToken& cancel);
  // A domain name as typed, normalised; a usage error that says why it is not one.
  static OpResult<std::string> DomainName(const std::string& typed);
  // ---- runtime logs: an extension of the platform's (on one without it, kPlatform with the
  // agent's words, which point at `status`). The deployment is query.id, else the newest that
  // completed (else the newest) of the project's environment in the agent's history; the reply
  // names it and how it was chosen.
  OpResult<backend_im::v1::GetLogsReply> Logs(const LogsQuery& query, CancelToken& cancel);
  // The newest query.tail lines (none when 0), then every new one, until the app's output ends
  // (true) or the caller cancels; across a restart of the agent without a line lost or twice.
  OpResult<bool> FollowLogs(const LogsQuery& query, const AgentApi::LogHooks& hooks,
                            CancelToken& cancel);
  // Logs within max_lines and max_bytes of text in all; for a deployment that failed, also
  // what made it fail (its last stage and the platform's stage logs) and the app's last error
  // lines, in the same caps, before the lines asked for.
  OpResult<LogsReport> LogsForAssistant(const LogsQuery& query, size_t max_lines, size_t max_bytes,
                                        CancelToken& cancel);
  // A --since: a duration back from now_ms (30s, 15m, 2h, 1d) or Unix ms; a usage error else.
  static OpResult<int64_t> SinceUnixMs(const std::string& text, int64_t now_ms);

  // How a deployment that has ended ended, for every front end: ok when complete with an https
  // URL; kDeployFailed when failed; kPlatform when complete without a usable URL (the URL
  // policy). Not terminal: ok.
  static Result<void, OpError> FinalOutcome(const backend_im::v1::Deployment& d);

  AgentApi& agent() { return agent_; }

 private:
  // project_id, else the project remembered in dir; a usage error when neither names one.
  static OpResult<std::string> ProjectOf(const std::string& dir, const std::string& project_id);

  AgentApi& agent_;
};

}  // namespace bim::ctl
