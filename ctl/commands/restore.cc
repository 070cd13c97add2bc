// backend-im restore DEPLOYMENT -o DIR [--force]
#include "ctl/commands/command.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct RestoreArgs {
  std::string id;
  std::string dir;
  bool force = false;
};

int Restore(CommandContext& c, const RestoreArgs& a) {
  auto done = c.ops().Restore(a.id, a.dir, a.force, c.cancel());
  if (!done.ok()) return c.Failed(done.error(), "restore " + a.id);
  if (c.json()) {
    PrintJson(RestoreModel(*done));
    return kExitOk;
  }
  Print("{} Restored the {} files of {} into {}\n", c.style().Green("✓"), done->files.size(), a.id,
        a.dir);
  for (const auto& path : done->report.written) Print("  {}\n", path);
  PrintUnchanged(done->report);
  return kExitOk;
}

}  // namespace

void AddRestoreCommand(CommandLine& cli) {
  auto* rs = cli.Add("restore");
  auto& a = cli.Value<RestoreArgs>();
  cli.Option(rs, "deployment", a.id)->required();
  cli.Option(rs, "-o,--output", a.dir)->required();
  cli.Flag(rs, "--force", a.force);
  cli.OnRun(rs, [&a](CommandContext& c) { return Restore(c, a); });
}

}  // namespace bim::ctl
