// The snapshot store over a real SQLite database in a temporary folder: dedup, retention by
// count and by size, and what a failed save leaves behind.
#include "daemon/snapshot_store.h"

#include <doctest/doctest.h>

#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

struct SnapRig {
  explicit SnapRig(SnapshotPolicy policy = {}) : policy(policy) { Open(); }
  void Open() {
    store.reset();
    db.reset();
    auto opened = Database::Open(t / "agent.db");
    REQUIRE(opened.ok());
    db = std::move(*opened);
    store = std::make_unique<SnapshotStore>(*db, clock, policy);
  }
  SnapshotStats Stats() {
    auto s = store->Stats();
    REQUIRE(s.ok());
    return *s;
  }
  void Save(const std::string& id, const std::string& project, const contract::FileMap& files) {
    auto s = store->Save(id, project, files);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
  }
  bool Has(const std::string& id) {
    auto h = store->Has(id);
    REQUIRE(h.ok());
    return *h;
  }

  test::TempDir t;
  FakeClock clock;
  SnapshotPolicy policy;
  std::unique_ptr<Database> db;
  std::unique_ptr<SnapshotStore> store;
};

contract::FileMap Tree(const std::string& main) {
  return {
      {"main.py", main}, {"requirements.txt", "fastapi\nuvicorn\n"}, {"app/models.py", "x=1\n"}};
}

}  // namespace

TEST_CASE("a snapshot gives back the exact bytes, binary ones included") {
  SnapRig r;
  contract::FileMap files{{"main.py", "print('hi')\n"},
                          {"static/logo.png", std::string("\x89PNG\0\r\n\x1a\n\xff", 10)},
                          {"empty.txt", ""}};
  r.Save("dep-1", "proj", files);
  auto loaded = r.store->Load("dep-1");
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == files);
  auto none = r.store->Load("dep-unknown");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}

TEST_CASE("unchanged files are kept once across deployments") {
  SnapRig r;
  r.Save("dep-1", "proj", Tree("v1\n"));
  CHECK(r.Stats().blobs == 3);
  r.Save("dep-2", "proj", Tree("v2\n"));   // one file changed: one blob more
  r.Save("dep-3", "other", Tree("v1\n"));  // another project, the same tree: no blob more
  SnapshotStats s = r.Stats();
  CHECK(s.snapshots == 3);
  CHECK(s.blobs == 4);
  CHECK(s.blob_bytes == 3 + 3 + 16 + 4);
}

TEST_CASE("retention drops a project's oldest snapshots beyond the count, and their blobs") {
  SnapshotPolicy p;
  p.keep_per_project = 2;
  SnapRig r(p);
  r.Save("dep-1", "proj", Tree("v1\n"));
  r.Save("dep-x", "other", Tree("vx\n"));
  r.Save("dep-2", "proj", Tree("v2\n"));
  r.Save("dep-3", "proj", Tree("v3\n"));
  CHECK_FALSE(r.Has("dep-1"));
  CHECK(r.Has("dep-2"));
  CHECK(r.Has("dep-3"));
  CHECK(r.Has("dep-x"));  // another project's count is its own
  // v1's main.py went with dep-1; the shared files stay.
  CHECK(r.Stats().blobs == 2 + 3);
}

TEST_CASE("the size cap drops the oldest snapshots of any project, never the one just saved") {
  SnapshotPolicy p;
  p.max_bytes = 250;
  SnapRig r(p);
  r.Save("dep-1", "a", {{"big", std::string(100, '1')}});
  r.Save("dep-2", "b", {{"big", std::string(100, '2')}});
  CHECK(r.Stats().blob_bytes == 200);
  r.Save("dep-3", "a", {{"big", std::string(100, '3')}});
  CHECK_FALSE(r.Has("dep-1"));
  CHECK(r.Has("dep-2"));
  CHECK(r.Has("dep-3"));
  CHECK(r.Stats().blob_bytes == 200);
  // One tree over the cap on its own is still kept, alone.
  r.Save("dep-4", "c", {{"huge", std::string(300, '4')}});
  CHECK(r.Stats().snapshots == 1);
  CHECK(r.Has("dep-4"));
}

TEST_CASE("saving the same deployment again replaces its tree") {
  SnapRig r;
  r.Save("dep-1", "proj", Tree("v1\n"));
  r.Save("dep-1", "proj", {{"main.py", "v2\n"}});
  auto loaded = r.store->Load("dep-1");
  REQUIRE(loaded.ok());
  CHECK(**loaded == contract::FileMap{{"main.py", "v2\n"}});
  CHECK(r.Stats().blobs == 1);
}

TEST_CASE("a save that fails halfway leaves the earlier snapshots as they were, after a reopen") {
  SnapRig r;
  r.Save("dep-1", "proj", Tree("v1\n"));
  {
    // A disk that fails on the last file of the next save.
    std::lock_guard lock(r.db->mutex());
    REQUIRE(r.db->Exec("CREATE TRIGGER fail_save BEFORE INSERT ON snapshot_files "
                       "WHEN NEW.path = 'z-last' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
                .ok());
  }
  contract::FileMap next = Tree("v2\n");
  next["z-last"] = "boom";
  CHECK_FALSE(r.store->Save("dep-2", "proj", next).ok());
  r.Open();
  CHECK(r.Has("dep-1"));
  CHECK_FALSE(r.Has("dep-2"));
  SnapshotStats s = r.Stats();
  CHECK(s.snapshots == 1);
  CHECK(s.blobs == 3);  // none of the failed save's blobs stayed
  auto loaded = r.store->Load("dep-1");
  REQUIRE(loaded.ok());
  CHECK(**loaded == Tree("v1\n"));
}

TEST_CASE("a blob whose bytes changed on disk is an error, never other files") {
  SnapRig r;
  r.Save("dep-1", "proj", Tree("v1\n"));
  {
    std::lock_guard lock(r.db->mutex());
    REQUIRE(r.db->Exec("UPDATE blobs SET data = X'00' WHERE size = 3").ok());
  }
  auto loaded = r.store->Load("dep-1");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().code == ErrorCode::kIo);
  CHECK(loaded.error().message.find("damaged") != std::string::npos);
}

TEST_CASE("keep 0 keeps no snapshot") {
  SnapshotPolicy p;
  p.keep_per_project = 0;
  SnapRig r(p);
  r.Save("dep-1", "proj", Tree("v1\n"));
  CHECK_FALSE(r.Has("dep-1"));
  CHECK(r.Stats().blobs == 0);
}
