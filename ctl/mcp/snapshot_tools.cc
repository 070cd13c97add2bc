// The MCP tools on the files the agent keeps of each deployment: rollback, diff, restore.
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"

namespace bim::ctl {

using namespace mcp_tools;

// rollback, diff, restore
void McpTools::DefineSnapshotTools() {
  tools_.push_back(Tool{
      "rollback",
      "Roll a project back",
      "Deploy the files of an earlier deployment of a project again, as a new deployment: by "
      "default those of the newest complete deployment whose files differ from the current "
      "one, or exactly toDeploymentId. The agent keeps the files of recent deployments "
      "(list_deployments shows restorable); the new deployment's commitHash equals the earlier "
      "one's. Returns at once; next: call wait_for_deployment with the deploymentId. Give "
      "directory, projectId or toDeploymentId. Needs a login (see auth_status).",
      {FolderArg(
           "directory", false,
           "A project folder: its remembered project (.backend-im/project.json) is rolled back. "),
       IdArg("projectId", false, "The project to roll back."),
       IdArg("toDeploymentId", false,
             "Roll back to exactly this deployment (list_deployments lists them).")},
      WithFields(DeploymentModelSchema(), Stepped(json::object())),
      DeployHints(),
      &McpTools::Rollback});

  tools_.push_back(Tool{
      "diff",
      "Diff deployments or a folder",
      "A unified diff (as diff -u) between the files of a deployment and a local project "
      "folder, or between two deployments. With only directory: the folder against its "
      "project's last deployment, i.e. what the next deploy would change. The agent keeps the "
      "files of recent deployments (list_deployments shows restorable).",
      {IdArg(
           "deploymentId", false,
           "The deployment to compare from. Default: the last deployment of directory's project."),
       IdArg("otherDeploymentId", false, "Compare with this deployment instead of a folder."),
       FolderArg("directory", false,
                 "The project folder to compare with (what deploy would upload from it). ")},
      Object(Stepped(
          {{"from", Str("The deployment compared from")},
           {"to", Str("The deployment or folder compared with")},
           {"same", Bool("True when the two hold the same files")},
           {"files",
            {{"type", "array"},
             {"description", "The files that differ, in path order"},
             {"items", Object({{"path", Str("Path inside the project")},
                               {"change",
                                {{"type", "string"},
                                 {"enum", {"added", "removed", "changed"}},
                                 {"description", "How it differs"}}},
                               {"binary", Bool("True for a binary file (no text diff)")}})}}},
           {"diff", Str("The unified diff; empty when same")}})),
      {{"readOnlyHint", true}, {"openWorldHint", false}},
      &McpTools::Diff});

  tools_.push_back(Tool{
      "restore", "Restore a deployment's files",
      "Write the exact files of an earlier deployment into a local folder, with the same safe "
      "writing as generate: nothing is written outside the folder, and a local file with "
      "different content is never overwritten unless force is true (then nothing is written and "
      "the conflicts are listed). The agent keeps the files of recent deployments "
      "(list_deployments shows restorable). Next: read or change them, then deploy the folder.",
      WithWriteArgs(IdArg("deploymentId", true,
                          "The deployment whose files to write (list_deployments lists them)."),
                    "the files", "the deployment's"),
      WrittenFilesFields({{"deploymentId", Str("The deployment whose files were written")},
                          {"directory", Str("The absolute folder the files are in")}},
                         "Every file of the deployment"),
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
  auto d = ops_.Rollback(dir.empty() ? "." : dir, project, to, *call.cancel);
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
