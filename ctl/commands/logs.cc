// backend-im logs [DEPLOYMENT | -d DIR | --project ID] [--env NAME] [--since DUR] [--level LEVEL]
//                 [--grep TEXT] [-n N] [-f]
// What a deployment's app prints (runtime logs, an extension of the platform's API); not its
// stage logs, which `status` shows.
#include "ctl/commands/command.h"
#include "ctl/interrupt.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

struct LogsArgs {
  LogsQuery query;
  bool follow = false;
};

void PrintLine(const CommandContext& c, const pb::LogLine& l, const std::string& deployment_id) {
  if (c.json()) {
    PrintJson(LogLineModel(l, deployment_id));
    return;
  }
  const Style& style = c.style();
  std::string level = fmt::format("{:<7}", l.level());
  Styled shown = l.level() == "error"     ? style.Red(level)
                 : l.level() == "warning" ? style.Yellow(level)
                 : l.level() == "debug"   ? style.Dim(level)
                                          : style.Plain(level);
  // The text is the app's: Print shows whatever it holds without letting it drive the terminal.
  Print("{}  {} {:<8} {}\n", style.Dim(FormatTime(l.timestamp_unix_ms())), shown, l.source(),
        l.text());
}

void PrintSkipped(const CommandContext& c, int64_t count, const std::string& deployment_id) {
  if (c.json()) {
    PrintJson(LogSkippedModel(count, deployment_id));
    return;
  }
  Print("{}\n", c.style().Yellow(fmt::format("… {} line{} skipped", count, count == 1 ? "" : "s")));
}

// Which deployment, said on stderr so stdout stays the lines.
void SayWhich(const CommandContext& c, const pb::Deployment& d, const std::string& chosen) {
  if (chosen.empty() || c.json()) return;
  PrintErr("backend-im: logs of deployment {}, {}\n", d.id(), chosen);
}

int Show(CommandContext& c, const LogsArgs& a) {
  auto logs = c.ops().Logs(a.query, c.cancel());
  if (!logs.ok()) return c.Failed(logs.error(), "logs");
  const std::string& id = logs->deployment().id();
  SayWhich(c, logs->deployment(), logs->chosen());
  for (const auto& l : logs->lines()) PrintLine(c, l, id);
  if (!c.json() && logs->lines().empty()) {
    PrintErr("backend-im: no lines{} yet\n",
             a.query.grep.empty() && a.query.level.empty() && a.query.since.empty()
                 ? ""
                 : " that match");
  }
  return kExitOk;
}

int Follow(CommandContext& c, const LogsArgs& a) {
  // Ctrl-C ends the follow (exit 130); the app goes on.
  interrupt::Interruptible interruptible;
  c.cancel().set_interrupt_fd(interruptible.fd());
  std::string id = a.query.id;
  bool noticed = false;
  AgentApi::LogHooks hooks;
  hooks.on_item = [&](const pb::LogItem& item) {
    switch (item.item_case()) {
      case pb::LogItem::kStart:
        id = item.start().deployment().id();
        SayWhich(c, item.start().deployment(), item.start().chosen());
        break;
      case pb::LogItem::kLine:
        PrintLine(c, item.line(), id);
        break;
      case pb::LogItem::kSkipped:
        PrintSkipped(c, item.skipped(), id);
        break;
      case pb::LogItem::kEnd:
        if (c.json()) {
          PrintJson(LogEndModel(item.end(), id));
        } else {
          Print("{}\n",
                c.style().Bold(item.end().empty() ? std::string("The app's output ended.")
                                                  : "The app's output ended: " + item.end()));
        }
        break;
      case pb::LogItem::kNotice:
        // Notices go to stderr, so stdout stays the lines (one per line with --json).
        if (!item.notice().empty()) {
          PrintErr("backend-im: {}: {}\n", id, item.notice());
          noticed = true;
        } else if (noticed) {
          PrintErr("backend-im: {}: the app's lines come through again\n", id);
          noticed = false;
        }
        break;
      default:
        break;
    }
  };
  hooks.before_wait = [] { std::fflush(stdout); };
  hooks.on_reattach = [&id] {
    PrintErr("backend-im: the agent was replaced; still following the logs of {}\n", id);
  };
  auto done = c.ops().FollowLogs(a.query, hooks, c.cancel());
  c.cancel().set_interrupt_fd(-1);
  std::fflush(stdout);
  if (!done.ok()) {
    if (done.error().kind == OpFailure::kCancelled) return kExitInterrupted;
    return c.Failed(done.error(), "logs -f");
  }
  return kExitOk;
}

}  // namespace

void AddLogsCommand(CommandLine& cli) {
  auto* cmd = cli.Add("logs");
  auto& a = cli.Value<LogsArgs>();
  a.query.dir = ".";
  cli.Option(cmd, "deployment", a.query.id);
  cli.Option(cmd, "-d,--dir", a.query.dir);
  cli.Option(cmd, "--project", a.query.project_id);
  cli.Option(cmd, "--env", a.query.environment);
  cli.Option(cmd, "--since", a.query.since);
  cli.Option(cmd, "--level", a.query.level);
  cli.Option(cmd, "--grep", a.query.grep);
  cli.Option(cmd, "-n,--lines", a.query.tail);
  cli.Flag(cmd, "-f,--follow", a.follow);
  cli.OnRun(cmd, [&a](CommandContext& c) { return a.follow ? Follow(c, a) : Show(c, a); });
}

}  // namespace bim::ctl
