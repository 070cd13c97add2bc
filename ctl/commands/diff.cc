// backend-im diff [FROM [TO]] [-d DIR]
#include <sys/stat.h>

#include "ctl/commands/command.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

struct DiffArgs {
  std::string from;
  std::string to;
  std::string dir = ".";
};

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Exit 0 when the two are the same, 1 when they differ (as diff(1)), else the error's code.
int Diff(CommandContext& c, const DiffArgs& a) {
  std::string to_id, folder = a.dir;
  if (!a.to.empty()) {
    if (IsDirectory(a.to)) {
      folder = a.to;
    } else {
      to_id = a.to;
    }
  }
  auto done = c.ops().Diff(a.from, to_id, folder, c.cancel());
  if (!done.ok()) return c.Failed(done.error(), "diff");
  if (c.json()) {
    PrintJson(DiffModel(*done));
  } else {
    Print("{}", Lines{done->diff.Unified()});
  }
  return done->diff.same() ? kExitOk : kExitDeployFailed;
}

}  // namespace

void AddDiffCommand(CommandLine& cli) {
  auto* df = cli.app().add_subcommand(
      "diff",
      "Show how two deployments differ, or a deployment and a folder (unified diff). With no "
      "deployment: the project folder against its last deployment. Exit 0 when they are the "
      "same, 1 when they differ");
  auto& a = cli.Value<DiffArgs>();
  df->add_option("from", a.from, "Deployment id (default: the folder's last deployment)");
  df->add_option("to", a.to, "Another deployment id, or a folder (default: the project folder)");
  df->add_option("-d,--dir", a.dir, "Project folder (default: the current folder)");
  cli.OnRun(df, [&a](CommandContext& c) { return Diff(c, a); });
}

}  // namespace bim::ctl
