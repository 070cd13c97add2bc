// The agent's core (daemon/agent.h) driven in-process from many threads: fan-out, reconnect,
// watchers coming and going, and shutdown (auth_manager_test.cc has concurrent refresh). Everything
// is real (the mock platform as a process, libcurl, websocketpp, SQLite, and the Subscription that
// each gRPC watch stream runs); only gRPC is left out, so
// that ThreadSanitizer can judge our own concurrency: Debian's gRPC is not built with TSan, and the
// hand-offs inside it are invisible to TSan (docs/SECURITY.md). scripts/sanitize.sh thread runs
// these (label "concurrency").
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/curl_http_client.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/agent_core.h"
#include "daemon/database.h"
#include "daemon/platform_client.h"
#include "daemon/subscription.h"
#include "daemon/token_store.h"
#include "tests/support/harness.h"
#include "ws/ws_client.h"

using namespace bim;
using namespace bim::daemon;

namespace {

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

CoreSettings Settings() {
  CoreSettings s;
  s.environment_token = "dev-token";
  return s;
}

// An agent core wired as backend-imd wires it, against a mock started with mock_args.
struct Rig {
  explicit Rig(std::vector<std::string> mock_args) : mock(std::move(mock_args)) {}
  ~Rig() { Stop(); }

  test::MockPlatform mock;
  test::TempDir dir;
  RealClock clock;
  StdRandom random;
  StopSignal stop;
  CurlHttpClient http;
  std::unique_ptr<ws::Connector> connector = ws::MakeConnector(ws::TlsOptions{});
  PlatformClient platform{mock.http_url(), http, *connector, clock, random, stop};
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  AgentCore core{*db, platform, clock, random, stop, Settings()};
  Agent& agent = core.agent();
  DeploymentStore& store = core.store();
  WatchHub& hub = core.hub();
  bool stopped = false;

  // The daemon's shutdown order.
  void Stop() {
    if (stopped) return;
    stopped = true;
    core.BeginShutdown();
    core.StopWatching();
  }

  DeploymentRecord Deploy() {
    contract::FileMap files{{"main.py", "print('hi')\n"}, {"requirements.txt", "fastapi\n"}};
    auto d = agent.Deploy(files, "", dir.path());
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    return *d;
  }
};

// A watch stream minus gRPC: the real Subscription (what the gRPC watch stream runs), with a
// sink that completes each write on the watcher's own thread, as gRPC completes them on its own.
class Watcher final : public Subscription::Sink {
 public:
  Watcher(Rig& rig, std::string id) : sub_(rig.store, rig.hub, std::move(id), 0, *this) {}

  void Deliver(const Subscription::Item& item) override {
    std::lock_guard lock(mu_);
    pending_ = item;
    cv_.notify_all();
  }
  void Ended(Subscription::End end, const Status&) override {
    std::lock_guard lock(mu_);
    end_ = end;
    cv_.notify_all();
  }

  // Follows until the subscription ends; with leave_after > 0, leaves after that many events
  // the way a client that goes away does (the cancel, then the write in flight fails).
  void Follow(size_t leave_after = 0) {
    sub_.Begin(OkStatus(), std::nullopt);
    for (;;) {
      std::optional<Subscription::Item> item;
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, std::chrono::seconds(30),
                          [&] { return pending_.has_value() || end_.has_value(); })) {
          FAIL_CHECK("no event and no end for 30 s");  // not REQUIRE: a thread of its own
          break;
        }
        if (!pending_) break;  // ended
        item = std::move(pending_);
        pending_.reset();
      }
      if (!item->is_notice) {
        seqs_.push_back(item->event.seq);
        statuses_.emplace_back(contract::StageName(item->event.event.status));
        if (item->event.terminal) terminal_ = true;
      }
      if (leave_after > 0 && seqs_.size() >= leave_after) {
        sub_.Cancel();
        sub_.WriteDone(false);
        break;
      }
      sub_.WriteDone(true);
    }
    sub_.Close();
  }

  const std::vector<int64_t>& seqs() const { return seqs_; }
  const std::vector<std::string>& statuses() const { return statuses_; }
  bool terminal() const { return terminal_; }
  bool shut_down() {
    std::lock_guard lock(mu_);
    return end_ == Subscription::End::kStopping;
  }
  std::optional<Subscription::End> end() {
    std::lock_guard lock(mu_);
    return end_;
  }

 private:
  Subscription sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Subscription::Item> pending_;  // guarded by mu_: delivered, not yet written
  std::optional<Subscription::End> end_;       // guarded by mu_
  std::vector<int64_t> seqs_;
  std::vector<std::string> statuses_;
  bool terminal_ = false;
};

// n watchers, each following on a thread of its own.
struct Followers {
  Followers(Rig& rig, const std::string& id, int n) {
    for (int i = 0; i < n; ++i) {
      watchers.push_back(std::make_unique<Watcher>(rig, id));
      threads.emplace_back([w = watchers.back().get()] { w->Follow(); });
    }
  }
  ~Followers() { Join(); }
  void Join() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  std::vector<std::unique_ptr<Watcher>> watchers;
  std::vector<std::thread> threads;
};

// 1..n with nothing missing, nothing twice.
bool GapFree(const std::vector<int64_t>& seqs) {
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != static_cast<int64_t>(i) + 1) return false;
  }
  return !seqs.empty();
}

}  // namespace

TEST_CASE("fan-out: 50 watcher threads each see every event of one upstream stream, in order") {
  Rig rig({"--token", "dev-token", "--stage-delay-ms", "30"});
  auto d = rig.Deploy();
  Followers f(rig, d.id, 50);
  f.Join();
  for (const auto& w : f.watchers) {
    CHECK(w->terminal());
    CHECK(w->end() == Subscription::End::kComplete);
    CHECK(GapFree(w->seqs()));
    CHECK(w->statuses() == f.watchers.front()->statuses());
  }
  CHECK(f.watchers.front()->statuses().back() == "complete");
  CHECK(Count(rig.mock.Log(), "/ws?deploymentId=" + d.id) == 1);
}

TEST_CASE(
    "reconnect: streams cut after every second message lose nothing and store nothing twice") {
  Rig rig({"--token", "dev-token", "--stage-delay-ms", "30", "--ws-drop-after", "2",
           "--ws-drop-times", "0"});
  auto d = rig.Deploy();
  Followers f(rig, d.id, 8);
  f.Join();
  for (const auto& w : f.watchers) {
    CHECK(w->terminal());
    CHECK(GapFree(w->seqs()));
  }
  const auto& statuses = f.watchers.front()->statuses();
  CHECK(statuses.back() == "complete");
  CHECK(std::set<std::string>(statuses.begin(), statuses.end()).size() == statuses.size());
  CHECK(Count(rig.mock.Log(), "/ws?deploymentId=" + d.id) >= 2);  // it did reconnect
}

TEST_CASE("watchers that come and go from many threads leave the rest complete") {
  Rig rig({"--token", "dev-token", "--stage-delay-ms", "40"});
  auto d = rig.Deploy();
  Followers stayers(rig, d.id, 10);
  std::vector<std::thread> threads;
  std::atomic<int> late{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&rig, &d, &late, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      // Comes once one of the first four stages is stored, at a moment within its 40 ms.
      const int stored = 1 + static_cast<int>(rng() % 4);
      if (!test::WaitUntil(
              [&] {
                auto events = rig.store.EventsAfter(d.id, 0, stored);
                return events.ok() && static_cast<int>(events->size()) == stored;
              },
              std::chrono::seconds(10))) {
        ++late;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
      Watcher w(rig, d.id);
      w.Follow(1 + rng() % 3);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(late == 0);
  stayers.Join();
  for (const auto& w : stayers.watchers) {
    CHECK(w->terminal());
    CHECK(GapFree(w->seqs()));
  }
  CHECK(rig.hub.TotalWatchers() == 0);  // every watch of the one deployment has left
}

TEST_CASE("shutdown mid-stream ends every watcher and joins every thread") {
  Rig rig({"--token", "dev-token", "--stage-delay-ms", "500"});
  auto d = rig.Deploy();
  Followers f(rig, d.id, 20);
  // Wait for the first stored event, then stop while the platform is mid-deployment.
  for (int i = 0; i < 200 && rig.store.EventsAfter(d.id, 0, 1)->empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  rig.Stop();
  f.Join();
  for (const auto& w : f.watchers) {
    CHECK(w->shut_down());
    CHECK_FALSE(w->terminal());
    CHECK(std::is_sorted(w->seqs().begin(), w->seqs().end()));
  }
  // What was stored is intact and gap-free, ready for the next agent to resume.
  auto stored = rig.store.EventsAfter(d.id, 0, 1000);
  REQUIRE(stored.ok());
  std::vector<int64_t> seqs;
  for (const auto& e : *stored) seqs.push_back(e.seq);
  CHECK(GapFree(seqs));
  CHECK(rig.agent.WatchedDeployments().empty());
}

TEST_CASE("lookups racing the end of a deployment never start a second watcher on stale state") {
  // Each `watch` and `status` looks the deployment up (Agent::Find), which makes sure it is
  // followed. A lookup that read the deployment just before its watcher stored the terminal
  // event must not start a new watcher from that stale state: the platform would replay what
  // the old one already stored, and every replayed stage would be stored twice.
  for (bool seed_only : {false, true}) {
    CAPTURE(seed_only);
    std::vector<std::string> args{"--token", "dev-token", "--stage-delay-ms", "5"};
    if (seed_only) args.push_back("--seed-only");
    Rig rig(args);
    for (int round = 0; round < 5; ++round) {
      auto d = rig.Deploy();
      std::atomic<bool> done{false};
      std::vector<std::thread> lookups;
      for (int i = 0; i < 4; ++i) {
        lookups.emplace_back([&] {
          while (!done) (void)rig.agent.Find(d.id);
        });
      }
      Watcher w(rig, d.id);
      w.Follow();
      done = true;
      for (auto& t : lookups) t.join();
      // A wrongly started second watcher follows the deployment until it has stored its replay.
      for (int i = 0; i < 1000 && !rig.agent.WatchedDeployments().empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      REQUIRE(rig.agent.WatchedDeployments().empty());
      auto stored = rig.store.EventsAfter(d.id, 0, 1000);
      REQUIRE(stored.ok());
      std::vector<std::string> statuses;
      for (const auto& e : *stored) statuses.emplace_back(contract::StageName(e.event.status));
      CHECK(std::set<std::string>(statuses.begin(), statuses.end()).size() == statuses.size());
      CHECK(statuses.back() == "complete");
    }
  }
}
