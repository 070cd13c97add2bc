// The agent's settings precedence (daemon/agent_settings.h): flag, environment, config file,
// default; with a map for an environment.
#include "daemon/agent_settings.h"

#include <doctest/doctest.h>

using namespace bim;
using namespace bim::daemon;

namespace {

Result<AgentSettings> Resolve(const DaemonOptions& flags, std::map<std::string, std::string> env,
                              const Config& config = {}) {
  return ResolveAgentSettings(flags, MapEnvironment(std::move(env)), config, "/cfg/config", "1.2.3",
                              /*uid=*/1234);
}

// One setting given at every level, each its own value: the flag, the environment variable and
// the config file.
struct EveryLevel {
  DaemonOptions flag;
  std::map<std::string, std::string> env;
  Config config;
};
EveryLevel Given(std::string DaemonOptions::*flag, std::string variable,
                 std::optional<std::string> Config::*key, const char* by_flag, const char* by_env,
                 const char* by_config) {
  EveryLevel l;
  l.flag.*flag = by_flag;
  l.env[variable] = by_env;
  l.config.*key = by_config;
  return l;
}

}  // namespace

TEST_CASE("the platform URL: flag, then environment, then config file, then the default") {
  auto [flag, env, config] =
      Given(&DaemonOptions::api_url, "BACKEND_IM_API_URL", &Config::api_url,
            "https://from-flag.example", "https://from-env.example", "https://from-config.example");
  auto s = Resolve(flag, env, config);
  REQUIRE(s.ok());
  CHECK(s->api_url == "https://from-flag.example");
  CHECK(s->api_url_source == "--api-url");

  s = Resolve({}, env, config);
  CHECK(s->api_url == "https://from-env.example");
  CHECK(s->api_url_source == "BACKEND_IM_API_URL");

  s = Resolve({}, {}, config);
  CHECK(s->api_url == "https://from-config.example");
  CHECK(s->api_url_source == "api_url in /cfg/config");

  s = Resolve({}, {});
  CHECK(s->api_url == kDefaultApiUrl);
  CHECK(s->api_url_source.empty());
}

TEST_CASE("the log level follows the same order, and an unknown one is refused by name") {
  auto [flag, env, config] = Given(&DaemonOptions::log_level, "BACKEND_IM_LOG_LEVEL",
                                   &Config::log_level, "debug", "warn", "error");
  CHECK(Resolve(flag, env, config)->log_level == log::Level::kDebug);
  CHECK(Resolve({}, env, config)->log_level == log::Level::kWarn);
  CHECK(Resolve({}, {}, config)->log_level == log::Level::kError);
  CHECK(Resolve({}, {})->log_level == log::Level::kInfo);
  auto bad = Resolve({}, {{"BACKEND_IM_LOG_LEVEL", "loud"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad.error().message.find("\"loud\"") != std::string::npos);
}

TEST_CASE("the log size before it rotates: flag, environment, config file, else 10 MiB, in range") {
  auto [flag, env, config] = Given(&DaemonOptions::log_max_mb, "BACKEND_IM_LOG_MAX_MB",
                                   &Config::log_max_mb, "1", "2", "3");
  CHECK(Resolve(flag, env, config)->log_max_bytes == 1u << 20);
  CHECK(Resolve({}, env, config)->log_max_bytes == 2u << 20);
  CHECK(Resolve({}, {}, config)->log_max_bytes == 3u << 20);
  CHECK(Resolve({}, {})->log_max_bytes == 10u << 20);
  auto parsed = ParseConfig("log_max_mb = 4\n");
  REQUIRE(parsed.ok());
  CHECK(Resolve({}, {}, *parsed)->log_max_bytes == 4u << 20);
  for (const char* bad : {"0", "1025", "ten", "-1"}) {
    auto s = Resolve({}, {{"BACKEND_IM_LOG_MAX_MB", bad}});
    CAPTURE(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("BACKEND_IM_LOG_MAX_MB") != std::string::npos);
  }
}

TEST_CASE("CA file from the environment before the config file, and keepalive bounded") {
  Config config;
  config.ca_file = "/etc/config-ca.pem";
  CHECK(Resolve({}, {{"BACKEND_IM_CA_FILE", "/env-ca.pem"}}, config)->ca_file == "/env-ca.pem");
  CHECK(Resolve({}, {}, config)->ca_file == "/etc/config-ca.pem");
  CHECK(Resolve({}, {})->keepalive == std::chrono::seconds(20));
  CHECK(Resolve({}, {{"BACKEND_IM_WS_KEEPALIVE_MS", "5"}})->keepalive ==
        std::chrono::milliseconds(100));
  CHECK(Resolve({}, {{"BACKEND_IM_WS_KEEPALIVE_MS", "99999999"}})->keepalive ==
        std::chrono::minutes(10));
  CHECK(Resolve({}, {{"BACKEND_IM_WS_KEEPALIVE_MS", "1500"}})->keepalive ==
        std::chrono::milliseconds(1500));
}

TEST_CASE("who started the agent: a ctl's mark wins over systemd's INVOCATION_ID") {
  auto by_ctl = Resolve({}, {{"BACKEND_IM_AUTOSTARTED", "1"}, {"INVOCATION_ID", "abc"}});
  CHECK(by_ctl->autostarted);
  CHECK_FALSE(by_ctl->systemd_managed);
  auto by_systemd = Resolve({}, {{"INVOCATION_ID", "abc"}});
  CHECK_FALSE(by_systemd->autostarted);
  CHECK(by_systemd->systemd_managed);
  auto by_hand = Resolve({}, {});
  CHECK_FALSE(by_hand->autostarted);
  CHECK_FALSE(by_hand->systemd_managed);
  CHECK(by_hand->version == "1.2.3");
  CHECK(Resolve({}, {{"BACKEND_IM_VERSION_OVERRIDE", "9.9.9"}})->version == "9.9.9");
  CHECK(Resolve({}, {{"BACKEND_IM_TOKEN", "t"}})->environment_token == "t");
}

TEST_CASE("desktop notices: BACKEND_IM_NOTIFY before the config file's notify, on by default") {
  Config off;
  off.notify = "0";
  CHECK(Resolve({}, {})->notify);
  CHECK_FALSE(Resolve({}, {}, off)->notify);
  CHECK(Resolve({}, {{"BACKEND_IM_NOTIFY", "1"}}, off)->notify);
  CHECK_FALSE(Resolve({}, {{"BACKEND_IM_NOTIFY", "0"}})->notify);
  CHECK_FALSE(Resolve({}, {{"BACKEND_IM_NOTIFY", "off"}})->notify);

  auto bad = Resolve({}, {{"BACKEND_IM_NOTIFY", "sometimes"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad.error().message.find("BACKEND_IM_NOTIFY is \"sometimes\"") != std::string::npos);
  Config odd;
  odd.notify = "2";
  bad = Resolve({}, {}, odd);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("notify in /cfg/config") != std::string::npos);

  auto parsed = ParseConfig("# no notices\nnotify = off\n");
  REQUIRE(parsed.ok());
  CHECK_FALSE(Resolve({}, {}, *parsed)->notify);
}

TEST_CASE("the session bus: DBUS_SESSION_BUS_ADDRESS, else the runtime folder's, else the user's") {
  CHECK(Resolve({}, {{"DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/b"},
                     {"XDG_RUNTIME_DIR", "/run/user/1000"}})
            ->session_bus == "unix:path=/tmp/b");
  CHECK(Resolve({}, {{"XDG_RUNTIME_DIR", "/run/user/1000"}})->session_bus ==
        "unix:path=/run/user/1000/bus");
  // A D-Bus address escapes what is not a plain path character.
  CHECK(Resolve({}, {{"XDG_RUNTIME_DIR", "/tmp/a b,c"}})->session_bus ==
        "unix:path=/tmp/a%20b%2cc/bus");
  // Neither (an MCP host passes few variables): the user's runtime folder under /run/user.
  CHECK(Resolve({}, {})->session_bus == "unix:path=/run/user/1234/bus");
}

TEST_CASE("snapshot retention: flag, then environment, then config file, then the default") {
  Config config;
  config.snapshot_keep = "7";
  config.snapshot_max_mb = "70";
  DaemonOptions flag;
  flag.snapshot_keep = "5";
  flag.snapshot_max_mb = "50";
  std::map<std::string, std::string> env{{"BACKEND_IM_SNAPSHOT_KEEP", "6"},
                                         {"BACKEND_IM_SNAPSHOT_MAX_MB", "60"}};
  auto s = Resolve(flag, env, config);
  REQUIRE(s.ok());
  CHECK(s->snapshots.keep_per_project == 5);
  CHECK(s->snapshots.max_bytes == 50LL * 1024 * 1024);
  s = Resolve({}, env, config);
  CHECK(s->snapshots.keep_per_project == 6);
  CHECK(s->snapshots.max_bytes == 60LL * 1024 * 1024);
  s = Resolve({}, {}, config);
  CHECK(s->snapshots.keep_per_project == 7);
  CHECK(s->snapshots.max_bytes == 70LL * 1024 * 1024);
  s = Resolve({}, {});
  CHECK(s->snapshots.keep_per_project == 20);
  CHECK(s->snapshots.max_bytes == 200LL * 1024 * 1024);
}

TEST_CASE("a snapshot setting that is not a number in its range is refused, named") {
  for (const char* bad : {"-1", "1001", "ten", "5x", ""}) {
    CAPTURE(bad);
    auto s = Resolve({}, {{"BACKEND_IM_SNAPSHOT_KEEP", bad}});
    if (std::string(bad).empty()) {
      CHECK(s.ok());  // unset
      continue;
    }
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInvalidArgument);
    CHECK(s.error().message.find("BACKEND_IM_SNAPSHOT_KEEP") != std::string::npos);
  }
  auto zero_mb = Resolve({}, {{"BACKEND_IM_SNAPSHOT_MAX_MB", "0"}});
  REQUIRE_FALSE(zero_mb.ok());
  CHECK(zero_mb.error().message.find("BACKEND_IM_SNAPSHOT_MAX_MB") != std::string::npos);
}

TEST_CASE("custom domains: the DNS server and the first wait of the checks, from the environment") {
  auto none = Resolve({}, {});
  REQUIRE(none.ok());
  CHECK(none->dns_server.empty());
  CHECK(none->domain_check_first_delay == std::chrono::milliseconds(5000));
  auto set = Resolve(
      {}, {{"BACKEND_IM_DNS_SERVER", "127.0.0.1:5353"}, {"BACKEND_IM_DOMAIN_CHECK_MS", "100"}});
  REQUIRE(set.ok());
  CHECK(set->dns_server == "127.0.0.1:5353");
  CHECK(set->domain_check_first_delay == std::chrono::milliseconds(100));
  for (const char* bad : {"0", "9", "600001", "soon"}) {
    CAPTURE(bad);
    auto refused = Resolve({}, {{"BACKEND_IM_DOMAIN_CHECK_MS", bad}});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("BACKEND_IM_DOMAIN_CHECK_MS") != std::string::npos);
    CHECK(refused.error().message.find("from 10 to 600000") != std::string::npos);
  }
}
