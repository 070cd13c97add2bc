#pragma once
// Bounds on what a process of ours may use (memory), checked by the tests that flood the agent.
//
// Under ASan the agent's memory is its shadow plus a quarantine that keeps up to 256 MiB of freed
// blocks resident, and it runs several times slower (so WAL checkpoints fall behind a flood):
// there the bounds on memory and disk are reported, not checked, and the floods get more time.
// The main suite, which CI runs too, checks every bound.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "tests/support/harness.h"

namespace bim::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
inline constexpr int kSlowdown = kSanitized ? 4 : 1;

// A line "Name:   N kB" of /proc/PID/status, in KiB; 0 when there is none.
inline long StatusKib(int pid, const std::string& name) {
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find(name + ":");
  return at == std::string::npos ? 0 : std::atol(status.c_str() + at + name.size() + 1);
}

// Peak resident memory of a process, in KiB.
inline long PeakRssKib(int pid) { return StatusKib(pid, "VmHWM"); }
// Resident memory of a process now, in KiB.
inline long RssKib(int pid) { return StatusKib(pid, "VmRSS"); }

// User plus system CPU time of a process so far, in seconds.
inline double CpuSeconds(int pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // The fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atol(field.c_str());
    if (i == 15) stime = std::atol(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A file's size in bytes; 0 when it does not exist.
inline long FileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : 0;
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
