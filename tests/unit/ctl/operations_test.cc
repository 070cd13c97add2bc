// The ctl's operations (ctl/operations.h) against the agent in memory (FakeAgentApi) and real
// files in a temporary folder: what each asks the agent, what it writes, and how it fails.
#include "ctl/operations.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::test;
using bim::ctl::OpFailure;
namespace pb = backend_im::v1;

namespace {

struct Fixture {
  explicit Fixture(bool logged_in = false) { agent.logged_in = logged_in; }
  FakeAgentApi agent;
  ctl::Operations ops{agent};
  ctl::CancelToken cancel;
  TempDir tmp;
};

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("ExitCodeFor gives each failure class its documented exit code") {
  CHECK(ctl::ExitCodeFor(OpFailure::kUsage) == 2);
  CHECK(ctl::ExitCodeFor(OpFailure::kAuth) == 3);
  CHECK(ctl::ExitCodeFor(OpFailure::kAgent) == 4);
  CHECK(ctl::ExitCodeFor(OpFailure::kPlatform) == 5);
  CHECK(ctl::ExitCodeFor(OpFailure::kLocalFiles) == 6);
  CHECK(ctl::ExitCodeFor(OpFailure::kConflict) == 6);
  CHECK(ctl::ExitCodeFor(OpFailure::kNotFound) == 7);
  CHECK(ctl::ExitCodeFor(OpFailure::kDeployFailed) == 1);
  CHECK(ctl::ExitCodeFor(OpFailure::kCancelled) == 130);
}

TEST_CASE("operations: auth status, token login and logout go to the agent as they are") {
  Fixture f;
  auto before = f.ops.AuthStatus(true, f.cancel);
  REQUIRE(before.ok());
  CHECK_FALSE(before->logged_in());
  auto refused = f.ops.LoginWithToken("wrong", f.cancel);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == OpFailure::kAuth);
  auto in = f.ops.LoginWithToken("good-token\n", f.cancel);
  REQUIRE(in.ok());
  CHECK(in->logged_in());
  auto was = f.ops.Logout(f.cancel);
  REQUIRE(was.ok());
  CHECK(*was);
  auto again = f.ops.Logout(f.cancel);
  REQUIRE(again.ok());
  CHECK_FALSE(*again);
}

TEST_CASE("operations: AwaitLogin checks until the login is no longer pending") {
  Fixture f;
  f.agent.login_pending_checks = 2;
  auto start = f.ops.LoginStart(f.cancel);
  REQUIRE(start.ok());
  int pending = 0;
  auto done = f.ops.AwaitLogin(start->login_id(), std::nullopt, f.cancel, [&] { ++pending; });
  REQUIRE(done.ok());
  CHECK(done->state() == pb::LoginCheckReply::APPROVED);
  CHECK(done->auth().logged_in());
  CHECK(pending == 2);
  CHECK(f.agent.Count("LoginCheck") == 3);
}

TEST_CASE("operations: AwaitLogin with a deadline that passed checks once and gives PENDING") {
  Fixture f;
  f.agent.login_pending_checks = 5;
  auto done = f.ops.AwaitLogin("login-1", std::chrono::steady_clock::now(), f.cancel);
  REQUIRE(done.ok());
  CHECK(done->state() == pb::LoginCheckReply::PENDING);
  CHECK(f.agent.Count("LoginCheck") == 1);
}

TEST_CASE("operations: a login the agent does not know says to start again") {
  Fixture f;
  auto r = f.ops.LoginCheck("login-other", 0, f.cancel);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == OpFailure::kNotFound);
  CHECK(r.error().message.find("start again") != std::string::npos);
}

TEST_CASE("operations: generate writes the files and remembers the project") {
  Fixture f(/*logged_in=*/true);
  std::string dir = f.tmp / "users-api";
  auto done = f.ops.Generate("REST API for users", dir, false, f.cancel);
  REQUIRE(done.ok());
  CHECK(done->directory == dir);
  CHECK(done->project_id == "proj-gen");
  CHECK(done->files.size() == 2);
  CHECK(done->report.written.size() == 2);
  CHECK(ReadFile(dir + "/requirements.txt") == "fastapi\nuvicorn\n");
  REQUIRE(ctl::LoadProjectMeta(dir));
  CHECK(ctl::LoadProjectMeta(dir)->project_id == "proj-gen");
  CHECK(f.agent.last_generate->prompt() == "REST API for users");

  SUBCASE("the same files again are unchanged") {
    auto again = f.ops.Generate("REST API for users", dir, false, f.cancel);
    REQUIRE(again.ok());
    CHECK(again->report.written.empty());
    CHECK(again->report.unchanged.size() == 2);
  }
  SUBCASE("an edited file is a conflict: nothing written without force") {
    WriteFile(dir + "/main.py", "mine\n");
    auto conflict = f.ops.Generate("REST API for users", dir, false, f.cancel);
    REQUIRE_FALSE(conflict.ok());
    CHECK(conflict.error().kind == OpFailure::kConflict);
    CHECK(ReadFile(dir + "/main.py") == "mine\n");
    auto forced = f.ops.Generate("REST API for users", dir, true, f.cancel);
    REQUIRE(forced.ok());
    CHECK(ReadFile(dir + "/main.py") != "mine\n");
  }
}

TEST_CASE("operations: generate refuses a bad prompt or folder before asking the agent") {
  Fixture f(/*logged_in=*/true);
  auto bad_prompt = f.ops.Generate(std::string("api \xff\xfe"), f.tmp / "a", false, f.cancel);
  REQUIRE_FALSE(bad_prompt.ok());
  CHECK(bad_prompt.error().kind == OpFailure::kUsage);
  CHECK(bad_prompt.error().message.find("UTF-8") != std::string::npos);
  auto into_system = f.ops.Generate("api", "/usr/share/api", false, f.cancel);
  REQUIRE_FALSE(into_system.ok());
  CHECK(into_system.error().kind == OpFailure::kUsage);
  CHECK(into_system.error().message.find("system folder") != std::string::npos);
  CHECK(f.agent.Count("Generate") == 0);
}

TEST_CASE(
    "operations: generate answers with an unsafe file name: a platform error, nothing "
    "written") {
  Fixture f(/*logged_in=*/true);
  f.agent.generate_files = {{"main.py", "x"}, {"../escape.py", "y"}};
  std::string dir = f.tmp / "proj";
  auto done = f.ops.Generate("api", dir, false, f.cancel);
  REQUIRE_FALSE(done.ok());
  CHECK(done.error().kind == OpFailure::kPlatform);
  CHECK_FALSE(Exists(dir + "/main.py"));
  CHECK_FALSE(Exists(f.tmp / "escape.py"));
}

TEST_CASE("operations: the agent's failure comes through as classified") {
  Fixture f;
  f.agent.failures["Generate"] = {OpFailure::kAgent, "lost the connection to the agent"};
  auto done = f.ops.Generate("api", f.tmp / "p", false, f.cancel);
  REQUIRE_FALSE(done.ok());
  CHECK(done.error().kind == OpFailure::kAgent);
  CHECK(done.error().message == "lost the connection to the agent");
  CHECK_FALSE(Exists(f.tmp / "p"));
}

TEST_CASE("operations: deploy uploads the folder without its secrets and remembers the project") {
  Fixture f(/*logged_in=*/true);
  std::string dir = f.tmp / "api";
  WriteFile(dir + "/main.py", "app = 1\n");
  WriteFile(dir + "/.env", "SECRET=1\n");
  auto done = f.ops.Deploy(dir, "", "", f.cancel);
  REQUIRE(done.ok());
  const auto& req = *f.agent.last_deploy;
  REQUIRE(req.files_size() == 1);
  CHECK(req.files(0).path() == "main.py");
  CHECK(req.directory() == dir);
  CHECK(req.project_id().empty());
  CHECK(done->directory == dir);
  CHECK(done->snapshot.total_bytes == 8);
  CHECK(done->note.empty());
  // The platform chose the project: the folder remembers it, and the next deploy names it.
  REQUIRE(ctl::LoadProjectMeta(dir));
  CHECK(ctl::LoadProjectMeta(dir)->project_id == done->deployment.project_id());
  REQUIRE(f.ops.Deploy(dir, "", "", f.cancel).ok());
  CHECK(f.agent.last_deploy->project_id() == done->deployment.project_id());
}

TEST_CASE("operations: deploying an empty folder is a usage error and the agent is not asked") {
  Fixture f;
  ::mkdir((f.tmp / "empty").c_str(), 0755);
  auto done = f.ops.Deploy(f.tmp / "empty", "", "", f.cancel);
  REQUIRE_FALSE(done.ok());
  CHECK(done.error().kind == OpFailure::kUsage);
  CHECK(done.error().message.find("nothing to upload") != std::string::npos);
  CHECK(f.agent.Count("Deploy") == 0);
}

TEST_CASE("operations: rollback needs a project or a deployment") {
  Fixture f(/*logged_in=*/true);
  ::mkdir((f.tmp / "none").c_str(), 0755);
  auto none = f.ops.Rollback(f.tmp / "none", "", "", "", f.cancel);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().kind == OpFailure::kUsage);
  CHECK(f.agent.Count("Rollback") == 0);

  const auto first = f.agent.AddDeployment("p1", {{"main.py", "v1"}});
  f.agent.AddDeployment("p1", {{"main.py", "v2"}});
  REQUIRE(ctl::SaveProjectMeta(f.tmp / "none", {"p1"}).ok());
  auto back = f.ops.Rollback(f.tmp / "none", "", "", "", f.cancel);
  REQUIRE(back.ok());
  CHECK(f.agent.last_rollback->project_id() == "p1");
  CHECK(back->restored_of() == first.id());
}

TEST_CASE("operations: restore writes a deployment's files and remembers its project") {
  Fixture f;
  const auto d = f.agent.AddDeployment("p7", {{"main.py", "v1\n"}, {"app/models.py", "m\n"}});
  std::string dir = f.tmp / "restored";
  auto done = f.ops.Restore(d.id(), dir, false, f.cancel);
  REQUIRE(done.ok());
  CHECK(done->report.written.size() == 2);
  CHECK(ReadFile(dir + "/app/models.py") == "m\n");
  REQUIRE(ctl::LoadProjectMeta(dir));
  CHECK(ctl::LoadProjectMeta(dir)->project_id == "p7");
  auto missing = f.ops.Restore("dep-404", f.tmp / "other", false, f.cancel);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == OpFailure::kNotFound);
}

TEST_CASE("operations: diff compares the folder with its project's last deployment") {
  Fixture f;
  std::string dir = f.tmp / "api";
  WriteFile(dir + "/main.py", "v2\n");
  SUBCASE("no project remembered: usage") {
    auto d = f.ops.Diff("", "", dir, f.cancel);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().kind == OpFailure::kUsage);
  }
  REQUIRE(ctl::SaveProjectMeta(dir, {"p1"}).ok());
  SUBCASE("no deployment yet: not found") {
    auto d = f.ops.Diff("", "", dir, f.cancel);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().kind == OpFailure::kNotFound);
  }
  SUBCASE("the last deployment's files against the folder") {
    const auto last = f.agent.AddDeployment("p1", {{"main.py", "v1\n"}});
    auto d = f.ops.Diff("", "", dir, f.cancel);
    REQUIRE(d.ok());
    CHECK(d->from == last.id());
    CHECK(d->to == dir);
    CHECK_FALSE(d->diff.same());
    CHECK(d->diff.Unified().find("+v2") != std::string::npos);
  }
  SUBCASE("files no longer kept: not found") {
    const auto last = f.agent.AddDeployment("p1", {{"main.py", "v1\n"}});
    f.agent.Find(last.id())->deployment.set_restorable(false);
    auto d = f.ops.Diff("", "", dir, f.cancel);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().kind == OpFailure::kNotFound);
    CHECK(d.error().message.find("no longer kept") != std::string::npos);
  }
  SUBCASE("two deployments") {
    const auto a = f.agent.AddDeployment("p1", {{"main.py", "v1\n"}});
    const auto b = f.agent.AddDeployment("p1", {{"main.py", "v1\n"}});
    auto d = f.ops.Diff(a.id(), b.id(), dir, f.cancel);
    REQUIRE(d.ok());
    CHECK(d->diff.same());
  }
}

TEST_CASE("operations: watch delivers events and notices, and settles the outcome") {
  Fixture f(/*logged_in=*/true);
  f.agent.notices = {"cannot store events: disk full", ""};
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "x"}});
  std::vector<int64_t> seqs;
  std::vector<std::string> notices;
  ctl::Operations::WatchHooks hooks;
  hooks.on_event = [&](const pb::DeploymentEvent& ev) { seqs.push_back(ev.seq()); };
  hooks.on_notice = [&](const std::string& n) { notices.push_back(n); };
  SUBCASE("the whole record from the agent's store") {
    auto w = f.ops.Watch(d.id(), 0, std::chrono::milliseconds(0), hooks, f.cancel);
    REQUIRE(w.ok());
    CHECK(seqs == std::vector<int64_t>{1, 2, 3, 4});
    CHECK(notices == f.agent.notices);
    CHECK(w->deployment.logs_size() == 1);
    CHECK(f.agent.Count("Status") == 1);
    CHECK(ctl::Operations::FinalOutcome(w->deployment).ok());
  }
  SUBCASE("outcome only: the terminal event settles it, one call fewer") {
    hooks.outcome_only = true;
    auto w = f.ops.Watch(d.id(), 2, std::chrono::milliseconds(0), hooks, f.cancel);
    REQUIRE(w.ok());
    CHECK(seqs == std::vector<int64_t>{3, 4});
    CHECK(w->deployment.url() == d.url());
    CHECK(f.agent.Count("Status") == 0);
  }
}

TEST_CASE("operations: a failed deployment and one complete without a URL end differently") {
  Fixture f;
  ctl::Operations::WatchHooks hooks;
  hooks.on_event = [](const pb::DeploymentEvent&) {};
  hooks.outcome_only = true;
  const auto failed = f.agent.AddDeployment("p1", {{"a", "b"}}, FakeAgentApi::Outcome::kFailed);
  auto w = f.ops.Watch(failed.id(), 0, std::chrono::milliseconds(0), hooks, f.cancel);
  REQUIRE(w.ok());
  auto final = ctl::Operations::FinalOutcome(w->deployment);
  REQUIRE_FALSE(final.ok());
  CHECK(final.error().kind == OpFailure::kDeployFailed);
  CHECK(f.agent.Count("Status") == 0);

  const auto no_url =
      f.agent.AddDeployment("p1", {{"a", "b"}}, FakeAgentApi::Outcome::kCompleteWithoutUrl);
  auto w2 = f.ops.Watch(no_url.id(), 0, std::chrono::milliseconds(0), hooks, f.cancel);
  REQUIRE(w2.ok());
  CHECK(f.agent.Count("Status") == 1);  // the terminal event does not settle it: the store does
  auto final2 = ctl::Operations::FinalOutcome(w2->deployment);
  REQUIRE_FALSE(final2.ok());
  CHECK(final2.error().kind == OpFailure::kPlatform);
  CHECK(final2.error().message.find("no usable URL") != std::string::npos);
}

TEST_CASE("operations: FinalOutcome refuses a complete deployment whose URL is not https") {
  pb::Deployment d;
  d.set_id("dep-1");
  d.set_status("complete");
  d.set_stage(pb::STAGE_COMPLETE);
  d.set_url("http://example.com");
  auto r = ctl::Operations::FinalOutcome(d);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == OpFailure::kPlatform);
  d.set_url("https://abc.backend.im");
  CHECK(ctl::Operations::FinalOutcome(d).ok());
  d.set_status("building");
  d.set_stage(pb::STAGE_BUILDING);
  d.set_url("");
  CHECK(ctl::Operations::FinalOutcome(d).ok());  // not over yet
}

TEST_CASE("operations: a watch whose deadline comes first has timed out") {
  Fixture f(/*logged_in=*/true);
  f.agent.hold = true;
  ::mkdir((f.tmp / "p").c_str(), 0755);
  WriteFile(f.tmp / "p/main.py", "x");
  auto dep = f.ops.Deploy(f.tmp / "p", "", "", f.cancel);
  REQUIRE(dep.ok());
  ctl::Operations::WatchHooks hooks;
  int events = 0;
  hooks.on_event = [&](const pb::DeploymentEvent&) { ++events; };
  auto w = f.ops.Watch(dep->deployment.id(), 0, std::chrono::seconds(5), hooks, f.cancel);
  REQUIRE(w.ok());
  CHECK(w->timed_out);
  CHECK(events == 2);
  CHECK_FALSE(w->deployment.terminal());
}

TEST_CASE("operations: a cancelled token stops an operation before the agent is asked") {
  Fixture f;
  f.cancel.Cancel();
  auto r = f.ops.Status("dep-1", f.cancel);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == OpFailure::kCancelled);
  auto h = f.ops.History("", 5, "", f.cancel);
  REQUIRE_FALSE(h.ok());
  CHECK(h.error().kind == OpFailure::kCancelled);
}

TEST_CASE("operations: history and the last deployment of a project") {
  Fixture f;
  f.agent.AddDeployment("p1", {{"main.py", "1"}});
  f.agent.AddDeployment("p2", {{"main.py", "2"}});
  const auto newest = f.agent.AddDeployment("p1", {{"main.py", "3"}});
  auto all = f.ops.History("", 10, "", f.cancel);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
  auto p1 = f.ops.History("p1", 1, "", f.cancel);
  REQUIRE(p1.ok());
  REQUIRE(p1->size() == 1);
  CHECK(p1->front().id() == newest.id());
  auto last = f.ops.LastDeployment("p1", f.cancel);
  REQUIRE(last.ok());
  REQUIRE(*last);
  CHECK((*last)->files.at("main.py") == "3");
  auto none = f.ops.LastDeployment("p9", f.cancel);
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
  auto info = f.ops.Info(f.cancel);
  REQUIRE(info.ok());
  CHECK(info->pid() == 4242);
}

TEST_CASE("operations: an import names the key it failed on, and sets nothing from a bad file") {
  Fixture f(/*logged_in=*/true);
  WriteFile(f.tmp / "in.env", "A=1\nB=2\nC=3\n");
  f.agent.environments["p1"]["production"];
  f.agent.environments["p1"]["staging"];
  f.agent.failures["SetVariable"] = {OpFailure::kAgent, "lost the agent"};
  auto none = f.ops.Import("", "p1", "staging", f.tmp / "in.env", f.cancel);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message == "setting A: lost the agent");
  f.agent.failures.clear();
  WriteFile(f.tmp / "in2.env", "A=1\nB=2\n" + std::string("BAD KEY=3\n"));
  auto bad = f.ops.Import("", "p1", "staging", f.tmp / "in2.env", f.cancel);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == OpFailure::kUsage);
  CHECK(f.agent.Count("SetVariable") == 1);  // the failed one only: nothing of in2.env was set
}

TEST_CASE("operations: a value is checked before the agent is asked, and never shown") {
  Fixture f(/*logged_in=*/true);
  const std::string secret = "hunter2-secret";
  for (const std::string& value : {std::string(), std::string(ctl::kMaxVariableValueBytes + 1, 'x'),
                                   secret + '\0', secret + "\xff"}) {
    auto r = f.ops.SetVariable("", "p1", "staging", "K", value, f.cancel);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == OpFailure::kUsage);
    CHECK(r.error().message.find(secret) == std::string::npos);
  }
  auto joined = f.ops.SetVariable("", "p1", "staging", "K=" + secret, "v", f.cancel);
  REQUIRE_FALSE(joined.ok());
  CHECK(joined.error().message.find(secret) == std::string::npos);
  CHECK(f.agent.Count("SetVariable") == 0);
}
