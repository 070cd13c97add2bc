#pragma once
// McpTools: the tools `backend-im mcp` offers an AI assistant, done through the same agent,
// tokens and history as the person's own `backend-im` commands, and the same local file
// handling (WriteProjectFiles, ReadProjectFiles, the project meta).
//
//   generate             {prompt, directory, force?}     files written locally
//   deploy               {directory, projectId?, environment?}  returns at once with the
//                                                        deployment id (as a task: once it is
//                                                        complete/failed)
//   wait_for_deployment  {deploymentId, timeoutSeconds?}  follows the agent's Watch stream
//   deployment_status    {deploymentId}
//   list_deployments     {projectId?, environment?, limit?}
//   rollback             {directory?, projectId?, toDeploymentId?, environment?}  an earlier
//                                                        tree, deployed again
//   diff                 {deploymentId?, otherDeploymentId?, directory?}  unified diff
//   promote              {deploymentId, environment}     a complete deployment's files started
//                                                        in another environment (as deploy)
//   list_environments    {project}
//   list_variables       {project, environment}           names only, never values
//   set_variable         {project, environment, key, value}
//   unset_variable       {project, environment, key}
//   auth_status          {}
//   auth_login_start     {}                               device flow, step 1
//   auth_login_check     {loginId, waitSeconds?}          device flow, step 2
//
// A tool that needs a login and finds none logs in through the client when the client can send
// the person to a web page (URL-mode elicitation): the agent starts the device flow, the client
// offers its verification page, and the tool runs once the person approved. Other clients get
// an error result that says to use auth_login_start/auth_login_check or `backend-im auth login`.
//
// A tool that changes a variable or what an environment serves (set_variable, unset_variable,
// promote) asks the person to confirm first when the client can show a form (form-mode
// elicitation): confirmed, it acts; declined, it changes nothing and says so. A client without
// forms gets the action directly; those tools' destructiveHint lets the client ask. No variable's
// value is ever in a result, an error or a log.
//
// A tool's name, title, description, its arguments' descriptions and its outputSchema come from
// the operations' catalog (ctl/operation_specs.h), which the command line's help reads too. Its
// arguments are declared once (Arg) and give both its inputSchema and its checks, so the two
// cannot drift apart. A bad argument (missing, of the wrong type, out of range,
// unknown, a deployment id that is not an id, a folder that does not exist) is an error result
// naming the argument, decided before the agent or the platform is asked anything. Failures
// of the agent or the platform become error results that say what to do next.
//
// The tools only translate: each calls an operation (ctl/operations.h), the same the CLI calls,
// and renders its result through the shared models (DeploymentModel...), adding a nextStep.
//
// Thread-safety: CallTool runs on several server threads at once; Operations is safe for that.
// Every gRPC call is registered with the call's CancelToken.

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl/agent_api.h"
#include "ctl/mcp/tool_provider.h"
#include "ctl/operation_specs.h"
#include "ctl/operations.h"

namespace bim::ctl {

// "<what> failed: <message>", followed by what a model should do next for this kind of failure.
std::string ToolErrorText(const OpError& e, const std::string& what);

class McpTools : public McpToolProvider {
 public:
  // cwd: where relative directories resolve (the server's working folder).
  McpTools(AgentApi& agent, std::string cwd);

  // The keys of the login's and of the confirmation's entries in a 2026-07-28 input-required
  // result's inputRequests.
  static constexpr const char* kLoginInputKey = "backend_im_login";
  static constexpr const char* kConfirmInputKey = "backend_im_confirm";
  // How long one 2026-07-28 round waits for the approval before asking to be called again;
  // under the 60 s a client waits for an answer by default.
  static constexpr std::chrono::seconds kLoginRoundWait{40};

  nlohmann::json ListTools(const std::string& protocol_version) const override;
  bool HasTool(const std::string& name) const override;
  McpToolResult CallTool(const std::string& name, const nlohmann::json& arguments,
                         McpToolCall& call) override;

 private:
  enum class ArgType { kString, kInteger, kBoolean };
  enum class Check { kNone, kId, kExistingDir, kNewDir };
  struct Arg {
    std::string name;
    ArgType type = ArgType::kString;
    bool required = false;
    std::string description;
    int64_t min = 0;  // integers: the range; strings: the length
    int64_t max = 0;
    Check check = Check::kNone;
    nlohmann::json default_value;  // filled in when the argument is absent (null: none)
  };
  // What a handler gives: its result, and whether it failed for want of a login
  // (OpFailure::kAuth), which CallTool may mend by logging in through the client.
  struct Answer {
    Answer(McpToolResult r) : result(std::move(r)) {}  // NOLINT(google-explicit-constructor)
    McpToolResult result;
    bool needs_login = false;
  };
  // A tool's handler: its arguments (checked, defaults filled in) and the call; its answer.
  using HandlerFn = Answer(const nlohmann::json& args, McpToolCall& call);
  using Handler = HandlerFn McpTools::*;
  struct Tool {
    const OperationSpec* spec;  // its name, title, description and outputSchema
    std::vector<Arg> args;
    nlohmann::json annotations;
    Handler handler = nullptr;
    // A tool the person confirms first (when the client can ask): what it is about to do, from
    // its arguments (checked), for the person. Null for the others.
    std::string (*confirm)(const nlohmann::json& args) = nullptr;
  };

  // Each group of tools is defined next to its handlers, in a file of its own.
  void DefineDeploymentTools();   // ctl/mcp/deployment_tools.cc
  void DefineSnapshotTools();     // ctl/mcp/snapshot_tools.cc
  void DefineAuthTools();         // ctl/mcp/auth_tools.cc
  void DefineEnvironmentTools();  // ctl/mcp/environment_tools.cc
  void DefineLogTools();          // ctl/mcp/log_tools.cc
  // How a directory argument's description ends: where relative paths resolve.
  std::string Where() const;
  // The argument `name` of op, described as op's catalog entry says: a string of 1 to
  // max_length characters; an id (1 to 128 characters, letters, digits, '-', '_', '.'); a
  // folder that must exist (the description ends with Where()); a whole number from min to max.
  static Arg TextArg(const OperationSpec& op, std::string name, bool required, int64_t max_length);
  static Arg IdArg(const OperationSpec& op, std::string name, bool required);
  Arg FolderArg(const OperationSpec& op, std::string name, bool required) const;
  static Arg IntArg(const OperationSpec& op, std::string name, int64_t min, int64_t max,
                    int64_t default_value);
  // first, then the arguments of a tool that writes files into a folder (generate, restore):
  // directory, where they go, and force, to overwrite files that differ.
  std::vector<Arg> WithWriteArgs(const OperationSpec& op, Arg first) const;
  const Tool* Find(const std::string& name) const;
  // The arguments with defaults left out and directories made absolute, or an error result.
  std::optional<McpToolResult> Validate(const Tool& tool, nlohmann::json& args) const;
  std::string Absolute(const std::string& path) const;

  // An operation's failure as a tool result; a missing login is marked (Answer::needs_login).
  static Answer FailureOf(const OpError& e, const std::string& what);

  // The tools' handlers, defined in their groups' files.
  HandlerFn Generate, Deploy, WaitForDeployment, DeploymentStatus, ListDeployments, Rollback, Diff,
      Restore, AuthStatus, AuthLoginStart, AuthLoginCheck, Promote, ListEnvironments, ListVariables,
      SetVariable, UnsetVariable, GetLogs;
  // deploy and promote; as a task (call.as_task), each then follows the deployment it started to
  // its end the way wait_for_deployment does, and returns its fields with the final status, URL
  // and logs.
  HandlerFn DeployAndWait, PromoteAndWait;
  Answer AndWait(Handler start, const nlohmann::json& args, McpToolCall& call);

  // The person's confirmation through the client, for a tool with Tool::confirm: nullopt once
  // they confirmed, or when the client cannot ask (the tool then acts); else the result to
  // return instead: their refusal, or under 2026-07-28 the input-required round that asks.
  std::optional<McpToolResult> Confirm(const std::string& tool, const std::string& message,
                                       McpToolCall& call);
  //   2026-07-28, the round after: the client's answer; nullopt when the person confirmed.
  static std::optional<McpToolResult> ConfirmAnswered(const std::string& tool,
                                                      const McpToolCall& call);

  // Login through the client, for a tool that failed for want of one (the device flow, with
  // the person sent to its verification page by URL-mode elicitation). Each gives nullopt once
  // the person approved (the tool is then called again), or the result to return instead.
  //   2025-11-25: asks the client to open the page (call.open_url) and waits for the approval.
  // no_login is the tool's own result, returned (with the reason) when no login can start.
  std::optional<McpToolResult> LoginThroughClient(const std::string& tool,
                                                  const McpToolResult& no_login, McpToolCall& call);
  //   2026-07-28, first round: an input-required result that asks the client to open the page.
  McpToolResult RequestLogin(const std::string& tool, const McpToolResult& no_login,
                             McpToolCall& call);
  static McpToolResult LoginDidNotStart(McpToolResult no_login, const OpError& why,
                                        McpToolCall& call);
  //   2026-07-28, later rounds (call.input_state set): the client's answer, then the approval,
  //   waited for up to kLoginRoundWait before asking to be called again.
  std::optional<McpToolResult> ContinueLogin(const std::string& tool, McpToolCall& call);
  // Waits until the login is no longer pending, the deadline passes or the call is cancelled;
  // the last state seen (nullopt when cancelled), or a failure result.
  Result<backend_im::v1::LoginCheckReply, McpToolResult> AwaitApproval(
      const std::string& tool, const std::string& login_id,
      std::chrono::steady_clock::time_point deadline, McpToolCall& call);

  Operations ops_;
  const std::string cwd_;
  std::vector<Tool> tools_;  // set once in the constructor, then only read
};

}  // namespace bim::ctl
