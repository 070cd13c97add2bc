// libFuzzer: whatever the bytes, terminal::Escape returns valid UTF-8 with no control character
// (a newline only when kept), and escaping its output again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/path_policy.h"
#include "common/terminal_text.h"

namespace {

void Check(std::string_view in, bim::terminal::Newlines newlines) {
  std::string out = bim::terminal::Escape(in, newlines);
  bool keep = newlines == bim::terminal::Newlines::kKeep;
  if (!bim::IsValidUtf8(out)) std::abort();
  for (size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if (c == '\n' && keep) continue;
    if (c < 0x20 || c == 0x7F) std::abort();
    if (c == 0xC2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) <= 0x9F) {
      std::abort();  // a C1 control
    }
  }
  if (bim::terminal::Escape(out, newlines) != out) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(in, bim::terminal::Newlines::kEscape);
  Check(in, bim::terminal::Newlines::kKeep);
  return 0;
}
