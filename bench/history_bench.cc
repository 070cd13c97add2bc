// (4) History at scale: the same ctl queries against an agent whose database holds 100 000
// deployments and 1 000 000 events, and against one with 100 and 1 000, interleaved. The
// databases are written directly (the agent's own schema, via Database::Open) before the agent
// starts; every deployment is terminal and has the agent's api_url, so nothing resumes.

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <stdexcept>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"
#include "daemon/database.h"

namespace bim::bench {
namespace {

constexpr int kEventsPerDeployment = 10;
constexpr int kDeploymentsPerProject = 10;

std::string DeploymentId(int i) { return fmt::format("dep-{:07d}", i); }
std::string ProjectId(int i) { return fmt::format("proj-{:06d}", i / kDeploymentsPerProject); }

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(fmt::format("{}: {}", what, sqlite3_errmsg(db)));
  }
}

void Populate(const std::string& path, const std::string& api_url, int deployments) {
  auto opened = daemon::Database::Open(path);  // creates the agent's schema
  if (!opened.ok()) throw std::runtime_error(opened.error().message);
  sqlite3* db = (*opened)->handle();
  Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
  sqlite3_stmt* dep = nullptr;
  sqlite3_stmt* ev = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "INSERT INTO deployments (id, project_id, commit_hash, status, url, "
                           "directory, api_url, created_at, updated_at, terminal, last_seq, "
                           "upstream_seq, log_count) VALUES (?,?,?,'complete',?,'/tmp/app',?,?,?,"
                           "1,?,?,?)",
                           -1, &dep, nullptr),
        db, "prepare");
  Check(sqlite3_prepare_v2(db,
                           "INSERT INTO events (deployment_id, seq, status, logs, url, source, "
                           "received_at) VALUES (?,?,?,?,?,'stream',?)",
                           -1, &ev, nullptr),
        db, "prepare");
  const int64_t base_ms = 1'700'000'000'000;
  const char* stages[] = {"queued",       "committing", "creating_namespace", "creating_pvc",
                          "building",     "deploying",  "health_check",       "health_check",
                          "health_check", "complete"};
  for (int i = 0; i < deployments; ++i) {
    std::string id = DeploymentId(i), project = ProjectId(i);
    std::string commit = fmt::format("{:040x}", i);
    std::string url = "https://" + commit + ".backend.im";
    int64_t created = base_ms + int64_t{i} * 60'000;
    sqlite3_bind_text(dep, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(dep, 2, project.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(dep, 3, commit.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(dep, 4, url.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(dep, 5, api_url.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(dep, 6, created);
    sqlite3_bind_int64(dep, 7, created + 10'000);
    sqlite3_bind_int64(dep, 8, kEventsPerDeployment);
    sqlite3_bind_int64(dep, 9, kEventsPerDeployment);
    sqlite3_bind_int64(dep, 10, kEventsPerDeployment);
    Check(sqlite3_step(dep), db, "insert deployment");
    sqlite3_reset(dep);
    for (int s = 0; s < kEventsPerDeployment; ++s) {
      std::string logs = fmt::format("[\"{} step {} of deployment {}\"]", stages[s], s, id);
      sqlite3_bind_text(ev, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ev, 2, s + 1);
      sqlite3_bind_text(ev, 3, stages[s], -1, SQLITE_STATIC);
      sqlite3_bind_text(ev, 4, logs.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ev, 5, s + 1 == kEventsPerDeployment ? url.c_str() : "", -1,
                        SQLITE_TRANSIENT);
      sqlite3_bind_int64(ev, 6, created + s * 1000);
      Check(sqlite3_step(ev), db, "insert event");
      sqlite3_reset(ev);
    }
  }
  sqlite3_finalize(dep);
  sqlite3_finalize(ev);
  Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
}

// The store's queries (daemon/deployment_store.cc), as the agent runs them.
const std::pair<const char*, const char*> kQueries[] = {
    {"history (all projects)",
     "SELECT * FROM deployments ORDER BY created_at DESC, rowid DESC LIMIT 20"},
    {"history --project",
     "SELECT * FROM deployments WHERE project_id = 'proj-000042' ORDER BY created_at DESC, "
     "rowid DESC LIMIT 20"},
    {"status / find", "SELECT * FROM deployments WHERE id = 'dep-0000042'"},
    {"events after (watch, logs)",
     "SELECT seq, status, logs, url, source, received_at FROM events WHERE deployment_id = "
     "'dep-0000042' AND seq > 0 ORDER BY seq LIMIT 64"},
    {"active deployments (agent start)",
     "SELECT * FROM deployments WHERE terminal = 0 ORDER BY created_at"},
};

void ExplainPlans(const std::string& path, Report& r) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::string text = "EXPLAIN QUERY PLAN at the large scale:";
  bool all_indexed = true;
  for (const auto& [name, sql] : kQueries) {
    sqlite3_stmt* st = nullptr;
    Check(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str(), -1, &st,
                             nullptr),
          db, "explain");
    text += fmt::format("\n  {}:", name);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string detail = reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
      text += "\n    " + detail;
      bool scan = detail.rfind("SCAN", 0) == 0;
      if (scan && detail.find("INDEX") == std::string::npos) all_indexed = false;
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  r.Note("history", text);
  r.Add({"history",
         "every store query uses an index (no full SCAN)",
         "bool",
         {},
         all_indexed ? 1.0 : 0.0,
         {},
         "",
         "= 1",
         all_indexed});
}

}  // namespace

void RunHistoryBench(const BenchOptions& o, Report& r) {
  int large = o.quick ? 20'000 : 100'000;
  int small = 100;
  struct Scale {
    int deployments;
    std::unique_ptr<BenchUser> user;
  };
  std::vector<Scale> scales;
  for (int n : {small, large}) {
    // The mock's default stage delay: nothing is deployed here. The agent starts at the login,
    // once its database is there.
    auto u = std::make_unique<BenchUser>(/*stage_delay_ms=*/1000, std::vector<std::string>{},
                                         BenchUser::Start::kLoggedOut);
    ::mkdir((u->home() + "/state").c_str(), 0700);
    ::mkdir(u->StateDir().c_str(), 0700);
    auto t0 = std::chrono::steady_clock::now();
    Populate(u->StateDir() + "/agent.db", u->mock().http_url(), n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.Note("history", fmt::format("populated {} deployments / {} events in {:.1f} s", n,
                                  n * kEventsPerDeployment, s));
    u->Login();
    scales.push_back({n, std::move(u)});
  }
  ExplainPlans(scales[1].user->StateDir() + "/agent.db", r);

  std::string ctl = test::CtlBinary();
  std::string mid = DeploymentId(small / 2);  // exists at both scales
  std::string project = ProjectId(small / 2);
  std::vector<std::pair<std::string, std::vector<std::string>>> queries = {
      {"history --limit 20 --json", {ctl, "history", "--limit", "20", "--json"}},
      {"history --project P --json", {ctl, "history", "--project", project, "--json"}},
      {"status ID --json", {ctl, "status", mid, "--json"}},
      {"watch ID --json (replay of a finished one)", {ctl, "watch", mid, "--json"}},
  };
  int runs = o.quick ? 10 : 30;
  std::vector<std::vector<double>> t(queries.size() * 2);
  for (int i = 0; i < runs + 3; ++i) {
    for (size_t q = 0; q < queries.size(); ++q) {
      for (size_t s = 0; s < 2; ++s) {
        double ms = scales[s].user->TimeCommand(queries[q].second);
        if (i >= 3) t[q * 2 + s].push_back(ms);  // the first three warm up
      }
    }
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    Summary a = Summarize(t[q * 2]), b = Summarize(t[q * 2 + 1]);
    r.Add({"history", fmt::format("{} at {}", queries[q].first, small), "ms", a});
    double ratio = b.median / a.median;
    r.Add({"history", fmt::format("{} at {}", queries[q].first, large), "ms", b, 0, ratio,
           fmt::format("median at {}", small), "<= 1.5x", ratio <= 1.5});
  }
}

}  // namespace bim::bench
