// The ctl's settings from its environment: defaults, each variable, and values that do not
// parse, which are ignored with a warning that names them.
#include "ctl/client_settings.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace bim;
using namespace bim::ctl;
using std::chrono::milliseconds;

namespace {
ClientSettings Read(std::map<std::string, std::string> vars) {
  return ReadClientSettings(MapEnvironment(std::move(vars)));
}
}  // namespace

TEST_CASE("the ctl's settings default when the environment has none of them") {
  auto s = Read({});
  CHECK(s.socket.empty());
  CHECK(s.agent_binary.empty());
  CHECK(s.autostart);
  CHECK(s.call_timeout_cap == milliseconds(0));
  CHECK(s.reattach_grace == milliseconds(5000));
  CHECK(s.warnings.empty());
}

TEST_CASE("each ctl setting is read from its variable") {
  auto s = Read({{"BACKEND_IM_SOCKET", "/run/x.sock"},
                 {"BACKEND_IMD", "/opt/backend-imd"},
                 {"BACKEND_IM_NO_AUTOSTART", "1"},
                 {"BACKEND_IM_CALL_TIMEOUT_MS", "1500"},
                 {"BACKEND_IM_REATTACH_GRACE_MS", "0"}});
  CHECK(s.socket == "/run/x.sock");
  CHECK(s.agent_binary == "/opt/backend-imd");
  CHECK_FALSE(s.autostart);
  CHECK(s.call_timeout_cap == milliseconds(1500));
  CHECK(s.reattach_grace == milliseconds(0));
  CHECK(s.warnings.empty());
}

TEST_CASE("a ctl setting that does not parse keeps its default and is named in a warning") {
  for (const char* bad : {"abc", "-5", "12ms", "600001", "99999999999999999999999"}) {
    CAPTURE(bad);
    auto s = Read({{"BACKEND_IM_REATTACH_GRACE_MS", bad}});
    CHECK(s.reattach_grace == milliseconds(5000));
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0].find("BACKEND_IM_REATTACH_GRACE_MS") != std::string::npos);
  }
  auto s = Read({{"BACKEND_IM_CALL_TIMEOUT_MS", "soon"}, {"BACKEND_IM_NO_AUTOSTART", "0"}});
  CHECK(s.call_timeout_cap == milliseconds(0));
  CHECK(s.autostart);
  REQUIRE(s.warnings.size() == 1);
  CHECK(s.warnings[0].find("BACKEND_IM_CALL_TIMEOUT_MS") != std::string::npos);
}
