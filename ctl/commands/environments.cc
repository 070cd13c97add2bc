// backend-im environments [ls] | add NAME | rm NAME [--yes]   [-d DIR | --project ID]
#include <unistd.h>

#include "ctl/commands/command.h"
#include "ctl/models.h"
#include "ctl/terminal_input.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

// The project a command names: its folder (default: the current one) or --project.
struct ProjectArgs {
  std::string dir = ".";
  std::string project;
};

void AddProjectOptions(CommandLine& cli, CLI::App* cmd, ProjectArgs& a) {
  cli.Option(cmd, "-d,--dir", a.dir);
  cli.Option(cmd, "--project", a.project);
}

int List(CommandContext& c, const ProjectArgs& a) {
  auto list = c.ops().Environments(a.dir, a.project, c.cancel());
  if (!list.ok()) return c.Failed(list.error(), "environments");
  if (c.json()) {
    PrintJson(EnvironmentsModel(*list));
    return kExitOk;
  }
  Print("Environments of project {}\n", list->project_id());
  Print("{:<20}  {:>9}  {:<36}  {}\n", "NAME", "VARIABLES", "DEPLOYMENT", "URL");
  for (const pb::Environment& e : list->environments()) {
    Print("{:<20}  {:>9}  {:<36}  {}\n", e.name(), e.variables(),
          e.deployment_id().empty() ? "-" : e.deployment_id(), e.url().empty() ? "-" : e.url());
  }
  return kExitOk;
}

int Add(CommandContext& c, const ProjectArgs& a, const std::string& name) {
  auto added = c.ops().AddEnvironment(a.dir, a.project, name, c.cancel());
  if (!added.ok()) return c.Failed(added.error(), "environments add " + name);
  if (c.json()) {
    PrintJson(ChangeModel(*added));
  } else {
    Print("{} Added environment {} to project {}. Deploy to it with: backend-im deploy --env {}\n",
          c.style().Green("✓"), name, added->project_id, name);
  }
  return kExitOk;
}

int Remove(CommandContext& c, const ProjectArgs& a, const std::string& name, bool yes) {
  const std::string what = "environments rm " + name;
  if (!yes) {
    if (!IsTerminal(STDIN_FILENO)) {
      return c.Failed(OpFail(OpFailure::kUsage,
                             "removing an environment deletes its variables; standard input is "
                             "not a terminal to ask on, so pass --yes to remove it"),
                      what);
    }
    auto sure =
        AskYesNo(STDIN_FILENO,
                 Terminal("Remove environment {} of {}, with its variables? [y/N] ", name,
                          a.project.empty() ? "this folder's project" : "project " + a.project));
    if (!sure.ok()) return c.Failed(sure.error(), what);
    if (!*sure) {
      PrintErr("Nothing was removed.\n");
      return kExitUsage;
    }
  }
  auto removed = c.ops().RemoveEnvironment(a.dir, a.project, name, c.cancel());
  if (!removed.ok()) return c.Failed(removed.error(), what);
  if (c.json()) {
    PrintJson(ChangeModel(*removed));
  } else {
    Print("{} Removed environment {} from project {}\n", c.style().Green("✓"), name,
          removed->project_id);
  }
  return kExitOk;
}

}  // namespace

void AddEnvironmentsCommand(CommandLine& cli) {
  // Alone it lists, as `environments ls` does.
  auto* envs = cli.Add("environments");
  auto& listed = cli.Value<ProjectArgs>();
  AddProjectOptions(cli, envs, listed);
  cli.OnRun(envs, [&listed](CommandContext& c) { return List(c, listed); });

  auto* ls = cli.Add("environments ls");
  auto& ls_args = cli.Value<ProjectArgs>();
  AddProjectOptions(cli, ls, ls_args);
  cli.OnRun(ls, [&ls_args](CommandContext& c) { return List(c, ls_args); });

  auto* add = cli.Add("environments add");
  auto& add_args = cli.Value<ProjectArgs>();
  auto& add_name = cli.Value<std::string>();
  cli.Option(add, "name", add_name)->required();
  AddProjectOptions(cli, add, add_args);
  cli.OnRun(add, [&add_args, &add_name](CommandContext& c) { return Add(c, add_args, add_name); });

  auto* rm = cli.Add("environments rm");
  auto& rm_args = cli.Value<ProjectArgs>();
  auto& rm_name = cli.Value<std::string>();
  bool& yes = cli.Value<bool>();
  cli.Option(rm, "name", rm_name)->required();
  AddProjectOptions(cli, rm, rm_args);
  cli.Flag(rm, "--yes", yes);
  cli.OnRun(rm, [&rm_args, &rm_name, &yes](CommandContext& c) {
    return Remove(c, rm_args, rm_name, yes);
  });
}

}  // namespace bim::ctl
