#pragma once
// Jittered exponential backoff (after Envoy's JitteredExponentialBackOffStrategy): the n-th
// delay is uniform in [0.5, 1.0] x min(base * factor^n, cap). Jitter keeps many clients that
// failed together from retrying together. Not thread-safe: one per retry loop.

#include <chrono>

#include "common/random.h"

namespace bim {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, Random& random,
          double factor = 2.0)
      : base_(base), cap_(cap), factor_(factor), random_(random) {}

  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  double factor_;
  Random& random_;
  int attempt_ = 0;
};

}  // namespace bim
