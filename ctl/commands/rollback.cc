// backend-im rollback [-d DIR] [--project ID] [--to DEPLOYMENT] [--env NAME] [--watch]
#include "ctl/commands/follow.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct RollbackArgs {
  std::string dir = ".";
  std::string project;
  std::string to;
  std::string env;
  bool watch = false;
};

int Rollback(CommandContext& c, const RollbackArgs& a) {
  auto done = c.ops().Rollback(a.dir, a.project, a.to, a.env, c.cancel());
  if (!done.ok()) {
    return c.Failed(done.error(),
                    done.error().kind == OpFailure::kUsage ? "rollback" : "rollback failed");
  }
  const auto& d = *done;
  if (!c.json()) {
    Print("Rolling project {}{} back to the files of {}\n", d.project_id(),
          d.environment().empty() ? "" : Terminal(", environment {},", d.environment()),
          d.restored_of());
  }
  return Started(c, d, DeploymentModel(d), a.watch);
}

}  // namespace

void AddRollbackCommand(CommandLine& cli) {
  auto* rb = cli.Add("rollback");
  auto& a = cli.Value<RollbackArgs>();
  cli.Option(rb, "-d,--dir", a.dir);
  cli.Option(rb, "--project", a.project);
  cli.Option(rb, "--to", a.to);
  cli.Flag(rb, "-w,--watch", a.watch);
  cli.Option(rb, "--env", a.env);
  cli.OnRun(rb, [&a](CommandContext& c) { return Rollback(c, a); });
}

}  // namespace bim::ctl
