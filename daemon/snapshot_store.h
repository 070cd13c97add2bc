#pragma once
// The exact tree each deployment uploaded, kept in the agent's database so that a rollback can
// deploy it again (the platform has no rollback of its own) and restore and diff can show it.
//
// Content-addressed: each file's bytes are one blob, named by their SHA-256, kept once however
// many snapshots name it. Saving a snapshot, applying the retention policy and deleting the
// blobs nothing names any more happen in one transaction, so a crash leaves either the old
// state or the new one, never a snapshot without its blobs nor a blob without a snapshot.
//
// Retention (SnapshotPolicy): the newest keep_per_project snapshots of each project, and at most
// max_bytes of blobs over every project; the oldest go first. The snapshot just saved is never
// dropped to make room, so a project bigger than the cap still has its newest tree.
//
// Snapshots hold source code: they stay in the agent's 0600 database and are only ever sent to
// the platform (by a rollback, through the normal deploy). Thread-safe: every method takes the
// Database mutex.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/result.h"
#include "daemon/database.h"

namespace bim::daemon {

struct SnapshotPolicy {
  // A deployment's tree is at most limits::kMaxProjectBytes (50 MiB), and a generated project
  // is some tens of KiB, nearly all of it unchanged from one deployment to the next. 200 MiB
  // keeps 20 deployments of many such projects, or four whole trees of the largest size, and
  // stays small next to what a developer's disk holds.
  static constexpr int kDefaultKeepPerProject = 20;
  static constexpr int64_t kDefaultMaxBytes = 200LL * 1024 * 1024;

  int keep_per_project = kDefaultKeepPerProject;  // 0: keep none
  int64_t max_bytes = kDefaultMaxBytes;
};

// What the store holds, over every project.
struct SnapshotStats {
  int64_t snapshots = 0;
  int64_t blobs = 0;
  int64_t blob_bytes = 0;  // what the blobs take, each counted once
};

class SnapshotStore {
 public:
  SnapshotStore(Database& db, const Clock& clock, SnapshotPolicy policy)
      : db_(db), clock_(clock), policy_(policy) {}

  // Keeps files as deployment_id's tree, then applies the policy. Saving the same deployment
  // again replaces its tree (a create sent again after a restart gets the same id).
  Status Save(const std::string& deployment_id, const std::string& project_id,
              const contract::FileMap& files);
  // The tree, or nullopt when none is kept (never saved, or dropped by the policy). A blob whose
  // bytes no longer match their hash is a kIo error: the database was damaged.
  Result<std::optional<contract::FileMap>> Load(const std::string& deployment_id);
  Result<bool> Has(const std::string& deployment_id);
  Result<SnapshotStats> Stats();

  const SnapshotPolicy& policy() const { return policy_; }

 private:
  Status ApplyPolicyLocked(const std::string& project_id, const std::string& just_saved);
  Status DropLocked(const std::string& deployment_id);
  Result<bool> HasLocked(const std::string& deployment_id);

  Database& db_;
  const Clock& clock_;
  const SnapshotPolicy policy_;
};

}  // namespace bim::daemon
