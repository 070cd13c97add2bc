// (1) ctl round trip: `status ID --json` and `history --limit 20 --json` against a warm agent,
// against a no-op program started the same way, interleaved so load drifts hit all three.

#include <fmt/format.h>

#include <cstdlib>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"

namespace bim::bench {

void RunCtlBench(const BenchOptions& o, Report& r) {
  BenchUser u({"--token", "dev-token", "--stage-delay-ms", "0"});
  u.Login();
  std::string dir = u.MakeProject("app");
  std::string id;
  for (int i = 0; i < 5; ++i) id = u.Deploy(dir);

  std::string ctl = test::CtlBinary();
  std::vector<std::string> noop = {BinPath("bim-bench-noop")};
  std::vector<std::string> status = {ctl, "status", id, "--json"};
  std::vector<std::string> history = {ctl, "history", "--limit", "20", "--json"};
  for (int i = 0; i < 5; ++i) {  // warm the page cache and the agent
    u.TimeCommand(noop);
    u.TimeCommand(status);
    u.TimeCommand(history);
  }
  // BIM_BENCH_CTL_BEFORE=/path/to/an/older/backend-im also times that binary's status in the
  // same run, for before/after figures.
  const char* before = std::getenv("BIM_BENCH_CTL_BEFORE");
  std::vector<std::string> status_before = {before ? before : "", "status", id, "--json"};
  int runs = o.quick ? 40 : 200;
  std::vector<double> t_noop, t_status, t_history, t_before;
  for (int i = 0; i < runs; ++i) {
    t_noop.push_back(u.TimeCommand(noop));
    t_status.push_back(u.TimeCommand(status));
    t_history.push_back(u.TimeCommand(history));
    if (before) t_before.push_back(u.TimeCommand(status_before));
  }
  Summary n = Summarize(t_noop);
  r.Add({"ctl", "no-op C++ program (fork/exec/wait)", "ms", n});
  for (auto& [name, samples] : {std::pair{"backend-im status ID --json", &t_status},
                                std::pair{"backend-im history --limit 20 --json", &t_history}}) {
    Summary s = Summarize(*samples);
    double ratio = s.median / n.median;
    r.Add({"ctl", name, "ms", s, 0, ratio, "no-op median", "<= 3x (aim 2x)", ratio <= 3.0});
  }
  if (before) {
    Summary s = Summarize(t_before);
    r.Add({"ctl", fmt::format("before: {} status ID --json", before), "ms", s, 0,
           s.median / n.median, "no-op median"});
  }
}

}  // namespace bim::bench
