#include "common/secret.h"

#include <string.h>

namespace bim {

void Wipe(std::string& secret) {
  secret.resize(secret.capacity());
  ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

}  // namespace bim
