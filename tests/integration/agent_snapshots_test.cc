// Snapshots end to end through the real ctl, agent and mock: rollback, restore, diff, deploy
// --dry-run's changes, retention, and snapshots that outlive the agent.
#include <unistd.h>

#include "common/commit_hash.h"
#include "tests/integration/agent_fixture.h"

using namespace bim::test;
using nlohmann::json;

namespace {

// Deploys dir and follows it to complete; the deployment as history shows it.
json DeployToEnd(AgentFixture& f, const std::string& dir) {
  json d = f.Deploy(dir);
  std::string id = d["deploymentId"];
  auto w = f.Ctl({"watch", id, "--json"});
  REQUIRE_MESSAGE(w.exit_code == 0, (w.out + w.err));
  auto s = f.Ctl({"status", id, "--json"});
  REQUIRE_MESSAGE(s.exit_code == 0, (s.out + s.err));
  return json::parse(s.out);
}

json History(AgentFixture& f) {
  auto h = f.Ctl({"history", "--json"});
  REQUIRE_MESSAGE(h.exit_code == 0, (h.out + h.err));
  return json::parse(h.out);
}

}  // namespace

TEST_CASE("rollback --watch deploys the earlier files again: the same commit hash, complete") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.LoginWithToken();
  std::string dir = f.MakeProject("api");
  json v1 = DeployToEnd(f, dir);
  WriteFile(dir + "/main.py", "from fastapi import FastAPI\napp = FastAPI(title='v2')\n");
  json v2 = DeployToEnd(f, dir);
  REQUIRE(v1["commitHash"] != v2["commitHash"]);

  auto rb = f.Ctl({"rollback", "-d", dir, "--watch", "--json"});
  REQUIRE_MESSAGE(rb.exit_code == 0, (rb.out + rb.err + f.AgentLog()));
  auto lines = JsonLines(rb.out);
  REQUIRE(lines.size() >= 2);
  json back = lines.front();
  CHECK(back["restoredOf"] == v1["deploymentId"]);
  CHECK(back["commitHash"] == v1["commitHash"]);
  CHECK(back["deploymentId"] != v1["deploymentId"]);
  CHECK(lines.back()["status"] == "complete");
  CHECK(lines.back()["url"] == "https://" + v1["commitHash"].get<std::string>() + ".backend.im");

  json hist = History(f);
  REQUIRE(hist.size() == 3);
  CHECK(hist[0]["restoredOf"] == v1["deploymentId"]);
  CHECK(hist[0]["status"] == "complete");
  for (const auto& d : hist) CHECK(d["restorable"] == true);
  auto text = f.Ctl({"history"});
  CHECK(text.out.find("RESTORE") != std::string::npos);
  CHECK(text.out.find("(rollback to " + v1["deploymentId"].get<std::string>() + ")") !=
        std::string::npos);

  // The folder still holds v2's files: a dry run says what a deploy would change against the
  // rollback, which is live now.
  auto dry = f.Ctl({"deploy", "--dry-run", "--json", "-d", dir});
  REQUIRE_MESSAGE(dry.exit_code == 0, (dry.out + dry.err));
  json changes = json::parse(dry.out)["changes"];
  CHECK(changes["against"] == back["deploymentId"]);
  CHECK(changes["changed"] == json::array({"main.py"}));
  CHECK(changes["added"].empty());
  CHECK(changes["removed"].empty());
}

TEST_CASE("restore writes a deployment's exact bytes and never clobbers a changed file") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.LoginWithToken();
  std::string dir = f.MakeProject("api");
  // The platform takes UTF-8 text only; these bytes are what an editor could change unseen.
  const std::string tricky = "crlf\r\n\ttab, caf\xc3\xa9, no last line break";
  WriteFile(dir + "/static/notes.txt", tricky);
  json d = f.Deploy(dir);
  std::string id = d["deploymentId"];

  std::string out = f.home() / "restored";
  auto r = f.Ctl({"restore", id, "-o", out, "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err));
  CHECK(json::parse(r.out)["files"].size() == 4);
  for (const char* p : {"main.py", "requirements.txt", "app/models.py", "static/notes.txt"}) {
    CAPTURE(p);
    CHECK(ReadFile(out + "/" + p) == ReadFile(dir + "/" + p));
  }
  CHECK(ReadFile(out + "/static/notes.txt") == tricky);

  WriteFile(out + "/main.py", "# my change\n");
  auto refused = f.Ctl({"restore", id, "-o", out});
  CHECK(refused.exit_code == 6);
  CHECK(refused.err.find("main.py") != std::string::npos);
  CHECK(ReadFile(out + "/main.py") == "# my change\n");
  auto forced = f.Ctl({"restore", id, "-o", out, "--force"});
  REQUIRE_MESSAGE(forced.exit_code == 0, (forced.out + forced.err));
  CHECK(ReadFile(out + "/main.py") == ReadFile(dir + "/main.py"));

  auto unknown = f.Ctl({"restore", "dep-nope", "-o", out});
  CHECK(unknown.exit_code == 7);

  // A subfolder of the target that is a symlink out of it: refused as the local file problem it
  // is (exit 6, naming the symlink), not as a rejected platform answer; nothing lands outside.
  std::string linked = f.home() / "linked";
  std::string outside = f.home() / "outside";
  WriteFile(outside + "/.keep", "");
  WriteFile(linked + "/.keep", "");
  REQUIRE(::symlink(outside.c_str(), (linked + "/app").c_str()) == 0);
  auto symlinked = f.Ctl({"restore", id, "-o", linked});
  CHECK(symlinked.exit_code == 6);
  CHECK_MESSAGE(symlinked.err.find("app is a symlink that leads outside") != std::string::npos,
                symlinked.err);
  CHECK(symlinked.err.find("platform") == std::string::npos);
  CHECK(::access((outside + "/models.py").c_str(), F_OK) != 0);
}

TEST_CASE("diff shows a change as a unified diff with exit 1, and the same files with exit 0") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.LoginWithToken();
  std::string dir = f.MakeProject("api");
  json v1 = f.Deploy(dir);
  std::string id1 = v1["deploymentId"];
  auto same = f.Ctl({"diff"}, "", dir);
  CHECK_MESSAGE(same.exit_code == 0, (same.out + same.err));
  CHECK(same.out.empty());

  WriteFile(dir + "/app/models.py", "x = 2\n");
  auto changed = f.Ctl({"diff"}, "", dir);
  CHECK_MESSAGE(changed.exit_code == 1, (changed.out + changed.err));
  CHECK(changed.out.find("--- " + id1 + "/app/models.py") != std::string::npos);
  CHECK(changed.out.find("-x = 1\n+x = 2\n") != std::string::npos);

  json v2 = f.Deploy(dir);
  auto between = f.Ctl({"diff", id1, v2["deploymentId"], "--json"});
  CHECK(between.exit_code == 1);
  json j = json::parse(between.out);
  CHECK(j["same"] == false);
  REQUIRE(j["files"].size() == 1);
  CHECK(j["files"][0]["path"] == "app/models.py");
  CHECK(j["files"][0]["change"] == "changed");
  CHECK(j["diff"].get<std::string>().find("+x = 2") != std::string::npos);

  auto unknown = f.Ctl({"diff", "dep-nope", "--json"}, "", dir);
  CHECK(unknown.exit_code == 7);
}

TEST_CASE("snapshots survive daemon stop and a new agent") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.LoginWithToken();
  std::string dir = f.MakeProject("api");
  json d = f.Deploy(dir);
  auto stop = f.Ctl({"daemon", "stop"});
  REQUIRE_MESSAGE(stop.exit_code == 0, (stop.out + stop.err));
  json hist = History(f);  // starts a new agent on the same state folder
  REQUIRE(hist.size() == 1);
  CHECK(hist[0]["restorable"] == true);
  std::string out = f.home() / "restored";
  auto r = f.Ctl({"restore", d["deploymentId"], "-o", out});
  REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err));
  CHECK(ReadFile(out + "/main.py") == ReadFile(dir + "/main.py"));
}

TEST_CASE("rollback says why it cannot: nothing before, unknown, dropped by retention") {
  AgentFixture f({"--token", "dev-token", "--stage-delay-ms", "30"});
  f.env()["BACKEND_IM_SNAPSHOT_KEEP"] = "1";
  f.LoginWithToken();
  std::string dir = f.MakeProject("api");

  auto no_project = f.Ctl({"rollback", "-d", dir});
  CHECK(no_project.exit_code == 2);
  CHECK(no_project.err.find("remembers no project") != std::string::npos);

  json v1 = DeployToEnd(f, dir);
  auto alone = f.Ctl({"rollback", "-d", dir});
  CHECK(alone.exit_code == 7);
  CHECK(alone.err.find("nothing to roll back to") != std::string::npos);

  auto unknown = f.Ctl({"rollback", "--to", "dep-nope"});
  CHECK(unknown.exit_code == 7);
  CHECK(unknown.err.find("backend-im history") != std::string::npos);

  WriteFile(dir + "/main.py", "v2\n");
  DeployToEnd(f, dir);
  json hist = History(f);
  REQUIRE(hist.size() == 2);
  CHECK(hist[0]["restorable"] == true);
  CHECK(hist[1]["restorable"] == false);  // keep 1: v1's files went
  auto dropped = f.Ctl({"rollback", "-d", dir});
  CHECK(dropped.exit_code == 7);
  CHECK(dropped.err.find("no longer kept") != std::string::npos);
  CHECK(dropped.err.find("BACKEND_IM_SNAPSHOT_KEEP") != std::string::npos);
}

TEST_CASE("rollback, restore and diff have --help and --json") {
  AgentFixture f;
  for (const char* cmd : {"rollback", "restore", "diff"}) {
    CAPTURE(cmd);
    auto h = f.Ctl({cmd, "--help"});
    CHECK(h.exit_code == 0);
    CHECK(h.out.find("--json") != std::string::npos);
  }
}
