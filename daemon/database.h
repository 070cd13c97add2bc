#pragma once
// One SQLite connection to the agent's database, with its pragmas and schema migrations.
//
// The database file is created 0600 (the agent runs with umask 077, and Open checks), in WAL
// mode with synchronous=NORMAL and a busy_timeout on the connection. Migrations are keyed by
// PRAGMA user_version and each runs in one transaction, so a crash never leaves half a schema.
//
// Thread-safety: the connection is shared; every use takes mutex() for the whole statement or
// transaction. DeploymentStore, SnapshotStore and TokenStore are the only users.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bim::daemon {

class Statement;

class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::mutex& mutex() { return mu_; }
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

  // Runs SQL with no results. Caller holds mutex().
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  Error LastError(std::string_view what) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Migrate();

  std::mutex mu_;
  sqlite3* db_;
  std::string path_;
};

// A prepared statement; finalized on destruction. Bind indexes start at 1, columns at 0.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, int64_t v);
  Statement& BindBlob(int i, std::string_view v);
  Statement& BindNull(int i);
  Statement& BindOptional(int i, const std::optional<std::string>& v);

  // true: a row is ready; false: done. Errors come back as Error.
  Result<bool> Step();
  Status Run();  // Step to completion, expecting no rows
  // Makes the statement ready to run again, with its bindings cleared.
  Status Reset();

  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() succeeds. Caller holds the mutex.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace bim::daemon
