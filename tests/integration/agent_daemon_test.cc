// The agent as a process: auto-start, one per user, clean stop, status, socket folder checks.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/resource_bounds.h"

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
  // A field without a value is left out, never null: in daemon status as in version.
  CHECK_FALSE(j.contains("apiUrlProblem"));
  for (const auto& [key, value] : j.items()) CHECK_MESSAGE(!value.is_null(), key);
  CHECK(j["autostarted"] == true);
  CHECK(j["systemd"] == false);
  CHECK(j["socket"] == f.SocketPath());
  auto human = f.Ctl({"daemon", "status"});
  CHECK(human.out.find("Uptime") != std::string::npos);
  auto v = nlohmann::json::parse(f.Ctl({"version", "--json"}).out);
  CHECK(v["agentVersion"] == j["version"]);
  f.StopAgent();
  auto alone = nlohmann::json::parse(f.Ctl({"version", "--json"}).out);
  CHECK(alone.contains("version"));
  CHECK_FALSE(alone.contains("agentVersion"));
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
  CHECK(second.exit_code == 3);  // the unit's RestartPreventExitStatus: no restart loop
  CHECK(second.err.find("already running") != std::string::npos);
  CHECK(f.AgentPid() == first);
  CHECK(f.Ctl({"auth", "status"}).exit_code == 0);
}

TEST_CASE("SIGTERM with a watch open ends the stream cleanly and exits 0 within seconds") {
  // The deployment takes 1.4 s: the signal comes right after its first stage, and it is still
  // running when the next agent starts, after the ctl's wait for another agent (1 s here).
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "200"});
  f.env()["BACKEND_IM_REATTACH_GRACE_MS"] = "1000";
  f.LoginWithToken();
  auto d = f.Deploy(f.MakeProject("p"));
  Process w = f.StartCtl({"watch", d["deploymentId"]});
  REQUIRE(w.WaitForOutput("queued", std::chrono::seconds(10)));
  int pid = f.AgentPid();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::kill(pid, SIGTERM) == 0);
  auto code = w.Wait(std::chrono::seconds(20));  // after the ctl's grace for another agent
  REQUIRE(code.has_value());
  CHECK(*code == 4);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(1000));
  CHECK(w.Stderr().find("backend-im watch") != std::string::npos);
  while (Alive(pid) && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(Alive(pid));
  CHECK(f.AgentLog().find("stopped") != std::string::npos);
  // The interrupted deployment is resumed by the next agent.
  auto again = f.Ctl({"watch", d["deploymentId"]}, "", "", std::chrono::seconds(60));
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

TEST_CASE("an agent whose files were removed under it leaves the next agent's socket alone") {
  AgentFixture f;
  f.LoginWithToken();
  int first = f.AgentPid();
  // Someone cleared the agent's socket and lock while it ran; the next command starts a second
  // agent on the same paths (the first still holds its lock on the removed file).
  REQUIRE(::unlink(f.SocketPath().c_str()) == 0);
  REQUIRE(::unlink((f.StateDir() + "/agent.lock").c_str()) == 0);
  REQUIRE(f.Ctl({"auth", "status"}).exit_code == 0);
  int second = f.AgentPid();
  REQUIRE(second != first);
  REQUIRE(Alive(first));
  Terminate(first);
  CHECK_FALSE(Alive(first));
  // The second agent still has its socket and answers; nothing new had to start.
  struct stat st {};
  CHECK(::lstat(f.SocketPath().c_str(), &st) == 0);
  auto status = f.Ctl({"daemon", "status", "--json"});
  REQUIRE_MESSAGE(status.exit_code == 0, (status.out + status.err + f.AgentLog()));
  CHECK(nlohmann::json::parse(status.out)["pid"] == second);
  CHECK(f.AgentPid() == second);
  CHECK(f.AgentLog().find("is another agent's socket now") != std::string::npos);
}

TEST_CASE("a socket folder others can read is refused with the fix") {
  AgentFixture f;
  std::string dir = f.home() / "run/backend-im";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  ::chmod(dir.c_str(), 0755);
  auto r = Run({AgentBinary()}, f.Options(), std::chrono::seconds(10));
  CHECK(r.exit_code == 2);  // a refused configuration, which a restart cannot cure
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
    path_ = dir_ / "notify";
    fd_ = BindUnixSocket(path_, SOCK_DGRAM);
    REQUIRE(fd_ >= 0);
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

// The environment systemd gives the unit's agent: NOTIFY_SOCKET, INVOCATION_ID and, with
// WatchdogSec=, WATCHDOG_USEC.
ProcessOptions UnderSystemd(const AgentFixture& f, const NotifyListener& notify,
                            const std::string& watchdog_usec = "") {
  ProcessOptions o = f.Options();
  o.env["NOTIFY_SOCKET"] = notify.path();
  o.env["INVOCATION_ID"] = "0123456789abcdef0123456789abcdef";
  if (!watchdog_usec.empty()) o.env["WATCHDOG_USEC"] = watchdog_usec;
  std::erase_if(o.unset_env, [](const std::string& name) {
    return name == "NOTIFY_SOCKET" || name == "INVOCATION_ID";
  });
  return o;
}

}  // namespace

TEST_CASE(
    "under a notify listener: READY=1 once listening, STATUS, WATCHDOG=1, then STOPPING=1 and exit "
    "0") {
  AgentFixture f;
  NotifyListener notify;
  Process agent({AgentBinary()}, UnderSystemd(f, notify, "200000"));  // WATCHDOG=1 every 100 ms
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
  // Running, and past the point where it would say "listening on": its socket accepts.
  for (int i = 0; i < 1000 && plain.Running() && !Listening(f.SocketPath()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(Listening(f.SocketPath()));
  REQUIRE(plain.Running());
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

TEST_CASE("the unit's agent takes over from one a ctl started, and resumes its watches") {
  // The takeover takes some 200 ms (longer under a sanitizer); the deployment's 1.05 s (2.8 s)
  // outlast it, so the watch below is cut mid-stream and must follow on in the new agent.
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", kSanitized ? "400" : "150"});
  f.LoginWithToken();
  int ondemand = f.AgentPid();
  auto d = f.Deploy(f.MakeProject("p"));
  Process live = f.StartCtl({"watch", d["deploymentId"], "--json"});
  REQUIRE(live.WaitForOutput("queued", std::chrono::seconds(10)));
  NotifyListener notify;
  Process unit({AgentBinary()}, UnderSystemd(f, notify));
  REQUIRE_MESSAGE(notify.WaitFor("READY=1", std::chrono::seconds(15)), unit.Stderr());
  // It released its lock; its process may still be finishing its exit (slower under ASan).
  for (int i = 0; i < 200 && Alive(ondemand); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK_FALSE(Alive(ondemand));
  CHECK(f.AgentPid() == unit.pid());
  CHECK(unit.Stderr().find("asking it to hand over") != std::string::npos);
  auto s = nlohmann::json::parse(f.Ctl({"daemon", "status", "--json"}).out);
  CHECK(s["pid"] == unit.pid());
  CHECK(s["systemd"] == true);
  CHECK(s["autostarted"] == false);
  // The deployment the on-demand agent was following goes on being followed, to its end.
  auto w = f.Ctl({"watch", d["deploymentId"], "--json"}, "", "", std::chrono::seconds(60));
  CHECK_MESSAGE(w.exit_code == 0, (w.out + w.err));
  CHECK(w.out.find("\"complete\"") != std::string::npos);
  // The terminal that was watching through the takeover followed on in the new agent, from
  // where it was: every event once, in order, to the end.
  auto code = live.Wait(std::chrono::seconds(30));
  REQUIRE(code.has_value());
  CHECK_MESSAGE(*code == 0, live.Stderr());
  CHECK(live.Stderr().find("the agent was replaced; still following") != std::string::npos);
  auto events = JsonLines(live.Stdout());
  REQUIRE(!events.empty());
  for (size_t i = 0; i < events.size(); ++i) CHECK(events[i]["seq"] == static_cast<int>(i + 1));
  CHECK(events.back()["status"] == "complete");
  unit.Signal(SIGTERM);
  CHECK(unit.Wait(std::chrono::seconds(10)) == 0);
}

TEST_CASE("the unit's agent never replaces one started by hand: it fails once, saying why") {
  AgentFixture f;
  Process by_hand({AgentBinary()}, f.Options());
  REQUIRE(by_hand.WaitForOutput("listening on", std::chrono::seconds(10), /*in_stderr=*/true));
  NotifyListener notify;
  auto unit = Run({AgentBinary()}, UnderSystemd(f, notify), std::chrono::seconds(20));
  CHECK(unit.exit_code == 3);  // in RestartPreventExitStatus=: systemd does not retry
  CHECK(notify.WaitFor("ERRNO=", std::chrono::seconds(1)));
  CHECK(notify.received().find("STATUS=another backend-imd (pid " + std::to_string(by_hand.pid()) +
                               ", started by hand)") != std::string::npos);
  CHECK(by_hand.Running());
}

TEST_CASE("a configuration the agent refuses is explained by the ctl at once") {
  AgentFixture f;
  f.env()["BACKEND_IM_LOG_LEVEL"] = "loud";
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.Ctl({"history"});
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.exit_code == 4);
  CHECK_MESSAGE(
      r.err.find("backend-imd did not start: unknown log level \"loud\"") != std::string::npos,
      r.err);
  // Before, the ctl waited out its 3 s and pointed at the log.
  MESSAGE("refused start explained after " << std::chrono::duration<double>(took).count() << " s");
  CHECK(took < std::chrono::milliseconds(2500));
}

TEST_CASE("with a platform URL it refuses, the agent serves local commands and says why") {
  AgentFixture f;
  f.env()["BACKEND_IM_API_URL"] = "http://backend.invalid:8080";
  auto auth = f.Ctl({"auth", "login", "--with-token"}, "dev-token\n");
  CHECK(auth.exit_code == 2);
  CHECK_MESSAGE(auth.err.find("https is required") != std::string::npos, auth.err);
  CHECK(auth.err.find("(from BACKEND_IM_API_URL)") != std::string::npos);
  CHECK(auth.err.find("backend-im daemon stop") != std::string::npos);
  auto deploy = f.Ctl({"deploy", "-d", f.MakeProject("p")});
  CHECK(deploy.exit_code == 2);
  CHECK(deploy.err.find("https is required") != std::string::npos);
  CHECK(f.Ctl({"history"}).exit_code == 0);
  CHECK(f.Ctl({"version"}).exit_code == 0);
  auto status = f.Ctl({"daemon", "status", "--json"});
  REQUIRE(status.exit_code == 0);
  auto j = nlohmann::json::parse(status.out);
  CHECK(j["apiUrl"] == "http://backend.invalid:8080");
  CHECK(j["apiUrlProblem"].get<std::string>().find("https is required") != std::string::npos);
}

TEST_CASE("clients that disagree on XDG_RUNTIME_DIR share one agent, in either order") {
  for (bool terminal_first : {true, false}) {
    CAPTURE(terminal_first);
    AgentFixture f;
    // A terminal passes XDG_RUNTIME_DIR; an MCP host often passes only HOME, PATH and the like.
    ProcessOptions terminal = f.Options();
    ProcessOptions bare = f.Options();
    bare.env.erase("XDG_RUNTIME_DIR");
    bare.unset_env.push_back("XDG_RUNTIME_DIR");
    const ProcessOptions& first = terminal_first ? terminal : bare;
    const ProcessOptions& second = terminal_first ? bare : terminal;
    auto login = Run({CtlBinary(), "auth", "login", "--with-token"}, [&] {
      ProcessOptions o = first;
      o.stdin_data = "dev-token\n";
      return o;
    }());
    REQUIRE_MESSAGE(login.exit_code == 0, login.err);
    int pid = f.AgentPid();
    REQUIRE(pid > 0);
    auto status = Run({CtlBinary(), "auth", "status", "--json"}, second);
    CHECK_MESSAGE(status.exit_code == 0, status.err);
    auto info = Run({CtlBinary(), "daemon", "status", "--json"}, second);
    REQUIRE_MESSAGE(info.exit_code == 0, info.err);
    CHECK(nlohmann::json::parse(info.out)["pid"] == pid);
    CHECK(f.AgentPid() == pid);
    CHECK(f.AgentLog().find("already running") == std::string::npos);  // no second agent tried
  }
}

TEST_CASE("a damaged database is explained at once, with how to move it aside") {
  AgentFixture f;
  WriteFile(f.StateDir() + "/agent.db", std::string(8192, 'x'));
  ::chmod(f.StateDir().c_str(), 0700);
  auto r = f.Ctl({"history"});
  CHECK(r.exit_code == 4);
  CHECK_MESSAGE(r.err.find("backend-imd did not start") != std::string::npos, r.err);
  CHECK(r.err.find("move it aside (mv ") != std::string::npos);
  CHECK(r.err.find("within 3 s") == std::string::npos);
}

TEST_CASE("an emptied database starts a new history and says so in the log") {
  AgentFixture f;
  WriteFile(f.StateDir() + "/agent.db", "");
  ::chmod(f.StateDir().c_str(), 0700);
  auto r = f.Ctl({"history"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "No deployments yet.\n");
  CHECK_MESSAGE(f.AgentLog().find("agent.db is empty (truncated?); starting a new history and "
                                  "login") != std::string::npos,
                f.AgentLog());
}
