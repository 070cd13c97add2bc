// backend-im history [--project ID] [--env NAME] [--limit N]
#include "ctl/commands/command.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

int History(CommandContext& c, const std::string& project, const std::string& env, int limit) {
  if (limit < 1 || limit > 1000) {
    PrintErr("backend-im: history: --limit takes 1 to 1000\n");
    return kExitUsage;
  }
  auto list = c.ops().History(project, limit, env, c.cancel());
  if (!list.ok()) return c.Failed(list.error(), "history");
  if (c.json()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& d : *list) arr.push_back(DeploymentModel(d));
    PrintJson(arr);
    return kExitOk;
  }
  if (list->empty()) {
    Print("{}\n", !env.empty()      ? "No deployments to that environment yet."
                  : project.empty() ? "No deployments yet."
                                    : "No deployments of that project yet.");
    return kExitOk;
  }
  Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<12}  {:<36}  {:<8}  {}\n", "CREATED", "STATUS",
        "PROJECT", "ENVIRONMENT", "COMMIT", "DEPLOYMENT", "RESTORE", "URL");
  for (const auto& d : *list) {
    std::string restore = d.restorable() ? "yes" : "-";
    std::string note = !d.restored_of().empty()   ? Terminal("  (rollback to {})", d.restored_of())
                       : !d.promoted_of().empty() ? Terminal("  (promote of {})", d.promoted_of())
                                                  : "";
    Print("{:<19}  {:<18}  {:<20}  {:<12}  {:<12}  {:<36}  {:<8}  {}{}\n",
          FormatTime(d.created_at_unix_ms()), d.status(), d.project_id(),
          d.environment().empty() ? "-" : d.environment(), d.commit_hash(), d.id(), restore,
          d.url(), note);
  }
  return kExitOk;
}

}  // namespace

void AddHistoryCommand(CommandLine& cli) {
  auto* hist = cli.Add("history");
  auto& project = cli.Value<std::string>();
  auto& env = cli.Value<std::string>();
  int& limit = cli.Value<int>(20);
  cli.Option(hist, "--project", project);
  cli.Option(hist, "--env", env);
  cli.Option(hist, "--limit", limit);
  cli.OnRun(hist, [&project, &env, &limit](CommandContext& c) {
    return History(c, project, env, limit);
  });
}

}  // namespace bim::ctl
