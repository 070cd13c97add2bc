// `backend-im logs` and the MCP tool get_logs, in this process against the agent in memory:
// their output (text and --json), exit codes, --since parsing, which deployment they read, and
// get_logs' caps and its failed-deployment answer in one call.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "ctl/mcp/tools.h"
#include "ctl/operations.h"
#include "ctl/project_files.h"
#include "tests/support/ctl_run.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"
#include "tests/support/json_schema_check.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;

namespace {

namespace pb = backend_im::v1;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A logged-in agent, a project folder remembering p1, and one complete deployment of p1 with a
// few lines.
struct Fixture {
  FakeAgentApi agent;
  TempDir tmp;
  std::string dir = tmp / "api";
  std::string id;

  Fixture() {
    agent.logged_in = true;
    WriteFile(dir + "/main.py", "app = 1\n");
    REQUIRE(ctl::SaveProjectMeta(dir, {"p1"}).ok());
    id = agent.AddDeployment("p1", {{"main.py", "app = 1\n"}}).id();
    agent.AddLogLine(id, "info", "INFO:     Application startup complete.");
    agent.AddLogLine(id, "info", "GET /health 200");
    agent.AddLogLine(id, "error", "ZeroDivisionError: division by zero");
  }
};

pb::LogItem Skipped(int64_t n) {
  pb::LogItem item;
  item.set_skipped(n);
  return item;
}

pb::LogItem End(const std::string& reason) {
  pb::LogItem item;
  item.set_end(reason);
  return item;
}

}  // namespace

TEST_CASE("logs: a deployment's lines as TIME LEVEL SOURCE TEXT, oldest first") {
  Fixture f;
  auto r = Ctl(f.agent, {"logs", f.id});
  CHECK(r.code == 0);
  auto first = r.out.find("Application startup complete.");
  auto last = r.out.find("ZeroDivisionError");
  REQUIRE(first != std::string::npos);
  REQUIRE(last != std::string::npos);
  CHECK(first < last);
  CHECK(Has(r.out, "error"));
  CHECK(Has(r.out, " app "));
  REQUIRE(f.agent.last_get_logs);
  CHECK(f.agent.last_get_logs->tail() == 100);
  CHECK(f.agent.last_get_logs->deployment_id() == f.id);
}

TEST_CASE("logs: a folder's project gives its newest complete deployment, and says which") {
  Fixture f;
  auto r = Ctl(f.agent, {"logs", "-d", f.dir, "-n", "2"});
  CHECK(r.code == 0);
  CHECK(Has(r.err, "newest complete deployment of project p1"));
  CHECK_FALSE(Has(r.out, "Application startup"));
  CHECK(Has(r.out, "GET /health 200"));
  REQUIRE(f.agent.last_get_logs);
  CHECK(f.agent.last_get_logs->project_id() == "p1");
  CHECK(f.agent.last_get_logs->deployment_id().empty());
  CHECK(f.agent.last_get_logs->tail() == 2);

  auto env = Ctl(f.agent, {"logs", "--project", "p1", "--env", "staging"});
  CHECK(env.code == 7);
  CHECK(f.agent.last_get_logs->environment() == "staging");
}

TEST_CASE("logs --json: one object a line, with the deployment's id") {
  Fixture f;
  auto r = Ctl(f.agent, {"logs", f.id, "--json", "--level", "warning"});
  CHECK(r.code == 0);
  auto lines = JsonLines(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["seq"] == 3);
  CHECK(lines[0]["level"] == "error");
  CHECK(lines[0]["source"] == "app");
  CHECK(lines[0]["deploymentId"] == f.id);
  CHECK(lines[0]["text"] == "ZeroDivisionError: division by zero");
  CHECK(lines[0]["timestamp"].get<std::string>().back() == 'Z');
}

TEST_CASE("logs: --grep and --level pass to the agent; bad values are usage errors") {
  Fixture f;
  auto r = Ctl(f.agent, {"logs", f.id, "--grep", "GET /"});
  CHECK(r.code == 0);
  CHECK(Has(r.out, "GET /health"));
  CHECK_FALSE(Has(r.out, "ZeroDivision"));
  CHECK(Ctl(f.agent, {"logs", f.id, "--level", "loud"}).code == 2);
  CHECK(Ctl(f.agent, {"logs", f.id, "-n", "0"}).code == 2);
  CHECK(Ctl(f.agent, {"logs", f.id, "-n", "1001"}).code == 2);
  auto bad_since = Ctl(f.agent, {"logs", f.id, "--since", "yesterday"});
  CHECK(bad_since.code == 2);
  CHECK(Has(bad_since.err, "30s, 15m, 2h or 1d"));
}

TEST_CASE("logs --since: a duration back from now, or a Unix time in ms") {
  const int64_t now = 1'800'000'000'000;
  CHECK(ctl::Operations::SinceUnixMs("30s", now).value() == now - 30'000);
  CHECK(ctl::Operations::SinceUnixMs("15m", now).value() == now - 15 * 60'000);
  CHECK(ctl::Operations::SinceUnixMs("2h", now).value() == now - 2 * 3'600'000);
  CHECK(ctl::Operations::SinceUnixMs("1d", now).value() == now - 86'400'000);
  CHECK(ctl::Operations::SinceUnixMs("1700000000000", now).value() == 1'700'000'000'000);
  for (const char* bad : {"", "s", "-5m", "5 m", "5w", "1.5h", "99999999999999999999", "3mm"}) {
    CAPTURE(bad);
    auto r = ctl::Operations::SinceUnixMs(bad, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ctl::OpFailure::kUsage);
  }
  Fixture f;
  auto r = Ctl(f.agent, {"logs", f.id, "--since", "15m"});
  CHECK(r.code == 0);
  REQUIRE(f.agent.last_get_logs);
  CHECK(f.agent.last_get_logs->since_unix_ms() > 0);
}

TEST_CASE("logs -f: the tail, then skipped counts and the end; exit 0 at the end") {
  Fixture f;
  f.agent.follow_items = {Skipped(4), End("the deployment was replaced")};
  auto r = Ctl(f.agent, {"logs", f.id, "-f", "-n", "1"});
  CHECK(r.code == 0);
  CHECK_FALSE(Has(r.out, "GET /health"));
  CHECK(Has(r.out, "ZeroDivisionError"));
  CHECK(Has(r.out, "4 lines skipped"));
  CHECK(Has(r.out, "The app's output ended: the deployment was replaced"));
  REQUIRE(f.agent.last_follow_logs);
  CHECK(f.agent.last_follow_logs->tail() == 1);
  CHECK_FALSE(f.agent.last_follow_logs->has_after_seq());

  auto j = Ctl(f.agent, {"logs", f.id, "-f", "--json"});
  CHECK(j.code == 0);
  auto lines = JsonLines(j.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[3] == json{{"deploymentId", f.id}, {"skipped", 4}});
  CHECK(lines[4] == json{{"deploymentId", f.id}, {"end", "the deployment was replaced"}});
}

TEST_CASE("logs -f: interrupted before the end is exit 130") {
  Fixture f;
  f.agent.follow_items = {Skipped(1)};
  auto r = Ctl(f.agent, {"logs", f.id, "-f"});
  CHECK(r.code == 130);
}

TEST_CASE("logs: a platform without app logs is exit 5 and points at status") {
  Fixture f;
  f.agent.logs_offered = false;
  auto r = Ctl(f.agent, {"logs", f.id});
  CHECK(r.code == 5);
  CHECK(Has(r.err, "does not offer app logs"));
  CHECK(Has(r.err, "backend-im status"));
  CHECK(Ctl(f.agent, {"logs", f.id, "-f"}).code == 5);
  auto unknown = Ctl(f.agent, {"logs", "dep-nope"});
  CHECK(unknown.code == 5);
}

TEST_CASE("logs: a folder without a project and no id is a usage error that says what to give") {
  FakeAgentApi agent;
  agent.logged_in = true;
  TempDir tmp;
  auto r = Ctl(agent, {"logs", "-d", tmp.path()});
  CHECK(r.code == 2);
  CHECK(Has(r.err, "--project"));
  CHECK(agent.Count("GetLogs") == 0);
}

TEST_CASE("logs: --help describes the command and its options") {
  FakeAgentApi agent;
  auto r = Ctl(agent, {"logs", "--help"});
  CHECK(r.code == 0);
  for (const char* part : {"--since", "--level", "--grep", "--follow", "--env", "--project",
                           "not the deployment's stages"}) {
    CAPTURE(part);
    CHECK(Has(r.out, part));
  }
}

// ---- get_logs (MCP) ----

namespace {

struct Tools {
  Fixture f;
  ctl::McpTools tools{f.agent, f.tmp.path()};
  ctl::CancelToken cancel;
  ctl::McpToolCall call;
  Tools() {
    call.protocol_version = "2025-11-25";
    call.cancel = &cancel;
    call.progress = [](double, double, const std::string&) {};
  }
  json Listed() const {
    for (const auto& t : tools.ListTools("2025-11-25")) {
      if (t["name"] == "get_logs") return t;
    }
    FAIL("no get_logs");
    return {};
  }
  ctl::McpToolResult Call(const json& args) {
    auto r = tools.CallTool("get_logs", args, call);
    if (!r.is_error) {
      auto problems = SchemaProblems(Listed()["outputSchema"], r.structured, /*closed=*/true);
      CHECK_MESSAGE(problems.empty(), r.structured.dump());
    }
    return r;
  }
};

}  // namespace

TEST_CASE("get_logs: read-only, and a deployment's lines within its caps") {
  Tools t;
  CHECK(t.Listed()["annotations"]["readOnlyHint"] == true);
  auto r = t.Call({{"deploymentId", t.f.id}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["deploymentId"] == t.f.id);
  CHECK(r.structured["lines"].size() == 3);
  CHECK(r.structured["cut"] == false);
  CHECK_FALSE(r.structured.contains("failure"));
}

TEST_CASE("get_logs: cut to maxLines and maxBytes, newest kept, and it says so") {
  Tools t;
  for (int i = 0; i < 30; ++i) t.f.agent.AddLogLine(t.f.id, "info", std::string(100, 'x'));
  t.f.agent.AddLogLine(t.f.id, "info", "the newest");
  auto r = t.Call({{"deploymentId", t.f.id}, {"maxLines", 5}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["lines"].size() == 5);
  CHECK(r.structured["lines"].back()["text"] == "the newest");
  CHECK(r.structured["cut"] == true);
  CHECK(r.structured["linesLeftOut"].get<int64_t>() > 0);
  CHECK(Has(r.structured["nextStep"], "cut to stay within maxLines"));

  auto bytes = t.Call({{"deploymentId", t.f.id}, {"maxBytes", 1024}});
  REQUIRE_FALSE(bytes.is_error);
  size_t total = 0;
  for (const auto& l : bytes.structured["lines"]) total += l["text"].get<std::string>().size();
  CHECK(total <= 1024);
  CHECK(bytes.structured["cut"] == true);

  auto too_many =
      t.tools.CallTool("get_logs", {{"deploymentId", t.f.id}, {"maxLines", 501}}, t.call);
  CHECK(too_many.is_error);
  auto nothing = t.tools.CallTool("get_logs", json::object(), t.call);
  CHECK(nothing.is_error);
}

TEST_CASE("get_logs: a failed deployment's stage logs and the app's traceback in one call") {
  Tools t;
  auto failed = t.f.agent.AddDeployment("p2", {{"main.py", "raise RuntimeError\n"}},
                                        FakeAgentApi::Outcome::kFailed);
  const std::string id = failed.id();
  t.f.agent.AddLogLine(id, "info", "INFO:     Started server process");
  t.f.agent.AddLogLine(id, "error", "Traceback (most recent call last):");
  t.f.agent.AddLogLine(id, "error", "RuntimeError: boom at import");
  for (int i = 0; i < 50; ++i) t.f.agent.AddLogLine(id, "info", "noise " + std::to_string(i));
  auto r = t.Call({{"projectId", "p2"}, {"maxLines", 20}});
  REQUIRE_FALSE(r.is_error);
  CHECK(r.structured["deploymentId"] == id);
  REQUIRE(r.structured.contains("failure"));
  CHECK(r.structured["failure"]["status"] == "failed");
  CHECK(r.structured["failure"]["logs"].size() > 0);
  REQUIRE(r.structured["errors"].size() == 2);
  CHECK(r.structured["errors"][1]["text"] == "RuntimeError: boom at import");
  size_t lines = r.structured["lines"].size() + r.structured["errors"].size() +
                 r.structured["failure"]["logs"].size();
  CHECK(lines <= 20);
  CHECK(r.structured["cut"] == true);
  CHECK(Has(r.structured["nextStep"], "failed"));
}

TEST_CASE("get_logs: a platform without app logs is an error that points at status") {
  Tools t;
  t.f.agent.logs_offered = false;
  auto r = t.tools.CallTool("get_logs", {{"deploymentId", t.f.id}}, t.call);
  REQUIRE(r.is_error);
  CHECK(Has(r.message, "does not offer app logs"));
}
