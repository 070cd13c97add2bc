#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace bim::bench {

Summary Summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  s.median = v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(v.size())));
  s.p99 = v[std::max<size_t>(rank, 1) - 1];
  s.min = v.front();
  s.max = v.back();
  return s;
}

}  // namespace bim::bench
