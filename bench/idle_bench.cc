// (3) Idle agent: CPU time and wakeups (context switches of all its threads) over a quiet
// interval, with no deployments, then with 10 deployments whose stages never advance (the
// mock's stage delay is an hour), each with its upstream stream and one Watch stream open.

#include <fmt/format.h>

#include <thread>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"
#include "bench/proc_stats.h"
#include "bench/watch_clients.h"

namespace bim::bench {
namespace {

void Measure(const std::string& label, int pid, int seconds, bool rss_target, Report& r) {
  std::this_thread::sleep_for(std::chrono::seconds(3));  // let start-up work settle
  ProcSample a = ReadProc(pid);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  ProcSample b = ReadProc(pid);
  double per_min = 60.0 / seconds;
  double cpu = (b.cpu_ms - a.cpu_ms) * per_min;
  double wakeups = static_cast<double>(b.ctx_switches - a.ctx_switches) / seconds;
  double rss = static_cast<double>(b.rss_kib) / 1024.0;
  r.Add({"idle", label + ": CPU per minute", "ms", {}, cpu, {}, "", "<= 20 ms/min", cpu <= 20});
  r.Add({"idle",
         label + ": wakeups per second (ctx switches, all threads)",
         "1/s",
         {},
         wakeups,
         {},
         "",
         "<= 1/s",
         wakeups <= 1});
  r.Add({"idle",
         label + ": RSS",
         "MiB",
         {},
         rss,
         {},
         "",
         rss_target ? "<= 20 MiB" : "",
         rss_target ? std::optional(rss <= 20) : std::nullopt});
  r.Note("idle", fmt::format("{}: measured over {} s, {} threads", label, seconds, b.threads));
}

}  // namespace

void RunIdleBench(const BenchOptions& o, Report& r) {
  int seconds = o.quick ? 15 : 60;
  BenchUser u(3600000);
  int pid = u.AgentPid();
  Measure("no deployments", pid, seconds, true, r);

  std::string dir = u.MakeProject("app");
  std::vector<std::unique_ptr<WatchClients>> watchers;
  for (int i = 0; i < 10; ++i) {
    watchers.push_back(std::make_unique<WatchClients>(u.SocketPath(), u.Deploy(dir), 1));
  }
  Measure("10 deployments watched, no events", pid, seconds, false, r);
}

}  // namespace bim::bench
