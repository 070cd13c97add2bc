#include "daemon/snapshot_store.h"

#include <fmt/format.h>

#include "common/commit_hash.h"

namespace bim::daemon {

Status SnapshotStore::Save(const std::string& deployment_id, const std::string& project_id,
                           const contract::FileMap& files) {
  // Hashed before the lock: the files may be tens of MiB.
  std::vector<std::string> hashes;
  hashes.reserve(files.size());
  int64_t total = 0;
  for (const auto& [path, content] : files) {
    hashes.push_back(Sha256Hex(content));
    total += static_cast<int64_t>(content.size());
  }
  std::lock_guard lock(db_.mutex());
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s.ok()) return s;
  if (auto s = DropLocked(deployment_id); !s.ok()) return s;
  {
    auto st = db_.Prepare(
        "INSERT INTO snapshots (deployment_id, project_id, file_count, total_bytes, created_at) "
        "VALUES (?,?,?,?,?)");
    if (!st.ok()) return st.error();
    st->Bind(1, deployment_id).Bind(2, project_id).Bind(3, static_cast<int64_t>(files.size()));
    st->Bind(4, total).Bind(5, clock_.NowUnixMs());
    if (auto s = st->Run(); !s.ok()) return s;
  }
  auto blob = db_.Prepare("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?,?,?)");
  if (!blob.ok()) return blob.error();
  auto file =
      db_.Prepare("INSERT INTO snapshot_files (deployment_id, path, sha256) VALUES (?,?,?)");
  if (!file.ok()) return file.error();
  size_t i = 0;
  for (const auto& [path, content] : files) {
    const std::string& hash = hashes[i++];
    blob->Bind(1, hash).Bind(2, static_cast<int64_t>(content.size())).BindBlob(3, content);
    if (auto s = blob->Run(); !s.ok()) return s;
    if (auto s = blob->Reset(); !s.ok()) return s;
    file->Bind(1, deployment_id).Bind(2, path).Bind(3, hash);
    if (auto s = file->Run(); !s.ok()) return s;
    if (auto s = file->Reset(); !s.ok()) return s;
  }
  if (auto s = ApplyPolicyLocked(project_id, deployment_id); !s.ok()) return s;
  return tx.Commit();
}

// Removes one snapshot's rows and every blob no snapshot names any more. Caller holds the
// mutex, in a transaction.
Status SnapshotStore::DropLocked(const std::string& deployment_id) {
  for (const char* sql : {"DELETE FROM snapshot_files WHERE deployment_id = ?",
                          "DELETE FROM snapshots WHERE deployment_id = ?"}) {
    auto st = db_.Prepare(sql);
    if (!st.ok()) return st.error();
    st->Bind(1, deployment_id);
    if (auto s = st->Run(); !s.ok()) return s;
  }
  return db_.Exec(
      "DELETE FROM blobs WHERE NOT EXISTS "
      "(SELECT 1 FROM snapshot_files WHERE snapshot_files.sha256 = blobs.sha256)");
}

Status SnapshotStore::ApplyPolicyLocked(const std::string& project_id,
                                        const std::string& just_saved) {
  // The project's snapshots beyond the newest keep_per_project, oldest first.
  std::vector<std::string> drop;
  {
    auto st = db_.Prepare(
        "SELECT deployment_id FROM snapshots WHERE project_id = ? ORDER BY n DESC LIMIT -1 "
        "OFFSET ?");
    if (!st.ok()) return st.error();
    st->Bind(1, project_id).Bind(2, static_cast<int64_t>(std::max(0, policy_.keep_per_project)));
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      drop.push_back(st->Text(0));
    }
  }
  for (const auto& id : drop) {
    if (auto s = DropLocked(id); !s.ok()) return s;
  }
  // Then the oldest of any project while the blobs take more than max_bytes.
  for (;;) {
    int64_t bytes = 0;
    std::string oldest;
    {
      auto st = db_.Prepare(
          "SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs), "
          "(SELECT deployment_id FROM snapshots WHERE deployment_id != ? ORDER BY n LIMIT 1)");
      if (!st.ok()) return st.error();
      st->Bind(1, just_saved);
      auto row = st->Step();
      if (!row.ok()) return row.error();
      bytes = st->Int(0);
      oldest = st->Text(1);
    }
    if (bytes <= policy_.max_bytes || oldest.empty()) break;
    if (auto s = DropLocked(oldest); !s.ok()) return s;
  }
  return OkStatus();
}

Result<std::optional<contract::FileMap>> SnapshotStore::Load(const std::string& deployment_id) {
  std::lock_guard lock(db_.mutex());
  {
    auto kept = HasLocked(deployment_id);
    if (!kept.ok()) return kept.error();
    if (!*kept) return std::optional<contract::FileMap>();
  }
  auto st = db_.Prepare(
      "SELECT f.path, f.sha256, b.data FROM snapshot_files f LEFT JOIN blobs b ON b.sha256 = "
      "f.sha256 WHERE f.deployment_id = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, deployment_id);
  contract::FileMap files;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    std::string path = st->Text(0);
    std::string hash = st->Text(1);
    if (st->IsNull(2)) {
      return Error(ErrorCode::kIo, fmt::format("the snapshot of deployment {} lacks the content "
                                               "of {}: the agent's database is damaged",
                                               deployment_id, path));
    }
    std::string data = st->Blob(2);
    if (Sha256Hex(data) != hash) {
      return Error(ErrorCode::kIo, fmt::format("the snapshot of deployment {} holds other bytes "
                                               "for {} than it kept: the agent's database is "
                                               "damaged",
                                               deployment_id, path));
    }
    files.emplace(std::move(path), std::move(data));
  }
  return std::optional<contract::FileMap>(std::move(files));
}

Result<bool> SnapshotStore::Has(const std::string& deployment_id) {
  std::lock_guard lock(db_.mutex());
  return HasLocked(deployment_id);
}

Result<bool> SnapshotStore::HasLocked(const std::string& deployment_id) {
  auto st = db_.Prepare("SELECT 1 FROM snapshots WHERE deployment_id = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, deployment_id);
  auto row = st->Step();
  if (!row.ok()) return row.error();
  return *row;
}

Result<SnapshotStats> SnapshotStore::Stats() {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "SELECT (SELECT COUNT(*) FROM snapshots), (SELECT COUNT(*) FROM blobs), "
      "(SELECT COALESCE(SUM(size), 0) FROM blobs)");
  if (!st.ok()) return st.error();
  auto row = st->Step();
  if (!row.ok()) return row.error();
  return SnapshotStats{st->Int(0), st->Int(1), st->Int(2)};
}

}  // namespace bim::daemon
