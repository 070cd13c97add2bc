// backend-im promote DEPLOYMENT --to NAME [--watch]
#include "ctl/commands/follow.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct PromoteArgs {
  std::string id;
  std::string to;
  bool watch = false;
};

int Promote(CommandContext& c, const PromoteArgs& a) {
  const std::string what = "promote " + a.id;
  auto done = c.ops().Promote(a.id, a.to, c.cancel());
  if (!done.ok()) return c.Failed(done.error(), what);
  const auto& d = *done;
  if (!c.json()) {
    Print("Promoting the files of {} to {} of project {}\n",
          d.promoted_of().empty() ? a.id : d.promoted_of(),
          d.environment().empty() ? a.to : d.environment(), d.project_id());
  }
  return Started(c, d, DeploymentModel(d), a.watch);
}

}  // namespace

void AddPromoteCommand(CommandLine& cli) {
  auto* promote = cli.Add("promote");
  auto& a = cli.Value<PromoteArgs>();
  cli.Option(promote, "deployment", a.id)->required();
  cli.Option(promote, "--to", a.to)->required();
  cli.Flag(promote, "-w,--watch", a.watch);
  cli.OnRun(promote, [&a](CommandContext& c) { return Promote(c, a); });
}

}  // namespace bim::ctl
