// libFuzzer: the path policy must never crash, and what it accepts must be plain and relative.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/path_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view path(reinterpret_cast<const char*>(data), size);
  bool utf8 = bim::IsValidUtf8(path);
  if (bim::CheckRelativePath(path).ok()) {
    // Invariants of an accepted path.
    if (!utf8 || path.empty() || path.front() == '/' || path.find('\0') != std::string_view::npos ||
        path.find('\\') != std::string_view::npos || path.find("//") != std::string_view::npos ||
        path == ".." || path.substr(0, 3) == "../" || path.find("/../") != std::string_view::npos ||
        (path.size() >= 3 && path.substr(path.size() - 3) == "/..")) {
      std::abort();
    }
  }
  return 0;
}
