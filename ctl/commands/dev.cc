// backend-im dev [-d DIR] [--port N]
#include "ctl/commands/command.h"
#include "ctl/dev_server.h"

namespace bim::ctl {

void AddDevCommand(CommandLine& cli) {
  auto* dev = cli.app().add_subcommand(
      "dev",
      "Run the project on this machine with reload: uvicorn main:app on 127.0.0.1, restarted "
      "when a .py file changes, health-checked as the platform does; Ctrl-C stops it and all "
      "it started");
  auto& o = cli.Value<DevOptions>();
  dev->add_option("-d,--dir", o.dir, "Project folder (default: the current one)");
  dev->add_option("--port", o.port, "Port on 127.0.0.1")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  dev->footer(
      "Python: the project's .venv when it has one, else python3 on PATH or /usr/bin/python3, "
      "whichever has uvicorn.\nExit codes: 0 stopped with Ctrl-C; 1 it could not start or "
      "stopped by itself; 2 no main.py.");
  cli.OnRunWithoutJson(dev, [&o](CommandContext&) { return RunDevServer(o); });
}

}  // namespace bim::ctl
