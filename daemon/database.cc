#include "daemon/database.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "common/limits.h"

namespace bim::daemon {
namespace {

// Each entry moves the schema from version i to i+1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE deployments (
  id           TEXT PRIMARY KEY,
  project_id   TEXT NOT NULL,
  commit_hash  TEXT NOT NULL,
  status       TEXT NOT NULL,
  url          TEXT,
  directory    TEXT,
  api_url      TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  terminal     INTEGER NOT NULL DEFAULT 0,
  last_seq     INTEGER NOT NULL DEFAULT 0,
  upstream_seq INTEGER NOT NULL DEFAULT 0,
  log_count    INTEGER NOT NULL DEFAULT 0,
  stream_problem TEXT
);
CREATE INDEX deployments_by_created ON deployments(created_at DESC);
CREATE INDEX deployments_by_project ON deployments(project_id, created_at DESC);
CREATE INDEX deployments_active ON deployments(terminal) WHERE terminal = 0;
CREATE TABLE events (
  deployment_id TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  status        TEXT NOT NULL,
  logs          TEXT NOT NULL,
  url           TEXT,
  source        TEXT NOT NULL,
  received_at   INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, seq)
) WITHOUT ROWID;
CREATE TABLE credentials (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  access_token  TEXT NOT NULL,
  refresh_token TEXT,
  expires_at    INTEGER,
  source        TEXT NOT NULL,
  api_url       TEXT NOT NULL,
  user_id       TEXT,
  email         TEXT
);
)sql",
    // A create sent to the platform whose answer is not yet recorded: its Idempotency-Key and
    // exact body, written before the request, so a restarted agent sends the same create again
    // and records the deployment the platform made (at most one, by the key).
    R"sql(
CREATE TABLE pending_deploys (
  idempotency_key TEXT PRIMARY KEY,
  project_id      TEXT NOT NULL,
  commit_hash     TEXT NOT NULL,
  directory       TEXT,
  api_url         TEXT NOT NULL,
  request         TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
)sql",
    // What the store keeps of each deployment's logs, against common/limits.h, and whether it
    // went over a budget. Deployments still followed start from what their events hold (the
    // stored JSON's length: an upper bound of the text); finished ones take no more events.
    R"sql(
ALTER TABLE deployments ADD COLUMN log_lines INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN over_budget INTEGER NOT NULL DEFAULT 0;
UPDATE deployments SET
  log_lines = (SELECT COALESCE(SUM(json_array_length(logs)), 0) FROM events
               WHERE deployment_id = deployments.id),
  log_bytes = (SELECT COALESCE(SUM(length(CAST(logs AS BLOB))), 0) FROM events
               WHERE deployment_id = deployments.id)
  WHERE terminal = 0;
)sql",
    // History is listed in the order deployments were recorded (rowid), not by created_at, which
    // is only as right as the clock was. An index on project_id alone is ordered by rowid within
    // a project, so `history --project` reads it backwards and stops at the limit.
    R"sql(
DROP INDEX deployments_by_created;
DROP INDEX deployments_by_project;
CREATE INDEX deployments_by_project ON deployments(project_id);
)sql",
    // Each event whole, as the contract's JSON of it without the logs (contract::EventBodyJson),
    // so a field the platform adds is kept with no column of its own. Rows written before have
    // none: their status and url columns are the event.
    R"sql(
ALTER TABLE events ADD COLUMN body TEXT;
)sql",
    // Snapshots (SnapshotStore): the exact tree each deployment uploaded, content-addressed.
    // A blob is one file's bytes, kept once however many snapshots name it; the last snapshot
    // that names it deletes it in the same transaction. restored_of: the deployment whose tree a
    // rollback deployed again, on the deployment and on its pending create.
    R"sql(
CREATE TABLE blobs (
  sha256 TEXT PRIMARY KEY,
  size   INTEGER NOT NULL,
  data   BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE snapshots (
  n             INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id TEXT NOT NULL UNIQUE,
  project_id    TEXT NOT NULL,
  file_count    INTEGER NOT NULL,
  total_bytes   INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX snapshots_by_project ON snapshots(project_id);
CREATE TABLE snapshot_files (
  deployment_id TEXT NOT NULL,
  path          TEXT NOT NULL,
  sha256        TEXT NOT NULL,
  PRIMARY KEY (deployment_id, path)
) WITHOUT ROWID;
CREATE INDEX snapshot_files_by_blob ON snapshot_files(sha256);
ALTER TABLE deployments ADD COLUMN restored_of TEXT;
ALTER TABLE pending_deploys ADD COLUMN restored_of TEXT;
)sql",
    // Environments (a platform extension): where a deployment went, and a promote (a new
    // deployment of another's files in another environment). A pending promote is a pending
    // create whose promoted_of names its source; its request is the promote's body.
    R"sql(
ALTER TABLE deployments ADD COLUMN environment TEXT;
ALTER TABLE deployments ADD COLUMN promoted_of TEXT;
ALTER TABLE pending_deploys ADD COLUMN environment TEXT;
ALTER TABLE pending_deploys ADD COLUMN promoted_of TEXT;
)sql",
    // Custom domains (a platform extension) added through this agent, with the states it last
    // saw, so their background checks go on after a restart; noticed: the person was told how
    // the certificate ended (one desktop notice a domain, never a second after a restart).
    R"sql(
CREATE TABLE domains (
  api_url     TEXT NOT NULL,
  project_id  TEXT NOT NULL,
  domain      TEXT NOT NULL,
  environment TEXT NOT NULL,
  dns         TEXT NOT NULL,
  certificate TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '',
  noticed     INTEGER NOT NULL DEFAULT 0,
  added_at    INTEGER NOT NULL,
  checked_at  INTEGER NOT NULL,
  PRIMARY KEY (api_url, project_id, domain)
) WITHOUT ROWID;
)sql",
};

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Error(ErrorCode::kIo, fmt::format("cannot open database {}: {}", path, msg));
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  // Tokens live here: never leave the file readable by others, whatever the umask was.
  ::chmod(path.c_str(), 0600);
  std::lock_guard lock(db->mu_);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000",
        "PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON"}) {
    if (auto s = db->Exec(pragma); !s.ok()) return s.error();
  }
  // Without it the -wal file keeps the largest size it ever had.
  if (auto s = db->Exec(fmt::format("PRAGMA journal_size_limit={}", limits::kMaxIdleWalBytes));
      !s.ok()) {
    return s.error();
  }
  if (auto s = db->Migrate(); !s.ok()) return s.error();
  return db;
}

Database::~Database() { sqlite3_close(db_); }

Error Database::LastError(std::string_view what) const {
  int code = sqlite3_errcode(db_);
  ErrorCode ec =
      (code == SQLITE_FULL || code == SQLITE_IOERR) ? ErrorCode::kIo : ErrorCode::kInternal;
  return Error(ec, fmt::format("database {} failed: {}", what, sqlite3_errmsg(db_)));
}

Status Database::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Error e = LastError(s.substr(0, 40));
    sqlite3_free(err);
    return e;
  }
  return OkStatus();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return LastError("prepare");
  }
  return Statement(db_, stmt);
}

Status Database::Migrate() {
  int64_t version = 0;
  {
    // Finalized before any migration runs: DROP fails while a statement is still active.
    auto st = Prepare("PRAGMA user_version");
    if (!st.ok()) return st.error();
    auto row = st->Step();
    if (!row.ok()) return row.error();
    version = st->Int(0);
  }
  constexpr int64_t kCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
  if (version > kCount) {
    return Error(ErrorCode::kIo,
                 fmt::format("database {} has schema version {}, newer than this agent knows "
                             "({}); upgrade backend-im",
                             path_, version, kCount));
  }
  for (int64_t v = version; v < kCount; ++v) {
    // A rollback also undoes user_version, so each step is atomic.
    Transaction tx(*this);
    if (auto s = tx.Begin(); !s.ok()) return s;
    if (auto s = Exec(kMigrations[v]); !s.ok()) return s;
    if (auto s = Exec(fmt::format("PRAGMA user_version={}", v + 1)); !s.ok()) return s;
    if (auto s = tx.Commit(); !s.ok()) return s;
  }
  return OkStatus();
}

Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}
Statement& Statement::BindOptional(int i, const std::optional<std::string>& v) {
  return v ? Bind(i, *v) : BindNull(i);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ErrorCode ec =
      (rc == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR) ? ErrorCode::kIo : ErrorCode::kInternal;
  return Error(ec, fmt::format("database write failed: {}", sqlite3_errmsg(db_)));
}

Status Statement::Run() {
  auto r = Step();
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status Statement::Reset() {
  sqlite3_clear_bindings(stmt_);
  if (sqlite3_reset(stmt_) != SQLITE_OK) {
    return Error(ErrorCode::kInternal,
                 fmt::format("database statement reset failed: {}", sqlite3_errmsg(db_)));
  }
  return OkStatus();
}

std::string Statement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
std::optional<std::string> Statement::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}
std::string Statement::Blob(int col) const {
  const void* b = sqlite3_column_blob(stmt_, col);
  return b ? std::string(static_cast<const char*>(b),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}
Status Transaction::Begin() {
  auto s = db_.Exec("BEGIN IMMEDIATE");
  open_ = s.ok();
  return s;
}
Status Transaction::Commit() {
  auto s = db_.Exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace bim::daemon
