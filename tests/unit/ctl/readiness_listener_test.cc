// The ctl's notify socket for an agent it starts, fed by real sd_notify() calls from a child
// process (libsystemd's client, not ours), and by a sender of another uid.
#include "ctl/readiness_listener.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace bim;
using namespace bim::ctl;

namespace {

// Runs sd_notify(message) in a child with NOTIFY_SOCKET=address, optionally as another uid.
void NotifyFromChild(const std::string& address, const std::string& message, uid_t uid = 0) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (uid != 0 && (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0)) {
      ::_exit(2);
    }
    ::setenv("NOTIFY_SOCKET", address.c_str(), 1);
    ::_exit(sd_notify(0, message.c_str()) > 0 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

}  // namespace

TEST_CASE("READY=1 from the started agent is seen, through libsystemd's sd_notify") {
  auto listener = ReadinessListener::Open();
  REQUIRE(listener.ok());
  CHECK(listener->address().rfind("@", 0) == 0);
  NotifyFromChild(listener->address(), "STATUS=starting");  // neither ready nor failed
  NotifyFromChild(listener->address(), "READY=1\nMAINPID=42");
  auto report = listener->Wait(std::chrono::seconds(5));
  CHECK(report.ready);
  CHECK_FALSE(report.failed);
}

TEST_CASE("a refusal carries the agent's reason") {
  auto listener = ReadinessListener::Open();
  REQUIRE(listener.ok());
  NotifyFromChild(listener->address(), "STATUS=unknown log level \"loud\"\nERRNO=22");
  auto report = listener->Wait(std::chrono::seconds(5));
  CHECK(report.failed);
  CHECK_FALSE(report.ready);
  CHECK(report.message == "unknown log level \"loud\"");
}

TEST_CASE("nothing within the timeout is neither ready nor failed") {
  auto listener = ReadinessListener::Open();
  REQUIRE(listener.ok());
  auto report = listener->Wait(std::chrono::milliseconds(50));
  CHECK_FALSE(report.ready);
  CHECK_FALSE(report.failed);
}

TEST_CASE("notifications from another user are ignored") {
  if (::getuid() != 0) {
    MESSAGE("skipped: needs root to send as another uid");
    return;
  }
  auto listener = ReadinessListener::Open();
  REQUIRE(listener.ok());
  NotifyFromChild(listener->address(), "STATUS=forged\nERRNO=1", 65534);
  NotifyFromChild(listener->address(), "READY=1", 65534);
  auto report = listener->Wait(std::chrono::milliseconds(300));
  CHECK_FALSE(report.ready);
  CHECK_FALSE(report.failed);
}
