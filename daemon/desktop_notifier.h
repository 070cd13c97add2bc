#pragma once
// Notifier on the desktop: an org.freedesktop.Notifications.Notify call on the user's session
// bus (sd-bus from libsystemd), with app_name "backend-im" and the text of NoticeFor.
//
// Notify only queues the notice (at most kMaxQueued; beyond that a notice is dropped and
// logged) and returns. One thread of the notifier's own, started by the first notice, connects
// and calls: every wait on the bus (connecting, authenticating, the reply) is bounded by
// kCallTimeout, so neither a watcher nor a gRPC thread ever waits for the bus, and the
// destructor (which the daemon runs at shutdown) waits at most that long for a call under way. A
// connection that fails or is lost is dropped and opened again for the next notice.
//
// Quiet without a desktop: no bus address, a bus that cannot be reached or nobody owning
// org.freedesktop.Notifications (a headless session, a private bus) each log one info line, then
// debug lines, until a notice is delivered again. Nothing is retried: a notice that cannot be
// delivered now is stale later.
//
// What goes on the bus: the project id, the deployment's URL or failing stage and last log line,
// a custom domain's name and why its certificate failed; never a token.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/notifier.h"

struct sd_bus;

namespace bim::daemon {

class DesktopNotifier final : public Notifier {
 public:
  static constexpr size_t kMaxQueued = 16;
  static constexpr std::chrono::milliseconds kCallTimeout{2000};
  // How long the desktop shows a notice.
  static constexpr int kExpireMs = 15000;

  // bus_address: a D-Bus address (SessionBusAddress() in agent_settings.h); "" means there is
  // no session bus, and notices are dropped with one log line.
  explicit DesktopNotifier(std::string bus_address);
  ~DesktopNotifier() override;

  void Notify(const DeploymentEnd& end) override;
  void Notify(const DomainCertificateEnd& end) override;

 private:
  // Queues a notice; what: what it is about, for the log line when it is dropped.
  void Queue(DesktopNotice notice, const std::string& what);
  void Run();
  // Delivers one notice on the bus, connecting first when needed.
  void Deliver(const DesktopNotice& notice);
  // Drops the connection, so the next notice opens a new one.
  void Disconnect();
  // Logs a failure at info the first time in a row, at debug after that.
  void Quiet(const std::string& what);

  const std::string address_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DesktopNotice> queue_;  // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  bool said_no_bus_ = false;         // guarded by mu_
  std::thread thread_;               // guarded by mu_; started by the first notice

  // Only the notifier's thread touches these.
  sd_bus* bus_ = nullptr;
  bool failing_ = false;  // the last notice was not delivered (its failure was logged)
};

}  // namespace bim::daemon
