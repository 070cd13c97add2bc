#pragma once
// A private D-Bus session bus for tests of desktop notices: dbus-daemon on a socket of the test's
// own, and dbus-monitor printing every message of org.freedesktop.Notifications on it, as real
// processes (tests/integration/agent_notify_test.cc, agent_domains_test.cc).
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/agent_fixture.h"

namespace bim::test {

inline bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// A private session bus and a dbus-monitor that prints every message of the Notifications
// interface on it. Both stop (SIGKILL) with the object.
class PrivateBus {
 public:
  PrivateBus() {
    daemon_ = std::make_unique<Process>(
        std::vector<std::string>{"dbus-daemon", "--session", "--nofork", "--print-address=1",
                                 "--address=unix:path=" + (dir_ / "bus")});
    REQUIRE_MESSAGE(daemon_->WaitForOutput("\n", std::chrono::seconds(10)), daemon_->Stderr());
    address_ = daemon_->Stdout().substr(0, daemon_->Stdout().find('\n'));
    monitor_ = std::make_unique<Process>(std::vector<std::string>{
        "dbus-monitor", "--address", address_, "interface='org.freedesktop.Notifications'"});
    // dbus-monitor loses its unique name once it has become a monitor: from then on it sees all.
    REQUIRE_MESSAGE(monitor_->WaitForOutput("member=NameLost", std::chrono::seconds(10)),
                    monitor_->Stderr());
  }

  const std::string& address() const { return address_; }

  // What the monitor printed, once everything sent on the bus before this call has reached it:
  // a marker signal, sent after, arrives after.
  std::string Seen() {
    std::string marker = "Marker" + std::to_string(++markers_);
    auto sent = Run({"dbus-send", "--address=" + address_, "--type=signal",
                     "/org/freedesktop/Notifications", "org.freedesktop.Notifications." + marker});
    REQUIRE_MESSAGE(sent.exit_code == 0, sent.err);
    REQUIRE(monitor_->WaitForOutput("member=" + marker, std::chrono::seconds(10)));
    return monitor_->Stdout();
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> daemon_;
  std::unique_ptr<Process> monitor_;
  std::string address_;
  int markers_ = 0;
};

// The text of every Notify call the monitor printed, one entry per call.
inline std::vector<std::string> NotifyCalls(const std::string& monitor_output) {
  std::vector<std::string> calls;
  const std::string start = "member=Notify\n";
  for (size_t pos = monitor_output.find(start); pos != std::string::npos;) {
    size_t next = monitor_output.find("\nmethod call ", pos);
    size_t signal = monitor_output.find("\nsignal ", pos);
    next = std::min(next, signal);
    calls.push_back(monitor_output.substr(pos, next == std::string::npos ? next : next - pos));
    pos = monitor_output.find(start, pos + start.size());
  }
  return calls;
}

// Skips a test (returns) without the D-Bus tools.
#define SKIP_WITHOUT_DBUS()                                                        \
  if (!OnPath("dbus-daemon") || !OnPath("dbus-monitor") || !OnPath("dbus-send")) { \
    MESSAGE(                                                                       \
        "skipped: dbus-daemon, dbus-monitor or dbus-send is not installed "        \
        "(Debian packages dbus-daemon and dbus-bin; scripts/install-deps.sh)");    \
    return;                                                                        \
  }

}  // namespace bim::test
