// The agent and the ctl against backend-im-mock --run-apps: a deploy whose code raises at import,
// seen through `deploy --watch` and `status`, while the previous deployment serves on; then a
// rollback.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/agent_fixture.h"

namespace bim::test {

using nlohmann::json;

TEST_CASE(
    "a deploy that raises at import fails with its traceback while the previous one serves on, "
    "and a rollback runs it again") {
  TempDir apps;
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "10", "--run-apps", "--apps-dir",
                  apps / "apps"});
  f.LoginWithToken();
  const std::string dir = f.home() / "shop";
  auto generated = f.Ctl({"generate", "REST API for users", "-o", dir});
  REQUIRE_MESSAGE(generated.exit_code == 0, generated.err);

  auto first = f.Ctl({"deploy", "-d", dir, "--watch", "--json"});
  REQUIRE_MESSAGE(first.exit_code == 0, (first.out + first.err));
  // --watch --json prints one line per event; the last is the deployment as it ended.
  std::string last = first.out.substr(first.out.rfind('\n', first.out.size() - 2) + 1);
  const std::string url = json::parse(last)["url"];
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
  auto created =
      HttpRequest("POST", url + "/users/", R"({"name": "Ada", "email": "ada@example.com"})",
                  std::vector<std::string>{"Content-Type: application/json"});
  CHECK(created.status == 201);

  std::string main_py = ReadFile(dir + "/main.py");
  WriteFile(dir + "/main.py", main_py + "\nraise RuntimeError('boom at import')\n");
  auto broken = f.Ctl({"deploy", "-d", dir, "--watch"});
  INFO(broken.out << broken.err);
  CHECK(broken.exit_code == 1);
  auto history = json::parse(f.Ctl({"history", "--json"}).out);
  const std::string id = history[0]["deploymentId"];
  auto status = f.Ctl({"status", id});
  INFO(status.out);
  CHECK(status.exit_code == 1);
  CHECK(status.out.find("Status      failed") != std::string::npos);
  CHECK(status.out.find("Traceback (most recent call last)") != std::string::npos);
  CHECK(status.out.find("RuntimeError: boom at import") != std::string::npos);

  // The first deployment still answers, with what it stored.
  auto users = HttpRequest("GET", url + "/users/");
  CHECK(users.status == 200);
  CHECK(users.body.find("ada@example.com") != std::string::npos);

  // A rollback deploys the first deployment's files again, the same way, at the same address.
  const std::string first_id = history[1]["deploymentId"];
  auto rollback = f.Ctl({"rollback", "-d", dir, "--to", first_id, "--watch"});
  INFO(rollback.out << rollback.err);
  CHECK(rollback.exit_code == 0);
  CHECK(rollback.out.find("GET /health answered 200") != std::string::npos);
  CHECK(rollback.out.find("Deployed: " + url) != std::string::npos);
  CHECK(HttpRequest("GET", url + "/users/").status == 200);
}

}  // namespace bim::test
