// AuthManager against the in-memory platform (tests/support/fake_platform.h) and a real SQLite
// store, in simulated time: a jump past expiry, or a device flow's polling interval, takes no
// waiting. The refresh scenarios of a whole deployment are in agent_scenarios_test.cc.
#include "daemon/auth_manager.h"

#include <doctest/doctest.h>

#include <thread>

#include "daemon/database.h"
#include "daemon/token_store.h"
#include "tests/support/fake_platform.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

struct Rig {
  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  test::FakePlatform platform{clock};
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  TokenStore tokens{*db};
  AuthManager auth{platform, tokens, clock, random, stop, ""};

  void LogIn() {
    platform.ApproveDeviceLogin();
    auto ticket = auth.LoginStart();
    REQUIRE(ticket.ok());
    auto outcome = auth.LoginCheck(ticket->login_id, std::chrono::seconds(15));
    REQUIRE(outcome.ok());
    REQUIRE(outcome->state == LoginState::kApproved);
  }
};

}  // namespace

TEST_CASE("a clock jump past expiry refreshes once, and the new token works") {
  Rig r;
  r.LogIn();
  auto first = r.auth.AccessToken();
  REQUIRE(first.ok());
  CHECK(*r.auth.AccessToken() == *first);  // still fresh: no refresh
  r.clock.Advance(std::chrono::hours(2));  // past the one-hour lifetime
  auto second = r.auth.AccessToken();
  REQUIRE(second.ok());
  CHECK(*second != *first);
  CHECK(r.platform.refreshes() == 1);
  CHECK(r.auth.Verify().ok());  // the platform accepts the new token
  // The rotated refresh token was stored: a new AuthManager on the same database still works.
  AuthManager again{r.platform, r.tokens, r.clock, r.random, r.stop, ""};
  CHECK(*again.AccessToken() == *second);
  r.clock.Advance(std::chrono::hours(2));
  auto third = again.AccessToken();
  REQUIRE_MESSAGE(third.ok(), third.error().message);
  CHECK(r.platform.refreshes() == 2);
}

TEST_CASE("a 401 for a token the clock thinks is fresh gets one refresh and one retry") {
  Rig r;
  r.LogIn();
  r.platform.RevokeAccessTokens();  // the clock never moved: the agent believes it fresh
  int calls = 0;
  auto v = r.auth.Call<contract::VerifyResponse>([&](const std::string& token) {
    ++calls;
    return r.platform.Verify(token);
  });
  CHECK(v.ok());
  CHECK(calls == 2);
  CHECK(r.platform.refreshes() == 1);
}

TEST_CASE("concurrent callers share one refresh") {
  Rig r;
  r.LogIn();
  r.clock.Advance(std::chrono::hours(2));
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { got[i] = r.auth.AccessToken().value(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) CHECK(g == got[0]);
  CHECK(r.platform.refreshes() == 1);
}

TEST_CASE("concurrent 401s for one token share one refresh") {
  Rig r;
  r.LogIn();
  r.platform.RevokeAccessTokens();
  std::vector<std::thread> threads;
  std::vector<int> ok(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      ok[i] = r.auth
                  .Call<contract::VerifyResponse>(
                      [&](const std::string& token) { return r.platform.Verify(token); })
                  .ok();
    });
  }
  for (auto& t : threads) t.join();
  for (int o : ok) CHECK(o == 1);
  CHECK(r.platform.refreshes() == 1);
}
