#include "common/secret.h"

#include <string.h>

namespace bim {

void Wipe(std::string& secret) {
  secret.resize(secret.capacity());
  ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

void HideSecret(std::string& text, std::string_view secret) {
  if (secret.size() < kShortestHiddenSecret) return;
  constexpr std::string_view kHidden = "[value hidden]";
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kHidden.size())) {
    text.replace(at, secret.size(), kHidden);
  }
}

}  // namespace bim
