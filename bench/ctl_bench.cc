// (1) ctl round trip: the ctl's quick commands against a warm agent, next to /bin/true and a
// no-op C++ program started the same way, all interleaved so that load drifts hit every one.
// Issue 17's bar: history, status and a finished watch each at most 2x /bin/true.

#include <fmt/format.h>

#include <cstdlib>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"

namespace bim::bench {

void RunCtlBench(const BenchOptions& o, Report& r) {
  BenchUser u(0);
  std::string dir = u.MakeProject("app");
  std::string id;
  for (int i = 0; i < 5; ++i) id = u.Deploy(dir);
  u.Ctl({"watch", id});  // returns once the deployment has finished

  std::string ctl = test::CtlBinary();
  struct Command {
    std::string name;
    std::vector<std::string> argv;
    bool bar = false;  // held to 2x /bin/true (docs/PERFORMANCE.md)
    std::vector<double> samples = {};
  };
  std::vector<Command> commands = {
      {"/bin/true", {"/bin/true"}},
      {"no-op C++ program (bim-bench-noop)", {BinPath("bim-bench-noop")}},
      {"backend-im --version", {ctl, "--version"}},
      {"backend-im history --limit 20 --json", {ctl, "history", "--limit", "20", "--json"}, true},
      {"backend-im status ID --json", {ctl, "status", id, "--json"}, true},
      {"backend-im watch ID (finished)", {ctl, "watch", id}, true},
  };
  // BIM_BENCH_CTL_BEFORE=/path/to/an/older/backend-im also times that binary's three commands
  // in the same run, against the same agent, for before/after figures.
  if (const char* before = std::getenv("BIM_BENCH_CTL_BEFORE")) {
    commands.push_back({"before: history", {before, "history", "--limit", "20", "--json"}});
    commands.push_back({"before: status", {before, "status", id, "--json"}});
    commands.push_back({"before: watch", {before, "watch", id}});
  }
  for (int i = 0; i < 5; ++i) {  // warm the page cache and the agent
    for (auto& c : commands) u.TimeCommand(c.argv);
  }
  int runs = o.quick ? 40 : 200;
  for (int i = 0; i < runs; ++i) {
    for (auto& c : commands) c.samples.push_back(u.TimeCommand(c.argv));
  }

  Summary t = Summarize(commands[0].samples);
  Summary n = Summarize(commands[1].samples);
  r.Add({"ctl", commands[0].name, "ms", t});
  std::string vs_noop;
  for (size_t i = 1; i < commands.size(); ++i) {
    const Command& c = commands[i];
    Summary s = Summarize(c.samples);
    double ratio = s.median / t.median;
    if (c.bar) {
      r.Add({"ctl", c.name, "ms", s, 0, ratio, "/bin/true median", "<= 2x", ratio <= 2.0});
    } else {
      r.Add({"ctl", c.name, "ms", s, 0, ratio, "/bin/true median"});
    }
    if (i > 1)
      vs_noop += fmt::format("{}{} {:.2f}x", i > 2 ? ", " : "", c.name, s.median / n.median);
  }
  r.Note("ctl", "ratios to the no-op's median: " + vs_noop);
}

}  // namespace bim::bench
