// backend-im-mock: parse flags, build the server and the platform, serve until a signal.
#include <csignal>
#include <cstdio>
#include <exception>
#include <fstream>

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "mock-api/mock_options.h"
#include "mock-api/mock_platform.h"
#include "mock-api/ws_cat.h"
#include "ws/http_ws_server.h"

namespace {

// Written beside the target, then renamed over it, so a reader never sees half a number.
bool WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  bim::log::InitFromEnvironment("backend-im-mock");
  bim::mock::MockOptions options;
  if (int rc = bim::mock::ParseMockOptions(argc, argv, options); rc >= 0) return rc;
  try {
    if (!options.ws_cat_url.empty()) {
      return bim::mock::RunWsCat(options.ws_cat_url,
                                 options.tokens.empty() ? "" : options.tokens.front());
    }
    bim::ws::HttpWsServer server;
    bim::RealClock real_clock;
    bim::mock::ShiftableClock test_clock;
    const bim::Clock& clock =
        options.test_clock ? static_cast<const bim::Clock&>(test_clock) : real_clock;
    bim::StdRandom ids;
    bim::StdRandom faults(options.seed);
    bim::mock::MockPlatform platform(server, options, clock, ids, faults,
                                     options.test_clock ? &test_clock : nullptr);
    server.StopOnSignals({SIGINT, SIGTERM});
    auto port = server.Listen(options.host, options.port);
    if (!port.ok()) {
      bim::log::Error("{}", port.error().message);
      return 1;
    }
    platform.SetListenAddress(options.host, *port);
    if (!options.port_file.empty() && !WritePortFile(options.port_file, *port)) {
      bim::log::Error("cannot write the port file {}", options.port_file);
      return 1;
    }
    bim::log::Info("backend-im-mock listening on http://{}:{}{}", options.host, *port,
                   options.seed_only ? " (seed contract only)" : "");
    if (options.break_rename_field || options.break_status_order || options.break_commit_hash) {
      bim::log::Warn("the contract is broken on purpose (--break):{}{}{}",
                     options.break_rename_field ? " rename-field" : "",
                     options.break_status_order ? " status-order" : "",
                     options.break_commit_hash ? " commit-hash" : "");
    }
    server.Run();
    bim::log::Info("backend-im-mock stopped");
    return 0;
  } catch (const std::exception& e) {
    bim::log::Error("backend-im-mock: {}", e.what());
    return 1;
  }
}
