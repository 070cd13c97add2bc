#pragma once
// The user's credentials for the platform, kept in the agent's database (0600 in a 0700
// folder) and nowhere else. Erase() overwrites (secure_delete) and checkpoints the WAL, so a
// logged-out token does not linger in the -wal file either. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/secret.h"
#include "daemon/database.h"

namespace bim::daemon {

// Wipes its tokens when destroyed (common/secret.h); assign a new value only after reset().
struct Credentials {
  Credentials() = default;
  Credentials(const Credentials&) = default;
  Credentials(Credentials&&) = default;
  Credentials& operator=(const Credentials&) = default;
  Credentials& operator=(Credentials&&) = default;
  ~Credentials() {
    Wipe(access_token);
    Wipe(refresh_token);
  }

  std::string access_token;
  std::string refresh_token;  // empty: cannot refresh
  int64_t expires_at_ms = 0;  // 0: does not expire
  std::string source;         // "device" or "token"
  std::string api_url;        // the platform these belong to
  std::string user_id;
  std::string email;
};

class TokenStore {
 public:
  explicit TokenStore(Database& db) : db_(db) {}

  Result<std::optional<Credentials>> Load();
  Status Save(const Credentials& c);
  // Returns whether there was anything to erase.
  Result<bool> Erase();

 private:
  Database& db_;
};

}  // namespace bim::daemon
