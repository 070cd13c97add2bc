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
  auto* rs = cli.app().add_subcommand(
      "restore", "Write the files a deployment uploaded into a folder (as generate writes)");
  auto& a = cli.Value<RestoreArgs>();
  rs->add_option("deployment", a.id, "Deployment id (history shows which can be restored)")
      ->required();
  rs->add_option("-o,--output", a.dir, "Folder to write to")->required();
  rs->add_flag("--force", a.force, "Overwrite local files whose content differs");
  cli.OnRun(rs, [&a](CommandContext& c) { return Restore(c, a); });
}

}  // namespace bim::ctl
