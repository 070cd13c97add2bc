#include "common/malloc_tunables.h"

#include <map>

namespace bim {

namespace {

std::map<std::string_view, std::string_view> Settings(std::string_view tunables) {
  std::map<std::string_view, std::string_view> out;
  while (!tunables.empty()) {
    size_t colon = tunables.find(':');
    std::string_view item = tunables.substr(0, colon);
    tunables = colon == std::string_view::npos ? std::string_view() : tunables.substr(colon + 1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

}  // namespace

bool WipesFreedMemory(std::string_view glibc_tunables) {
  auto have = Settings(glibc_tunables);
  for (const auto& [name, value] : Settings(kWipeTunables)) {
    auto it = have.find(name);
    if (it == have.end() || it->second != value) return false;
  }
  return true;
}

std::string WithWipeTunables(std::string_view glibc_tunables) {
  std::string out(glibc_tunables);
  if (!out.empty()) out += ':';
  out += kWipeTunables;
  return out;
}

}  // namespace bim
