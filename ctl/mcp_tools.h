#pragma once
// McpTools: the tools `backend-im mcp` offers an AI assistant, done through the same agent,
// tokens and history as the person's own `backend-im` commands, and the same local file
// handling (WriteProjectFiles, ReadProjectFiles, the project meta).
//
//   generate             {prompt, directory, force?}     files written locally
//   deploy               {directory, projectId?}         returns at once with the deployment id
//                                                        (as a task: once it is complete/failed)
//   wait_for_deployment  {deploymentId, timeoutSeconds?}  follows the agent's Watch stream
//   deployment_status    {deploymentId}
//   list_deployments     {projectId?, limit?}
//   auth_status          {}
//   auth_login_start     {}                               device flow, step 1
//   auth_login_check     {loginId, waitSeconds?}          device flow, step 2
//
// Each tool's arguments are declared once (Arg) and give both its inputSchema and its checks,
// so the two cannot drift apart. A bad argument (missing, of the wrong type, out of range,
// unknown, a deployment id that is not an id, a folder that does not exist) is an error result
// naming the argument, decided before the agent or the platform is asked anything. Failures
// of the agent or the platform become error results that say what to do next.
//
// The tools only translate: each calls an operation (ctl/operations.h), the same the CLI calls,
// and renders its result through the shared models (DeploymentModel...), adding a nextStep.
//
// Thread-safety: CallTool runs on several server threads at once; Operations is safe for that.
// Every gRPC call is registered with the call's McpCancelToken.

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ctl/agent_client.h"
#include "ctl/mcp_tool_provider.h"
#include "ctl/operations.h"

namespace bim::ctl {

class McpTools : public McpToolProvider {
 public:
  // cwd: where relative directories resolve (the server's working folder).
  McpTools(AgentClient& client, std::string cwd);

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
  using Handler = McpToolResult (McpTools::*)(const nlohmann::json& args, McpToolCall& call);
  struct Tool {
    std::string name;
    std::string title;
    std::string description;
    std::vector<Arg> args;
    nlohmann::json output_schema;
    nlohmann::json annotations;
    Handler handler = nullptr;
  };

  void DefineTools();
  const Tool* Find(const std::string& name) const;
  // The arguments with defaults left out and directories made absolute, or an error result.
  std::optional<McpToolResult> Validate(const Tool& tool, nlohmann::json& args) const;
  std::string Absolute(const std::string& path) const;

  McpToolResult Generate(const nlohmann::json& args, McpToolCall& call);
  McpToolResult Deploy(const nlohmann::json& args, McpToolCall& call);
  // deploy; as a task (call.as_task), it then follows the deployment to its end the way
  // wait_for_deployment does, and returns deploy's fields with the final status, URL and logs.
  McpToolResult DeployAndWait(const nlohmann::json& args, McpToolCall& call);
  McpToolResult WaitForDeployment(const nlohmann::json& args, McpToolCall& call);
  McpToolResult DeploymentStatus(const nlohmann::json& args, McpToolCall& call);
  McpToolResult ListDeployments(const nlohmann::json& args, McpToolCall& call);
  McpToolResult AuthStatus(const nlohmann::json& args, McpToolCall& call);
  McpToolResult AuthLoginStart(const nlohmann::json& args, McpToolCall& call);
  McpToolResult AuthLoginCheck(const nlohmann::json& args, McpToolCall& call);

  Operations ops_;
  const std::string cwd_;
  std::vector<Tool> tools_;  // set once in the constructor, then only read
};

}  // namespace bim::ctl
