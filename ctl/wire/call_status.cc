#include "ctl/wire/call_status.h"

namespace bim::ctl::wire {

std::string First(const Metadata& md, std::string_view key) {
  auto it = md.find(std::string(key));
  return it == md.end() ? std::string() : it->second;
}

}  // namespace bim::ctl::wire
