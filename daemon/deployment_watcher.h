#pragma once
// Follows one deployment on the platform until it is terminal, on a thread of its own, and
// writes every new stage into the store, then pokes the hub. One per active deployment,
// however many terminals watch it: fan-out happens downstream, from the store.
//
// Upstream it holds one event stream (Platform::OpenEventStream, resumed after the newest seq
// taken in when the platform sends seq). When the stream drops it reconnects with jittered
// backoff and meanwhile polls the deployment's status. A lost stream is never a failed
// deployment: only the platform's "failed" is. Frames outside the contract are skipped and
// counted (the first of a stream logged); past limits::kMaxStreamJunkFrames within
// limits::kStreamRateWindow the stream is cut and, like a drop, opened again after the backoff,
// with the reason as the deployment's stream problem and, until the next event is stored, its
// notice in the WatchHub (so every watch says why at once); so is a stream the WebSocket client
// cut for a flood of pings (StreamItem::cut). Every wait is on the Clock, so tests run
// it in simulated time.
//
// De-duplication, so a replay after a reconnect stores nothing twice, is the store's
// (DeploymentStore::Append, Newness): with seq, a message is new when its seq is above the newest
// one taken in; without seq (a seed-only platform), when its stage is later than the newest
// stage stored. A status poll adds an event when its stage is later, or it carries log lines not
// yet stored. A poll that would add a later stage is held back once while the stream is tried
// again at once: the stream replays every stage since the last one taken in, the poll only the
// newest. The watcher keeps no copy of that state, so a watcher started from an old record can
// store nothing twice; each stream resumes from the seq the store has.
//
// An event the store refuses (a full disk) is not taken in, so a replay or poll offers it again;
// until one is stored, the refusal is the deployment's notice in the WatchHub, in memory, for
// every watch and `status` to report.
//
// A deployment over its budget in the store (DeploymentStore) keeps being followed, so its
// status changes still arrive; the store drops the rest. The watcher then says so once, as the
// deployment's stream problem, which stays until the deployment ends.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/contract.h"
#include "common/log.h"
#include "common/random.h"
#include "common/stop_signal.h"
#include "daemon/auth_manager.h"
#include "daemon/deployment_store.h"
#include "daemon/platform.h"
#include "daemon/watch_hub.h"

namespace bim::daemon {

// The event to store for a stage the platform reported, under the URL policy
// (contract::CheckUrlToOpen): a URL is kept only when the policy accepts it. A complete
// stage without such a URL stays complete, with no URL and a problem that says what the platform
// sent, which `status` and every watch then report as a platform error. Logs what it refused.
NewEvent PlatformEvent(const std::string& deployment_id, contract::StageEvent event,
                       EventSource source, std::optional<int64_t> upstream_seq);

// What a watcher works with; owned by the agent's core and outliving every watcher. The agent
// works with the same (AgentDeps) and hands them on to each watcher it starts.
struct WatcherServices {
  DeploymentStore& store;
  WatchHub& hub;
  Platform& platform;
  AuthManager& auth;
  const Clock& clock;
  Random& random;
  StopSignal& stop;
};

struct WatcherDeps : WatcherServices {
  // A ping this often; no pong within the same time ends the stream (a stalled connection).
  std::chrono::milliseconds ping_interval{20000};
  std::chrono::milliseconds max_backoff{30000};
  // Called on the watcher's thread when it stops following the deployment.
  std::function<void()> on_finished;
  // Called on the watcher's thread when it stored the deployment's end (once per deployment:
  // the store takes in one end). May be empty.
  std::function<void(const EventRecord&)> on_ended = {};
};

class DeploymentWatcher {
 public:
  DeploymentWatcher(WatcherDeps deps, DeploymentRecord record);
  ~DeploymentWatcher();

  void Start();
  // Wakes the thread if it is blocked on the stream (used at shutdown) and joins it.
  void Stop();
  bool finished() const { return finished_; }
  const std::string& id() const { return id_; }

 private:
  void Run();
  // Stores what is new in a stage message; returns false when the message was not taken.
  bool Accept(const contract::StageMessage& m);
  void AcceptStatus(const contract::StatusResponse& s);
  // True when storing this poll would add a later stage.
  bool PollMovesOn(const contract::StatusResponse& s);
  // False when the store refused it (then store_failed_ is set) or found it not new.
  bool Store(const NewEvent& e);
  // The platform's newest seq taken in (0: none, or the store cannot say).
  int64_t TakenSeq();
  void SetProblem(const std::string& problem);

  WatcherDeps deps_;
  const std::string id_;
  // Only the watcher thread touches these after Start().
  bool terminal_ = false;
  bool store_failed_ = false;  // the store refused an event since this stream was opened
  std::string problem_;
  std::string quiet_problem_;  // the problem of a healthy stream: "" or OverBudgetNote()
  log::Throttle back_log_{std::chrono::seconds(10)};  // "skipped message going back" notes

  std::atomic<bool> finished_{false};
  std::mutex conn_mu_;
  EventStream* stream_ = nullptr;  // guarded by conn_mu_; the stream being read, if any
  std::thread thread_;
};

}  // namespace bim::daemon
