// The MCP tools that generate, deploy and follow deployments: their definitions and handlers.
#include "common/log.h"
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"
#include "proto/convert.h"

namespace bim::ctl {

namespace pb = backend_im::v1;
using namespace mcp_tools;

// generate, deploy, wait_for_deployment, deployment_status, list_deployments
void McpTools::DefineDeploymentTools() {
  const OperationSpec& generate = ToolSpec("generate");
  tools_.push_back(Tool{&generate,
                        WithWriteArgs(generate, TextArg(generate, "prompt", true, 20000)),
                        WriteHints(true, true, true), &McpTools::Generate});
  const OperationSpec& deploy = ToolSpec("deploy");
  tools_.push_back(Tool{&deploy,
                        {FolderArg(deploy, "directory", true), IdArg(deploy, "projectId", false),
                         TextArg(deploy, "environment", false, 32)},
                        DeployHints(),
                        &McpTools::DeployAndWait});
  const OperationSpec& wait = ToolSpec("wait_for_deployment");
  tools_.push_back(
      Tool{&wait,
           {IdArg(wait, "deploymentId", true), IntArg(wait, "timeoutSeconds", 1, 900, 50)},
           ReadHints(),
           &McpTools::WaitForDeployment});
  const OperationSpec& status = ToolSpec("deployment_status");
  tools_.push_back(Tool{
      &status, {IdArg(status, "deploymentId", true)}, ReadHints(), &McpTools::DeploymentStatus});
  const OperationSpec& list = ToolSpec("list_deployments");
  tools_.push_back(Tool{&list,
                        {IdArg(list, "projectId", false), TextArg(list, "environment", false, 32),
                         IntArg(list, "limit", 1, 100, 20)},
                        {{"readOnlyHint", true}, {"openWorldHint", false}},
                        &McpTools::ListDeployments});
}

McpTools::Answer McpTools::Generate(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  auto done = ops_.Generate(args["prompt"].get<std::string>(), dir, args["force"].get<bool>(),
                            *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "generate");
  json out = GenerateModel(*done);
  out["nextStep"] = fmt::format(
      "Read or adapt the files if needed, then call deploy with directory \"{}\".", dir);
  return Success(std::move(out));
}

McpTools::Answer McpTools::Deploy(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  auto done =
      ops_.Deploy(dir, args.value("projectId", ""), args.value("environment", ""), *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "deploy");
  if (!done->note.empty()) log::Warn("mcp: deploy of {}: {}", dir, done->note);
  json out = DeployModel(*done);
  out["nextStep"] = fmt::format(
      "Call wait_for_deployment with deploymentId \"{}\" to follow it to its URL (it takes a "
      "minute or more).",
      done->deployment.id());
  return Success(std::move(out));
}

McpTools::Answer McpTools::DeployAndWait(const json& args, McpToolCall& call) {
  return AndWait(&McpTools::Deploy, args, call);
}

McpTools::Answer McpTools::PromoteAndWait(const json& args, McpToolCall& call) {
  return AndWait(&McpTools::Promote, args, call);
}

McpTools::Answer McpTools::AndWait(Handler start, const json& args, McpToolCall& call) {
  if (!call.as_task) return (this->*start)(args, call);
  // Cancelling a task stops its waiting, never the deployment: the start runs to its end.
  CancelToken start_token;
  McpToolCall starting = call;
  starting.cancel = &start_token;
  Answer deployed_answer = (this->*start)(args, starting);
  if (deployed_answer.result.is_error) return deployed_answer;
  McpToolResult deployed = std::move(deployed_answer.result);
  // No time limit: the task lasts as long as the deployment (a year stands for "no limit").
  json wait_args{{"deploymentId", deployed.structured["deploymentId"]},
                 {"timeoutSeconds", 365LL * 24 * 3600}};
  McpToolResult waited = WaitForDeployment(wait_args, call).result;
  if (waited.is_error) {
    waited.message += fmt::format(" (deploymentId \"{}\" was started)",
                                  deployed.structured["deploymentId"].get<std::string>());
    return waited;
  }
  deployed.structured.update(waited.structured);
  return deployed;
}

McpTools::Answer McpTools::WaitForDeployment(const json& args, McpToolCall& call) {
  const std::string id = args["deploymentId"];
  const int64_t timeout_s = args["timeoutSeconds"];
  double reported = 0;
  const double total = static_cast<double>(contract::SuccessPath().size());
  Operations::WatchHooks hooks;
  hooks.on_event = [&](const pb::DeploymentEvent& ev) {
    auto stage = proto::StageOf(ev);
    if (!stage) return;
    // One step per stage of the success path; failed jumps to the end.
    double progress = std::min<double>(contract::StageRank(*stage) + 1, total);
    if (progress <= reported) return;
    reported = progress;
    std::string message = ev.status();
    if (ev.logs_size() > 0) message += ": " + ev.logs(ev.logs_size() - 1);
    call.progress(progress, total, message);
  };
  auto done = ops_.Watch(id, 0, std::chrono::seconds(timeout_s), hooks, *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "wait_for_deployment");
  json out = DeploymentModel(done->deployment);
  out["timedOut"] = done->timed_out;
  out["nextStep"] = NextStepFor(done->deployment);
  return Success(std::move(out));
}

McpTools::Answer McpTools::DeploymentStatus(const json& args, McpToolCall& call) {
  auto d = ops_.Status(args["deploymentId"].get<std::string>(), *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "deployment_status");
  json out = DeploymentModel(*d);
  out["nextStep"] = NextStepFor(*d);
  return Success(std::move(out));
}

McpTools::Answer McpTools::ListDeployments(const json& args, McpToolCall& call) {
  auto list =
      ops_.History(args.value("projectId", ""), static_cast<int>(args["limit"].get<int64_t>()),
                   args.value("environment", ""), *call.cancel);
  if (!list.ok()) return FailureOf(list.error(), "list_deployments");
  json deployments = json::array();
  for (const auto& d : *list) deployments.push_back(DeploymentModel(d));
  return Success({{"deployments", std::move(deployments)}});
}

}  // namespace bim::ctl
