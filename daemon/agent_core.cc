#include "daemon/agent_core.h"

namespace bim::daemon {

AgentCore::AgentCore(Database& db, Platform& platform, const Clock& clock, Random& random,
                     StopSignal& stop, CoreSettings settings)
    : stop_(stop),
      store_(db, clock),
      snapshots_(db, clock, settings.snapshots),
      tokens_(db),
      auth_(platform, tokens_, clock, random, stop, std::move(settings.environment_token)),
      domain_store_(db, clock),
      domain_checker_(DomainCheckerDeps{domain_store_, platform, auth_, clock, random,
                                        settings.notify ? settings.notifier : nullptr,
                                        settings.domain_check_first_delay,
                                        settings.domain_check_max_delay}),
      log_hub_(LogHubDeps{.platform = platform,
                          .auth = auth_,
                          .clock = clock,
                          .random = random,
                          .keepalive = settings.keepalive}),
      agent_(AgentDeps{{store_, hub_, platform, auth_, clock, random, stop},
                       snapshots_,
                       std::move(settings.report_status),
                       settings.keepalive,
                       settings.notify ? settings.notifier : nullptr,
                       &log_hub_,
                       &domain_store_,
                       &domain_checker_,
                       settings.resolver}) {}

AgentCore::~AgentCore() {
  BeginShutdown();
  StopWatching();
}

void AgentCore::BeginShutdown() {
  stop_.Stop();
  hub_.Shutdown();
  log_hub_.Shutdown();
}

}  // namespace bim::daemon
