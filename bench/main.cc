// backend-im-bench: runs the benchmarks of docs/PERFORMANCE.md and prints a table and JSON
// (docs/PERFORMANCE.md explains the method). Normally started by scripts/bench.sh.

#include <fmt/format.h>
#include <sys/utsname.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <thread>

#include "bench/benchmarks.h"
#include "bench/proc_stats.h"

int main(int argc, char** argv) {
  using namespace bim::bench;
  CLI::App app{"backend-im-bench: the performance benchmarks of backend-im (docs/PERFORMANCE.md)"};
  BenchOptions o;
  std::string json_path = "bench/results/latest.json";
  std::vector<std::string> only;
  app.add_flag("--quick", o.quick, "Fewer repetitions and smaller data (a few minutes)");
  app.add_option("--json", json_path, "Where to write the results as JSON")->capture_default_str();
  app.add_option("--only", only, "Run only these: ctl, fanout, idle, history, upload")
      ->check(CLI::IsMember({"ctl", "fanout", "idle", "history", "upload"}));
  CLI11_PARSE(app, argc, argv);
  auto wanted = [&](const std::string& name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };

  Report report;
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  report.SetMeta("started_at", when);
  report.SetMeta("quick", o.quick);
  report.SetMeta("cpus", std::thread::hardware_concurrency());
  utsname u{};
  if (::uname(&u) == 0) report.SetMeta("kernel", std::string(u.release));
  nlohmann::json load = nlohmann::json::object();
  int failures = 0;
  auto run = [&](const char* name, void (*fn)(const BenchOptions&, Report&)) {
    if (!wanted(name)) return;
    double before = LoadAverage1();
    std::fprintf(stderr, "== %s (load %.2f)\n", name, before);
    auto t0 = std::chrono::steady_clock::now();
    try {
      fn(o, report);
    } catch (const std::exception& e) {
      ++failures;
      std::fprintf(stderr, "benchmark %s failed: %s\n", name, e.what());
      report.Note(name, std::string("FAILED: ") + e.what());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    load[name] = {{"load1_before", before}, {"load1_after", LoadAverage1()}, {"seconds", secs}};
    report.Note(name, fmt::format("load average (1 min) {:.2f} before, {:.2f} after; {:.0f} s",
                                  before, LoadAverage1(), secs));
  };
  run("ctl", RunCtlBench);
  run("upload", RunUploadBench);
  run("history", RunHistoryBench);
  run("fanout", RunFanoutBench);
  run("idle", RunIdleBench);
  report.SetMeta("load", load);
  report.PrintTable();
  if (!report.WriteJson(json_path)) {
    std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
    return 1;
  }
  std::fprintf(stderr, "\nwrote %s\n", json_path.c_str());
  return failures ? 1 : 0;
}
