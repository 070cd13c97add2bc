// backend-im dev [-d DIR] [--port N] [--env NAME [--project ID]]
#include "ctl/commands/command.h"
#include "ctl/dev_server.h"

namespace bim::ctl {
namespace {

struct DevArgs {
  DevOptions options;
  std::string env;
  std::string project;
};

// With --env: the environment's variables, with their values, into options (the server's
// process environment only; nothing is written).
int Dev(CommandContext& c, DevArgs& a) {
  if (!a.env.empty()) {
    const std::string what = "dev --env " + a.env;
    auto values = c.ops().Values(a.options.dir, a.project, a.env, c.cancel());
    if (!values.ok()) return c.Failed(values.error(), what);
    for (const auto& v : values->variables()) {
      if (v.value().find('\0') != std::string::npos) {
        return c.Failed(OpFail(OpFailure::kPlatform,
                               fmt::format("the value of {} holds a NUL character, which a "
                                           "process environment cannot hold",
                                           v.key())),
                        what);
      }
      a.options.variables[v.key()] = v.value();
    }
    if (a.env == "production") {
      PrintErr("warning: the app runs here with production's variables, its real secrets\n");
    }
  }
  return RunDevServer(a.options);
}

}  // namespace

void AddDevCommand(CommandLine& cli) {
  auto* dev = cli.Add("dev");
  auto& a = cli.Value<DevArgs>();
  cli.Option(dev, "-d,--dir", a.options.dir);
  cli.Option(dev, "--port", a.options.port)->check(CLI::Range(1, 65535));
  cli.Option(dev, "--env", a.env);
  cli.Option(dev, "--project", a.project);
  cli.OnRunWithoutJson(dev, [&a](CommandContext& c) { return Dev(c, a); });
}

}  // namespace bim::ctl
