#include "daemon/desktop_notifier.h"

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace bim::daemon {
namespace {

constexpr const char* kService = "org.freedesktop.Notifications";
constexpr const char* kPath = "/org/freedesktop/Notifications";
constexpr const char* kInterface = "org.freedesktop.Notifications";

// The answer to one call, filled in by OnReply on the notifier's thread.
struct Reply {
  bool done = false;
  std::string error_name;  // "": a method return
  std::string error_message;
};

int OnReply(sd_bus_message* m, void* userdata, sd_bus_error* /*ret_error*/) {
  auto* reply = static_cast<Reply*>(userdata);
  reply->done = true;
  if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
    reply->error_name = e->name ? e->name : "an unnamed error";
    reply->error_message = e->message ? e->message : "";
  }
  return 0;
}

uint64_t Usec(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

}  // namespace

DesktopNotifier::DesktopNotifier(std::string bus_address) : address_(std::move(bus_address)) {}

DesktopNotifier::~DesktopNotifier() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    thread.swap(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void DesktopNotifier::Notify(const DeploymentEnd& end) {
  Queue(NoticeFor(end), "deployment " + end.deployment_id);
}

void DesktopNotifier::Notify(const DomainCertificateEnd& end) {
  Queue(NoticeFor(end), "domain " + end.domain);
}

void DesktopNotifier::Queue(DesktopNotice notice, const std::string& what) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (address_.empty()) {
    if (!said_no_bus_) {
      log::Info(
          "no desktop notices: there is no session bus (neither DBUS_SESSION_BUS_ADDRESS "
          "nor XDG_RUNTIME_DIR is set)");
      said_no_bus_ = true;
    }
    return;
  }
  if (queue_.size() >= kMaxQueued) {
    log::Warn("desktop notice for {} dropped: {} are waiting for the session bus", what,
              queue_.size());
    return;
  }
  queue_.push_back(std::move(notice));
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_one();
}

void DesktopNotifier::Run() {
  for (;;) {
    DesktopNotice notice;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      notice = std::move(queue_.front());
      queue_.pop_front();
    }
    Deliver(notice);
  }
  Disconnect();
}

void DesktopNotifier::Disconnect() { bus_ = sd_bus_close_unref(bus_); }

void DesktopNotifier::Quiet(const std::string& what) {
  if (failing_) {
    log::Debug("desktop notice not delivered: {}", what);
    return;
  }
  failing_ = true;
  log::Info(
      "desktop notice not delivered: {}; later ones are tried and logged at debug level "
      "(BACKEND_IM_NOTIFY=0 turns notices off)",
      what);
}

void DesktopNotifier::Deliver(const DesktopNotice& notice) {
  const auto deadline = std::chrono::steady_clock::now() + kCallTimeout;
  if (!bus_) {
    sd_bus* bus = nullptr;
    int r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, address_.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
    if (r < 0) {
      sd_bus_close_unref(bus);
      Quiet(
          fmt::format("cannot connect to the session bus at {}: {}", address_, std::strerror(-r)));
      return;
    }
    bus_ = bus;
  }

  sd_bus_message* m = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &m, kService, kPath, kInterface, "Notify");
  // app_name, replaces_id, app_icon, summary, body, actions (none), hints (none), expire_timeout
  if (r >= 0) {
    r = sd_bus_message_append(m, "susssasa{sv}i", "backend-im", uint32_t{0}, "",
                              notice.summary.c_str(), notice.body.c_str(), 0, 0, kExpireMs);
  }
  Reply reply;
  sd_bus_slot* slot = nullptr;
  // The connection is still being set up on its first call: the call waits in its queue.
  if (r >= 0) r = sd_bus_call_async(bus_, &slot, m, OnReply, &reply, Usec(kCallTimeout));
  sd_bus_message_unref(m);
  if (r < 0) {
    Disconnect();
    Quiet(fmt::format("cannot send it on the session bus at {}: {}", address_, std::strerror(-r)));
    return;
  }
  // Every wait is bounded by our deadline, including the connection's authentication, whose own
  // timeout is sd-bus's 25 s.
  std::string failure;
  while (!reply.done) {
    r = sd_bus_process(bus_, nullptr);
    if (r < 0) {
      failure = fmt::format("the session bus at {} failed: {}", address_, std::strerror(-r));
      break;
    }
    if (r > 0) continue;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      failure = fmt::format("the session bus at {} did not answer within {} ms", address_,
                            kCallTimeout.count());
      break;
    }
    r = sd_bus_wait(bus_, Usec(left));
    if (r < 0) {
      failure = fmt::format("the session bus at {} failed: {}", address_, std::strerror(-r));
      break;
    }
  }
  // Unanswered, the slot's end also forgets the call, so OnReply never sees `reply` again.
  sd_bus_slot_unref(slot);

  if (!failure.empty() || sd_bus_is_open(bus_) <= 0) Disconnect();
  if (!failure.empty()) {
    Quiet(failure);
  } else if (reply.error_name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
             reply.error_name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    Quiet(fmt::format("nobody serves {} on the session bus (no desktop session?)", kService));
  } else if (!reply.error_name.empty()) {
    Quiet(fmt::format("{} answered {}: {}", kService, reply.error_name, reply.error_message));
  } else {
    if (failing_) log::Info("desktop notices are delivered again");
    failing_ = false;
    log::Debug("desktop notice sent: {}", notice.summary);
  }
}

}  // namespace bim::daemon
