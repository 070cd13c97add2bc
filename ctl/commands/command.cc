#include "ctl/commands/command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/limits.h"
#include "common/version.h"
#include "ctl/interrupt.h"

namespace bim::ctl {

int CommandContext::Failed(const OpError& e, const std::string& what) const {
  size_t cut = limits::Utf8CutPoint(what, 80);
  PrintErr("backend-im: {}{}: {}\n", what.substr(0, cut), cut < what.size() ? "…" : "",
           Lines{e.message});
  return ExitCodeFor(e.kind);
}

void PrintUnchanged(const WriteReport& report) {
  if (!report.unchanged.empty()) Print("  ({} already up to date)\n", report.unchanged.size());
}

CLI::App* CommandLine::Add(std::string_view command) {
  const OperationSpec& op = CliSpec(command);
  CLI::App* parent = &app_;
  std::string_view name = command;
  if (size_t space = command.rfind(' '); space != std::string_view::npos) {
    name = command.substr(space + 1);
    for (const auto& [cmd, spec] : specs_) {
      if (spec->cli == command.substr(0, space)) parent = cmd;
    }
  }
  CLI::App* cmd = parent->add_subcommand(std::string(name), CliHelp(op));
  specs_.emplace_back(cmd, &op);
  return cmd;
}

std::string CommandLine::ArgHelp(const CLI::App* cmd, std::string_view name) const {
  auto it =
      std::find_if(specs_.begin(), specs_.end(), [cmd](const auto& s) { return s.first == cmd; });
  if (it == specs_.end()) {
    std::fprintf(stderr, "backend-im: %s was not added through CommandLine::Add\n",
                 cmd->get_name().c_str());
    std::abort();
  }
  return CliHelp(it->second->Arg(name));
}

void CommandLine::OnRun(CLI::App* cmd, Run run) {
  cmd->add_flag("--json", json_, "Machine-readable JSON output");
  OnRunWithoutJson(cmd, std::move(run));
}

void CommandLine::OnRunWithoutJson(CLI::App* cmd, Run run) {
  cmd->callback([this, cmd, run = std::move(run)] {
    // A command that also runs alone (`environments`) leaves the work to its subcommand, whose
    // callback CLI11 runs first.
    if (!cmd->get_subcommands().empty()) return;
    AgentApi& agent = agent_();
    {
      CommandContext context(agent, json_);
      exit_code_ = run(context);
    }
    agent.Finish();
  });
}

int RunCommandLine(int argc, char** argv, std::function<AgentApi&()> agent) {
  CLI::App app{
      "backend-im: generate a FastAPI backend from a prompt, edit it locally, and deploy "
      "it to Backend.im.\n\n"
      "  backend-im auth login\n"
      "  backend-im generate \"REST API for users\" -o users-api\n"
      "  cd users-api && backend-im deploy --watch\n\n"
      "Exit codes: 0 ok, 1 deployment failed, 2 bad usage or input, 3 not logged in, "
      "4 agent unreachable, 5 platform error, 6 local file problem, 7 not found, "
      "130 detached by Ctrl-C. diff: 0 same, 1 different.",
      "backend-im"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("backend-im ") + kVersion);
  CommandLine cli(app, std::move(agent));
  // When argv[1] names a command, only that one is built: building all of them costs a quick
  // command about 0.15x /bin/true (docs/PERFORMANCE.md). Anything else (--help, --version, a
  // typo) gets them all, so help and CLI11's messages see every command.
  std::string_view named = argc > 1 ? argv[1] : "";
  auto commands = Commands();
  bool known = std::any_of(commands.begin(), commands.end(),
                           [&](const Command& c) { return c.name == named; });
  for (const Command& c : commands) {
    if (!known || c.name == named) c.add(cli);
  }

  interrupt::Install();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  return cli.exit_code();
}

}  // namespace bim::ctl
