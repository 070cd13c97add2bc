#pragma once
// Runtime logs (docs/API_CONTRACTS.md §6.2) as the agent follows them: one upstream log stream
// per deployment however many terminals follow it, and a cursor per follower.
//
// A deployment with at least one follower has a channel: ONE upstream stream
// (Platform::OpenLogStream) read on a thread of its own, and a ring of the newest lines taken
// in (ring_lines). Each follower reads the ring from its own cursor, so a slow one never holds up
// the others; one that falls behind the ring's oldest line is told how many lines it missed
// (kSkipped) instead of being queued for without bound. A follower that joins with a cursor
// older than what the channel took in gets the lines in between from the platform's pages
// (Platform::Logs, after=cursor), and a kSkipped for those the platform no longer keeps.
//
// When the upstream drops it is opened again with jittered backoff after the newest seq taken
// in, and any line at or below that seq is dropped: no line is lost or shown twice. A skipped
// message of the platform's passes through; its end message ends every follower (kEnd) once
// each has read what came before it. Upstream trouble reaches every follower as a notice, cleared
// ("") once lines flow again. The upstream closes when the last follower leaves. Every wait for
// time is on the Clock (the backoff), so tests run in simulated time.
//
// Filters (level, since, grep) are each follower's own and apply to lines only.
//
// Thread-safety: everything is thread-safe; a LogFollower is read by one thread at a time, and
// Cancel may come from any. The hub must outlive its followers' Next calls; Shutdown ends them.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/random.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "daemon/auth_manager.h"
#include "daemon/platform.h"

namespace bim::daemon {

// One thing a follower is told.
struct LogItem {
  enum class Kind {
    kLine,     // line
    kSkipped,  // skipped lines will not come (no longer kept, or the follower fell behind)
    kEnd,      // the app's output ended; text says why. Nothing follows.
    kNotice,   // about following (the upstream dropped, reconnecting); text "" once it is over
  };
  Kind kind = Kind::kLine;
  contract::LogLine line;
  int64_t skipped = 0;
  std::string text;
};

// Which lines a reader wants; empty fields select all.
struct LogFilter {
  std::optional<contract::LogLevel> level;  // this level and above
  std::optional<int64_t> since;             // Unix ms: lines at or after it
  std::string grep;                         // a plain substring of the text
  bool Matches(const contract::LogLine& line) const;
};

struct LogHubDeps {
  Platform& platform;
  AuthManager& auth;
  const Clock& clock;
  Random& random;
  std::chrono::milliseconds keepalive{20000};
  std::chrono::milliseconds max_backoff{30000};
  size_t ring_lines = 2000;
};

class LogHub;

class LogFollower {
 public:
  ~LogFollower();  // leaves the channel (the last one closes the upstream)

  // The next item, blocking until there is one: an error when the follower was cancelled
  // (kCancelled), the agent is stopping (kUnavailable), or the platform refused the stream
  // (e.g. kRejected: it does not offer app logs). After kEnd, every call gives kEnd again.
  Result<LogItem> Next();
  // Next without waiting: nullopt when there is nothing yet. May still ask the platform for
  // earlier lines.
  Result<std::optional<LogItem>> TryNext();
  // Wakes Next, which then gives kCancelled.
  void Cancel();
  // The seq of the newest line read (or passed over).
  int64_t cursor();

 private:
  friend class LogHub;
  struct State;
  LogFollower(LogHub& hub, std::shared_ptr<State> state);
  Result<std::optional<LogItem>> Take(bool wait);

  LogHub& hub_;
  std::shared_ptr<State> state_;
};

class LogHub {
 public:
  explicit LogHub(LogHubDeps deps);
  ~LogHub();

  // A follower of deployment_id that has every line up to seq `after`; `first` items are given
  // before anything else (the tail a reader asked for before following).
  std::unique_ptr<LogFollower> Follow(const std::string& deployment_id, int64_t after,
                                      LogFilter filter, std::vector<LogItem> first = {});
  // Ends every follower (kUnavailable, "the agent is stopping") and every upstream; joins them.
  void Shutdown();

  // How many upstream streams are open (deployments followed), and how many followers.
  size_t Upstreams();
  size_t Followers();
  // The newest seq the deployment's channel took in (0: none, or no channel).
  int64_t NewestSeqForTest(const std::string& deployment_id);

 private:
  friend class LogFollower;
  struct Channel;
  struct Entry {
    int64_t first = 0;  // the seq range it covers: one line, or lines skipped upstream
    int64_t last = 0;
    bool is_line = true;
    contract::LogLine line;
  };

  void Run(const std::shared_ptr<Channel>& ch);
  // Locked: takes in one message of the upstream's.
  void TakeLocked(Channel& ch, contract::LogStreamMessage m);
  void SetNoticeLocked(Channel& ch, const std::string& notice);
  void Leave(const std::shared_ptr<Channel>& ch);
  // Joins the upstream threads of channels that were closed; none when `all` is false and they
  // are still running.
  void JoinRetired(bool all);

  LogHubDeps deps_;
  std::mutex mu_;
  std::condition_variable changed_;  // with mu_: a channel took something in, or one ended
  std::map<std::string, std::shared_ptr<Channel>> channels_;  // guarded by mu_
  std::vector<std::shared_ptr<Channel>> retired_;             // guarded by mu_
  size_t followers_ = 0;                                      // guarded by mu_
  bool shut_down_ = false;                                    // guarded by mu_
};

}  // namespace bim::daemon
