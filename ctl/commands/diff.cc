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
  auto* df = cli.Add("diff");
  auto& a = cli.Value<DiffArgs>();
  cli.Option(df, "from", a.from);
  cli.Option(df, "to", a.to);
  cli.Option(df, "-d,--dir", a.dir);
  cli.OnRun(df, [&a](CommandContext& c) { return Diff(c, a); });
}

}  // namespace bim::ctl
