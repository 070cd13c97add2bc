// What a hostile local process, or bad luck, gets from the agent and the ctl: nothing sent to an
// impostor socket, no spin when descriptors run out, no core dump and no readable memory.
// Several cases need root (CI runs as root) to act as another uid.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/resource_bounds.h"

using namespace bim::test;

namespace {

constexpr uid_t kNobody = 65534;

// A process of another uid listening on a Unix socket: counts the bytes clients send it.
class Impostor {
 public:
  // Creates dir (as the other uid) when make_dir, then listens on dir/name.
  Impostor(const std::string& dir, const std::string& name, bool make_dir) {
    int ready[2], stop[2], result[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(stop) == 0);
    REQUIRE(::pipe(result) == 0);
    path_ = dir + "/" + name;
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
          ::setresuid(kNobody, kNobody, kNobody) != 0)
        ::_exit(1);
      if (make_dir && ::mkdir(dir.c_str(), 0700) != 0) ::_exit(2);
      int s = BindUnixSocket(path_);
      if (s < 0 || ::listen(s, 16) != 0) ::_exit(3);
      (void)!::write(ready[1], "x", 1);
      long received = 0;
      std::vector<int> conns;
      for (;;) {
        std::vector<pollfd> fds{{s, POLLIN, 0}, {stop[0], POLLIN, 0}};
        for (int c : conns) fds.push_back({c, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), 1000) < 0) break;
        if (fds[1].revents) break;
        if (fds[0].revents) conns.push_back(::accept(s, nullptr, nullptr));
        for (size_t i = 2; i < fds.size(); ++i) {
          if (!fds[i].revents) continue;
          char buf[4096];
          ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
          if (n > 0) received += n;
        }
      }
      (void)!::write(result[1], &received, sizeof received);
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(stop[0]);
    ::close(result[1]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    stop_ = stop[1];
    result_ = result[0];
  }
  ~Impostor() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& path() const { return path_; }
  // Stops it; the bytes it received in all.
  long Received() {
    (void)!::write(stop_, "x", 1);
    long received = -1;
    REQUIRE(::read(result_, &received, sizeof received) == sizeof received);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return received;
  }

 private:
  pid_t pid_ = -1;
  int stop_ = -1, result_ = -1;
  std::string path_;
};

}  // namespace

TEST_CASE("the ctl sends nothing to a socket that is not its user's agent") {
  if (::getuid() != 0) {
    MESSAGE("skipped: needs root to listen as another uid");
    return;
  }
  AgentFixture f;
  TempDir shared;  // the fixture's home is 0700: the other uid needs a way in
  REQUIRE(::chmod(shared.path().c_str(), 0755) == 0);
  SUBCASE("a runtime folder another user can write, where they made the socket's folder") {
    std::string run = shared / "run";
    REQUIRE(::mkdir(run.c_str(), 0777) == 0);
    REQUIRE(::chmod(run.c_str(), 0777) == 0);
    Impostor impostor(run + "/backend-im", "agent.sock", /*make_dir=*/true);
    ProcessOptions o = f.Options("secret-token-value\n");
    o.env["XDG_RUNTIME_DIR"] = run;
    auto r = Run({CtlBinary(), "auth", "login", "--with-token"}, o, std::chrono::seconds(20));
    CHECK(r.exit_code == 4);
    CHECK_MESSAGE(r.err.find("refusing to talk to the agent socket") != std::string::npos, r.err);
    CHECK(impostor.Received() == 0);
  }
  SUBCASE("a folder of the user's, but another user's process listening") {
    std::string dir = shared / "sock";
    REQUIRE(::mkdir(dir.c_str(), 0777) == 0);
    REQUIRE(::chmod(dir.c_str(), 0777) == 0);
    Impostor impostor(dir, "agent.sock", /*make_dir=*/false);
    // Now make folder and socket file look right: only the peer's uid gives it away.
    REQUIRE(::chmod(dir.c_str(), 0700) == 0);
    REQUIRE(::chown(impostor.path().c_str(), 0, 0) == 0);
    ProcessOptions o = f.Options("secret-token-value\n");
    o.env["BACKEND_IM_SOCKET"] = impostor.path();
    std::erase(o.unset_env, "BACKEND_IM_SOCKET");
    auto r = Run({CtlBinary(), "auth", "login", "--with-token"}, o, std::chrono::seconds(20));
    CHECK(r.exit_code == 4);
    CHECK_MESSAGE(r.err.find("runs as uid 65534") != std::string::npos, r.err);
    auto status = Run({CtlBinary(), "daemon", "status"}, o, std::chrono::seconds(20));
    CHECK(status.exit_code == 4);
    // The quick commands check the peer on their call's own connection (no probe before it),
    // and refuse the same way: exit 4, CheckAgent's words, nothing sent.
    for (std::vector<std::string> args : {std::vector<std::string>{"history", "--json"},
                                          {"status", "dep-1", "--json"},
                                          {"watch", "dep-1"}}) {
      CAPTURE(args[0]);
      args.insert(args.begin(), CtlBinary());
      auto quick = Run(args, o, std::chrono::seconds(20));
      CHECK(quick.exit_code == 4);
      CHECK_MESSAGE(quick.err.find("runs as uid 65534") != std::string::npos, quick.err);
    }
    CHECK(impostor.Received() == 0);
  }
}

TEST_CASE("out of descriptors, the agent backs off instead of spinning, and serves again after") {
  AgentFixture f;
  f.LoginWithToken();
  f.StopAgent();
  Process agent({"prlimit", "--nofile=64:64", AgentBinary()}, f.Options());
  REQUIRE(agent.WaitForOutput("listening on", std::chrono::seconds(10), /*in_stderr=*/true));
  int pid = agent.pid();
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) {
    int fd = ConnectUnixSocket(f.SocketPath());
    if (fd >= 0) idle.push_back(fd);
  }
  // Once it has run out: its first failed accept is logged.
  REQUIRE(agent.WaitForOutput("accept on the agent socket failed", std::chrono::seconds(10),
                              /*in_stderr=*/true));
  double cpu0 = CpuSeconds(pid);
  size_t log0 = agent.Stderr().size();
  // Kept: measures the CPU and the log over a window of a second; there is no event to wait on.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double cpu = CpuSeconds(pid) - cpu0;
  size_t logged = agent.Stderr().size() - log0;
  MESSAGE("out of descriptors for 1 s: " << cpu << " s of CPU, " << logged << " bytes of log");
  CHECK(agent.Stderr().find("accept on the agent socket failed") != std::string::npos);
  CHECK(cpu < 0.25);     // a spinning accept loop burns the whole second
  CHECK(logged < 4096);  // one line per 10 s, not one per failure
  for (int fd : idle) ::close(fd);
  auto r = f.Ctl({"auth", "status"}, "", "", std::chrono::seconds(20));
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  agent.Signal(SIGTERM);
  CHECK(agent.Wait(std::chrono::seconds(10)).has_value());
}

TEST_CASE("the agent leaves its starter's folder, writes no core, and hides its memory") {
  AgentFixture f;
  std::string project = f.MakeProject("p");
  ProcessOptions o = f.Options("", project);
  // Without capabilities, as the user's other processes: then only dumpability stands between
  // them and its memory (a capable root process would be out of reach for the reader anyway).
  Process agent({"prlimit", "--core=unlimited", "setpriv", "--inh-caps=-all", "--bounding-set=-all",
                 AgentBinary()},
                o);
  REQUIRE(agent.WaitForOutput("listening on", std::chrono::seconds(10), /*in_stderr=*/true));
  std::string proc = "/proc/" + std::to_string(agent.pid());
  char cwd[4096] = {0};
  REQUIRE(::readlink((proc + "/cwd").c_str(), cwd, sizeof cwd - 1) > 0);
  CHECK(std::string(cwd) == "/");
  CHECK(ReadFile(proc + "/limits").find("Max core file size        0                    0") !=
        std::string::npos);
  if (::getuid() == 0) {
    // Another process of the same uid, without privilege, cannot read a non-dumpable process.
    auto peek =
        Run({"setpriv", "--inh-caps=-all", "--bounding-set=-all", "cat", proc + "/environ"});
    CHECK(peek.exit_code != 0);
    CHECK(peek.out.find("BACKEND_IM_API_URL") == std::string::npos);
  }
  // SIGABRT dumps core by default (SIGSEGV would be caught and reported by ASan in the
  // sanitizer run).
  agent.Signal(SIGABRT);
  auto code = agent.Wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 128 + SIGABRT);
  CHECK(::access((project + "/core").c_str(), F_OK) != 0);
  CHECK(::access("/core", F_OK) != 0);
  CHECK(::access((f.StateDir() + "/core").c_str(), F_OK) != 0);
}

namespace {

// How many times needle occurs in the readable memory of pid (needs CAP_SYS_PTRACE: the agent
// is not dumpable); where, when given, gets the maps line of each mapping that holds one.
int CountInMemory(int pid, const std::string& needle, std::string* where = nullptr) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  int mem = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(mem >= 0);
  int count = 0;
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long begin = 0, end = 0;
    char perms[5] = {0};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &begin, &end, perms) != 3) continue;
    if (perms[0] != 'r' || line.find("[vvar]") != std::string::npos) continue;
    std::string data(end - begin, '\0');
    ssize_t n = ::pread(mem, data.data(), data.size(), static_cast<off_t>(begin));
    if (n <= 0) continue;
    data.resize(static_cast<size_t>(n));
    for (size_t at = data.find(needle); at != std::string::npos; at = data.find(needle, at + 1)) {
      ++count;
      if (where) *where += line + "\n";
    }
  }
  ::close(mem);
  return count;
}

}  // namespace

TEST_CASE("after logout no copy of the token is left in the agent's memory") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  MESSAGE("skipped: the sanitizer's allocator keeps freed blocks as they were");
  return;
#endif
  if (::getuid() != 0) {
    MESSAGE("skipped: reading the agent's memory needs root");
    return;
  }
  // A token found nowhere else: built here, so the test's own copies are not in the agent.
  std::string token = "tok-" + std::to_string(::getpid()) + "-" +
                      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  AgentFixture f({"--token", token, "--stage-delay-ms", "20"});
  f.LoginWithToken(token);
  // Use the token for everything that carries it: REST calls, the stream, status and history.
  auto d = f.Ctl({"deploy", "--watch"}, "", f.MakeProject("p"));
  REQUIRE_MESSAGE(d.exit_code == 0, (d.out + d.err));
  REQUIRE(f.Ctl({"history"}).exit_code == 0);
  int pid = f.AgentPid();
  REQUIRE(pid > 0);
  CHECK(CountInMemory(pid, token) > 0);  // the reader finds a live token
  REQUIRE(f.Ctl({"auth", "logout"}).exit_code == 0);
  std::string where;
  CHECK_MESSAGE(CountInMemory(pid, token, &where) == 0, where);
}
