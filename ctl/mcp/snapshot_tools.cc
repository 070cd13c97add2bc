// The MCP tools on the files the agent keeps of each deployment: rollback, diff, restore.
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"

namespace bim::ctl {

using namespace mcp_tools;

// rollback, diff, restore
void McpTools::DefineSnapshotTools() {
  const OperationSpec& rollback = ToolSpec("rollback");
  tools_.push_back(
      Tool{&rollback,
           {FolderArg(rollback, "directory", false), IdArg(rollback, "projectId", false),
            IdArg(rollback, "toDeploymentId", false), TextArg(rollback, "environment", false, 32)},
           DeployHints(),
           &McpTools::Rollback});
  const OperationSpec& diff = ToolSpec("diff");
  tools_.push_back(
      Tool{&diff,
           {IdArg(diff, "deploymentId", false), IdArg(diff, "otherDeploymentId", false),
            FolderArg(diff, "directory", false)},
           {{"readOnlyHint", true}, {"openWorldHint", false}},
           &McpTools::Diff});
  const OperationSpec& restore = ToolSpec("restore");
  tools_.push_back(Tool{&restore, WithWriteArgs(restore, IdArg(restore, "deploymentId", true)),
                        WriteHints(true, true, false), &McpTools::Restore});
}

McpTools::Answer McpTools::Rollback(const json& args, McpToolCall& call) {
  auto str = [&](const char* key) {
    return args.contains(key) ? args[key].get<std::string>() : std::string();
  };
  std::string dir = str("directory"), project = str("projectId"), to = str("toDeploymentId");
  if (dir.empty() && project.empty() && to.empty()) {
    return Failure("rollback needs directory, projectId or toDeploymentId");
  }
  auto d = ops_.Rollback(dir.empty() ? "." : dir, project, to, str("environment"), *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "rollback");
  json out = DeploymentModel(*d);
  out["nextStep"] = fmt::format(
      "Call wait_for_deployment with deploymentId \"{}\" to follow the rollback to its URL.",
      d->id());
  return Success(std::move(out));
}

McpTools::Answer McpTools::Diff(const json& args, McpToolCall& call) {
  auto str = [&](const char* key) {
    return args.contains(key) ? args[key].get<std::string>() : std::string();
  };
  std::string from = str("deploymentId"), other = str("otherDeploymentId"), dir = str("directory");
  if (other.empty() && dir.empty()) {
    return Failure("diff needs directory (a project folder) or otherDeploymentId");
  }
  if (from.empty() && dir.empty()) {
    return Failure("diff needs deploymentId, or directory to compare with its last deployment");
  }
  auto d = ops_.Diff(from, other, dir, *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "diff");
  json out = DiffModel(*d);
  out["nextStep"] = d->diff.same()
                        ? std::string("They hold the same files.")
                        : std::string(
                              "Read the diff. To go back to the earlier files, call rollback; "
                              "to ship the folder's, call deploy.");
  return Success(std::move(out));
}

McpTools::Answer McpTools::Restore(const json& args, McpToolCall& call) {
  auto done =
      ops_.Restore(args["deploymentId"].get<std::string>(), args["directory"].get<std::string>(),
                   args["force"].get<bool>(), *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "restore");
  json out = RestoreModel(*done);
  out["nextStep"] = fmt::format(
      "Read or change the files, then call deploy with directory \"{}\" (or diff to compare it "
      "with a deployment).",
      done->directory);
  return Success(std::move(out));
}

}  // namespace bim::ctl
