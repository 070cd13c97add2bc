#include "daemon/deployment_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/contract.h"

namespace bim::daemon {
namespace {

constexpr const char* kColumns =
    "id, project_id, commit_hash, status, url, directory, api_url, created_at, updated_at, "
    "terminal, last_seq, upstream_seq, log_count, stream_problem";

DeploymentRecord ReadDeployment(const Statement& st) {
  DeploymentRecord d;
  d.id = st.Text(0);
  d.project_id = st.Text(1);
  d.commit_hash = st.Text(2);
  d.status = st.Text(3);
  d.url = st.Text(4);
  d.directory = st.Text(5);
  d.api_url = st.Text(6);
  d.created_at_ms = st.Int(7);
  d.updated_at_ms = st.Int(8);
  d.terminal = st.Int(9) != 0;
  d.last_seq = st.Int(10);
  d.upstream_seq = st.Int(11);
  d.log_count = st.Int(12);
  d.stream_problem = st.Text(13);
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

std::vector<std::string> DecodeLogs(const std::string& text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string EncodeLogs(const std::vector<std::string>& logs) {
  return nlohmann::json(logs).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsTerminalStatus(const std::string& status) {
  auto s = contract::ParseStage(status);
  return s && contract::IsTerminal(*s);
}

}  // namespace

Status DeploymentStore::Insert(const DeploymentRecord& d) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(
      "INSERT OR IGNORE INTO deployments (id, project_id, commit_hash, status, url, directory, "
      "api_url, created_at, updated_at, terminal) VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st->Bind(1, d.id).Bind(2, d.project_id).Bind(3, d.commit_hash).Bind(4, d.status);
  st->Bind(5, d.url).Bind(6, d.directory).Bind(7, d.api_url);
  st->Bind(8, d.created_at_ms).Bind(9, d.updated_at_ms).Bind(10, int64_t{d.terminal ? 1 : 0});
  return st->Run();
}

namespace {

constexpr const char* kPendingColumns =
    "idempotency_key, project_id, commit_hash, directory, api_url, request, created_at";

PendingDeploy PendingFromRow(const Statement& st) {
  PendingDeploy p;
  p.idempotency_key = st.Text(0);
  p.project_id = st.Text(1);
  p.commit_hash = st.Text(2);
  p.directory = st.OptText(3).value_or("");
  p.api_url = st.Text(4);
  p.request = st.Text(5);
  p.created_at_ms = st.Int(6);
  return p;
}

}  // namespace

Status DeploymentStore::AddPending(const PendingDeploy& p) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("INSERT OR REPLACE INTO pending_deploys (") + kPendingColumns +
                        ") VALUES (?,?,?,?,?,?,?)");
  if (!st.ok()) return st.error();
  st->Bind(1, p.idempotency_key).Bind(2, p.project_id).Bind(3, p.commit_hash);
  st->Bind(4, p.directory).Bind(5, p.api_url).Bind(6, p.request).Bind(7, p.created_at_ms);
  return st->Run();
}

Result<std::optional<PendingDeploy>> DeploymentStore::FindPending(const std::string& project_id,
                                                                  const std::string& commit_hash,
                                                                  const std::string& api_url) {
  std::lock_guard lock(db_.mutex());
  auto st = db_.Prepare(std::string("SELECT ") + kPendingColumns +
                        " FROM pending_deploys WHERE project_id = ? AND commit_hash = ? AND "
                        "api_url = ? ORDER BY created_at DESC LIMIT 1");
  if (!st.ok()) return st.error();
  st->Bind(1, project_id).Bind(2, commit_hash).Bind(3, api_url);
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
                                                            int limit) {
  std::lock_guard lock(db_.mutex());
  std::string sql = std::string("SELECT ") + kColumns + " FROM deployments";
  sql += project_id.empty() ? " ORDER BY created_at DESC, rowid DESC LIMIT ?"
                            : " WHERE project_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?";
  auto st = db_.Prepare(sql);
  if (!st.ok()) return st.error();
  int i = 1;
  if (!project_id.empty()) st->Bind(i++, project_id);
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

Result<EventRecord> DeploymentStore::Append(const std::string& deployment_id, const NewEvent& e) {
  std::lock_guard lock(db_.mutex());
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s.ok()) return s.error();

  auto cur = db_.Prepare("SELECT last_seq, log_count, upstream_seq FROM deployments WHERE id = ?");
  if (!cur.ok()) return cur.error();
  cur->Bind(1, deployment_id);
  auto row = cur->Step();
  if (!row.ok()) return row.error();
  if (!*row) return Error(ErrorCode::kNotFound, "unknown deployment " + deployment_id);
  int64_t seq = cur->Int(0) + 1;
  int64_t log_count = cur->Int(1) + static_cast<int64_t>(e.logs.size());
  int64_t upstream_seq = e.upstream_seq.value_or(cur->Int(2));

  EventRecord ev;
  ev.deployment_id = deployment_id;
  ev.seq = seq;
  ev.status = e.status;
  ev.logs = e.logs;
  ev.url = e.url;
  ev.source = e.source;
  ev.received_at_ms = clock_.NowUnixMs();
  ev.terminal = IsTerminalStatus(e.status);

  auto ins = db_.Prepare(
      "INSERT INTO events (deployment_id, seq, status, logs, url, source, received_at) "
      "VALUES (?,?,?,?,?,?,?)");
  if (!ins.ok()) return ins.error();
  ins->Bind(1, deployment_id).Bind(2, seq).Bind(3, e.status).Bind(4, EncodeLogs(e.logs));
  ins->Bind(5, e.url).Bind(6, e.source).Bind(7, ev.received_at_ms);
  if (auto s = ins->Run(); !s.ok()) return s.error();

  auto upd = db_.Prepare(
      "UPDATE deployments SET status = ?, url = CASE WHEN ? = '' THEN url ELSE ? END, "
      "terminal = ?, last_seq = ?, upstream_seq = ?, log_count = ?, updated_at = ?, "
      "stream_problem = CASE WHEN ? != '' THEN ? WHEN ? THEN NULL ELSE stream_problem END "
      "WHERE id = ?");
  if (!upd.ok()) return upd.error();
  upd->Bind(1, e.status).Bind(2, e.url).Bind(3, e.url).Bind(4, int64_t{ev.terminal ? 1 : 0});
  upd->Bind(5, seq).Bind(6, upstream_seq).Bind(7, log_count).Bind(8, ev.received_at_ms);
  upd->Bind(9, e.problem).Bind(10, e.problem).Bind(11, int64_t{ev.terminal ? 1 : 0});
  upd->Bind(12, deployment_id);
  if (auto s = upd->Run(); !s.ok()) return s.error();

  if (auto s = tx.Commit(); !s.ok()) return s.error();
  RememberLocked(ev);
  return ev;
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
      "SELECT seq, status, logs, url, source, received_at FROM events "
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
    ev.status = st->Text(1);
    ev.logs = DecodeLogs(st->Text(2));
    ev.url = st->Text(3);
    ev.source = st->Text(4);
    ev.received_at_ms = st->Int(5);
    ev.terminal = IsTerminalStatus(ev.status);
    out.push_back(std::move(ev));
  }
  return out;
}

Result<std::vector<std::string>> DeploymentStore::Logs(const std::string& deployment_id) {
  std::vector<std::string> logs;
  int64_t after = 0;
  while (true) {
    auto batch = EventsAfter(deployment_id, after, 256);
    if (!batch.ok()) return batch.error();
    if (batch->empty()) break;
    for (auto& ev : *batch) {
      for (auto& l : ev.logs) logs.push_back(std::move(l));
      after = ev.seq;
    }
  }
  return logs;
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
