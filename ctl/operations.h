#pragma once
// Operations: everything backend-im does for a person or an assistant, written once. The CLI
// (commands.cc) and the MCP server (mcp_tools.cc) only translate: they parse their input, call
// an operation, and render its result, text or --json for the CLI and structuredContent for
// MCP, both through the one model of a deployment below. A new command or tool is then an
// operation (if it is new at all) plus a presenter.
//
// Failures are classified once (OpFailure), from the call's gRPC status code and the agent's
// error code metadata; the CLI maps the class to an exit code (ExitCodeFor) and MCP to an error
// result whose text says what the model should do next (ToolErrorText).
//
// Each operation takes a CancelToken: MCP cancels a request through it (notifications/cancelled),
// the CLI on Ctrl-C; a cancel interrupts the call to the agent in flight at once.

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "backend_im/v1/agent.pb.h"
#include "common/contract.h"
#include "common/result.h"
#include "ctl/agent_client.h"
#include "ctl/agent_methods.h"
#include "ctl/cancel_token.h"
#include "ctl/grpc_wire.h"
#include "ctl/project_files.h"
#include "ctl/tree_diff.h"

namespace bim::ctl {

// Why an operation failed. Each class has one exit code and one kind of advice.
enum class OpFailure {
  kUsage,         // the caller's input (exit 2)
  kAuth,          // not logged in, or the login was refused (exit 3)
  kAgent,         // the agent cannot be reached, went away, or did not answer (exit 4)
  kPlatform,      // the platform failed, refused or answered outside the contract (exit 5)
  kLocalFiles,    // local files: unreadable, unwritable, refused folder (exit 6)
  kConflict,      // local files differ from generated ones; nothing written (exit 6)
  kNotFound,      // no such deployment or login (exit 7)
  kDeployFailed,  // the deployment itself failed (exit 1)
  kCancelled,     // cancelled by the caller (exit 130)
};

struct OpError {
  OpFailure kind = OpFailure::kPlatform;
  std::string message;  // what happened, without the operation's name
};

template <typename T>
using OpResult = Result<T, OpError>;

int ExitCodeFor(OpFailure kind);
// "<what> failed: <message>", followed by what a model should do next for this kind of failure.
std::string ToolErrorText(const OpError& e, const std::string& what);

// ---- the one model of a deployment -------------------------------------------------------
// Field names shared by `--json` and MCP's structuredContent. Fields without a value are left
// out, never null (one JSON type per field): url until complete, directory when unknown,
// streamProblem when the stream is healthy.
//   deploymentId projectId commitHash status terminal createdAt updatedAt lastSeq restorable
//   url? directory? streamProblem? logs? logsTruncated? restoredOf?
nlohmann::json DeploymentModel(const backend_im::v1::Deployment& d);
// Its JSON Schema (every field above; logs and logsTruncated optional).
nlohmann::json DeploymentModelSchema();
//   deploymentId seq status logs terminal source receivedAt url?
nlohmann::json EventModel(const backend_im::v1::DeploymentEvent& e);
//   loggedIn apiUrl canRefresh? verified? source? userId? email? expiresAt?
nlohmann::json AuthModel(const backend_im::v1::AuthStatusReply& a);

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

//   directory projectId? files[{path, bytes}] written unchanged
nlohmann::json GenerateModel(const GenerateOutcome& g);
//   deploymentId directory files[{path, bytes}] written unchanged
nlohmann::json RestoreModel(const RestoreOutcome& r);
//   from to same files[{path, change, binary}] diff
nlohmann::json DiffModel(const DiffOutcome& d);
//   DeploymentModel's fields, and fileCount totalBytes skipped[{path, reason}]
nlohmann::json DeployModel(const DeployOutcome& d);

class Operations {
 public:
  explicit Operations(AgentClient& client) : client_(client) {}

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
  // remembered in the folder) and remembers the project the platform chose.
  OpResult<DeployOutcome> Deploy(const std::string& dir, const std::string& project_id,
                                 CancelToken& cancel);

  // Deploys an earlier deployment's files again (the agent's Rollback): to `to` when given, else
  // to the previous complete deployment of project_id (default: the one remembered in dir).
  OpResult<backend_im::v1::Deployment> Rollback(const std::string& dir,
                                                const std::string& project_id,
                                                const std::string& to, CancelToken& cancel);
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
  OpResult<std::vector<backend_im::v1::Deployment>> History(const std::string& project_id,
                                                            int limit, CancelToken& cancel);

  // How a deployment that has ended ended, for every front end: ok when complete with an https
  // URL; kDeployFailed when failed; kPlatform when complete without a usable URL (the URL
  // policy). Not terminal: ok.
  static Result<void, OpError> FinalOutcome(const backend_im::v1::Deployment& d);

  AgentClient& client() { return client_; }

 private:
  // The channel for a call's first try: the agent's socket as the client found it, with no probe
  // before the call (its own connection is verified: AgentClient::channel()).
  wire::Channel QuickChannel();
  // client_.Connect() (which starts an agent when none listens and that is allowed), and the
  // channel to the agent it found: for the second try of a call whose first found nothing
  // listening.
  OpResult<wire::Channel> Connect();
  // For a call that ended before it had a verified connection (ctx.connected() false), what
  // comes next: kRetry when nothing listened (Connect(), then try once more); kRefused when the
  // peer is not the user's agent (an agent problem, exit 4, with CheckAgent's words); else
  // kClassify (a cancel or the deadline while connecting: Classify as any failed call).
  enum class Unconnected { kRetry, kRefused, kClassify };
  static Unconnected WhenUnconnected(const wire::CallStatus& status, CancelToken& cancel);
  // One unary call (a method of ctl/agent_methods.h) under the cancel token; the agent's failure
  // classified.
  template <typename Request, typename Reply>
  OpResult<Reply> Unary(const rpc::Unary<Request, Reply>& method,
                        const std::type_identity_t<Request>& request,
                        std::chrono::milliseconds timeout, CancelToken& cancel);
  OpError Classify(const wire::CallContext& ctx, const wire::CallStatus& status,
                   CancelToken& cancel) const;

  AgentClient& client_;
  // Guards client_'s own state (Connect, CheckReply, Reconnect): MCP runs operations on several
  // threads at once. A call itself needs no lock: it runs on a channel copied under this one,
  // on a connection of its own.
  std::mutex client_mu_;
};

}  // namespace bim::ctl
