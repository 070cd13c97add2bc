#pragma once
// The wire client's status messages, put together by one out-of-line function: a chain of
// std::string operator+ expands at each call site, which -Os code (the ctl's) pays for in size.

#include <initializer_list>
#include <string>
#include <string_view>

namespace bim::ctl::wire {

// The parts, one after the other.
std::string Cat(std::initializer_list<std::string_view> parts);

}  // namespace bim::ctl::wire
