// backend-im env ls [--env NAME] [--show-values] | set KEY --env NAME | unset KEY --env NAME
//                | pull [FILE] --env NAME [--force] | import FILE --env NAME
// Every one also takes -d DIR or --project ID. A value is never taken from the command line, and
// never printed but by `ls --show-values`.
#include <unistd.h>

#include <algorithm>

#include "ctl/commands/command.h"
#include "ctl/models.h"
#include "ctl/terminal_input.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

struct EnvArgs {
  std::string dir = ".";
  std::string project;
  std::string env;
};

void AddOptions(CommandLine& cli, CLI::App* cmd, EnvArgs& a) {
  cli.Option(cmd, "--env", a.env);
  cli.Option(cmd, "-d,--dir", a.dir);
  cli.Option(cmd, "--project", a.project);
}

// Production is never a silent default for a secret: the commands that change or copy values
// name their environment.
std::optional<int> NeedsEnv(const CommandContext& c, const EnvArgs& a, const std::string& what) {
  if (!a.env.empty()) return std::nullopt;
  return c.Failed(OpFail(OpFailure::kUsage,
                         "name the environment with --env NAME (production, staging, ...); none "
                         "is assumed for variables. `backend-im environments` lists them"),
                  what);
}

void PrintVariables(const CommandContext& c, const pb::ListVariablesReply& r, bool values) {
  if (r.variables_size() == 0) {
    Print("{}  (no variables)\n", c.style().Bold(r.environment()));
    return;
  }
  Print("{}  ({} variable{})\n", c.style().Bold(r.environment()), r.variables_size(),
        r.variables_size() == 1 ? "" : "s");
  size_t width = 0;
  for (const auto& v : r.variables()) width = std::max(width, v.key().size());
  for (const auto& v : r.variables()) {
    const std::string key = v.key() + std::string(width - v.key().size(), ' ');
    if (!values) {
      Print("  {}  {}\n", key, c.style().Dim("********"));
    } else if (!v.has_value()) {
      Print("  {}  {}\n", key, c.style().Yellow("(withheld by the platform)"));
    } else {
      Print("  {}  {}\n", key, v.value());
    }
  }
}

int List(CommandContext& c, const EnvArgs& a, bool values) {
  auto got = c.ops().Variables(a.dir, a.project, a.env, values, c.cancel());
  if (!got.ok()) return c.Failed(got.error(), "env ls");
  for (auto& r : got->environments) {
    r.set_project_id(got->project_id);
    if (c.json()) {
      PrintJson(VariablesModel(r, values));
    } else {
      PrintVariables(c, r, values);
    }
  }
  if (!c.json() && !values && !got->environments.empty()) {
    Print("Values are masked; --show-values shows them.\n");
  }
  return kExitOk;
}

int Set(CommandContext& c, const EnvArgs& a, const std::string& key, const CLI::App* cmd) {
  const std::string what = "env set";
  // Whatever else was typed is never shown: it may be the value.
  if (!cmd->remaining().empty() || key.find('=') != std::string::npos) {
    return c.Failed(OpFail(OpFailure::kUsage,
                           "env set takes the variable's name only: its value is read from "
                           "standard input, never from the command line (where ps and the "
                           "shell's history see it), e.g.\n"
                           "  printf '%s' \"$VALUE\" | backend-im env set KEY --env NAME"),
                    what);
  }
  if (auto usage = NeedsEnv(c, a, what)) return *usage;
  auto value = ReadSecret(STDIN_FILENO, Terminal("Value of {} in {} (not shown): ", key, a.env),
                          kMaxVariableValueBytes);
  if (!value.ok()) return c.Failed(value.error(), what);
  if (value->empty()) {
    return c.Failed(
        OpFail(OpFailure::kUsage,
               fmt::format("the value read from standard input is empty; to remove {} run: "
                           "backend-im env unset {} --env {}",
                           key, key, a.env)),
        what);
  }
  auto set = c.ops().SetVariable(a.dir, a.project, a.env, key, *value, c.cancel());
  if (!set.ok()) return c.Failed(set.error(), what);
  if (c.json()) {
    PrintJson(ChangeModel(*set));
  } else {
    Print("{} Set {} in {} of project {}. Deployments get it from their next deploy on.\n",
          c.style().Green("✓"), key, a.env, set->project_id);
  }
  return kExitOk;
}

int Unset(CommandContext& c, const EnvArgs& a, const std::string& key) {
  const std::string what = "env unset";
  if (auto usage = NeedsEnv(c, a, what)) return *usage;
  auto unset = c.ops().UnsetVariable(a.dir, a.project, a.env, key, c.cancel());
  if (!unset.ok()) return c.Failed(unset.error(), what);
  if (c.json()) {
    PrintJson(ChangeModel(*unset));
  } else {
    Print("{} Removed {} from {} of project {}\n", c.style().Green("✓"), key, a.env,
          unset->project_id);
  }
  return kExitOk;
}

void PrintKeys(const VariableFileOutcome& f) {
  for (const auto& k : f.keys) Print("  {}\n", k);
}

int Pull(CommandContext& c, const EnvArgs& a, const std::string& file, bool force) {
  const std::string what = "env pull";
  if (auto usage = NeedsEnv(c, a, what)) return *usage;
  auto pulled = c.ops().Pull(a.dir, a.project, a.env, file, force, c.cancel());
  if (!pulled.ok()) return c.Failed(pulled.error(), what);
  for (const auto& k : pulled->expanded) {
    PrintErr(
        "note: the value of {} holds ${{...}}, which python-dotenv expands unless read with "
        "interpolate=False\n",
        k);
  }
  if (c.json()) {
    PrintJson(VariableFileModel(*pulled));
    return kExitOk;
  }
  Print("{} Wrote the {} variable{} of {} (project {}) to {}, readable by you only\n",
        c.style().Green("✓"), pulled->keys.size(), pulled->keys.size() == 1 ? "" : "s", a.env,
        pulled->project_id, pulled->file);
  PrintKeys(*pulled);
  return kExitOk;
}

int Import(CommandContext& c, const EnvArgs& a, const std::string& file) {
  const std::string what = "env import";
  if (auto usage = NeedsEnv(c, a, what)) return *usage;
  auto imported = c.ops().Import(a.dir, a.project, a.env, file, c.cancel());
  if (!imported.ok()) return c.Failed(imported.error(), what);
  if (c.json()) {
    PrintJson(VariableFileModel(*imported));
    return kExitOk;
  }
  Print("{} Set {} variable{} in {} of project {} from {}\n", c.style().Green("✓"),
        imported->keys.size(), imported->keys.size() == 1 ? "" : "s", a.env, imported->project_id,
        imported->file);
  PrintKeys(*imported);
  return kExitOk;
}

}  // namespace

void AddEnvCommand(CommandLine& cli) {
  cli.Add("env")->require_subcommand(1);

  auto* ls = cli.Add("env ls");
  auto& ls_args = cli.Value<EnvArgs>();
  bool& values = cli.Value<bool>();
  AddOptions(cli, ls, ls_args);
  cli.Flag(ls, "--show-values", values);
  cli.OnRun(ls, [&ls_args, &values](CommandContext& c) { return List(c, ls_args, values); });

  auto* set = cli.Add("env set");
  auto& set_args = cli.Value<EnvArgs>();
  auto& set_key = cli.Value<std::string>();
  cli.Option(set, "key", set_key)->required();
  AddOptions(cli, set, set_args);
  // What else is typed is kept to be refused without being shown (it may be the value).
  set->allow_extras();
  cli.OnRun(set, [&set_args, &set_key, set](CommandContext& c) {
    return Set(c, set_args, set_key, set);
  });

  auto* unset = cli.Add("env unset");
  auto& unset_args = cli.Value<EnvArgs>();
  auto& unset_key = cli.Value<std::string>();
  cli.Option(unset, "key", unset_key)->required();
  AddOptions(cli, unset, unset_args);
  cli.OnRun(unset, [&unset_args, &unset_key](CommandContext& c) {
    return Unset(c, unset_args, unset_key);
  });

  auto* pull = cli.Add("env pull");
  auto& pull_args = cli.Value<EnvArgs>();
  auto& pull_file = cli.Value<std::string>();
  bool& force = cli.Value<bool>();
  cli.Option(pull, "file", pull_file);
  AddOptions(cli, pull, pull_args);
  cli.Flag(pull, "--force", force);
  cli.OnRun(pull, [&pull_args, &pull_file, &force](CommandContext& c) {
    return Pull(c, pull_args, pull_file, force);
  });

  auto* import = cli.Add("env import");
  auto& import_args = cli.Value<EnvArgs>();
  auto& import_file = cli.Value<std::string>();
  cli.Option(import, "file", import_file)->required();
  AddOptions(cli, import, import_args);
  cli.OnRun(import, [&import_args, &import_file](CommandContext& c) {
    return Import(c, import_args, import_file);
  });
}

}  // namespace bim::ctl
