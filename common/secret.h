#pragma once
// Tokens must not outlive their use in memory: freed heap memory keeps its bytes until it is
// reused, so a core dump or a read of /proc/PID/mem would still show them. Wipe() overwrites a
// string's whole buffer (its capacity, not just its size) before it is freed or reused.

#include <string>

namespace bim {

void Wipe(std::string& secret);

}  // namespace bim
