// Desktop notices end to end: the real mock, agent and ctl, and a private session bus
// (dbus-daemon) watched by dbus-monitor, as real processes. Nobody owns
// org.freedesktop.Notifications on that bus unless a test registers a service, so the agent's call
// is answered ServiceUnknown, which it must take quietly; dbus-monitor still sees the call.
#include <systemd/sd-bus.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "tests/integration/agent_fixture.h"
#include "tests/integration/private_bus.h"

using namespace bim::test;
using std::chrono::seconds;

namespace {

int OnNotify(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/);

const sd_bus_vtable kNotificationsVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", OnNotify, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

// Owns org.freedesktop.Notifications on a bus and answers Notify as a desktop would, on a thread
// of its own, keeping each summary.
class NotificationService {
 public:
  explicit NotificationService(const std::string& address) {
    REQUIRE(sd_bus_new(&bus_) >= 0);
    REQUIRE(sd_bus_set_address(bus_, address.c_str()) >= 0);
    REQUIRE(sd_bus_set_bus_client(bus_, 1) >= 0);
    REQUIRE(sd_bus_start(bus_) >= 0);
    REQUIRE(sd_bus_add_object_vtable(bus_, nullptr, "/org/freedesktop/Notifications",
                                     "org.freedesktop.Notifications", kNotificationsVtable,
                                     this) >= 0);
    REQUIRE(sd_bus_request_name(bus_, "org.freedesktop.Notifications", 0) >= 0);
    thread_ = std::thread([this] {
      while (!stop_) {
        int r = sd_bus_process(bus_, nullptr);
        if (r < 0) break;
        if (r == 0) sd_bus_wait(bus_, 100000);  // wakes to see stop_
      }
    });
  }
  ~NotificationService() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    sd_bus_flush_close_unref(bus_);
  }

  std::vector<std::string> summaries() {
    std::lock_guard lock(mu_);
    return summaries_;
  }
  // Keeps a summary; returns the notice's id.
  uint32_t Record(const std::string& summary) {
    std::lock_guard lock(mu_);
    summaries_.push_back(summary);
    return static_cast<uint32_t>(summaries_.size());
  }

 private:
  sd_bus* bus_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> summaries_;  // guarded by mu_
};

int OnNotify(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
  const char *app = nullptr, *icon = nullptr, *summary = nullptr, *body = nullptr;
  uint32_t replaces = 0;
  int r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body);
  if (r < 0) return r;
  return sd_bus_reply_method_return(m, "u",
                                    static_cast<NotificationService*>(userdata)->Record(summary));
}

}  // namespace

TEST_CASE("one desktop notice per deployment made here, complete and failed, on the session bus") {
  SKIP_WITHOUT_DBUS();
  PrivateBus bus;
  AgentFixture ok({"--token", "dev-token", "--stage-delay-ms", "30"});
  AgentFixture failing(
      {"--token", "dev-token", "--stage-delay-ms", "30", "--fail-at", "deploying"});
  std::string complete_project, failed_project, url;
  for (AgentFixture* f : {&ok, &failing}) {
    f->env()["DBUS_SESSION_BUS_ADDRESS"] = bus.address();
    f->LoginWithToken();
    std::string dir = f->MakeProject("shop");
    // Two terminals follow it: still one notice.
    auto d = f->Deploy(dir);
    std::string id = d["deploymentId"];
    Process second = f->StartCtl({"watch", id, "--json"});
    auto watched = f->Ctl({"watch", id, "--json"});
    CHECK(watched.exit_code == (f == &ok ? 0 : 1));
    CHECK(second.Wait(seconds(30)) == (f == &ok ? 0 : 1));
    auto status = nlohmann::json::parse(f->Ctl({"status", id, "--json"}).out);
    if (f == &ok) {
      complete_project = d["projectId"];
      url = status["url"];
    } else {
      failed_project = d["projectId"];
    }
    // Stopping the agent ends its notifier: whatever it was going to send is sent by now.
    auto stopped = f->Ctl({"daemon", "stop"});
    REQUIRE_MESSAGE(stopped.exit_code == 0, stopped.err);
    // Nobody serves the notifications on this bus: said once, quietly.
    CHECK(CountOf(f->AgentLog(), "nobody serves org.freedesktop.Notifications") == 1);
  }

  auto calls = NotifyCalls(bus.Seen());
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].find("string \"backend-im\"") != std::string::npos);
  CHECK(calls[0].find("string \"Deployment complete: " + complete_project + "\"") !=
        std::string::npos);
  CHECK(calls[0].find("string \"" + url + "\"") != std::string::npos);
  CHECK(calls[1].find("string \"Deployment failed: " + failed_project + "\"") != std::string::npos);
  CHECK(calls[1].find("Failed at deploying") != std::string::npos);
  CHECK(calls[1].find("--fail-at deploying") != std::string::npos);  // the mock's last log line
}

TEST_CASE("a deployment looked up by id, or with BACKEND_IM_NOTIFY=0, sends no desktop notice") {
  SKIP_WITHOUT_DBUS();
  PrivateBus bus;
  // Stages slow enough that the other agent looks the deployment up while it still runs.
  AgentFixture maker({"--token", "dev-token", "--stage-delay-ms", "120"});
  maker.env()["DBUS_SESSION_BUS_ADDRESS"] = bus.address();
  maker.env()["BACKEND_IM_NOTIFY"] = "0";
  // Another user of the same platform (a second machine, say) watches it by id: not theirs.
  AgentFixture other({}, /*start_mock=*/false);
  other.env()["BACKEND_IM_API_URL"] = maker.env()["BACKEND_IM_API_URL"];
  other.env()["DBUS_SESSION_BUS_ADDRESS"] = bus.address();
  other.LoginWithToken();
  maker.LoginWithToken();

  std::string id = maker.Deploy(maker.MakeProject("shop"))["deploymentId"];
  auto watched = other.Ctl({"watch", id, "--json"});
  CHECK(watched.exit_code == 0);
  // Followed live by the other agent, which stored its end itself.
  CHECK(JsonLines(watched.out).size() > 1);
  CHECK(maker.Ctl({"watch", id}).exit_code == 0);
  CHECK(maker.AgentLog().find("desktop notices are off") != std::string::npos);
  REQUIRE(maker.Ctl({"daemon", "stop"}).exit_code == 0);
  REQUIRE(other.Ctl({"daemon", "stop"}).exit_code == 0);
  CHECK(NotifyCalls(bus.Seen()).empty());
}

TEST_CASE("with a notification service on the bus, the notice is delivered and answered") {
  SKIP_WITHOUT_DBUS();
  PrivateBus bus;
  NotificationService desktop(bus.address());
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.env()["DBUS_SESSION_BUS_ADDRESS"] = bus.address();
  f.LoginWithToken();
  auto dep = f.Ctl({"deploy", "-d", f.MakeProject("shop"), "--watch", "--json"});
  REQUIRE_MESSAGE(dep.exit_code == 0, (dep.out + dep.err));
  REQUIRE(f.Ctl({"daemon", "stop"}).exit_code == 0);
  auto summaries = desktop.summaries();
  REQUIRE(summaries.size() == 1);
  CHECK(summaries[0].rfind("Deployment complete: ", 0) == 0);
  CHECK(f.AgentLog().find("desktop notice sent") != std::string::npos);
  CHECK(f.AgentLog().find("desktop notice not delivered") == std::string::npos);
}

TEST_CASE("without a session bus, deploy --watch completes and nothing about it reaches the ctl") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.env()["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + (f.home() / "no-bus-here");
  f.LoginWithToken();
  std::string dir = f.MakeProject("shop");
  for (int i = 0; i < 2; ++i) {
    WriteFile(dir + "/version.txt", std::to_string(i));  // a new commit each time
    auto dep = f.Ctl({"deploy", "-d", dir, "--watch"});
    CHECK_MESSAGE(dep.exit_code == 0, (dep.out + dep.err));
    CHECK(dep.err.find("bus") == std::string::npos);
    CHECK(dep.err.find("notice") == std::string::npos);
  }
  REQUIRE(f.Ctl({"daemon", "stop"}).exit_code == 0);
  // Tried for each, said once at info (the rest at debug).
  CHECK(CountOf(f.AgentLog(), "desktop notice not delivered: cannot connect") == 2);
  CHECK(CountOf(f.AgentLog(), "later ones are tried and logged at debug level") == 1);
}
