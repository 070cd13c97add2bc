#pragma once
// Bounds on what a process of ours may use (memory), checked by the tests that flood the agent.
//
// Under ASan the agent's memory is its shadow plus a quarantine that keeps up to 256 MiB of freed
// blocks resident, and it runs several times slower (so WAL checkpoints fall behind a flood):
// there the bounds on memory and disk are reported, not checked, and the floods get more time.
// The main suite, which CI runs too, checks every bound.

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "tests/support/harness.h"

namespace bim::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
inline constexpr int kSlowdown = kSanitized ? 4 : 1;

// Peak resident memory of a process, in KiB.
inline long PeakRssKib(int pid) {
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("VmHWM:");
  return at == std::string::npos ? 0 : std::atol(status.c_str() + at + 6);
}

}  // namespace bim::test

// CHECK(value < bound) for a resource bound; under sanitizers a MESSAGE (see kSanitized).
#define CHECK_RESOURCE_BOUND(value, bound)                                                 \
  do {                                                                                     \
    if (::bim::test::kSanitized) {                                                         \
      MESSAGE("under a sanitizer, not checked: " #value " = " << (value) << " < " #bound); \
    } else {                                                                               \
      CHECK((value) < (bound));                                                            \
    }                                                                                      \
  } while (false)
