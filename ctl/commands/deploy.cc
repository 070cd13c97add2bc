// backend-im deploy [-d DIR] [--project ID] [--env NAME] [--watch] [--dry-run]
#include "ctl/commands/follow.h"
#include "ctl/models.h"
#include "ctl/project_files.h"
#include "ctl/tree_diff.h"

namespace bim::ctl {
namespace {

struct DeployArgs {
  std::string dir = ".";
  std::string project;
  std::string env;  // empty: where the platform deploys by default
  bool watch = false;
  bool dry_run = false;
};

// The newest deployment of the folder's project with its files, for --dry-run to compare with;
// nullopt (and a note on stderr) when there is none or it cannot be had.
std::optional<FilesOutcome> LastKept(CommandContext& c, const DeployArgs& a) {
  std::string project = a.project;
  if (project.empty()) {
    if (auto meta = LoadProjectMeta(a.dir)) project = meta->project_id;
  }
  if (project.empty()) return std::nullopt;
  auto last = c.ops().LastDeployment(project, c.cancel());
  if (!last.ok()) {
    PrintErr("note: cannot compare with the last deployment: {}\n", Lines{last.error().message});
    return std::nullopt;
  }
  if (*last && !(*last)->deployment.restorable()) {
    PrintErr("note: the files of {}, the last deployment of {}, are no longer kept\n",
             (*last)->deployment.id(), project);
    return std::nullopt;
  }
  return std::move(*last);
}

int DryRun(CommandContext& c, const DeployArgs& a) {
  auto snap = ReadProjectFiles(a.dir);
  if (!snap.ok()) {
    return c.Failed(
        OpError{snap.error().code == ErrorCode::kInvalidArgument ? OpFailure::kUsage
                                                                 : OpFailure::kLocalFiles,
                snap.error().message},
        "deploy");
  }
  auto last = LastKept(c, a);
  std::optional<TreeDiff> changes;
  if (last) changes = DiffTrees(last->files, snap->files, last->deployment.id(), ".");
  if (c.json()) {
    PrintJson(DryRunModel(*snap, changes, last ? last->deployment.id() : ""));
    return kExitOk;
  }
  Print("Would upload:\n");
  for (const auto& [path, content] : snap->files) Print("  {:>9}  {}\n", content.size(), path);
  Print("  {:>9}  in {} files\n", snap->total_bytes, snap->files.size());
  if (!snap->skipped.empty()) {
    Print("Left out:\n");
    for (const auto& s : snap->skipped) Print("  {}  ({})\n", s.path, s.reason);
  }
  if (changes) {
    if (changes->same()) {
      Print("Same files as the last deployment, {}.\n", last->deployment.id());
    } else {
      Print("Against the last deployment, {}:\n", last->deployment.id());
      for (const auto& f : changes->changes) Print("  {:<8} {}\n", ChangeName(f.kind), f.path);
    }
  }
  return kExitOk;
}

int Deploy(CommandContext& c, const DeployArgs& a) {
  if (a.dry_run) return DryRun(c, a);
  auto done = c.ops().Deploy(a.dir, a.project, a.env, c.cancel());
  if (!done.ok()) return c.Failed(done.error(), "deploy failed");
  const auto& d = done->deployment;
  if (!done->note.empty()) PrintErr("warning: {}\n", done->note);
  if (!c.json()) {
    Print("Deploying {} files ({} bytes) to project {}{}\n", done->snapshot.files.size(),
          done->snapshot.total_bytes, d.project_id(),
          d.environment().empty() ? "" : Terminal(", environment {}", d.environment()));
  }
  return Started(c, d, DeployModel(*done), a.watch);
}

}  // namespace

void AddDeployCommand(CommandLine& cli) {
  auto* dep = cli.Add("deploy");
  auto& a = cli.Value<DeployArgs>();
  cli.Option(dep, "-d,--dir", a.dir);
  cli.Flag(dep, "-w,--watch", a.watch);
  cli.Option(dep, "--project", a.project);
  cli.Flag(dep, "--dry-run", a.dry_run);
  cli.Option(dep, "--env", a.env);
  cli.OnRun(dep, [&a](CommandContext& c) { return Deploy(c, a); });
}

}  // namespace bim::ctl
