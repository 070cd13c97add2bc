// backend-im rollback [-d DIR] [--project ID] [--to DEPLOYMENT] [--watch]
#include "ctl/commands/follow.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct RollbackArgs {
  std::string dir = ".";
  std::string project;
  std::string to;
  bool watch = false;
};

int Rollback(CommandContext& c, const RollbackArgs& a) {
  auto done = c.ops().Rollback(a.dir, a.project, a.to, c.cancel());
  if (!done.ok()) {
    return c.Failed(done.error(),
                    done.error().kind == OpFailure::kUsage ? "rollback" : "rollback failed");
  }
  const auto& d = *done;
  if (c.json()) {
    PrintJson(DeploymentModel(d));
  } else {
    Print("Rolling project {} back to the files of {}\n", d.project_id(), d.restored_of());
    Print("  deployment {}  commit {}\n", c.style().Bold(d.id()), d.commit_hash());
  }
  return FollowOrHint(c, d.id(), a.watch);
}

}  // namespace

void AddRollbackCommand(CommandLine& cli) {
  auto* rb = cli.app().add_subcommand("rollback",
                                      "Deploy the files of an earlier deployment again, as a new "
                                      "deployment: by default those "
                                      "of the newest complete deployment of the project whose "
                                      "files differ from the current one");
  auto& a = cli.Value<RollbackArgs>();
  rb->add_option("-d,--dir", a.dir, "Project folder whose project to roll back (default: .)");
  rb->add_option("--project", a.project, "Project id (default: from .backend-im/project.json)");
  rb->add_option("--to", a.to, "Roll back to exactly this deployment");
  rb->add_flag("-w,--watch", a.watch, "Follow the new deployment until it completes or fails");
  cli.OnRun(rb, [&a](CommandContext& c) { return Rollback(c, a); });
}

}  // namespace bim::ctl
