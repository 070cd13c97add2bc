// AuthManager against the real mock platform, real libcurl and a real SQLite store; only time is
// simulated, so a jump past expiry takes no waiting.
#include "daemon/auth_manager.h"

#include <doctest/doctest.h>

#include "common/curl_http_client.h"
#include "daemon/database.h"
#include "daemon/platform_client.h"
#include "daemon/token_store.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::daemon;

namespace {

struct Rig {
  test::MockPlatform mock{
      {"--auto-approve-after", "1", "--device-interval", "1", "--token-ttl", "3600"}};
  test::TempDir dir;
  FakeClock clock;
  StdRandom random;
  StopSignal stop;
  CurlHttpClient http;
  PlatformClient platform{mock.http_url(), http, clock, random, stop};
  std::unique_ptr<Database> db = std::move(Database::Open(dir / "agent.db").value());
  TokenStore tokens{*db};
  AuthManager auth{platform, tokens, clock, random, stop, ""};

  void LogIn() {
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
  CHECK(test::CountOfRefreshes(r.mock.Log()) == 1);
  CHECK(r.auth.Verify().ok());  // the platform accepts the new token
  // The rotated refresh token was stored: a new AuthManager on the same database still works.
  AuthManager again{r.platform, r.tokens, r.clock, r.random, r.stop, ""};
  CHECK(*again.AccessToken() == *second);
}

TEST_CASE("a 401 for a token the clock thinks is fresh gets one refresh and one retry") {
  test::MockPlatform mock{
      {"--auto-approve-after", "1", "--device-interval", "1", "--token-ttl", "1"}};
  test::TempDir dir;
  FakeClock clock;  // never advanced: the agent believes the token is fresh
  StdRandom random;
  StopSignal stop;
  CurlHttpClient http;
  PlatformClient platform{mock.http_url(), http, clock, random, stop};
  auto db = Database::Open(dir / "agent.db");
  REQUIRE(db.ok());
  TokenStore tokens{**db};
  AuthManager auth{platform, tokens, clock, random, stop, ""};
  auto ticket = auth.LoginStart();
  REQUIRE(ticket.ok());
  REQUIRE(auth.LoginCheck(ticket->login_id, std::chrono::seconds(15))->state ==
          LoginState::kApproved);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the platform's clock moves on
  int calls = 0;
  auto v = auth.Call<contract::VerifyResponse>([&](const std::string& token) {
    ++calls;
    return platform.Verify(token);
  });
  CHECK(v.ok());
  CHECK(calls == 2);
  CHECK(test::CountOfRefreshes(mock.Log()) == 1);
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
  CHECK(test::CountOfRefreshes(r.mock.Log()) == 1);
}
