#pragma once
// Order statistics of a set of samples (milliseconds or any unit): median and p99 as the
// benchmarks report them. Plain value functions; no state.

#include <cstddef>
#include <vector>

namespace bim::bench {

struct Summary {
  size_t n = 0;
  double median = 0;
  double p99 = 0;  // nearest rank: the smallest sample with at least 99% at or below it
  double min = 0;
  double max = 0;
};

Summary Summarize(std::vector<double> samples);

}  // namespace bim::bench
