#pragma once
// The five benchmarks of docs/PERFORMANCE.md. Each starts its own mock and agent in temporary
// folders, measures, and adds its rows (with the targets of docs/PERFORMANCE.md) to the report.
// quick: fewer repetitions and smaller data, for a run of a few minutes.

#include "bench/report.h"

namespace bim::bench {

struct BenchOptions {
  bool quick = false;
};

void RunCtlBench(const BenchOptions& o, Report& r);
void RunFanoutBench(const BenchOptions& o, Report& r);
void RunIdleBench(const BenchOptions& o, Report& r);
void RunHistoryBench(const BenchOptions& o, Report& r);
void RunUploadBench(const BenchOptions& o, Report& r);

}  // namespace bim::bench
