// backend-im watch ID
#include "ctl/commands/follow.h"
#include "ctl/interrupt.h"
#include "ctl/models.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

void PrintEvent(const CommandContext& c, const pb::DeploymentEvent& ev) {
  if (c.json()) {
    PrintJson(EventModel(ev));
    return;
  }
  const Style& style = c.style();
  std::string padded = fmt::format("{:<19}", ev.status());
  auto stage = proto::StageOf(ev);
  Styled status = stage == contract::Stage::kComplete ? style.Green(padded)
                  : stage == contract::Stage::kFailed ? style.Red(padded)
                                                      : style.Cyan(padded);
  Styled time = style.Dim(FormatTime(ev.received_at_unix_ms()).substr(11));
  if (ev.logs_size() == 0) {
    Print("{}  {}\n", time, status);
  }
  const Styled no_time = style.Plain(std::string(8, ' '));
  const Styled no_status = style.Plain(std::string(19, ' '));
  for (int i = 0; i < ev.logs_size(); ++i) {
    Print("{}  {} {}\n", i == 0 ? time : no_time, i == 0 ? status : no_status, ev.logs(i));
  }
}

}  // namespace

int FollowDeployment(CommandContext& c, const std::string& id) {
  // Ctrl-C detaches: the watch's calls end, the deployment goes on. No thread runs for it
  // (a finished watch is a quick command: docs/PERFORMANCE.md).
  interrupt::Interruptible interruptible;
  c.cancel().set_interrupt_fd(interruptible.fd());
  Operations::WatchHooks hooks;
  hooks.outcome_only = true;  // below: the status, the URL, and the stream problem if no URL
  hooks.on_event = [&c](const pb::DeploymentEvent& ev) { PrintEvent(c, ev); };
  // Each event shows as soon as it arrives, and the events of a finished deployment, which
  // arrive together, go out in one write.
  hooks.before_wait = [] { std::fflush(stdout); };
  hooks.on_reattach = [&id] {
    PrintErr("backend-im: the agent was replaced; still following {}\n", id);
  };
  // Notices go to stderr, so stdout stays the events (one per line with --json).
  bool noticed = false;
  hooks.on_notice = [&id, &noticed](const std::string& notice) {
    if (!notice.empty()) {
      PrintErr("backend-im: {}: {}\n", id, notice);
      noticed = true;
    } else if (noticed) {
      PrintErr("backend-im: {}: the deployment's events come through again\n", id);
      noticed = false;
    }
  };
  auto done = c.ops().Watch(id, 0, std::chrono::milliseconds(0), hooks, c.cancel());
  c.cancel().set_interrupt_fd(-1);
  if (!done.ok()) {
    if (done.error().kind == OpFailure::kCancelled) {
      PrintErr("\nDetached. Deployment {} goes on; re-attach with: backend-im watch {}\n", id, id);
      return kExitInterrupted;
    }
    int code = c.Failed(done.error(), "watch " + id);
    if (code == kExitAgent) {
      PrintErr("The deployment goes on. Re-attach with: backend-im watch {}\n", id);
    }
    return code;
  }
  const auto& d = done->deployment;
  int code = OutcomeExitCode(c, d, "watch " + id);
  if (c.json()) return code;
  if (code == kExitDeployFailed) {
    Print("{} Deployment {} failed. See the logs above, or run `backend-im status {}`\n",
          c.style().Red("✗"), id, id);
  } else if (code == kExitOk) {
    Print("{} Deployed: {}\n", c.style().Green("✓"), c.style().Bold(d.url()));
  }
  return code;
}

int OutcomeExitCode(const CommandContext& c, const pb::Deployment& d, const std::string& what) {
  auto final = Operations::FinalOutcome(d);
  if (final.ok()) return kExitOk;
  if (final.error().kind == OpFailure::kDeployFailed) return kExitDeployFailed;
  return c.Failed(final.error(), what);
}

int Started(CommandContext& c, const pb::Deployment& d, const nlohmann::json& model, bool watch) {
  if (c.json()) {
    PrintJson(model);
  } else {
    Print("  deployment {}  commit {}\n", c.style().Bold(d.id()), d.commit_hash());
  }
  std::fflush(stdout);
  if (!watch) {
    if (!c.json()) Print("Follow it with: backend-im watch {}\n", d.id());
    return kExitOk;
  }
  return FollowDeployment(c, d.id());
}

void AddWatchCommand(CommandLine& cli) {
  auto* w = cli.Add("watch");
  auto& id = cli.DeploymentId(w);
  cli.OnRun(w, [&id](CommandContext& c) { return FollowDeployment(c, id); });
}

}  // namespace bim::ctl
