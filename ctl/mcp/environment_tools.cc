// The MCP tools of a project's environments and variables, and promote: their definitions and
// handlers. No variable's value is ever in a result, an error or a log: list_variables gives
// names only (it has no way to ask for values), and set_variable's result names the key.
#include "common/log.h"
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"

namespace bim::ctl {

using namespace mcp_tools;

namespace {

std::string ConfirmSet(const json& args) {
  return fmt::format("Set the variable {} in {} of project {}? (The value is not shown here.)",
                     args["key"].get<std::string>(), args["environment"].get<std::string>(),
                     args["projectId"].get<std::string>());
}

std::string ConfirmUnset(const json& args) {
  return fmt::format("Remove the variable {} from {} of project {}?",
                     args["key"].get<std::string>(), args["environment"].get<std::string>(),
                     args["projectId"].get<std::string>());
}

std::string ConfirmPromote(const json& args) {
  return fmt::format(
      "Start the files of deployment {} in {}, as a new deployment that {} will serve?",
      args["deploymentId"].get<std::string>(), args["environment"].get<std::string>(),
      args["environment"].get<std::string>());
}

}  // namespace

// list_environments, list_variables, set_variable, unset_variable, promote
void McpTools::DefineEnvironmentTools() {
  const OperationSpec& promote = ToolSpec("promote");
  Tool promote_tool{
      &promote,
      {IdArg(promote, "deploymentId", true), TextArg(promote, "environment", true, 32)},
      DeployHints(),
      &McpTools::PromoteAndWait};
  promote_tool.confirm = ConfirmPromote;
  tools_.push_back(std::move(promote_tool));

  const OperationSpec& envs = ToolSpec("list_environments");
  tools_.push_back(
      Tool{&envs, {IdArg(envs, "projectId", true)}, ReadHints(), &McpTools::ListEnvironments});

  const OperationSpec& vars = ToolSpec("list_variables");
  tools_.push_back(Tool{&vars,
                        {IdArg(vars, "projectId", true), TextArg(vars, "environment", true, 32)},
                        ReadHints(),
                        &McpTools::ListVariables});

  const OperationSpec& set = ToolSpec("set_variable");
  Tool set_tool{
      &set,
      {IdArg(set, "projectId", true), TextArg(set, "environment", true, 32),
       TextArg(set, "key", true, 128), TextArg(set, "value", true, kMaxVariableValueBytes)},
      WriteHints(true, true, true),
      &McpTools::SetVariable};
  set_tool.confirm = ConfirmSet;
  tools_.push_back(std::move(set_tool));

  const OperationSpec& unset = ToolSpec("unset_variable");
  Tool unset_tool{&unset,
                  {IdArg(unset, "projectId", true), TextArg(unset, "environment", true, 32),
                   TextArg(unset, "key", true, 128)},
                  WriteHints(true, false, true),
                  &McpTools::UnsetVariable};
  unset_tool.confirm = ConfirmUnset;
  tools_.push_back(std::move(unset_tool));
}

McpTools::Answer McpTools::Promote(const json& args, McpToolCall& call) {
  auto d = ops_.Promote(args["deploymentId"].get<std::string>(),
                        args["environment"].get<std::string>(), *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "promote");
  json out = DeploymentModel(*d);
  out["nextStep"] = fmt::format(
      "Call wait_for_deployment with deploymentId \"{}\" to follow it to its URL in {}.", d->id(),
      args["environment"].get<std::string>());
  return Success(std::move(out));
}

McpTools::Answer McpTools::ListEnvironments(const json& args, McpToolCall& call) {
  auto list = ops_.Environments("", args["projectId"].get<std::string>(), *call.cancel);
  if (!list.ok()) return FailureOf(list.error(), "list_environments");
  json out = EnvironmentsModel(*list);
  out["nextStep"] =
      "list_variables shows an environment's variable names; deploy or promote with an "
      "environment changes what it serves.";
  return Success(std::move(out));
}

McpTools::Answer McpTools::ListVariables(const json& args, McpToolCall& call) {
  auto got = ops_.Variables("", args["projectId"].get<std::string>(),
                            args["environment"].get<std::string>(),
                            /*with_values=*/false, *call.cancel);
  if (!got.ok()) return FailureOf(got.error(), "list_variables");
  auto& reply = got->environments.front();
  reply.set_project_id(got->project_id);
  json out = VariablesModel(reply, /*with_values=*/false);
  out["nextStep"] =
      "Values are never shown here. set_variable sets one (the user may be asked to confirm).";
  return Success(std::move(out));
}

McpTools::Answer McpTools::SetVariable(const json& args, McpToolCall& call) {
  const std::string environment = args["environment"];
  auto set = ops_.SetVariable("", args["projectId"].get<std::string>(), environment,
                              args["key"].get<std::string>(), args["value"].get<std::string>(),
                              *call.cancel);
  if (!set.ok()) return FailureOf(set.error(), "set_variable");
  log::Info("mcp: set_variable set {} in {} of {}", set->key, environment, set->project_id);
  json out = ChangeModel(*set);
  out["nextStep"] = fmt::format(
      "Set. A deployment gets it when {} is deployed again: deploy with environment \"{}\", or "
      "promote a deployment there.",
      environment, environment);
  return Success(std::move(out));
}

McpTools::Answer McpTools::UnsetVariable(const json& args, McpToolCall& call) {
  const std::string environment = args["environment"];
  auto unset = ops_.UnsetVariable("", args["projectId"].get<std::string>(), environment,
                                  args["key"].get<std::string>(), *call.cancel);
  if (!unset.ok()) return FailureOf(unset.error(), "unset_variable");
  json out = ChangeModel(*unset);
  out["nextStep"] = fmt::format(
      "Removed. The app keeps it until {} is deployed again (deploy, or promote there).",
      environment);
  return Success(std::move(out));
}

}  // namespace bim::ctl
