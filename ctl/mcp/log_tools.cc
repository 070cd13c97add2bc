// The MCP tool of runtime logs: get_logs, read-only. Its result stays within maxLines and
// maxBytes, says when they cut it, and for a deployment that failed brings in the same call what
// made it fail (LogsForAssistant).
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"

namespace bim::ctl {

using namespace mcp_tools;

// get_logs
void McpTools::DefineLogTools() {
  const OperationSpec& logs = ToolSpec("get_logs");
  tools_.push_back(
      Tool{&logs,
           {IdArg(logs, "deploymentId", false), IdArg(logs, "projectId", false),
            TextArg(logs, "environment", false, 32), TextArg(logs, "since", false, 20),
            TextArg(logs, "level", false, 16), TextArg(logs, "grep", false, 200),
            IntArg(logs, "maxLines", 1, 500, 100), IntArg(logs, "maxBytes", 1024, 65536, 16384)},
           ReadHints(),
           &McpTools::GetLogs});
}

McpTools::Answer McpTools::GetLogs(const json& args, McpToolCall& call) {
  LogsQuery q;
  q.id = args.value("deploymentId", "");
  q.project_id = args.value("projectId", "");
  if (q.id.empty() && q.project_id.empty()) {
    return Failure(
        "get_logs needs deploymentId, or projectId (with environment, default production): "
        "list_deployments lists them");
  }
  q.environment = args.value("environment", "");
  q.since = args.value("since", "");
  q.level = args.value("level", "");
  q.grep = args.value("grep", "");
  const auto max_lines = args["maxLines"].get<size_t>();
  const auto max_bytes = args["maxBytes"].get<size_t>();
  auto report = ops_.LogsForAssistant(q, max_lines, max_bytes, *call.cancel);
  if (!report.ok()) return FailureOf(report.error(), "get_logs");
  json out = LogsReportModel(*report);
  std::string next;
  if (report->failure) {
    next =
        "The deployment failed: failure.logs says at which stage and why, errors holds the "
        "app's last error lines. Fix the project files, then call deploy again.";
  } else if (report->logs.lines_size() == 0) {
    next = "No lines that match yet. Call get_logs again later, or with fewer filters.";
  } else {
    next = "Read the lines; call get_logs again for newer ones.";
  }
  if (report->cut) {
    next += fmt::format(
        " The result was cut to stay within maxLines ({}) and maxBytes ({}): {} line{} left "
        "out; narrow it with since, level or grep, or raise the caps.",
        max_lines, max_bytes, report->lines_left_out,
        report->lines_left_out == 1 ? " was" : "s were");
  }
  out["nextStep"] = std::move(next);
  return Success(std::move(out));
}

}  // namespace bim::ctl
