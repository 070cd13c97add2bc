// The agent's single-instance lock, held by a real second process.
#include "daemon/instance_lock.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

// A child process that takes the lock (and, if socket_path is set, listens there), tells the
// parent, then holds both until it has slept hold_ms or is killed.
class LockHolder {
 public:
  LockHolder(const std::string& lock_path, const std::string& socket_path, int hold_ms) {
    int sync[2];
    REQUIRE(::pipe(sync) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(sync[0]);
      int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      if (!socket_path.empty()) {
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
        if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(s, 4) != 0)
          ::_exit(1);
      }
      (void)!::write(sync[1], "x", 1);
      ::usleep(static_cast<useconds_t>(hold_ms) * 1000);
      ::_exit(0);
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

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("the instance lock is refused while another process holds it") {
  test::TempDir t;
  LockHolder holder(t / "agent.lock", "", 10'000);
  auto lock = InstanceLock::Acquire(t / "agent.lock");
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.error().code == ErrorCode::kConflict);
  CHECK(lock.error().message.find("backend-im daemon stop") != std::string::npos);
}

TEST_CASE("a holder that has left its socket is waited for until it exits") {
  test::TempDir t;
  LockHolder holder(t / "agent.lock", "", 300);
  auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", t / "agent.sock",
                                                 std::chrono::seconds(10));
  CHECK(lock.ok());
  CHECK_FALSE(holder.Running());
}

TEST_CASE("a holder that still listens is refused at once, and patience has a limit") {
  test::TempDir t;
  {
    LockHolder holder(t / "agent.lock", t / "agent.sock", 10'000);
    auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", t / "agent.sock",
                                                   std::chrono::seconds(10));
    REQUIRE_FALSE(lock.ok());
    CHECK(lock.error().code == ErrorCode::kConflict);
    CHECK(holder.Running());
  }
  LockHolder silent(t / "agent.lock", "", 10'000);
  auto lock = InstanceLock::AcquireAfterStopping(t / "agent.lock", t / "other.sock",
                                                 std::chrono::milliseconds(200));
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.error().code == ErrorCode::kConflict);
  CHECK(silent.Running());
}
