// libFuzzer: the config file parser.
#include <cstdint>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)bim::ParseConfig(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
