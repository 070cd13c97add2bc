#include "common/backoff.h"

#include <algorithm>
#include <cmath>

namespace bim {

std::chrono::milliseconds Backoff::Next() {
  double ceiling = static_cast<double>(base_.count()) * std::pow(factor_, attempt_);
  ceiling = std::min(ceiling, static_cast<double>(cap_.count()));
  if (attempt_ < 64) ++attempt_;
  double jittered = ceiling * (0.5 + 0.5 * random_.Uniform());
  return std::chrono::milliseconds(static_cast<long long>(jittered));
}

}  // namespace bim
