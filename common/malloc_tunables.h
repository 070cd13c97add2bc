#pragma once
// The glibc allocator settings under which the agent runs (daemon_main.h WipeFreedMemory): no
// per-thread cache, and every freed block overwritten, so no copy of a token outlives its
// buffer. glibc reads them from GLIBC_TUNABLES when a program starts, so whoever starts the
// agent can pass them (the ctl does) and spare it the re-execution that applies them otherwise.

#include <string>
#include <string_view>

namespace bim {

inline constexpr std::string_view kWipeTunables =
    "glibc.malloc.tcache_count=0:glibc.malloc.perturb=165";

// Whether a GLIBC_TUNABLES value sets both of kWipeTunables (the last setting of a name wins,
// as in glibc).
bool WipesFreedMemory(std::string_view glibc_tunables);

// A GLIBC_TUNABLES value with kWipeTunables after what it had.
std::string WithWipeTunables(std::string_view glibc_tunables);

}  // namespace bim
