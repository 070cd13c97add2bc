#pragma once
// The agent's deployment history: one row per deployment and an append-only log of its
// events, each with a per-deployment sequence number 1, 2, 3... with no gaps.
//
// Events are written here before any watcher sees them (WatchHub only says "something new");
// watchers read from here by cursor, so a late or slow watcher replays and never loses one.
// Thread-safe: every method takes the Database mutex, except that EventsAfter answers from
// an in-memory tail of recent events when it can (tail_mu_ only), so many watchers of a live
// deployment read memory instead of SQLite.
//
// Budgets (common/limits.h), so that a platform cannot fill the disk: a log line longer than
// kMaxLogLineBytes is cut, an event keeps at most kMaxLogLinesPerEvent lines, and each cut says
// so in a line of its own that starts "[backend-im]". A deployment keeps at most
// kMaxEventsPerDeployment events and kMaxLogLinesPerDeployment / kMaxLogBytesPerDeployment of
// log text; the append that passes either ends its logs with OverBudgetNote(), and from then on
// only status changes are stored, without log lines, so the deployment still reaches complete
// or failed. Names (projectId, commitHash) over kMaxNameBytes are refused, a URL over
// kMaxUrlBytes is left out. Reads bound what they return as well, for databases written
// before these limits.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/limits.h"
#include "common/result.h"
#include "daemon/database.h"

namespace bim::daemon {

// Where the agent learned an event. Strings only at the edges: the events table's source column
// and the proto's DeploymentEvent.source hold its name (EventSourceName), and logs show it.
enum class EventSource {
  kStream,  // "stream": a stage message on the platform's WebSocket
  kPoll,    // "poll": a status answer (GET /api/status)
  kDeploy,  // "deploy": the deploy answer, for a deployment that had ended already
  // "unknown": what a stored name this agent does not know reads as (a row it did not write);
  // the agent itself never stores it.
  kUnknown,
};

std::string_view EventSourceName(EventSource s);
// The source a stored name stands for: kUnknown for any name but the ones above.
EventSource ParseEventSource(std::string_view name);

struct DeploymentRecord {
  std::string id;
  std::string project_id;
  std::string commit_hash;
  // Stored by its name (contract::StageName). A name this agent does not know (a later agent's
  // stage, a hand edit) reads back as the stage that agrees with `terminal`: kFailed for a
  // deployment that has ended, as an event's unknown stage reads; kQueued for one still followed,
  // so that any stage the platform reports moves it on.
  contract::Stage status = contract::Stage::kQueued;
  std::string url;
  std::string directory;
  std::string api_url;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  bool terminal = false;
  int64_t last_seq = 0;
  int64_t upstream_seq = 0;  // the platform's seq of the newest message taken in; 0 = none
  int64_t log_count = 0;     // how many of the platform's log lines were taken in (kept or not)
  std::string stream_problem;
  int64_t log_lines = 0;     // log lines stored, the agent's notes included
  int64_t log_bytes = 0;     // their bytes
  bool over_budget = false;  // passed a budget: only status changes are stored from now on
  std::string restored_of;   // a rollback: the deployment whose files it deployed again
  // Where it went, as the platform named it (or as it was asked for); empty: a platform without
  // environments, or a deploy that named none to one that did not say.
  std::string environment;
  std::string promoted_of;  // a promote: the deployment whose files it started here
};

// A stored event: what the platform said (the contract's StageEvent, kept whole, whatever
// fields it has: see EventBodyJson) and where and when the agent learned it.
struct EventRecord {
  std::string deployment_id;
  int64_t seq = 0;
  contract::StageEvent event;
  EventSource source = EventSource::kUnknown;
  int64_t received_at_ms = 0;
  bool terminal = false;
};

// How Append decides whether an event is new. The store is the one keeper of what a deployment
// has taken in (the platform's newest seq, how many of its log lines, the newest stage), so the
// decision is made in the same transaction that stores the event, and no copy of that state can
// go stale elsewhere.
enum class Newness {
  // The agent's own record of a platform answer (a deploy answer, a lookup): stored as it is.
  kAlways,
  // A stage message: new when its seq is above the newest taken in (and then it must not go back
  // a stage); without seq (a seed-only platform), when its stage is later than the newest stored.
  kStream,
  // A status answer, which carries every log line so far: new when its stage is later, or when it
  // has log lines beyond those taken in; only those lines are stored.
  kPoll,
};

struct NewEvent {
  contract::StageEvent event;
  EventSource source = EventSource::kUnknown;  // each maker names it
  std::optional<int64_t> upstream_seq;
  Newness newness = Newness::kAlways;
  // Why a terminal event is not what it seems (a complete deployment whose URL the agent
  // refused): stored as the deployment's stream_problem in the same transaction, so nobody
  // who sees the event can read the deployment without it. Empty: none.
  std::string problem = {};
};

// A create sent to the platform, not yet answered (see pending_deploys in database.cc).
struct PendingDeploy {
  std::string idempotency_key;
  std::string project_id;
  std::string commit_hash;  // of the files: the same deploy run again reuses the key
  std::string directory;
  std::string api_url;
  std::string request;  // the exact JSON body
  int64_t created_at_ms = 0;
  std::string restored_of;  // a rollback: the deployment whose files it sends again
  std::string environment;  // the environment asked for; empty: the platform's default
  // A promote of this deployment: request is the promote's body, sent to its promote endpoint.
  std::string promoted_of;
};

// What Append did with an event.
struct Appended {
  enum class Skipped {
    kNo,     // taken in (stored, or over the budget and counted)
    kSeen,   // not new (see Newness): nothing written
    kEnded,  // the deployment has ended already (its terminal event is stored): nothing written
    kBack,   // a stage message with a new seq that goes back a stage: nothing written
  };
  Skipped skipped = Skipped::kNo;
  // The stored event; nullopt when the deployment is over its budget and the event changes no
  // status, so nothing was written.
  std::optional<EventRecord> event;
  // True on the one append that put the deployment over its budget.
  bool went_over_budget = false;
};

// Log lines and whether some were left out.
struct LogText {
  std::vector<std::string> lines;
  bool truncated = false;
};

// The line that ends a deployment's logs when it passes its budget, and the watcher's note.
std::string OverBudgetNote();

class DeploymentStore {
 public:
  DeploymentStore(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Records a deployment the platform accepted; a second insert of the same id is a no-op.
  // A projectId or commitHash over limits::kMaxNameBytes is a kProtocol error.
  Status Insert(const DeploymentRecord& d);
  Result<std::optional<DeploymentRecord>> Get(const std::string& id);
  // Newest first. project_id empty: all projects; environment empty: every environment.
  Result<std::vector<DeploymentRecord>> List(const std::string& project_id, int limit,
                                             const std::string& environment = "");
  Result<std::vector<DeploymentRecord>> ListActive();

  // Appends what the budgets keep of an event, if it is new (NewEvent::newness), and moves the
  // deployment on, in one transaction.
  Result<Appended> Append(const std::string& deployment_id, const NewEvent& e);
  // Events with seq > after_seq, oldest first, at most limit.
  Result<std::vector<EventRecord>> EventsAfter(const std::string& deployment_id, int64_t after_seq,
                                               int limit);
  // A deployment's log lines in order, up to max_bytes of them (each line counting
  // limits::kReplyLineOverhead more), so that a reply always fits in one gRPC message.
  Result<LogText> Logs(const std::string& deployment_id,
                       std::size_t max_bytes = limits::kMaxReplyLogBytes);
  Status SetStreamProblem(const std::string& deployment_id, const std::string& problem);

  // Creates sent to the platform and not yet answered. Written before the request goes out.
  Status AddPending(const PendingDeploy& p);
  // The pending create like this one (the same files for the same project, platform and
  // environment; a promote of the same deployment), if any.
  Result<std::optional<PendingDeploy>> FindPending(const PendingDeploy& like);
  Result<std::vector<PendingDeploy>> ListPending();
  Status RemovePending(const std::string& idempotency_key);
  // Records the deployment a pending create made, then forgets the create. After a crash in
  // between, the create is sent again with its key, answered with the same deployment, and
  // recorded once.
  Status RecordCreated(const DeploymentRecord& d, const std::string& idempotency_key);

 private:
  // The newest events of deployments appended to since the agent started. A tail always ends
  // at the deployment's newest stored event and has no gaps, so it can answer any read whose
  // cursor is at or after its first event minus one; older cursors go to SQLite.
  static constexpr size_t kTailEvents = 64;
  static constexpr size_t kTailDeployments = 256;
  void RememberLocked(const EventRecord& ev);  // holds db mutex; takes tail_mu_
  std::optional<std::vector<EventRecord>> FromTail(const std::string& deployment_id,
                                                   int64_t after_seq, int limit);

  Database& db_;
  const Clock& clock_;
  std::mutex tail_mu_;
  std::map<std::string, std::deque<EventRecord>> tails_;  // guarded by tail_mu_
};

}  // namespace bim::daemon
