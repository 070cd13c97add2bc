// backend-im status ID
#include "ctl/commands/follow.h"
#include "ctl/models.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

void PrintDeployment(const CommandContext& c, const backend_im::v1::Deployment& d) {
  Print("Deployment  {}\n", d.id());
  Print("Project     {}\n", d.project_id());
  Print("Commit      {}\n", d.commit_hash());
  auto stage = proto::StageOf(d);
  Styled s = stage == contract::Stage::kComplete ? c.style().Green(d.status())
             : stage == contract::Stage::kFailed ? c.style().Red(d.status())
                                                 : c.style().Plain(d.status());
  Print("Status      {}\n", s);
  if (!d.url().empty()) Print("URL         {}\n", d.url());
  Print("Created     {}\n", FormatTime(d.created_at_unix_ms()));
  if (!d.directory().empty()) Print("Folder      {}\n", d.directory());
  if (!d.environment().empty()) Print("Environment {}\n", d.environment());
  if (!d.restored_of().empty()) Print("Rollback to {}\n", d.restored_of());
  if (!d.promoted_of().empty()) Print("Promote of  {}\n", d.promoted_of());
  Print("Files kept  {}\n",
        d.restorable() ? "yes (rollback, restore and diff can use them)" : "no");
  if (!d.stream_problem().empty()) {
    Print("Note        {}\n", c.style().Yellow(d.stream_problem()));
  }
  if (d.logs_size() > 0) {
    Print("Logs\n");
    for (const auto& l : d.logs()) Print("  {}\n", l);
  }
}

int Status(CommandContext& c, const std::string& id) {
  auto found = c.ops().Status(id, c.cancel());
  if (!found.ok()) return c.Failed(found.error(), "status " + id);
  if (c.json()) {
    PrintJson(DeploymentModel(*found));
  } else {
    PrintDeployment(c, *found);
  }
  return OutcomeExitCode(c, *found, "status " + id);
}

}  // namespace

void AddStatusCommand(CommandLine& cli) {
  auto* status = cli.Add("status");
  auto& id = cli.DeploymentId(status);
  cli.OnRun(status, [&id](CommandContext& c) { return Status(c, id); });
}

}  // namespace bim::ctl
