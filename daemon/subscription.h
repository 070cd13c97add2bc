#pragma once
// Subscription: one watcher of one deployment, apart from any transport. It joins the hub, reads
// the store from its own cursor whenever the hub says there is something new, and hands its
// Sink one item at a time: the deployment's notice when it changed since the last one sent
// (ahead of any event: it says why events may not come), else the next event. The next item
// waits until the sink reports the last one gone (WriteDone). It ends once: after the terminal
// event, when the watcher goes away, when the agent stops, or on an error.
//
// The gRPC watch stream (agent_service.cc) is a Sink over a ServerWriteReactor; tests drive the
// same class with a sink of their own, so the watch path they exercise is the real one.
//
// Thread-safety: Begin, WriteDone, Cancel and the hub's callbacks may come from any thread.
// Sink::Deliver is called without the subscription's lock, never twice at once, and never after
// Sink::Ended; Sink::Ended is called once, with the lock held, so it must not call back in.
// Lifetime: Close() before destroying; after it returns, the hub no longer calls in.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/deployment_store.h"
#include "daemon/watch_hub.h"

namespace bim::daemon {

class Subscription final : public WatchHub::Listener {
 public:
  struct Item {
    bool is_notice = false;
    std::string notice;  // when is_notice: the notice, "" once it is gone
    EventRecord event;   // otherwise
  };
  enum class End {
    kComplete,     // the terminal event went out, or the watch began past it
    kCancelled,    // the watcher cancelled
    kWatcherGone,  // a write failed: nobody is reading any more
    kStopping,     // the agent is stopping
    kRefused,      // Begin was told the deployment cannot be watched (error says why)
    kStoreError,   // reading the store failed (error says why)
  };
  class Sink {
   public:
    virtual ~Sink() = default;
    // Sends item; the subscription waits for WriteDone before the next. item may change as soon
    // as the write can complete, so copy what the write needs before starting it.
    virtual void Deliver(const Item& item) = 0;
    virtual void Ended(End end, const Status& error) = 0;
  };

  // after_seq: the watcher has every event up to this one.
  Subscription(DeploymentStore& store, WatchHub& hub, std::string deployment_id, int64_t after_seq,
               Sink& sink);

  // Called once, after the deployment was looked up: found says whether it may be watched,
  // ended_at is the seq of its terminal event when it has ended.
  void Begin(const Status& found, std::optional<int64_t> ended_at);
  // The last item delivered went out (ok) or could not (the watcher is gone).
  void WriteDone(bool ok);
  // The watcher cancelled: ends the subscription unless a write is under way (then WriteDone).
  void Cancel();
  // Leaves the hub. Call once the sink needs nothing more, before destroying.
  void Close();

  const std::string& deployment_id() const { return id_; }

  void OnNewEvents() override;
  void OnShutdown() override;

 private:
  void Pump();
  void EndLocked(End end, const Status& error = OkStatus());

  DeploymentStore& store_;
  WatchHub& hub_;
  Sink& sink_;
  const std::string id_;
  std::mutex mu_;
  int64_t cursor_;                  // guarded by mu_: seq of the last event delivered
  std::deque<EventRecord> buffer_;  // guarded by mu_
  Item item_;                       // the item in flight; lives until WriteDone
  bool writing_ = false;            // guarded by mu_
  bool ended_ = false;              // guarded by mu_
  bool cancelled_ = false;          // guarded by mu_
  bool subscribed_ = false;         // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  bool terminal_sent_ = false;      // guarded by mu_
  std::string notice_sent_;         // guarded by mu_: the hub's notice as last delivered
};

}  // namespace bim::daemon
