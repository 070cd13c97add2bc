#include "bench/proc_stats.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace bim::bench {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Field(const std::string& status, const std::string& key) {
  auto pos = status.find("\n" + key + ":");
  if (pos == std::string::npos) return 0;
  return std::strtoll(status.c_str() + pos + key.size() + 2, nullptr, 10);
}

}  // namespace

ProcSample ReadProc(int pid) {
  ProcSample s;
  std::string base = "/proc/" + std::to_string(pid);
  std::string stat = Slurp(base + "/stat");
  std::string status = "\n" + Slurp(base + "/status");
  auto paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) return s;
  // After "pid (comm)": field 3 is the state; utime and stime are fields 14 and 15.
  std::istringstream rest(stat.substr(paren + 2));
  std::string tok;
  double ticks = 0;
  for (int field = 3; field <= 15 && rest >> tok; ++field) {
    if (field == 14 || field == 15) ticks += std::strtod(tok.c_str(), nullptr);
  }
  s.cpu_ms = ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  s.rss_kib = Field(status, "VmRSS");
  s.peak_rss_kib = Field(status, "VmHWM");
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(base + "/task", ec)) {
    std::string ts = "\n" + Slurp(task.path().string() + "/status");
    s.ctx_switches +=
        Field(ts, "voluntary_ctxt_switches") + Field(ts, "nonvoluntary_ctxt_switches");
    ++s.threads;
  }
  s.ok = true;
  return s;
}

double LoadAverage1() { return std::strtod(Slurp("/proc/loadavg").c_str(), nullptr); }

}  // namespace bim::bench
