// ContainedProcess against real programs (/bin/sh and coreutils): what it starts with, what it
// cannot reach, and that nothing it starts outlives a stop or the thread that started it.
#include "common/contained_process.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>

namespace bim {
namespace {

ContainedSpec Shell(const std::string& script, bool own_network = false) {
  ContainedSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  spec.dir = "/tmp";
  spec.own_network = own_network;
  return spec;
}

// Everything it printed, up to EOF (when it and all it started are gone).
std::string ReadAll(const ContainedProcess& p) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd pfd{p.output_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 10000) <= 0) break;
    ssize_t n = ::read(p.output_fd(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

ContainedProcess Started(const ContainedSpec& spec) {
  auto p = ContainedProcess::Start(spec);
  REQUIRE(p.ok());
  return std::move(*p);
}

// A number no other test or program here uses, to find its `sleep` among all processes.
std::string UniqueSeconds() {
  std::random_device rd;
  return std::to_string(900000 + rd() % 90000);
}

int CountSleeps(const std::string& seconds) {
  std::string cmd = "pgrep -fxc 'sleep " + seconds + "'";
  FILE* f = ::popen(cmd.c_str(), "r");
  int n = 0;
  if (f) {
    if (std::fscanf(f, "%d", &n) != 1) n = 0;
    ::pclose(f);
  }
  return n;
}

bool NoSleepsWithin(const std::string& seconds, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (CountSleeps(seconds) > 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("a contained program gets only its environment, folder and output pipe") {
  auto p =
      Started(Shell("pwd; env | sort; echo to-stderr >&2; read x; echo \"stdin:[$x]\"; exit 3"));
  std::string out = ReadAll(p);
  CHECK(p.Wait() == "exited with status 3");
  CHECK(out.find("/tmp\n") == 0);
  CHECK(out.find("ONLY=this\n") != std::string::npos);
  CHECK(out.find("HOME=") == std::string::npos);  // nothing of ours
  CHECK(out.find("to-stderr\n") != std::string::npos);
  CHECK(out.find("stdin:[]") != std::string::npos);  // /dev/null
}

TEST_CASE("a contained program runs as PID 1 of its namespace, under the limits it is given") {
  auto spec = Shell("echo pid=$$; cat /proc/self/limits");
  spec.limits = {512ull << 20, 7, 1ull << 20, 64};
  auto p = Started(spec);
  std::string out = ReadAll(p);
  CHECK(p.Wait() == "exited with status 0");
  if (p.namespaced()) CHECK(out.find("pid=1\n") != std::string::npos);
  CHECK(out.find("Max address space         536870912            536870912") != std::string::npos);
  CHECK(out.find("Max cpu time              7                    8") != std::string::npos);
  CHECK(out.find("Max file size             1048576              1048576") != std::string::npos);
  CHECK(out.find("Max open files            64                   64") != std::string::npos);
  CHECK(out.find("Max core file size        0                    0") != std::string::npos);
}

TEST_CASE("own_network leaves a program only a loopback that is down") {
  auto p = Started(Shell("cat /proc/net/dev", /*own_network=*/true));
  std::string out = ReadAll(p);
  p.Wait();
  if (!p.namespaced()) return;  // no namespaces on this machine: nothing to check
  CHECK(out.find("lo:") != std::string::npos);
  // /proc/net/dev: two header lines, then one line per interface: lo alone.
  CHECK(std::count(out.begin(), out.end(), '\n') == 3);
}

TEST_CASE("a program that cannot be executed says so and exits 127") {
  ContainedSpec spec = Shell("");
  spec.argv = {"/nonexistent/program"};
  auto p = Started(spec);
  std::string out = ReadAll(p);
  CHECK(p.Wait() == "exited with status 127");
  CHECK(out.find("cannot start the program: /nonexistent/program") != std::string::npos);
  CHECK_FALSE(ContainedProcess::Start(ContainedSpec{}).ok());
}

TEST_CASE("Kill stops the program and everything it started, even what left its group") {
  std::string secs = UniqueSeconds();
  // The second sleep runs in a session of its own: a process group's signal misses it.
  auto p = Started(Shell("sleep " + secs + " & setsid sleep " + secs + " & echo up; wait"));
  char buf[3] = {};
  pollfd pfd{p.output_fd(), POLLIN, 0};
  REQUIRE(::poll(&pfd, 1, 5000) == 1);
  REQUIRE(::read(p.output_fd(), buf, 3) == 3);
  // Both sleeps are running.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (CountSleeps(secs) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(CountSleeps(secs) == 2);
  p.Kill();
  CHECK(p.Wait() == "killed by SIGKILL");
  if (p.namespaced()) {
    CHECK(NoSleepsWithin(secs, std::chrono::seconds(5)));
  } else {
    ::system(("pkill -f -x 'sleep " + secs + "'").c_str());  // the documented gap
  }
}

TEST_CASE("Terminate asks the program to stop, and Poll says how it ended") {
  auto p =
      Started(Shell("trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"));
  char buf[6] = {};
  pollfd pfd{p.output_fd(), POLLIN, 0};
  REQUIRE(::poll(&pfd, 1, 5000) == 1);
  REQUIRE(::read(p.output_fd(), buf, 6) == 6);
  CHECK_FALSE(p.Poll().has_value());
  p.Terminate();
  std::string out = ReadAll(p);
  CHECK(out.find("got-term") != std::string::npos);
  CHECK(p.Wait() == "exited with status 0");
  CHECK(p.Poll() == std::optional<std::string>("exited with status 0"));
}

TEST_CASE("a program dies with the thread that started it, and with its whole process") {
  std::string secs = UniqueSeconds();
  std::optional<ContainedProcess> p;
  std::thread starter([&] { p.emplace(Started(Shell("exec sleep " + secs))); });
  starter.join();
  // The starting thread has ended: PR_SET_PDEATHSIG has killed the program.
  CHECK(p->Wait() == "killed by SIGKILL");
  CHECK(NoSleepsWithin(secs, std::chrono::seconds(5)));
}

TEST_CASE("DescribeWaitStatus names signals and the limits behind them") {
  CHECK(DescribeWaitStatus(0) == "exited with status 0");
  CHECK(DescribeWaitStatus(SIGKILL) == "killed by SIGKILL");
  CHECK(DescribeWaitStatus(SIGXCPU) == "killed by SIGXCPU (the CPU time limit)");
  CHECK(DescribeWaitStatus(SIGXFSZ) == "killed by SIGXFSZ (the file size limit)");
}

}  // namespace bim
