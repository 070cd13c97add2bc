#include "daemon/token_store.h"

namespace bim::daemon {

Result<std::optional<Credentials>> TokenStore::Load() {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "SELECT access_token, refresh_token, expires_at, source, api_url, user_id, email "
      "FROM credentials WHERE id = 1");
  if (!st.ok()) return st.error();
  auto row = st->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<Credentials>();
  Credentials c;
  c.access_token = st->Text(0);
  c.refresh_token = st->Text(1);
  c.expires_at_ms = st->Int(2);
  c.source = st->Text(3);
  c.api_url = st->Text(4);
  c.user_id = st->Text(5);
  c.email = st->Text(6);
  return std::optional<Credentials>(std::move(c));
}

Status TokenStore::Save(const Credentials& c) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "INSERT OR REPLACE INTO credentials (id, access_token, refresh_token, expires_at, source, "
      "api_url, user_id, email) VALUES (1,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st->Bind(1, c.access_token);
  if (c.refresh_token.empty()) {
    st->BindNull(2);
  } else {
    st->Bind(2, c.refresh_token);
  }
  if (c.expires_at_ms == 0) {
    st->BindNull(3);
  } else {
    st->Bind(3, c.expires_at_ms);
  }
  st->Bind(4, c.source).Bind(5, c.api_url).Bind(6, c.user_id).Bind(7, c.email);
  return st->Run();
}

Result<bool> TokenStore::Erase() {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("DELETE FROM credentials");
  if (!st.ok()) return st.error();
  if (auto s = st->Run(); !s.ok()) return s.error();
  bool erased = sqlite3_changes(db_.handle()) > 0;
  // secure_delete zeroes the freed page in the database; the WAL still holds the old page
  // until it is checkpointed and truncated.
  if (auto s = db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !s.ok()) return s.error();
  return erased;
}

}  // namespace bim::daemon
