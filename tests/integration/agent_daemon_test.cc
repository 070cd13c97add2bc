// The agent as a process: auto-start, one per user, clean stop, status, socket folder checks.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

#include "tests/integration/agent_fixture.h"

using namespace bim::test;

TEST_CASE("the ctl starts the agent on demand and daemon status describes it") {
  AgentFixture f;
  CHECK(f.AgentPid() == 0);
  auto r = f.Ctl({"daemon", "status", "--json"});
  CHECK(r.exit_code == 4);  // daemon status never starts one
  CHECK(nlohmann::json::parse(r.out)["running"] == false);

  f.LoginWithToken();
  auto s = f.Ctl({"daemon", "status", "--json"});
  REQUIRE_MESSAGE(s.exit_code == 0, (s.out + s.err));
  auto j = nlohmann::json::parse(s.out);
  CHECK(j["running"] == true);
  CHECK(j["pid"] == f.AgentPid());
  CHECK(j["version"] == j["ctlVersion"]);
  CHECK(j["apiUrl"] == f.mock().http_url());
  CHECK(j["loggedIn"] == true);
  CHECK(j["autostarted"] == true);
  CHECK(j["systemd"] == false);
  CHECK(j["socket"] == f.SocketPath());
  auto human = f.Ctl({"daemon", "status"});
  CHECK(human.out.find("Uptime") != std::string::npos);
}

TEST_CASE("with auto-start off, a missing agent is an error that says what to do") {
  AgentFixture f;
  f.env()["BACKEND_IM_NO_AUTOSTART"] = "1";
  auto o = f.Options();
  o.unset_env.erase(std::find(o.unset_env.begin(), o.unset_env.end(), "BACKEND_IM_NO_AUTOSTART"));
  auto r = Run({CtlBinary(), "history"}, o);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("systemctl --user start backend-imd") != std::string::npos);
  CHECK(f.AgentPid() == 0);
}

TEST_CASE("only one agent per user: a second one refuses and the first keeps its socket") {
  AgentFixture f;
  f.LoginWithToken();
  int first = f.AgentPid();
  auto second = Run({AgentBinary()}, f.Options(), std::chrono::seconds(10));
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("already running") != std::string::npos);
  CHECK(f.AgentPid() == first);
  CHECK(f.Ctl({"auth", "status"}).exit_code == 0);
}

TEST_CASE("SIGTERM with a watch open ends the stream cleanly and exits 0 within seconds") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "2000"});
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  Process w = f.StartCtl({"watch", d["id"]});
  REQUIRE(w.WaitForOutput("queued", std::chrono::seconds(10)));
  int pid = f.AgentPid();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::kill(pid, SIGTERM) == 0);
  auto code = w.Wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 4);
  CHECK(w.Stderr().find("backend-im watch") != std::string::npos);
  while (Alive(pid) && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(Alive(pid));
  CHECK(f.AgentLog().find("stopped") != std::string::npos);
  // The interrupted deployment is resumed by the next agent.
  auto again = f.Ctl({"watch", d["id"]}, "", "", std::chrono::seconds(60));
  CHECK_MESSAGE(again.exit_code == 0, (again.out + again.err));
}

TEST_CASE("daemon stop stops the agent, and the next command starts a new one") {
  AgentFixture f;
  f.LoginWithToken();
  int first = f.AgentPid();
  auto stop = f.Ctl({"daemon", "stop"});
  CHECK(stop.exit_code == 0);
  CHECK_FALSE(Alive(first));
  CHECK(f.Ctl({"auth", "status"}).exit_code == 0);
  CHECK(f.AgentPid() != first);
}

TEST_CASE("a socket folder others can read is refused with the fix") {
  AgentFixture f;
  std::string dir = f.home() / "run/backend-im";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  ::chmod(dir.c_str(), 0755);
  auto r = Run({AgentBinary()}, f.Options(), std::chrono::seconds(10));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("chmod 700") != std::string::npos);
}

TEST_CASE("an agent of another version is detected, and one a ctl started is replaced") {
  AgentFixture f;
  f.env()["BACKEND_IM_VERSION_OVERRIDE"] = "0.0.1-old";
  f.LoginWithToken();
  int old_pid = f.AgentPid();
  f.env().erase("BACKEND_IM_VERSION_OVERRIDE");
  auto r = f.Ctl({"auth", "status"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("0.0.1-old") != std::string::npos);
  CHECK(r.err.find("restarting") != std::string::npos);
  auto s = nlohmann::json::parse(f.Ctl({"daemon", "status", "--json"}).out);
  CHECK(s["version"] == s["ctlVersion"]);
  CHECK(s["pid"] != old_pid);
}

TEST_CASE("every command has --help") {
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"auth", "--help"},
                                        {"auth", "login", "--help"},
                                        {"auth", "status", "--help"},
                                        {"auth", "logout", "--help"},
                                        {"generate", "--help"},
                                        {"deploy", "--help"},
                                        {"watch", "--help"},
                                        {"status", "--help"},
                                        {"history", "--help"},
                                        {"daemon", "--help"},
                                        {"daemon", "status", "--help"},
                                        {"daemon", "stop", "--help"},
                                        {"version", "--help"}}) {
    args.insert(args.begin(), CtlBinary());
    auto r = Run(args);
    CHECK_MESSAGE(r.exit_code == 0, args[1]);
    CHECK(r.out.find("Usage") != std::string::npos);
  }
  CHECK(Run({AgentBinary(), "--help"}).exit_code == 0);
  auto bad = Run({CtlBinary(), "deploy", "--no-such-flag"});
  CHECK(bad.exit_code == 2);
}

namespace {

// A notify listener like systemd's: a datagram socket whose path goes in NOTIFY_SOCKET.
class NotifyListener {
 public:
  NotifyListener() {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir_ / "notify";
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    path_ = path;
  }
  ~NotifyListener() { ::close(fd_); }
  const std::string& path() const { return path_; }

  // Waits for a datagram containing needle; returns everything received meanwhile.
  bool WaitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (received_.find(needle) != std::string::npos) return true;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) received_ += std::string(buf, static_cast<size_t>(n)) + "\n";
      }
    }
    return received_.find(needle) != std::string::npos;
  }
  const std::string& received() const { return received_; }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::string received_;
};

}  // namespace

TEST_CASE(
    "under a notify listener: READY=1 once listening, STATUS, WATCHDOG=1, then STOPPING=1 and exit "
    "0") {
  AgentFixture f;
  NotifyListener notify;
  auto o = f.Options();
  o.env["NOTIFY_SOCKET"] = notify.path();
  o.env["WATCHDOG_USEC"] = "200000";  // answer every 100 ms
  o.unset_env.erase(std::find(o.unset_env.begin(), o.unset_env.end(), "NOTIFY_SOCKET"));
  Process agent({AgentBinary()}, o);
  REQUIRE_MESSAGE(notify.WaitFor("READY=1", std::chrono::seconds(10)), agent.Stderr());
  CHECK(Listening(f.SocketPath()));  // READY only once the socket accepts
  CHECK(notify.WaitFor("STATUS=idle", std::chrono::seconds(5)));
  CHECK(notify.WaitFor("WATCHDOG=1", std::chrono::seconds(5)));
  auto s = nlohmann::json::parse(f.Ctl({"daemon", "status", "--json"}).out);
  CHECK(s["systemd"] == true);
  agent.Signal(SIGTERM);
  CHECK(notify.WaitFor("STOPPING=1", std::chrono::seconds(5)));
  auto code = agent.Wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("logs carry journald priority prefixes under journald, timestamps otherwise") {
  AgentFixture f;
  auto o = f.Options();
  o.env["JOURNAL_STREAM"] = "8:12345";
  o.unset_env.erase(std::find(o.unset_env.begin(), o.unset_env.end(), "JOURNAL_STREAM"));
  {
    Process agent({AgentBinary()}, o);
    REQUIRE(agent.WaitForOutput("listening on", std::chrono::seconds(10), /*in_stderr=*/true));
    agent.Signal(SIGTERM);
    REQUIRE(agent.Wait(std::chrono::seconds(10)) == 0);
    std::string err = agent.Stderr();
    CHECK(err.rfind("<6>", 0) == 0);
    CHECK(err.find("\n<6>stopped") != std::string::npos);
  }
  Process plain({AgentBinary(), "--log-level", "warn"}, f.Options());
  REQUIRE(plain.Wait(std::chrono::seconds(1)) == std::nullopt);  // running
  plain.Signal(SIGTERM);
  REQUIRE(plain.Wait(std::chrono::seconds(10)) == 0);
  CHECK(plain.Stderr().find("listening on") == std::string::npos);  // info is below warn
  auto bad = Run({AgentBinary(), "--log-level", "loud"}, f.Options());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("unknown log level") != std::string::npos);
}

TEST_CASE("a connection from another uid is refused and logged, even when the path is reachable") {
  if (::getuid() != 0) {
    MESSAGE("skipped: needs root to connect as another uid");
    return;
  }
  AgentFixture f;
  f.LoginWithToken();
  // Open every folder on the way, and the socket itself, as a misconfigured system might.
  for (const std::string& p : {f.home().path(), f.home() / "run", f.home() / "run/backend-im"}) {
    ::chmod(p.c_str(), 0755);
  }
  ::chmod(f.SocketPath().c_str(), 0666);
  ProcessOptions o = f.Options();
  o.env["BACKEND_IM_SOCKET"] = f.SocketPath();
  o.env["BACKEND_IM_NO_AUTOSTART"] = "1";
  o.env["HOME"] = "/tmp";
  o.unset_env.clear();
  auto r = Run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CtlBinary(),
                "history", "--json"},
               o);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find("[") == std::string::npos);  // no history reached the other user
  CHECK(f.AgentLog().find("refused a connection") != std::string::npos);
  CHECK(f.AgentLog().find("from uid 65534") != std::string::npos);
  // The owner is still served.
  CHECK(f.Ctl({"history", "--json"}).exit_code == 0);
}
