// backend-im dev [-d DIR] [--port N]
#include "ctl/commands/command.h"
#include "ctl/dev_server.h"

namespace bim::ctl {

void AddDevCommand(CommandLine& cli) {
  auto* dev = cli.Add("dev");
  auto& o = cli.Value<DevOptions>();
  cli.Option(dev, "-d,--dir", o.dir);
  cli.Option(dev, "--port", o.port)->check(CLI::Range(1, 65535));
  cli.OnRunWithoutJson(dev, [&o](CommandContext&) { return RunDevServer(o); });
}

}  // namespace bim::ctl
