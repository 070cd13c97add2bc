#pragma once
// What the kernel says about a running process (the agent): CPU time, memory and context
// switches, read from /proc/PID. Take two samples and subtract to get use over an interval.

#include <cstdint>

namespace bim::bench {

struct ProcSample {
  double cpu_ms = 0;         // utime + stime of the whole process (/proc/PID/stat)
  int64_t rss_kib = 0;       // VmRSS
  int64_t peak_rss_kib = 0;  // VmHWM
  int64_t ctx_switches = 0;  // voluntary + nonvoluntary, summed over /proc/PID/task/*
  int threads = 0;
  bool ok = false;  // false: the process was gone
};

ProcSample ReadProc(int pid);

// The 1-minute load average (/proc/loadavg).
double LoadAverage1();

}  // namespace bim::bench
