// libFuzzer: what the platform streams (WebSocket messages) and answers to status polls.
// Parsing must never crash or throw; what parses must serialize and parse back the same.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto m = bim::contract::ParseStageMessage(body); m.ok()) {
    auto again = bim::contract::ParseStageMessage(bim::contract::ToJson(*m));
    if (!again.ok() || again->status != m->status || again->seq != m->seq) std::abort();
  }
  if (auto s = bim::contract::ParseStatusResponse(body); s.ok()) {
    auto again = bim::contract::ParseStatusResponse(bim::contract::ToJson(*s));
    if (!again.ok() || again->status != s->status || again->logs.size() != s->logs.size()) {
      std::abort();
    }
  }
  return 0;
}
