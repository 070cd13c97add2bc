// Subscription, the core of every watch stream, against a real SQLite store and a real hub,
// with a sink that records what it is given and completes writes when the test says so. The
// gRPC watch stream is this class plus a translation of items and ends (agent_service.cc).
#include "daemon/subscription.h"

#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "common/clock.h"
#include "daemon/database.h"
#include "tests/support/harness.h"
#include "tests/unit/daemon/new_event.h"

using namespace bim;
using namespace bim::daemon;
using End = Subscription::End;

namespace {

using test::Ev;

struct Recorder final : Subscription::Sink {
  std::vector<Subscription::Item> delivered;
  std::optional<End> end;
  Status error = OkStatus();
  void Deliver(const Subscription::Item& item) override {
    REQUIRE_FALSE(end.has_value());  // nothing after the end
    delivered.push_back(item);
  }
  void Ended(End e, const Status& why) override {
    REQUIRE_FALSE(end.has_value());  // once
    end = e;
    error = why;
  }
};

struct Rig {
  test::TempDir t;
  std::unique_ptr<Database> db = std::move(Database::Open(t / "agent.db").value());
  FakeClock clock;
  DeploymentStore store{*db, clock};
  WatchHub hub;
  Recorder sink;
  Subscription sub{store, hub, "d", 0, sink};

  Rig() {
    DeploymentRecord d;
    d.id = "d";
    d.project_id = "p";
    d.status = contract::Stage::kQueued;
    d.created_at_ms = d.updated_at_ms = 1;
    REQUIRE(store.Insert(d).ok());
  }
  ~Rig() { sub.Close(); }
  void Add(const std::string& status) {
    REQUIRE(store.Append("d", Ev(status, {status + " log"}, "", EventSource::kStream, std::nullopt))
                .ok());
    hub.Notify("d");
  }
};

}  // namespace

TEST_CASE("a subscription hands out one item per completed write, and ends after the terminal") {
  Rig r;
  r.Add("queued");
  r.sub.Begin(OkStatus(), std::nullopt);
  REQUIRE(r.sink.delivered.size() == 1);
  CHECK(r.sink.delivered[0].event.seq == 1);
  // A new event while a write is in flight waits for the write.
  r.Add("building");
  CHECK(r.sink.delivered.size() == 1);
  r.sub.WriteDone(true);
  REQUIRE(r.sink.delivered.size() == 2);
  CHECK(r.sink.delivered[1].event.event.status == contract::Stage::kBuilding);
  // The notice goes out ahead of any further event, and again when it is cleared.
  r.hub.SetNotice("d", "the disk is full");
  r.Add("deploying");
  r.sub.WriteDone(true);
  REQUIRE(r.sink.delivered.size() == 3);
  CHECK(r.sink.delivered[2].is_notice);
  CHECK(r.sink.delivered[2].notice == "the disk is full");
  r.sub.WriteDone(true);
  CHECK(r.sink.delivered.back().event.event.status == contract::Stage::kDeploying);
  r.hub.SetNotice("d", "");
  r.sub.WriteDone(true);
  CHECK(r.sink.delivered.back().is_notice);
  CHECK(r.sink.delivered.back().notice.empty());
  r.sub.WriteDone(true);
  CHECK_FALSE(r.sink.end.has_value());  // nothing new: it waits
  REQUIRE(r.store
              .Append("d", Ev("complete", {}, "https://x.backend.im", EventSource::kStream,
                              std::nullopt))
              .ok());
  r.hub.Notify("d");
  CHECK(r.sink.delivered.back().event.terminal);
  CHECK_FALSE(r.sink.end.has_value());
  r.sub.WriteDone(true);
  CHECK(r.sink.end == End::kComplete);
  std::vector<int64_t> seqs;
  for (const auto& i : r.sink.delivered) {
    if (!i.is_notice) seqs.push_back(i.event.seq);
  }
  CHECK(seqs == std::vector<int64_t>{1, 2, 3, 4});
}

TEST_CASE("a subscription refused, begun past the end, or cancelled first delivers nothing") {
  {
    Rig r;
    r.sub.Begin(Status(Error(ErrorCode::kNotFound, "no deployment d")), std::nullopt);
    CHECK(r.sink.end == End::kRefused);
    CHECK(r.sink.error.error().code == ErrorCode::kNotFound);
    CHECK(r.sink.delivered.empty());
  }
  {
    Rig r;
    r.sub.Begin(OkStatus(), 0);  // ended at seq 0, and the watcher has everything up to 0
    CHECK(r.sink.end == End::kComplete);
    CHECK(r.sink.delivered.empty());
  }
  {
    Rig r;
    r.Add("queued");
    r.sub.Cancel();
    r.sub.Begin(OkStatus(), std::nullopt);
    CHECK(r.sink.end == End::kCancelled);
    CHECK(r.sink.delivered.empty());
  }
}

TEST_CASE("a subscription ends after the write in flight: shutdown, cancel, a failed write") {
  {
    Rig r;
    r.Add("queued");
    r.sub.Begin(OkStatus(), std::nullopt);
    r.hub.Shutdown();
    CHECK_FALSE(r.sink.end.has_value());  // the write in flight first
    r.sub.WriteDone(true);
    CHECK(r.sink.end == End::kStopping);
  }
  {
    Rig r;
    r.sub.Begin(OkStatus(), std::nullopt);
    r.hub.Shutdown();  // no write in flight: at once
    CHECK(r.sink.end == End::kStopping);
  }
  {
    Rig r;
    r.Add("queued");
    r.Add("building");
    r.sub.Begin(OkStatus(), std::nullopt);
    r.sub.Cancel();
    CHECK_FALSE(r.sink.end.has_value());
    r.sub.WriteDone(false);
    CHECK(r.sink.end == End::kWatcherGone);
    CHECK(r.sink.delivered.size() == 1);
  }
}
