// (2) Fan-out: one deployment, N concurrent watchers. The mock logs when it sends each stage
// message (--log-sends); each watcher notes when the event arrived. Only events the mock sent
// after every watcher had its first event count for latency, so attaching is not measured;
// completeness covers every event.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench/bench_user.h"
#include "bench/benchmarks.h"
#include "bench/proc_stats.h"
#include "bench/watch_clients.h"

namespace bim::bench {
namespace {

const std::vector<std::string> kStages = {"queued",       "committing", "creating_namespace",
                                          "creating_pvc", "building",   "deploying",
                                          "health_check", "complete"};

// status -> when the mock sent it (unix us), from its "sent ID seq=N status=S unix_us=T" lines.
std::map<std::string, int64_t> SendTimes(const std::string& log, const std::string& id) {
  std::map<std::string, int64_t> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("sent " + id + " ", 0) != 0) continue;
    auto st = line.find("status=");
    auto us = line.find("unix_us=");
    if (st == std::string::npos || us == std::string::npos) continue;
    out[line.substr(st + 7, line.find(' ', st) - st - 7)] = std::stoll(line.substr(us + 8));
  }
  return out;
}

int CountLines(const std::string& log, const std::string& needle, const std::string& id) {
  int n = 0;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos && line.find(id) != std::string::npos) ++n;
  }
  return n;
}

struct Watcher {
  std::vector<Receipt> receipts;
  bool ended_ok = false;
};

bool Complete(const Watcher& w) {
  if (!w.ended_ok || w.receipts.size() != kStages.size()) return false;
  for (size_t i = 0; i < kStages.size(); ++i) {
    if (w.receipts[i].status != kStages[i] || w.receipts[i].seq != static_cast<int64_t>(i + 1)) {
      return false;
    }
  }
  return true;
}

void Evaluate(const std::string& label, bool check_targets, const std::vector<Watcher>& ws,
              int64_t ready_us, BenchUser& u, const std::string& id, const ProcSample& before,
              const ProcSample& after, Report& r) {
  auto sent = SendTimes(u.mock().Log(), id);
  std::vector<double> latency, agent_latency;
  int complete = 0;
  for (const auto& w : ws) {
    complete += Complete(w) ? 1 : 0;
    for (const auto& rc : w.receipts) {
      auto it = sent.find(rc.status);
      if (it == sent.end() || it->second <= ready_us) continue;
      latency.push_back(static_cast<double>(rc.received_unix_us - it->second) / 1000.0);
    }
  }
  for (const auto& rc : ws.empty() ? std::vector<Receipt>{} : ws[0].receipts) {
    auto it = sent.find(rc.status);
    if (it == sent.end() || it->second <= ready_us || rc.agent_received_unix_ms == 0) continue;
    agent_latency.push_back(static_cast<double>(rc.agent_received_unix_ms * 1000 - it->second) /
                            1000.0);
  }
  int n = static_cast<int>(ws.size());
  Summary lat = Summarize(latency);
  r.Add({"fanout",
         label + ": latency mock send -> watcher",
         "ms",
         lat,
         0,
         {},
         "",
         check_targets ? "p99 <= 50 ms" : "",
         check_targets ? std::optional(lat.p99 <= 50) : std::nullopt});
  if (!agent_latency.empty()) {
    r.Add({"fanout", label + ": latency mock send -> agent store (1 ms resolution)", "ms",
           Summarize(agent_latency)});
  }
  r.Add({"fanout",
         label + ": watchers with every event in order",
         "count",
         {},
         static_cast<double>(complete),
         {},
         "",
         fmt::format("= {}", n),
         complete == n});
  int sockets = CountLines(u.mock().Log(), "/ws?deploymentId=", id);
  r.Add({"fanout",
         label + ": upstream sockets",
         "count",
         {},
         static_cast<double>(sockets),
         {},
         "",
         "1",
         sockets == 1});
  double peak = static_cast<double>(after.peak_rss_kib) / 1024.0;
  r.Add({"fanout",
         label + ": agent peak RSS (VmHWM)",
         "MiB",
         {},
         peak,
         {},
         "",
         check_targets ? "<= 64 MiB" : "",
         check_targets ? std::optional(peak <= 64) : std::nullopt});
  r.Add({"fanout",
         label + ": agent CPU, deploy to last stream end",
         "ms",
         {},
         after.cpu_ms - before.cpu_ms});
  r.Note("fanout", fmt::format("{}: {} latency samples (events sent after all watchers had "
                               "attached), {} events sent",
                               label, latency.size(), sent.size()));
}

int StageDelay(const BenchOptions& o) { return o.quick ? 1000 : 1500; }

void RunGrpcWatchers(const BenchOptions& o, int n, Report& r) {
  BenchUser u(StageDelay(o), {"--log-sends"});
  std::string dir = u.MakeProject("app");
  ProcSample before = ReadProc(u.AgentPid());
  std::string id = u.Deploy(dir);
  WatchClients clients(u.SocketPath(), id, n);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (clients.Ready() + clients.Done() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int64_t ready_us = NowUnixUs();
  clients.WaitDone(std::chrono::milliseconds(StageDelay(o) * 10 + 30000));
  ProcSample after = ReadProc(u.AgentPid());
  clients.CancelAll();
  std::vector<Watcher> ws;
  for (const auto& res : clients.results()) ws.push_back({res.receipts, res.status.ok()});
  Evaluate(fmt::format("N={} gRPC streams", n), n == 1000, ws, ready_us, u, id, before, after, r);
}

// Real `backend-im watch ID --json` processes; their stdout comes back through pipes and a
// line's arrival time is its receive time (it includes the ctl's printing and the pipe).
void RunCtlWatchers(const BenchOptions& o, int n, Report& r) {
  BenchUser u(StageDelay(o) * 2, {"--log-sends"});
  std::string dir = u.MakeProject("app");
  ProcSample before = ReadProc(u.AgentPid());
  std::string id = u.Deploy(dir);

  std::vector<char*> envp;
  for (const auto& e : u.Environment()) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string ctl = test::CtlBinary();
  std::vector<pid_t> pids;
  std::vector<pollfd> fds;
  for (int i = 0; i < n; ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(p[1], 1);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 2);
      const char* argv[] = {ctl.c_str(), "watch", id.c_str(), "--json", nullptr};
      ::execve(argv[0], const_cast<char**>(argv), envp.data());
      ::_exit(127);
    }
    ::close(p[1]);
    pids.push_back(pid);
    fds.push_back({p[0], POLLIN, 0});
  }
  std::vector<Watcher> ws(static_cast<size_t>(n));
  std::vector<std::string> partial(static_cast<size_t>(n));
  int open = n, ready = 0;
  int64_t ready_us = 0;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(StageDelay(o) * 20 + 60000);
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
    int64_t now = NowUnixUs();
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      partial[i].append(buf, static_cast<size_t>(got));
      size_t nl;
      while ((nl = partial[i].find('\n')) != std::string::npos) {
        auto j = nlohmann::json::parse(partial[i].substr(0, nl), nullptr, false);
        partial[i].erase(0, nl + 1);
        if (!j.is_object()) continue;
        ws[i].receipts.push_back({j.value("seq", int64_t{0}), j.value("status", ""), now, 0});
        if (ws[i].receipts.size() == 1 && ++ready == n) ready_us = NowUnixUs();
      }
    }
  }
  ProcSample after = ReadProc(u.AgentPid());
  for (size_t i = 0; i < pids.size(); ++i) {
    if (fds[i].fd >= 0) ::kill(pids[i], SIGKILL);
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    ws[i].ended_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (fds[i].fd >= 0) ::close(fds[i].fd);
  }
  if (ready_us == 0) ready_us = NowUnixUs();
  Evaluate(fmt::format("{} backend-im watch processes", n), false, ws, ready_us, u, id, before,
           after, r);
}

}  // namespace

void RunFanoutBench(const BenchOptions& o, Report& r) {
  for (int n : {10, 100, 1000}) RunGrpcWatchers(o, n, r);
  RunCtlWatchers(o, 100, r);
}

}  // namespace bim::bench
