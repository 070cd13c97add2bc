#pragma once
// Tokens must not outlive their use in memory: freed heap memory keeps its bytes until it is
// reused, so a core dump or a read of /proc/PID/mem would still show them. Wipe() overwrites a
// string's whole buffer (its capacity, not just its size) before it is freed or reused.

#include <string>
#include <string_view>

namespace bim {

void Wipe(std::string& secret);

// Replaces every occurrence of secret in text with "[value hidden]": for messages made from what
// another side answered, which may quote a secret it was sent. A secret shorter than
// kShortestHiddenSecret bytes hides nothing: such a string turns up in any text by chance (a
// value "v" in "environments"), so hiding it would garble the message and protect nothing.
inline constexpr size_t kShortestHiddenSecret = 4;
void HideSecret(std::string& text, std::string_view secret);

}  // namespace bim
