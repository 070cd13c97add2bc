// The agent's single-instance lock, held by a real second process.
#include "daemon/instance_lock.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

// When a LockHolder lets go: once killed (SIGTERM ends it, as it ends an agent), or on its own
// as soon as another process has tried the lock and been refused.
enum class Leaves { kWhenKilled, kAfterARefusal };

// A child process that takes the lock (and, if socket_path is set, listens there), tells the
// parent, then holds both until it leaves. With started_by set it writes an agent's record into
// the lock file.
class LockHolder {
 public:
  LockHolder(const std::string& lock_path, const std::string& socket_path, Leaves leaves,
             const char* started_by = nullptr) {
    int sync[2];
    REQUIRE(::pipe(sync) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // The test stops this holder with SIGTERM, as the agent would be: die of it, rather than
      // have the doctest handler the fork inherited report a crash of a test.
      ::signal(SIGTERM, SIG_DFL);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // and it goes with a test process that dies
      ::close(sync[0]);
      int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      if (started_by) {
        std::string record = FormatAgentRecord({::getpid(), socket_path, started_by});
        if (::write(fd, record.data(), record.size()) < 0) ::_exit(1);
      }
      if (!socket_path.empty()) {
        int s = test::BindUnixSocket(socket_path);
        if (s < 0 || ::listen(s, 4) != 0) ::_exit(1);
      }
      int watch = -1;
      if (leaves == Leaves::kAfterARefusal) {
        watch = ::inotify_init1(IN_CLOEXEC);
        if (watch < 0 || ::inotify_add_watch(watch, lock_path.c_str(), IN_CLOSE) < 0) ::_exit(1);
      }
      (void)!::write(sync[1], "x", 1);
      if (watch >= 0) {
        // A refused taker opens the file, fails to lock it and closes it: that close.
        char events[sizeof(inotify_event) + NAME_MAX + 1];
        (void)!::read(watch, events, sizeof events);
        ::_exit(0);
      }
      for (;;) ::pause();
    }
    ::close(sync[1]);
    char c;
    REQUIRE(::read(sync[0], &c, 1) == 1);
    ::close(sync[0]);
  }
  ~LockHolder() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool Running() { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

AgentRecord Self(const std::string& socket_path) {
  return {::getpid(), socket_path, AgentRecord::kStartedBySystemd};
}

}  // namespace

TEST_CASE("the lock holder's record names its pid, socket and starter for clients to read") {
  test::TempDir t;
  {
    auto lock = InstanceLock::Acquire(t / "agent.lock", Self("/run/user/1/backend-im/agent.sock"));
    REQUIRE(lock.ok());
    auto record = ReadAgentRecord(t.path());
    REQUIRE(record);
    CHECK(record->pid == ::getpid());
    CHECK(record->socket_path == "/run/user/1/backend-im/agent.sock");
    CHECK(record->started_by == "systemd");
  }
  // A longer record before a shorter one leaves no tail behind.
  auto lock = InstanceLock::Acquire(t / "agent.lock", {7, "/s", "ctl"});
  REQUIRE(lock.ok());
  auto record = ReadAgentRecord(t.path());
  REQUIRE(record);
  CHECK(record->socket_path == "/s");
  CHECK(record->started_by == "ctl");
}

TEST_CASE("the instance lock is refused while another process holds it") {
  test::TempDir t;
  LockHolder holder(t / "agent.lock", "", Leaves::kWhenKilled);
  auto lock = InstanceLock::Acquire(t / "agent.lock", {::getpid(), t / "agent.sock", "hand"});
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.error().code == ErrorCode::kConflict);
  CHECK(lock.error().message.find("backend-im daemon stop") != std::string::npos);
}

TEST_CASE("a holder that has left its socket is waited for until it exits") {
  test::TempDir t;
  LockHolder holder(t / "agent.lock", "", Leaves::kAfterARefusal);
  auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "agent.sock"),
                                                 LockWait{std::chrono::seconds(10)});
  CHECK(lock.ok());
  CHECK_FALSE(holder.Running());
}

TEST_CASE("a holder that still listens is refused at once, and patience has a limit") {
  test::TempDir t;
  {
    LockHolder holder(t / "agent.lock", t / "agent.sock", Leaves::kWhenKilled);
    auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "agent.sock"),
                                                   LockWait{std::chrono::seconds(10)});
    REQUIRE_FALSE(lock.ok());
    CHECK(lock.error().code == ErrorCode::kConflict);
    CHECK(holder.Running());
  }
  LockHolder silent(t / "agent.lock", "", Leaves::kWhenKilled);
  auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "other.sock"),
                                                 LockWait{std::chrono::milliseconds(200)});
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.error().code == ErrorCode::kConflict);
  CHECK(silent.Running());
}

TEST_CASE("a listening holder that a ctl started is asked to stop when taking over is allowed") {
  test::TempDir t;
  LockHolder holder(t / "agent.lock", t / "ondemand.sock", Leaves::kWhenKilled,
                    AgentRecord::kStartedByCtl);
  // Without permission to take over, the listening holder is refused and left alone.
  auto refused = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "unit.sock"),
                                                    LockWait{std::chrono::seconds(10)});
  REQUIRE_FALSE(refused.ok());
  CHECK(holder.Running());
  // The holder listens on its own socket, not on ours: the record says where.
  auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "unit.sock"),
                                                 LockWait{std::chrono::seconds(10), true});
  CHECK(lock.ok());
  CHECK_FALSE(holder.Running());
  auto record = ReadAgentRecord(t.path());
  REQUIRE(record);
  CHECK(record->pid == ::getpid());
}

TEST_CASE("a holder started by hand or by systemd is never asked to stop") {
  for (const char* starter : {AgentRecord::kStartedByHand, AgentRecord::kStartedBySystemd}) {
    CAPTURE(starter);
    test::TempDir t;
    LockHolder holder(t / "agent.lock", t / "agent.sock", Leaves::kWhenKilled, starter);
    auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", Self(t / "agent.sock"),
                                                   LockWait{std::chrono::seconds(10), true});
    REQUIRE_FALSE(lock.ok());
    CHECK(lock.error().code == ErrorCode::kConflict);
    CHECK(lock.error().message.find(std::to_string(holder.pid())) != std::string::npos);
    CHECK(holder.Running());
  }
}

TEST_CASE("an agent record parses, tolerates older and newer writers, and refuses garbage") {
  auto full = ParseAgentRecord("42\nsocket=/a b/agent.sock\nstarted_by=ctl\nfuture=x\n");
  REQUIRE(full);
  CHECK(full->pid == 42);
  CHECK(full->socket_path == "/a b/agent.sock");
  CHECK(full->started_by == "ctl");
  auto bare = ParseAgentRecord("42\n");  // what agents before the record wrote
  REQUIRE(bare);
  CHECK(bare->pid == 42);
  CHECK(bare->socket_path.empty());
  CHECK_FALSE(ParseAgentRecord(""));
  CHECK_FALSE(ParseAgentRecord("x42\nsocket=/s\n"));
  CHECK_FALSE(ParseAgentRecord("-1\n"));
  CHECK(FormatAgentRecord(*full).find("future") == std::string::npos);
  CHECK(ParseAgentRecord(FormatAgentRecord(*full))->socket_path == full->socket_path);
}

TEST_CASE("a record in a folder that others can write, or not ours, is not read") {
  test::TempDir t;
  std::string dir = t / "state";
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  {
    int fd = ::open((dir + "/agent.lock").c_str(), O_WRONLY | O_CREAT, 0600);
    std::string record = FormatAgentRecord({42, "/s", "ctl"});
    REQUIRE(::write(fd, record.data(), record.size()) > 0);
    ::close(fd);
  }
  CHECK(ReadAgentRecord(dir));
  REQUIRE(::chmod(dir.c_str(), 0777) == 0);
  CHECK_FALSE(ReadAgentRecord(dir));
  REQUIRE(::chmod(dir.c_str(), 0700) == 0);
  REQUIRE(::chmod((dir + "/agent.lock").c_str(), 0666) == 0);
  CHECK_FALSE(ReadAgentRecord(dir));
  REQUIRE(::chmod((dir + "/agent.lock").c_str(), 0600) == 0);
  REQUIRE(::unlink((dir + "/agent.lock").c_str()) == 0);
  REQUIRE(::symlink("/etc/hostname", (dir + "/agent.lock").c_str()) == 0);
  CHECK_FALSE(ReadAgentRecord(dir));
}
