#include "ctl/wire/text.h"

namespace bim::ctl::wire {

std::string Cat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out += part;
  return out;
}

}  // namespace bim::ctl::wire
