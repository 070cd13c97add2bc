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
  tools_.push_back(
      Tool{"generate", "Generate a FastAPI backend",
           "Generate a FastAPI (Python) backend from a plain-language description and write its "
           "files into a local folder. Returns the files written. Nothing is written outside the "
           "folder, and a local file with different content is never overwritten unless force is "
           "true (then nothing is written and the conflicts are listed). Next: read or adapt the "
           "files, then call deploy with the same directory. Needs a login (see auth_status).",
           WithWriteArgs({"prompt", ArgType::kString, true,
                          "What the backend should do, in plain words, e.g. \"REST API for users "
                          "and orders with SQLite\".",
                          1, 20000, Check::kNone, nullptr},
                         "the project", "the generated ones"),
           WrittenFilesFields(
               {{"directory", Str("The absolute folder the project is in")},
                {"projectId", OptStr("The platform's project for this code, remembered in the "
                                     "folder for deploy; absent when the platform names none")}},
               "Every generated file"),
           WriteHints(true, true, true), &McpTools::Generate});

  tools_.push_back(Tool{
      "deploy",
      "Deploy a project folder",
      "Upload a local project folder to Backend.im and start a deployment. Returns at once "
      "with deploymentId, projectId and commitHash while the platform builds and deploys it, "
      "which takes a minute or more. Next: call wait_for_deployment with the deploymentId to "
      "follow it to its URL. As a task (protocol 2025-11-25 and later), it lasts until the "
      "deployment is complete or failed and ends with its URL and logs; cancelling the task "
      "stops the waiting, never the deployment. Hidden files, .git, node_modules, caches, "
      "virtualenvs and secrets "
      "(.env*, *.pem, *.key) are never uploaded. Deploying again replaces the project's "
      "previous deployment. Needs a login (see auth_status).",
      {FolderArg("directory", true,
                 "The project folder to upload; it must exist, e.g. the one given to generate. "),
       IdArg("projectId", false,
             "The project to deploy to. Default: the one generate or an earlier deploy remembered "
             "in the folder (.backend-im/project.json), else a new project.")},
      // The deployment, as every tool and `backend-im deploy --json` show it, and the upload.
      WithFields(
          DeploymentModelSchema(),
          Stepped({{"directory", Str("The absolute folder that was uploaded")},
                   {"fileCount", Int("How many files were uploaded")},
                   {"totalBytes", Int("How many bytes were uploaded")},
                   {"skipped",
                    {{"type", "array"},
                     {"description", "Files left out, and why"},
                     {"items", Object({{"path", Str("Path inside the folder")},
                                       {"reason", Str("Why it was left out")}})}}},
                   // As a task, deploy ends the way wait_for_deployment does.
                   {"timedOut", OptBool("As a task only: true when the wait ended before the "
                                        "deployment did")}})),
      DeployHints(),
      &McpTools::DeployAndWait});

  tools_.push_back(Tool{
      "wait_for_deployment",
      "Wait for a deployment",
      "Wait until a deployment is complete or failed, or until timeoutSeconds pass, and return "
      "its status, URL and logs. Sends a progress notification for each stage when the "
      "request carries a progressToken. If it returns with timedOut true, call it again. "
      "Cancelling this request stops the waiting, never the deployment.",
      {DeploymentIdArg(),
       {"timeoutSeconds", ArgType::kInteger, false,
        "How long to wait at most, in seconds (1 to 900, default 50). Keep it below your "
        "client's request timeout.",
        1, 900, Check::kNone, 50}},
      WithFields(DeploymentModelSchema(),
                 Stepped({{"timedOut", Bool("True when timeoutSeconds passed first")}})),
      ReadHints(),
      &McpTools::WaitForDeployment});

  tools_.push_back(Tool{"deployment_status",
                        "Deployment status",
                        "The current status, URL and logs of one deployment, without waiting.",
                        {DeploymentIdArg()},
                        WithFields(DeploymentModelSchema(), Stepped(json::object())),
                        ReadHints(),
                        &McpTools::DeploymentStatus});

  tools_.push_back(
      Tool{"list_deployments",
           "List deployments",
           "Past deployments made from this computer, newest first, with their status and URL.",
           {IdArg("projectId", false, "Only the deployments of this project."),
            {"limit", ArgType::kInteger, false, "How many at most (1 to 100, default 20).", 1, 100,
             Check::kNone, 20}},
           Object({{"deployments",
                    {{"type", "array"},
                     {"description", "Newest first"},
                     {"items", DeploymentModelSchema()}}}}),
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
  std::string project = args.contains("projectId") ? args["projectId"].get<std::string>() : "";
  auto done = ops_.Deploy(dir, project, *call.cancel);
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
  if (!call.as_task) return Deploy(args, call);
  // Cancelling a task stops its waiting, never the deployment: the upload runs to its end.
  CancelToken upload_token;
  McpToolCall upload = call;
  upload.cancel = &upload_token;
  Answer deployed_answer = Deploy(args, upload);
  if (deployed_answer.result.is_error) return deployed_answer;
  McpToolResult deployed = std::move(deployed_answer.result);
  // No time limit: the task lasts as long as the deployment (a year stands for "no limit").
  json wait_args{{"deploymentId", deployed.structured["deploymentId"]},
                 {"timeoutSeconds", 365LL * 24 * 3600}};
  McpToolResult waited = WaitForDeployment(wait_args, call).result;
  if (waited.is_error) {
    waited.message += fmt::format(" (deploymentId \"{}\" was uploaded)",
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
  std::string project = args.contains("projectId") ? args["projectId"].get<std::string>() : "";
  auto list = ops_.History(project, static_cast<int>(args["limit"].get<int64_t>()), *call.cancel);
  if (!list.ok()) return FailureOf(list.error(), "list_deployments");
  json deployments = json::array();
  for (const auto& d : *list) deployments.push_back(DeploymentModel(d));
  return Success({{"deployments", std::move(deployments)}});
}

}  // namespace bim::ctl
