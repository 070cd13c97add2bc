// WatchHub from several threads: listeners are called outside its lock, so they may call back
// into it and may take their time; and a listener that Unsubscribe removed is never called once
// Unsubscribe has returned. No test sleeps to get an order: threads hand over with latches, and
// the only timeouts bound how long a hub that deadlocks may hold the test up.
#include "daemon/watch_hub.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using bim::daemon::WatchHub;
using namespace std::chrono_literals;

namespace {

// A flag that threads wait for.
class Latch {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // False when it did not open within timeout.
  bool Wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A listener whose callbacks run the given functions and count the calls.
class Probe final : public WatchHub::Listener {
 public:
  std::function<void()> on_new_events = [] {};
  std::function<void()> on_shutdown = [] {};
  std::atomic<int> new_events{0};
  std::atomic<int> shutdowns{0};

  void OnNewEvents() override {
    ++new_events;
    on_new_events();
  }
  void OnShutdown() override {
    ++shutdowns;
    on_shutdown();
  }
};

// Runs fn on a thread of its own; false when it has not returned within timeout (a deadlock).
// Whatever fn uses must then stay alive, stuck: the callers keep it in shared_ptrs that fn holds.
bool ReturnsWithin(std::function<void()> fn, std::chrono::milliseconds timeout = 5s) {
  auto done = std::make_shared<Latch>();
  std::thread([fn = std::move(fn), done] {
    fn();
    done->Open();
  }).detach();
  return done->Wait(timeout);
}

// A hub and its listeners, kept alive by the threads that use them (a deadlocked thread keeps
// them for good). Callbacks refer to it by plain pointer: a shared_ptr there would be a cycle.
struct World {
  WatchHub hub;
  Probe a, b;
};

}  // namespace

TEST_CASE("a listener may call back into the hub from its callback") {
  auto w = std::make_shared<World>();
  auto count_seen = std::make_shared<std::atomic<size_t>>(0);
  w->a.on_new_events = [count_seen, p = w.get()] {
    *count_seen = p->hub.TotalWatchers();
    p->hub.Subscribe("d-2", &p->b);    // e.g. a watcher that follows a second deployment
    p->hub.Unsubscribe("d-1", &p->a);  // e.g. a stream that ends at the terminal event
  };
  w->hub.Subscribe("d-1", &w->a);
  REQUIRE_MESSAGE(ReturnsWithin([w] { w->hub.Notify("d-1"); }),
                  "Notify deadlocked: the listener's calls into the hub never returned");
  CHECK(w->a.new_events == 1);
  CHECK(*count_seen == 1);
  CHECK(w->hub.TotalWatchers() == 1);
  w->hub.Notify("d-1");  // a left d-1
  CHECK(w->a.new_events == 1);
  w->hub.Notify("d-2");  // b joined d-2
  CHECK(w->b.new_events == 1);
}

TEST_CASE("a slow listener holds up neither Subscribe nor Unsubscribe of others") {
  auto w = std::make_shared<World>();
  auto in_callback = std::make_shared<Latch>();
  auto others_done = std::make_shared<Latch>();
  w->a.on_new_events = [in_callback, others_done] {
    in_callback->Open();
    others_done->Wait();  // blocks until the main thread has subscribed and left
  };
  w->hub.Subscribe("d-1", &w->a);
  std::thread notifier([w] { w->hub.Notify("d-1"); });
  REQUIRE(in_callback->Wait());
  bool returned = ReturnsWithin([w, others_done] {
    w->hub.Subscribe("d-1", &w->b);
    w->hub.Subscribe("d-2", &w->b);
    w->hub.Unsubscribe("d-2", &w->b);
    others_done->Open();
  });
  others_done->Open();  // free the callback either way, so the notifier ends
  notifier.join();
  CHECK_MESSAGE(returned, "Subscribe waited for a listener's callback to end");
  CHECK(w->hub.TotalWatchers() == 2);
  // b subscribed after Notify took its listeners: the store read that follows its Subscribe
  // sees the event, so it needs no call for it.
  CHECK(w->b.new_events == 0);
  w->hub.Notify("d-2");  // b left d-2
  CHECK(w->b.new_events == 0);
  w->hub.Notify("d-1");  // and is in d-1, with a
  CHECK(w->b.new_events == 1);
  CHECK(w->a.new_events == 2);
}

TEST_CASE("Unsubscribe returns only after a call under way on another thread has ended") {
  auto w = std::make_shared<World>();
  auto in_callback = std::make_shared<Latch>();
  auto release = std::make_shared<Latch>();
  std::mutex order_mu;
  std::vector<std::string> order;
  auto note = [&](const std::string& what) {
    std::lock_guard lock(order_mu);
    order.push_back(what);
  };
  w->a.on_new_events = [&, in_callback, release] {
    in_callback->Open();
    release->Wait();
    note("callback ended");
  };
  w->hub.Subscribe("d-1", &w->a);
  std::thread notifier([w] { w->hub.Notify("d-1"); });
  REQUIRE(in_callback->Wait());
  std::thread leaver([&, w] {
    w->hub.Unsubscribe("d-1", &w->a);
    note("Unsubscribe returned");
  });
  // Once a is out of the map, the leaver is inside Unsubscribe; only then end the callback.
  bool erased = ReturnsWithin([w] {
    while (w->hub.TotalWatchers() != 0) std::this_thread::yield();
  });
  release->Open();
  notifier.join();
  leaver.join();
  CHECK(erased);
  CHECK(order == std::vector<std::string>{"callback ended", "Unsubscribe returned"});
  // And never again.
  w->hub.Notify("d-1");
  CHECK(w->a.new_events == 1);
}

TEST_CASE("a listener unsubscribed during a Notify is not called by it") {
  // Each callback unsubscribes the other listener of the same deployment: whichever the hub
  // calls first, the other must then not be called, though Notify had already listed it.
  auto w = std::make_shared<World>();
  w->a.on_new_events = [p = w.get()] { p->hub.Unsubscribe("d-1", &p->b); };
  w->b.on_new_events = [p = w.get()] { p->hub.Unsubscribe("d-1", &p->a); };
  w->hub.Subscribe("d-1", &w->a);
  w->hub.Subscribe("d-1", &w->b);
  REQUIRE_MESSAGE(ReturnsWithin([w] { w->hub.Notify("d-1"); }),
                  "Notify deadlocked: a callback's Unsubscribe never returned");
  CHECK(w->a.new_events + w->b.new_events == 1);
  CHECK(w->hub.TotalWatchers() == 1);
}

TEST_CASE("Shutdown tells every listener, which may leave from its callback, and newcomers") {
  auto w = std::make_shared<World>();
  w->a.on_shutdown = [p = w.get()] { p->hub.Unsubscribe("d-1", &p->a); };
  w->hub.Subscribe("d-1", &w->a);
  REQUIRE_MESSAGE(ReturnsWithin([w] { w->hub.Shutdown(); }),
                  "Shutdown deadlocked: a callback's Unsubscribe never returned");
  CHECK(w->a.shutdowns == 1);
  CHECK(w->hub.TotalWatchers() == 0);
  // Subscribing after the shutdown is told at once, and is not kept.
  w->hub.Subscribe("d-2", &w->b);
  CHECK(w->b.shutdowns == 1);
  CHECK(w->hub.TotalWatchers() == 0);
}

TEST_CASE("a deployment's notice stays until cleared, and each change wakes its listeners only") {
  WatchHub hub;
  Probe mine, other;
  hub.Subscribe("d1", &mine);
  hub.Subscribe("d2", &other);
  std::string seen;
  mine.on_new_events = [&] { seen = hub.Notice("d1"); };  // a listener reads it back, unlocked
  hub.SetNotice("d1", "cannot store the building event: database or disk is full");
  CHECK(mine.new_events == 1);
  CHECK(seen == "cannot store the building event: database or disk is full");
  hub.SetNotice("d1", "cannot store the building event: database or disk is full");
  CHECK(mine.new_events == 1);  // the same again is no news
  CHECK(hub.Notice("d2").empty());
  hub.SetNotice("d1", "");
  CHECK(mine.new_events == 2);
  CHECK(hub.Notice("d1").empty());
  CHECK(other.new_events == 0);
  hub.Unsubscribe("d1", &mine);
  hub.Unsubscribe("d2", &other);
}
