#pragma once
// Tokens must not outlive their use in memory: freed heap memory keeps its bytes until it is
// reused, so a core dump or a read of /proc/PID/mem would still show them. Wipe() overwrites a
// string's whole buffer (its capacity, not just its size) before it is freed or reused.

#include <string>
#include <string_view>

namespace bim {

void Wipe(std::string& secret);

// Replaces every occurrence of secret in text with "[value hidden]": for messages made from what
// another side answered, which may quote a secret it was sent. An empty secret hides nothing.
void HideSecret(std::string& text, std::string_view secret);

}  // namespace bim
