#include "daemon/deployment_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/contract.h"
#include "common/log.h"

namespace bim::daemon {
namespace {

// Each source and its stored name: the one table both directions read.
constexpr std::array<std::pair<EventSource, std::string_view>, 4> kSourceNames{{
    {EventSource::kStream, "stream"},
    {EventSource::kPoll, "poll"},
    {EventSource::kDeploy, "deploy"},
    {EventSource::kUnknown, "unknown"},
}};

}  // namespace

std::string_view EventSourceName(EventSource s) {
  for (const auto& [source, name] : kSourceNames) {
    if (source == s) return name;
  }
  return "unknown";
}

EventSource ParseEventSource(std::string_view name) {
  for (const auto& [source, n] : kSourceNames) {
    if (n == name) return source;
  }
  return EventSource::kUnknown;
}

namespace {

std::optional<std::string> NullIfEmpty(const std::string& v) {
  return v.empty() ? std::nullopt : std::optional(v);
}

constexpr const char* kColumns =
    "id, project_id, commit_hash, status, url, directory, api_url, created_at, updated_at, "
    "terminal, last_seq, upstream_seq, log_count, stream_problem, log_lines, log_bytes, "
    "over_budget, restored_of, environment, promoted_of";

// A deployment's status column (see DeploymentRecord::status).
contract::Stage DeploymentStage(const std::string& name, bool terminal) {
  return contract::ParseStage(name).value_or(terminal ? contract::Stage::kFailed
                                                      : contract::Stage::kQueued);
}

DeploymentRecord ReadDeployment(const Statement& st) {
  DeploymentRecord d;
  d.id = st.Text(0);
  d.project_id = st.Text(1);
  d.commit_hash = st.Text(2);
  d.terminal = st.Int(9) != 0;
  d.status = DeploymentStage(st.Text(3), d.terminal);
  d.url = st.Text(4);
  d.directory = st.Text(5);
  d.api_url = st.Text(6);
  d.created_at_ms = st.Int(7);
  d.updated_at_ms = st.Int(8);
  d.last_seq = st.Int(10);
  d.upstream_seq = st.Int(11);
  d.log_count = st.Int(12);
  d.stream_problem = st.Text(13);
  d.log_lines = st.Int(14);
  d.log_bytes = st.Int(15);
  d.over_budget = st.Int(16) != 0;
  d.restored_of = st.OptText(17).value_or("");
  d.environment = st.OptText(18).value_or("");
  d.promoted_of = st.OptText(19).value_or("");
  return d;
}

Result<std::vector<DeploymentRecord>> ReadDeployments(Statement& st) {
  std::vector<DeploymentRecord> out;
  while (true) {
    auto row = st.Step();
    if (!row.ok()) return row.error();
    if (!*row) return out;
    out.push_back(ReadDeployment(st));
  }
}

// Room kept in a deployment's budget for OverBudgetNote, so that the note never passes it.
constexpr int64_t kNoteReserveBytes = 512;

// A line cut to limits::kMaxLogLineBytes, the note at its end included.
std::string CutLine(std::string line) {
  if (line.size() <= limits::kMaxLogLineBytes) return line;
  std::string note = fmt::format(" [backend-im] line of {} bytes cut to {}", line.size(),
                                 limits::Describe(limits::kMaxLogLineBytes));
  line.resize(limits::Utf8CutPoint(line, limits::kMaxLogLineBytes - note.size()));
  return line + note;
}

// At most max_lines lines of one event, each cut; the last says how many more there were.
std::vector<std::string> EventLines(std::vector<std::string> lines,
                                    size_t max_lines = limits::kMaxLogLinesPerEvent) {
  std::vector<std::string> out;
  size_t keep = lines.size() <= max_lines ? lines.size() : max_lines - 1;
  out.reserve(std::min(lines.size(), max_lines));
  for (size_t i = 0; i < keep; ++i) out.push_back(CutLine(std::move(lines[i])));
  if (keep < lines.size()) {
    out.push_back(
        fmt::format("[backend-im] {} more log lines of this event not kept: the agent "
                    "keeps {} per event",
                    lines.size() - keep, max_lines));
  }
  return out;
}

// Stored logs are what Append kept; a row longer than any Append writes (escapes included) is
// from before the limits, and is not even parsed.
std::vector<std::string> DecodeLogs(const std::string& text) {
  constexpr size_t kMaxRowBytes = 8 * static_cast<size_t>(limits::kMaxLogBytesPerDeployment);
  if (text.size() > kMaxRowBytes) {
    return {
        fmt::format("[backend-im] {} bytes of log lines stored before the agent had limits; "
                    "not shown",
                    text.size())};
  }
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (auto& e : j) {
    if (e.is_string()) out.push_back(std::move(e.get_ref<std::string&>()));
  }
  // Append may end an event's kMaxLogLinesPerEvent lines with OverBudgetNote.
  return EventLines(std::move(out), limits::kMaxLogLinesPerEvent + 1);
}

std::string EncodeLogs(const std::vector<std::string>& logs) {
  return nlohmann::json(logs).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// An event read back: its body when it has one; else (a row from before bodies were stored, or
// a body this agent cannot read) its status and url columns.
contract::StageEvent StoredEvent(const std::string& deployment_id, int64_t seq,
                                 const std::string& status, std::vector<std::string> logs,
                                 const std::string& url, const std::optional<std::string>& body) {
  if (body) {
    auto e = contract::ParseEventBody(*body, logs);
    if (e.ok()) return std::move(*e);
    log::Warn(
        "deployment {}: event {} is stored in a form this agent cannot read ({}); showing "
        "its status",
        deployment_id, seq, e.error().message);
  }
  contract::StageEvent e;
  // The agent writes only stages it knows; one it does not is shown as the failure it would be.
  e.status = contract::ParseStage(status).value_or(contract::Stage::kFailed);
  e.logs = std::move(logs);
  if (!url.empty()) e.url = url;
  return e;
}

}  // namespace

std::string OverBudgetNote() {
  return fmt::format(
      "[backend-im] this deployment passed what the agent keeps of one deployment ({} events, "
      "{} log lines, {} of logs): later log lines are not kept, only status changes",
      limits::kMaxEventsPerDeployment, limits::kMaxLogLinesPerDeployment,
      limits::Describe(static_cast<size_t>(limits::kMaxLogBytesPerDeployment)));
}

Status DeploymentStore::Insert(const DeploymentRecord& d) {
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"projectId", d.project_id},
        std::pair<const char*, const std::string&>{"commitHash", d.commit_hash}}) {
    if (value.size() > limits::kMaxNameBytes) {
      return Error(ErrorCode::kProtocol,
                   fmt::format("the platform's {} for deployment {} is {} bytes, over the limit "
                               "of {}; ignored",
                               name, d.id, value.size(), limits::Describe(limits::kMaxNameBytes)));
    }
  }
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "INSERT OR IGNORE INTO deployments (id, project_id, commit_hash, status, url, directory, "
      "api_url, created_at, updated_at, terminal, restored_of, environment, promoted_of) VALUES "
      "(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st->Bind(1, d.id).Bind(2, d.project_id).Bind(3, d.commit_hash);
  st->Bind(4, contract::StageName(d.status));
  st->Bind(5, d.url).Bind(6, d.directory).Bind(7, d.api_url);
  st->Bind(8, d.created_at_ms).Bind(9, d.updated_at_ms).Bind(10, int64_t{d.terminal ? 1 : 0});
  st->BindOptional(11, NullIfEmpty(d.restored_of));
  st->BindOptional(12, NullIfEmpty(d.environment));
  st->BindOptional(13, NullIfEmpty(d.promoted_of));
  return st->Run();
}

namespace {

constexpr const char* kPendingColumns =
    "idempotency_key, project_id, commit_hash, directory, api_url, request, created_at, "
    "restored_of, environment, promoted_of";

PendingDeploy PendingFromRow(const Statement& st) {
  PendingDeploy p;
  p.idempotency_key = st.Text(0);
  p.project_id = st.Text(1);
  p.commit_hash = st.Text(2);
  p.directory = st.OptText(3).value_or("");
  p.api_url = st.Text(4);
  p.request = st.Text(5);
  p.created_at_ms = st.Int(6);
  p.restored_of = st.OptText(7).value_or("");
  p.environment = st.OptText(8).value_or("");
  p.promoted_of = st.OptText(9).value_or("");
  return p;
}

}  // namespace

Status DeploymentStore::AddPending(const PendingDeploy& p) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("INSERT OR REPLACE INTO pending_deploys (") + kPendingColumns +
                        ") VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st->Bind(1, p.idempotency_key).Bind(2, p.project_id).Bind(3, p.commit_hash);
  st->Bind(4, p.directory).Bind(5, p.api_url).Bind(6, p.request).Bind(7, p.created_at_ms);
  st->BindOptional(8, NullIfEmpty(p.restored_of));
  st->BindOptional(9, NullIfEmpty(p.environment));
  st->BindOptional(10, NullIfEmpty(p.promoted_of));
  return st->Run();
}

Result<std::optional<PendingDeploy>> DeploymentStore::FindPending(const PendingDeploy& like) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kPendingColumns +
                        " FROM pending_deploys WHERE project_id = ? AND commit_hash = ? AND "
                        "api_url = ? AND COALESCE(environment, '') = ? AND "
                        "COALESCE(promoted_of, '') = ? ORDER BY created_at DESC LIMIT 1");
  if (!st.ok()) return st.error();
  st->Bind(1, like.project_id).Bind(2, like.commit_hash).Bind(3, like.api_url);
  st->Bind(4, like.environment).Bind(5, like.promoted_of);
  auto row = st->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<PendingDeploy>();
  return std::optional<PendingDeploy>(PendingFromRow(*st));
}

Result<std::vector<PendingDeploy>> DeploymentStore::ListPending() {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kPendingColumns +
                        " FROM pending_deploys ORDER BY created_at");
  if (!st.ok()) return st.error();
  std::vector<PendingDeploy> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) return row.error();
    if (!*row) return out;
    out.push_back(PendingFromRow(*st));
  }
}

Status DeploymentStore::RemovePending(const std::string& idempotency_key) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("DELETE FROM pending_deploys WHERE idempotency_key = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, idempotency_key);
  return st->Run();
}

Status DeploymentStore::RecordCreated(const DeploymentRecord& d,
                                      const std::string& idempotency_key) {
  if (auto s = Insert(d); !s.ok()) return s;
  return RemovePending(idempotency_key);
}

Result<std::optional<DeploymentRecord>> DeploymentStore::Get(const std::string& id) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kColumns + " FROM deployments WHERE id = ?");
  if (!st.ok()) return st.error();
  st->Bind(1, id);
  auto row = st->Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<DeploymentRecord>();
  return std::optional<DeploymentRecord>(ReadDeployment(*st));
}

Result<std::vector<DeploymentRecord>> DeploymentStore::List(const std::string& project_id,
                                                            int limit,
                                                            const std::string& environment) {
  std::lock_guard lock(db_.mutex());
  std::string sql = std::string("SELECT ") + kColumns + " FROM deployments";
  if (!project_id.empty()) sql += " WHERE project_id = ?";
  if (!environment.empty())
    sql += project_id.empty() ? " WHERE environment = ?" : " AND environment = ?";
  // Newest first in the order this agent recorded them, not by created_at: a clock that was set
  // wrong (years ahead, say) for one deploy would keep that deployment on top for good.
  sql += " ORDER BY rowid DESC LIMIT ?";
  auto st = db_.Prepare(sql);
  if (!st.ok()) return st.error();
  int i = 1;
  if (!project_id.empty()) st->Bind(i++, project_id);
  if (!environment.empty()) st->Bind(i++, environment);
  st->Bind(i, int64_t{limit});
  return ReadDeployments(*st);
}

Result<std::vector<DeploymentRecord>> DeploymentStore::ListActive() {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kColumns +
                        " FROM deployments WHERE terminal = 0 ORDER BY created_at");
  if (!st.ok()) return st.error();
  return ReadDeployments(*st);
}

Result<Appended> DeploymentStore::Append(const std::string& deployment_id, const NewEvent& e) {
  std::lock_guard lock(db_.mutex());
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s.ok()) return s.error();

  auto cur = db_.Prepare(
      "SELECT last_seq, log_count, upstream_seq, status, log_lines, log_bytes, over_budget, "
      "terminal FROM deployments WHERE id = ?");
  if (!cur.ok()) return cur.error();
  cur->Bind(1, deployment_id);
  auto row = cur->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error(ErrorCode::kNotFound, "unknown deployment " + deployment_id);
  const int64_t last_seq = cur->Int(0);
  int64_t seq = last_seq + 1;
  const std::string_view status = contract::StageName(e.event.status);
  const int rank = contract::StageRank(e.event.status);
  const bool ended = cur->Int(7) != 0;
  const int current_rank = contract::StageRank(DeploymentStage(cur->Text(3), ended));
  // Before its first event, a deployment's status is only what the deploy answer said: any
  // stage may be its first event.
  const int stored_rank = last_seq > 0 ? current_rank : -1;
  const int64_t taken_lines = cur->Int(1);
  const int64_t taken_seq = cur->Int(2);

  // Is it new? Skipped events change nothing, so a replay or a poll can offer them again.
  Appended skip;
  skip.skipped = Appended::Skipped::kSeen;
  Appended already_ended;
  already_ended.skipped = Appended::Skipped::kEnded;
  std::vector<std::string> fresh_logs;  // kPoll: the lines beyond those taken in
  switch (e.newness) {
    case Newness::kAlways:
      break;
    case Newness::kStream:
      if (ended) return already_ended;
      if (e.upstream_seq) {
        if (*e.upstream_seq <= taken_seq) return skip;
        if (rank < stored_rank) {
          skip.skipped = Appended::Skipped::kBack;
          return skip;
        }
      } else if (rank <= stored_rank) {
        return skip;
      }
      break;
    case Newness::kPoll:
      if (ended) return already_ended;
      if (rank < stored_rank) return skip;
      if (static_cast<int64_t>(e.event.logs.size()) > taken_lines) {
        fresh_logs.assign(e.event.logs.begin() + taken_lines, e.event.logs.end());
      }
      if (rank == stored_rank && fresh_logs.empty()) return skip;
      break;
  }
  const std::vector<std::string>& platform_logs =
      e.newness == Newness::kPoll ? fresh_logs : e.event.logs;
  int64_t log_count = taken_lines + static_cast<int64_t>(platform_logs.size());
  int64_t upstream_seq = e.upstream_seq.value_or(taken_seq);
  bool status_change = rank > current_rank;
  int64_t log_lines = cur->Int(4);
  int64_t log_bytes = cur->Int(5);
  bool over = cur->Int(6) != 0;

  // Over budget, only a status change is worth a row. Nothing is written for anything else, not
  // even that it was seen: a platform flooding a deployment must not cost a write per message.
  // A replay or poll after a reconnect offers it again, and it is dropped again.
  if (over && !status_change) return Appended{};

  EventRecord ev;
  ev.deployment_id = deployment_id;
  ev.seq = seq;
  ev.event = e.event;
  ev.event.logs.clear();  // what the budgets keep of them, below
  ev.source = e.source;
  ev.received_at_ms = clock_.NowUnixMs();
  ev.terminal = contract::IsTerminal(e.event.status);
  std::vector<std::string> lines;
  if (e.event.url && e.event.url->size() > limits::kMaxUrlBytes) {
    ev.event.url.reset();
    lines.push_back(
        fmt::format("[backend-im] the platform's URL for this deployment was {} "
                    "bytes, over the limit of {}; not kept",
                    e.event.url->size(), limits::Describe(limits::kMaxUrlBytes)));
  }
  const std::string url = ev.event.url.value_or("");
  lines.insert(lines.end(), platform_logs.begin(), platform_logs.end());

  // Lines are kept while the deployment's budget has room for them and the note; the first one
  // that does not fit ends its logs.
  bool went_over = false;
  if (!over) {
    for (auto& line : EventLines(std::move(lines))) {
      if (log_lines + 2 > limits::kMaxLogLinesPerDeployment ||
          log_bytes + static_cast<int64_t>(line.size()) + kNoteReserveBytes >
              limits::kMaxLogBytesPerDeployment) {
        went_over = true;
        break;
      }
      log_lines += 1;
      log_bytes += static_cast<int64_t>(line.size());
      ev.event.logs.push_back(std::move(line));
    }
    if (seq >= limits::kMaxEventsPerDeployment) went_over = true;
    if (went_over) {
      ev.event.logs.push_back(OverBudgetNote());
      log_lines += 1;
      log_bytes += static_cast<int64_t>(ev.event.logs.back().size());
      over = true;
    }
  }

  auto ins = db_.Prepare(
      "INSERT INTO events (deployment_id, seq, status, logs, url, source, received_at, body) "
      "VALUES (?,?,?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins->Bind(1, deployment_id).Bind(2, seq).Bind(3, status).Bind(4, EncodeLogs(ev.event.logs));
  ins->Bind(5, url).Bind(6, EventSourceName(e.source)).Bind(7, ev.received_at_ms);
  ins->Bind(8, contract::EventBodyJson(ev.event));
  if (auto s = ins->Run(); !s.ok()) return s.error();

  auto upd = db_.Prepare(
      "UPDATE deployments SET status = ?, url = CASE WHEN ? = '' THEN url ELSE ? END, "
      "terminal = ?, last_seq = ?, upstream_seq = ?, log_count = ?, updated_at = ?, "
      "stream_problem = CASE WHEN ? != '' THEN ? WHEN ? THEN NULL ELSE stream_problem END, "
      "log_lines = ?, log_bytes = ?, over_budget = ? WHERE id = ?");
  if (!upd.ok()) return upd.error();
  upd->Bind(1, status).Bind(2, url).Bind(3, url).Bind(4, int64_t{ev.terminal ? 1 : 0});
  upd->Bind(5, seq).Bind(6, upstream_seq).Bind(7, log_count).Bind(8, ev.received_at_ms);
  upd->Bind(9, e.problem).Bind(10, e.problem).Bind(11, int64_t{ev.terminal ? 1 : 0});
  upd->Bind(12, log_lines).Bind(13, log_bytes).Bind(14, int64_t{over ? 1 : 0});
  upd->Bind(15, deployment_id);
  if (auto s = upd->Run(); !s.ok()) return s.error();

  if (auto s = tx.Commit(); !s.ok()) return s.error();
  RememberLocked(ev);
  Appended done;
  done.event = std::move(ev);
  done.went_over_budget = went_over;
  return done;
}

void DeploymentStore::RememberLocked(const EventRecord& ev) {
  std::lock_guard lock(tail_mu_);
  auto& tail = tails_[ev.deployment_id];
  tail.push_back(ev);
  if (tail.size() > kTailEvents) tail.pop_front();
  if (tails_.size() <= kTailDeployments) return;
  // Over the cap: forget a finished deployment's tail if there is one, else any other.
  auto victim = tails_.begin();
  for (auto it = tails_.begin(); it != tails_.end(); ++it) {
    if (it->first != ev.deployment_id && it->second.back().terminal) {
      victim = it;
      break;
    }
  }
  if (victim->first == ev.deployment_id) victim = std::next(victim);
  tails_.erase(victim);
}

std::optional<std::vector<EventRecord>> DeploymentStore::FromTail(const std::string& deployment_id,
                                                                  int64_t after_seq, int limit) {
  std::lock_guard lock(tail_mu_);
  auto it = tails_.find(deployment_id);
  if (it == tails_.end() || it->second.empty() || after_seq + 1 < it->second.front().seq) {
    return std::nullopt;
  }
  const auto& tail = it->second;
  std::vector<EventRecord> out;
  size_t first = static_cast<size_t>(std::max<int64_t>(0, after_seq + 1 - tail.front().seq));
  for (size_t i = first; i < tail.size() && static_cast<int>(out.size()) < limit; ++i) {
    out.push_back(tail[i]);
  }
  return out;
}

Result<std::vector<EventRecord>> DeploymentStore::EventsAfter(const std::string& deployment_id,
                                                              int64_t after_seq, int limit) {
  if (auto cached = FromTail(deployment_id, after_seq, limit)) return std::move(*cached);
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "SELECT seq, status, logs, url, source, received_at, body FROM events "
      "WHERE deployment_id = ? AND seq > ? ORDER BY seq LIMIT ?");
  if (!st.ok()) return st.error();
  st->Bind(1, deployment_id).Bind(2, after_seq).Bind(3, int64_t{limit});
  std::vector<EventRecord> out;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    EventRecord ev;
    ev.deployment_id = deployment_id;
    ev.seq = st->Int(0);
    ev.event = StoredEvent(deployment_id, ev.seq, st->Text(1), DecodeLogs(st->Text(2)), st->Text(3),
                           st->OptText(6));
    ev.source = ParseEventSource(st->Text(4));
    ev.received_at_ms = st->Int(5);
    ev.terminal = contract::IsTerminal(ev.event.status);
    out.push_back(std::move(ev));
  }
  return out;
}

Result<LogText> DeploymentStore::Logs(const std::string& deployment_id, std::size_t max_bytes) {
  LogText out;
  size_t used = 0;
  int64_t after = 0;
  while (!out.truncated) {
    auto batch = EventsAfter(deployment_id, after, 256);
    if (!batch.ok()) return batch.error();
    if (batch->empty()) break;
    for (auto& ev : *batch) {
      for (auto& l : ev.event.logs) {
        used += l.size() + limits::kReplyLineOverhead;
        if (used > max_bytes) {
          out.truncated = true;
          break;
        }
        out.lines.push_back(std::move(l));
      }
      if (out.truncated) break;
      after = ev.seq;
    }
  }
  return out;
}

Status DeploymentStore::SetStreamProblem(const std::string& deployment_id,
                                         const std::string& problem) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare("UPDATE deployments SET stream_problem = ? WHERE id = ?");
  if (!st.ok()) return st.error();
  if (problem.empty()) {
    st->BindNull(1);
  } else {
    st->Bind(1, problem);
  }
  st->Bind(2, deployment_id);
  return st->Run();
}

}  // namespace bim::daemon
