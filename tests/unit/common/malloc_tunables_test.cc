// Reading and extending GLIBC_TUNABLES for the agent's wiping allocator.
#include "common/malloc_tunables.h"

#include <doctest/doctest.h>

using namespace bim;

TEST_CASE("GLIBC_TUNABLES wipes freed memory only when it sets both settings, last one winning") {
  CHECK(WipesFreedMemory(kWipeTunables));
  CHECK(WipesFreedMemory("glibc.malloc.check=0:" + std::string(kWipeTunables)));
  CHECK(WipesFreedMemory("glibc.malloc.perturb=165:glibc.malloc.tcache_count=0"));
  CHECK_FALSE(WipesFreedMemory(""));
  CHECK_FALSE(WipesFreedMemory("glibc.malloc.tcache_count=0"));
  CHECK_FALSE(WipesFreedMemory("glibc.malloc.perturb=165"));
  CHECK_FALSE(WipesFreedMemory(std::string(kWipeTunables) + ":glibc.malloc.perturb=0"));
  CHECK_FALSE(WipesFreedMemory("glibc.malloc.tcache_count=07:glibc.malloc.perturb=165"));
  CHECK_FALSE(WipesFreedMemory(":::=:"));
}

TEST_CASE("the wiping settings go after what GLIBC_TUNABLES had, so they win") {
  CHECK(WithWipeTunables("") == kWipeTunables);
  std::string had = "glibc.malloc.perturb=0:glibc.malloc.check=3";
  std::string both = WithWipeTunables(had);
  CHECK(both == had + ":" + std::string(kWipeTunables));
  CHECK(WipesFreedMemory(both));
  CHECK_FALSE(WipesFreedMemory(had));
}
