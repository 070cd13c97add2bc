// Logging in and out through the real ctl, agent and mock.
#include <sys/stat.h>

#include "tests/integration/agent_fixture.h"

using namespace bim::test;

TEST_CASE("login with a token from stdin, then status shows who without ever printing the token") {
  AgentFixture f;
  auto login = f.Ctl({"auth", "login", "--with-token"}, "dev-token\n");
  REQUIRE_MESSAGE(login.exit_code == 0, (login.out + login.err));
  CHECK(login.out.find("Logged in") != std::string::npos);

  auto status = f.Ctl({"auth", "status", "--json"});
  REQUIRE_MESSAGE(status.exit_code == 0, (status.out + status.err));
  auto j = nlohmann::json::parse(status.out);
  CHECK(j["loggedIn"] == true);
  CHECK(j["verified"] == true);
  CHECK(j["source"] == "token");
  CHECK_FALSE(j["email"].get<std::string>().empty());

  auto human = f.Ctl({"auth", "status"});
  CHECK(human.exit_code == 0);
  for (const auto& text :
       {login.out, login.err, status.out, status.err, human.out, human.err, f.AgentLog()}) {
    CHECK(text.find("dev-token") == std::string::npos);
  }
}

TEST_CASE("a token the platform rejects is not kept and says so") {
  AgentFixture f;
  auto r = f.Ctl({"auth", "login", "--with-token"}, "wrong-token\n");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("does not accept") != std::string::npos);
  auto status = f.Ctl({"auth", "status"});
  CHECK(status.exit_code == 3);
  CHECK(status.err.find("backend-im auth login") != std::string::npos);
}

TEST_CASE("an empty token on stdin is a usage error that shows how") {
  AgentFixture f;
  auto r = f.Ctl({"auth", "login", "--with-token"}, "");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("standard input") != std::string::npos);
}

TEST_CASE("logout erases the credentials, including from the database files") {
  AgentFixture f;
  f.LoginWithToken();
  auto out = f.Ctl({"auth", "logout"});
  REQUIRE(out.exit_code == 0);
  CHECK(out.out.find("Logged out") != std::string::npos);
  CHECK(f.Ctl({"auth", "status"}).exit_code == 3);
  std::string db = ReadFile(f.StateDir() + "/agent.db") + ReadFile(f.StateDir() + "/agent.db-wal");
  CHECK(db.find("dev-token") == std::string::npos);
  CHECK(f.Ctl({"auth", "logout"}).out.find("Was not logged in") != std::string::npos);
}

TEST_CASE("the state folder is 0700 and the database 0600") {
  AgentFixture f;
  f.LoginWithToken();
  struct stat st {};
  REQUIRE(::stat(f.StateDir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((f.StateDir() + "/agent.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(f.SocketPath().c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
}

TEST_CASE("device login: the code is shown, approval is awaited, and the login sticks") {
  AgentFixture f({"--auto-approve-after", "2", "--device-interval", "1", "--stage-delay-ms", "50"});
  auto r = f.Ctl({"auth", "login"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  CHECK(r.out.find("enter the code") != std::string::npos);
  CHECK(r.out.find("/device") != std::string::npos);
  auto status = f.Ctl({"auth", "status", "--json"});
  REQUIRE(status.exit_code == 0);
  auto j = nlohmann::json::parse(status.out);
  CHECK(j["source"] == "device");
  CHECK(j["canRefresh"] == true);
}

TEST_CASE("device login that the user denies ends with a clear error") {
  AgentFixture f({"--device-interval", "1"});
  Process login = f.StartCtl({"auth", "login", "--json"});
  REQUIRE(login.WaitForOutput("userCode", std::chrono::seconds(10)));
  auto start = nlohmann::json::parse(login.Stdout().substr(0, login.Stdout().find('\n')));
  auto deny = HttpRequest("POST", f.mock().http_url() + "/oauth/device/deny",
                          "user_code=" + start["userCode"].get<std::string>(),
                          {"Content-Type: application/x-www-form-urlencoded"});
  CHECK(deny.status == 200);
  auto code = login.Wait(std::chrono::seconds(20));
  REQUIRE(code.has_value());
  CHECK(*code == 3);
  CHECK(login.Stderr().find("denied") != std::string::npos);
}

TEST_CASE(
    "an access token that expires mid-session is refreshed and work goes on, and no token reaches "
    "a log at debug level") {
  AgentFixture f({"--auto-approve-after", "1", "--device-interval", "1", "--token-ttl", "1",
                  "--stage-delay-ms", "50", "--test-clock"});
  REQUIRE(f.Ctl({"auth", "login"}).exit_code == 0);
  // Past the 1 s lifetime on the platform's clock.
  REQUIRE(AdvanceMockClock(f.mock(), std::chrono::milliseconds(1100)));
  std::string dir = f.MakeProject("p");
  auto r = f.Ctl({"deploy", "-d", dir, "--watch"});
  CHECK_MESSAGE(r.exit_code == 0, (r.out + r.err + f.AgentLog()));
  CHECK(f.Ctl({"auth", "status"}).exit_code == 0);
  // The agent logs at debug level here (the fixture's BACKEND_IM_LOG_LEVEL), through the login,
  // the refresh and the deploy: never the mock's access or refresh tokens.
  std::string log = f.AgentLog();
  CHECK(log.find("refreshing the access token") != std::string::npos);
  CHECK(log.find("mock-at-") == std::string::npos);
  CHECK(log.find("mock-rt-") == std::string::npos);
  CHECK(f.mock().Log().find("mock-at-") == std::string::npos);
}

TEST_CASE("commands that need a login say how to log in") {
  AgentFixture f;
  auto r = f.Ctl({"generate", "REST API for users", "-o", f.home() / "x"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("backend-im auth login") != std::string::npos);
}

TEST_CASE("BACKEND_IM_TOKEN in the agent's environment wins, for CI") {
  AgentFixture f;
  f.env()["BACKEND_IM_TOKEN"] = "dev-token";
  auto o = f.Options();
  o.unset_env.erase(std::find(o.unset_env.begin(), o.unset_env.end(), "BACKEND_IM_TOKEN"));
  auto r = Run({CtlBinary(), "auth", "status", "--json"}, o);
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err));
  CHECK(nlohmann::json::parse(r.out)["source"] == "environment");
}
