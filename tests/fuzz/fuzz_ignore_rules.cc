// libFuzzer: rules text and a path, split at the first NUL; no crash, no runaway matching.
#include <cstdint>
#include <string_view>

#include "common/ignore_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view rules_text = input.substr(0, nul);
  std::string_view path = nul == std::string_view::npos ? "main.py" : input.substr(nul + 1);
  if (path.size() > 1024) path = path.substr(0, 1024);  // deploy never asks about longer paths
  bim::IgnoreRules rules;
  rules.Add(rules_text);
  (void)rules.IsIgnored(path, false);
  (void)rules.IsIgnored(path, true);
  (void)bim::GlobMatch(rules_text.substr(0, 256), path);
  return 0;
}
