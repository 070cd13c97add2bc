// The commands of environments, variables and promote (environments, env, promote, and --env of
// deploy, rollback, history and dev) run in this process against the agent in memory: their
// output, text and --json, their exit codes, the files env pull writes, and that no variable's
// value shows anywhere but in `env ls --show-values` and the pulled file.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "ctl/project_files.h"
#include "tests/support/ctl_run.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;

namespace {

// A value no output may hold.
constexpr const char* kSecret = "S3CRET-zq81-value";

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Neither stdout nor stderr shows the secret.
void CheckNoSecret(const CtlRun& r) {
  CHECK_FALSE(Has(r.out, kSecret));
  CHECK_FALSE(Has(r.err, kSecret));
}

int ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 07777);
}

// A logged-in agent and a project folder (api) that remembers project p1.
struct Fixture {
  FakeAgentApi agent;
  TempDir tmp;
  std::string dir = tmp / "api";

  Fixture() {
    agent.logged_in = true;
    WriteFile(dir + "/main.py", "app = 1\n");
    REQUIRE(ctl::SaveProjectMeta(dir, {"p1"}).ok());
  }
  CtlRun Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.push_back("-d");
    args.push_back(dir);
    return Ctl(agent, args, stdin_text);
  }
  // The variables of env in p1 (which has production and staging, as the agent makes them).
  std::map<std::string, std::string>& Variables(const std::string& env) {
    auto& envs = agent.environments["p1"];
    envs["production"];
    envs["staging"];
    return envs[env].variables;
  }
};

}  // namespace

TEST_CASE("ctl environments: lists what each environment serves, as text and JSON") {
  Fixture f;
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  auto r = f.Run({"environments"});
  CHECK(r.code == 0);
  CHECK(Has(r.out, "Environments of project p1\n"));
  CHECK(Has(r.out, "NAME                  VARIABLES  DEPLOYMENT"));
  CHECK(Has(r.out, "production                    0  " + d.id()));
  CHECK(Has(r.out, d.url()));
  CHECK(Has(r.out, "staging                       0  -"));
  auto ls = f.Run({"environments", "ls", "--json"});
  CHECK(ls.code == 0);
  auto model = json::parse(ls.out);
  CHECK(model["projectId"] == "p1");
  REQUIRE(model["environments"].size() == 2);
  CHECK(model["environments"][0] ==
        json{{"name", "production"}, {"variables", 0}, {"deploymentId", d.id()}, {"url", d.url()}});
  CHECK(model["environments"][1] == json{{"name", "staging"}, {"variables", 0}});
  CHECK(f.agent.Count("ListEnvironments") == 2);
  auto other = Ctl(f.agent, {"environments", "--project", "p2"});
  CHECK(Has(other.out, "Environments of project p2"));
}

TEST_CASE("ctl environments: a folder that remembers no project is a usage error") {
  FakeAgentApi agent;
  TempDir t;
  ::mkdir((t / "none").c_str(), 0755);
  auto r = Ctl(agent, {"environments", "-d", t / "none"});
  CHECK(r.code == 2);
  CHECK(Has(r.err, "remembers no project (.backend-im/project.json); name one with --project"));
  CHECK(agent.calls.empty());
}

TEST_CASE("ctl environments add and rm, which needs --yes without a terminal") {
  Fixture f;
  auto add = f.Run({"environments", "add", "qa"});
  CHECK(add.code == 0);
  CHECK(Has(add.out, "Added environment qa to project p1"));
  CHECK(f.agent.environments["p1"].count("qa") == 1);
  auto bad = f.Run({"environments", "add", "QA!"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, "is not an environment name"));
  auto again = f.Run({"environments", "add", "qa", "--json"});
  CHECK(again.code == 5);
  CHECK(Has(again.err, "environment qa exists already"));

  auto refused = f.Run({"environments", "rm", "qa"});
  CHECK(refused.code == 2);
  CHECK(Has(refused.err,
            "backend-im: environments rm qa: removing an environment deletes its "
            "variables; standard input is not a terminal to ask on, so pass --yes"));
  CHECK(f.agent.Count("RemoveEnvironment") == 0);
  CHECK(f.agent.environments["p1"].count("qa") == 1);
  auto rm = f.Run({"environments", "rm", "qa", "--yes", "--json"});
  CHECK(rm.code == 0);
  CHECK(json::parse(rm.out) == json{{"projectId", "p1"}, {"environment", "qa"}});
  CHECK(f.agent.environments["p1"].count("qa") == 0);
  auto gone = f.Run({"environments", "rm", "qa", "--yes"});
  CHECK(gone.code == 7);
}

TEST_CASE("ctl env ls: names with masked values, values only with --show-values") {
  Fixture f;
  f.Variables("production")["DATABASE_URL"] = kSecret;
  f.Variables("staging")["DEBUG"] = "1";
  auto all = f.Run({"env", "ls"});
  CHECK(all.code == 0);
  CHECK(Has(all.out, "production  (1 variable)\n  DATABASE_URL  ********\n"));
  CHECK(Has(all.out, "staging  (1 variable)\n  DEBUG  ********\n"));
  CheckNoSecret(all);
  CHECK(f.agent.Count("ListEnvironments") == 1);
  CHECK(f.agent.Count("ListVariables") == 2);
  CHECK_FALSE(f.agent.last_list_variables->with_values());  // never fetched unless asked

  auto one = f.Run({"env", "ls", "--env", "staging", "--json"});
  CHECK(one.code == 0);
  CHECK(json::parse(one.out) ==
        json{{"projectId", "p1"}, {"environment", "staging"}, {"variables", {{{"key", "DEBUG"}}}}});
  auto lines = JsonLines(f.Run({"env", "ls", "--json"}).out);
  CHECK(lines.size() == 2);

  auto shown = f.Run({"env", "ls", "--env", "production", "--show-values"});
  CHECK(Has(shown.out, std::string("  DATABASE_URL  ") + kSecret + "\n"));
  CHECK(f.agent.last_list_variables->with_values());
  f.agent.withheld_values = {"DATABASE_URL"};
  auto withheld = f.Run({"env", "ls", "--env", "production", "--show-values", "--json"});
  CHECK(json::parse(withheld.out)["variables"][0] == json{{"key", "DATABASE_URL"}});
}

TEST_CASE("ctl env set: the value comes from standard input only and is never shown") {
  Fixture f;
  auto r = f.Run({"env", "set", "API_KEY", "--env", "staging"}, std::string(kSecret) + "\n");
  CHECK(r.code == 0);
  CHECK(Has(r.out, "Set API_KEY in staging of project p1."));
  CheckNoSecret(r);
  CHECK(f.Variables("staging")["API_KEY"] == kSecret);  // one trailing newline dropped
  auto two = f.Run({"env", "set", "PEM", "--env", "staging", "--json"}, "a\nb\n\n");
  CHECK(json::parse(two.out) ==
        json{{"projectId", "p1"}, {"environment", "staging"}, {"key", "PEM"}});
  CHECK(f.Variables("staging")["PEM"] == "a\nb\n");

  SUBCASE("an empty value points at env unset") {
    auto empty = f.Run({"env", "set", "API_KEY", "--env", "staging"}, "\n");
    CHECK(empty.code == 2);
    CHECK(Has(empty.err,
              "the value read from standard input is empty; to remove API_KEY run: "
              "backend-im env unset API_KEY --env staging"));
  }
  SUBCASE("a value on the command line is refused, and not shown") {
    auto argv = f.Run({"env", "set", "API_KEY", kSecret, "--env", "staging"});
    CHECK(argv.code == 2);
    CHECK(Has(argv.err, "its value is read from standard input, never from the command line"));
    CheckNoSecret(argv);
    auto joined = f.Run({"env", "set", std::string("API_KEY=") + kSecret, "--env", "staging"});
    CHECK(joined.code == 2);
    CheckNoSecret(joined);
    auto option =
        f.Run({"env", "set", "API_KEY", std::string("--value=") + kSecret, "--env", "staging"});
    CHECK(option.code == 2);
    CheckNoSecret(option);
  }
  SUBCASE("without --env nothing is assumed") {
    auto none = f.Run({"env", "set", "API_KEY"}, "x\n");
    CHECK(none.code == 2);
    CHECK(Has(none.err, "name the environment with --env NAME"));
  }
  CHECK(f.agent.Count("SetVariable") == 2);
}

TEST_CASE("ctl env unset removes a variable, and an unknown one is exit 7") {
  Fixture f;
  f.Variables("staging")["DEBUG"] = "1";
  auto r = f.Run({"env", "unset", "DEBUG", "--env", "staging"});
  CHECK(r.code == 0);
  CHECK(Has(r.out, "Removed DEBUG from staging of project p1"));
  CHECK(f.Variables("staging").empty());
  CHECK(f.Run({"env", "unset", "DEBUG", "--env", "staging"}).code == 7);
}

TEST_CASE("ctl: set, unset, pull and import need --env, and ls does not") {
  Fixture f;
  for (std::vector<std::string> args : {std::vector<std::string>{"env", "set", "K"},
                                        {"env", "unset", "K"},
                                        {"env", "pull"},
                                        {"env", "import", "x.env"}}) {
    CAPTURE(args[1]);
    auto r = f.Run(args, "value\n");
    CHECK(r.code == 2);
    CHECK(Has(r.err,
              "name the environment with --env NAME (production, staging, ...); none is "
              "assumed for variables"));
  }
  CHECK(f.agent.calls.empty());
  CHECK(f.Run({"env", "ls"}).code == 0);
}

TEST_CASE("ctl env pull writes a 0600 dotenv file that python-dotenv reads back") {
  Fixture f;
  f.Variables("staging") = {{"API_KEY", kSecret}, {"PEM", "a\nb"}, {"NAME", "it's"}};
  auto r = f.Run({"env", "pull", "--env", "staging"});
  CHECK(r.code == 0);
  const std::string file = f.dir + "/.env.staging";
  CHECK(Has(r.out, "Wrote the 3 variables of staging (project p1) to " + file));
  CHECK(Has(r.out, "  API_KEY\n  NAME\n  PEM\n"));
  CheckNoSecret(r);
  CHECK(ReadFile(file) == std::string("API_KEY='") + kSecret + "'\nNAME=\"it's\"\nPEM=\"a\\nb\"\n");
  CHECK(ModeOf(file) == 0600);

  SUBCASE("an existing file is kept without --force") {
    WriteFile(file, "mine\n");
    auto kept = f.Run({"env", "pull", "--env", "staging"});
    CHECK(kept.code == 6);
    CHECK(Has(kept.err, file + " exists; nothing was written. Pass --force to replace it"));
    CHECK(ReadFile(file) == "mine\n");
    ::chmod(file.c_str(), 0644);
    auto forced = f.Run({"env", "pull", "--env", "staging", "--force", "--json"});
    CHECK(forced.code == 0);
    CHECK(ModeOf(file) == 0600);
    auto model = json::parse(forced.out);
    CHECK(model["keys"] == json::array({"API_KEY", "NAME", "PEM"}));
    CHECK(model["file"] == file);
    CheckNoSecret(forced);
  }
  SUBCASE("a withheld value is an error naming it, and nothing is written") {
    f.agent.withheld_values = {"PEM"};
    auto withheld = f.Run({"env", "pull", f.tmp / "out.env", "--env", "staging"});
    CHECK(withheld.code == 5);
    CHECK(Has(withheld.err,
              "the platform withheld the value of PEM in staging (it gave the name "
              "only); nothing was written"));
    CHECK_FALSE(ctl::LoadProjectMeta(f.tmp / "out.env"));
    CHECK(::access((f.tmp / "out.env").c_str(), F_OK) != 0);
  }
  SUBCASE("a file deploy would upload is refused") {
    auto uploaded = f.Run({"env", "pull", f.dir + "/settings.txt", "--env", "staging"});
    CHECK(uploaded.code == 2);
    CHECK(Has(uploaded.err, "is in the project folder, and deploy would upload it"));
    CHECK(::access((f.dir + "/settings.txt").c_str(), F_OK) != 0);
    WriteFile(f.dir + "/.backendimignore", "!.env.qa\n");
    auto reincluded = f.Run({"env", "pull", f.dir + "/.env.qa", "--env", "staging"});
    CHECK(reincluded.code == 2);
    auto hidden = f.Run({"env", "pull", f.dir + "/.secrets", "--env", "staging"});
    CHECK(hidden.code == 0);
    CHECK(ModeOf(f.dir + "/.secrets") == 0600);
  }
}

TEST_CASE("ctl env import sets each variable of a dotenv file and names only the keys") {
  Fixture f;
  const std::string file = f.tmp / "in.env";
  WriteFile(file, std::string("# staging\nexport API_KEY='") + kSecret + "'\nDEBUG=1\n");
  auto r = f.Run({"env", "import", file, "--env", "staging"});
  CHECK(r.code == 0);
  CHECK(Has(r.out, "Set 2 variables in staging of project p1 from " + file +
                       "\n  API_KEY\n"
                       "  DEBUG\n"));
  CheckNoSecret(r);
  CHECK(f.Variables("staging")["API_KEY"] == kSecret);
  auto j = f.Run({"env", "import", file, "--env", "staging", "--json"});
  CHECK(json::parse(j.out)["keys"] == json::array({"API_KEY", "DEBUG"}));
  CheckNoSecret(j);

  WriteFile(file, std::string("OK=1\n") + kSecret + "\n");
  auto bad = f.Run({"env", "import", file, "--env", "production"});
  CHECK(bad.code == 2);
  CHECK(Has(bad.err, file + ": line 2: not KEY=VALUE"));
  CHECK(Has(bad.err, "nothing was set"));
  CheckNoSecret(bad);
  CHECK(f.Variables("production").empty());
  CHECK(f.agent.Count("SetVariable") == 4);
}

TEST_CASE("ctl deploy --env, rollback --env and history --env name the environment") {
  Fixture f;
  auto plain = f.Run({"deploy"});
  CHECK(plain.code == 0);
  CHECK(f.agent.last_deploy->environment().empty());  // without --env nothing changes
  auto staged = f.Run({"deploy", "--env", "staging"});
  CHECK(staged.code == 0);
  CHECK(f.agent.last_deploy->environment() == "staging");
  CHECK(Has(staged.out, "Deploying 1 files (8 bytes) to project p1, environment staging\n"));
  auto j = f.Run({"deploy", "--env", "staging", "--json"});
  CHECK(json::parse(j.out)["environment"] == "staging");
  auto missing = f.Run({"deploy", "--env", "qa"});
  CHECK(missing.code == 7);

  auto history = Ctl(f.agent, {"history", "--env", "staging", "--json"});
  CHECK(json::parse(history.out).size() == 2);
  auto table = Ctl(f.agent, {"history", "--env", "production"});
  CHECK(Has(table.out, "ENVIRONMENT"));
  CHECK(Has(table.out, "production"));
  CHECK_FALSE(Has(table.out, "staging"));

  WriteFile(f.dir + "/main.py", "app = 2\n");
  REQUIRE(f.Run({"deploy", "--env", "staging"}).code == 0);
  auto back = f.Run({"rollback", "--env", "staging"});
  CHECK(back.code == 0);
  CHECK(f.agent.last_rollback->environment() == "staging");
  CHECK(f.agent.last_rollback->project_id() == "p1");
  CHECK(Has(back.out, "Rolling project p1, environment staging, back to the files of "));
}

TEST_CASE("ctl promote starts a deployment's files in another environment") {
  Fixture f;
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  auto r = Ctl(f.agent, {"promote", d.id(), "--to", "staging"});
  CHECK(r.code == 0);
  CHECK(Has(r.out, "Promoting the files of " + d.id() + " to staging of project p1\n"));
  CHECK(f.agent.last_promote->deployment_id() == d.id());
  CHECK(f.agent.last_promote->environment() == "staging");
  auto w = Ctl(f.agent, {"promote", d.id(), "--to", "staging", "-w", "--json"});
  CHECK(w.code == 0);
  auto lines = JsonLines(w.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["promotedOf"] == d.id());
  CHECK(lines[0]["environment"] == "staging");
  CHECK(lines[4]["status"] == "complete");
  auto status = Ctl(f.agent, {"status", lines[0]["deploymentId"]});
  CHECK(Has(status.out, "Environment staging\n"));
  CHECK(Has(status.out, "Promote of  " + d.id() + "\n"));
  auto no_to = Ctl(f.agent, {"promote", d.id()});
  CHECK(no_to.code == 2);
  CHECK(Ctl(f.agent, {"promote", "dep-404", "--to", "staging"}).code == 7);
}

TEST_CASE("ctl dev --env: production warns, a withheld value stops it before it starts") {
  Fixture f;
  ::unlink((f.dir + "/main.py").c_str());  // dev then stops at its own check, after --env's
  f.Variables("production")["API_KEY"] = kSecret;
  auto prod = f.Run({"dev", "--env", "production"});
  CHECK(prod.code == 2);
  CHECK(Has(prod.err, "warning: the app runs here with production's variables"));
  CHECK(Has(prod.err, "has no main.py"));
  CheckNoSecret(prod);
  CHECK(f.agent.last_list_variables->with_values());
  f.agent.withheld_values = {"API_KEY"};
  auto withheld = f.Run({"dev", "--env", "production"});
  CHECK(withheld.code == 5);
  CHECK(Has(withheld.err,
            "backend-im: dev --env production: the platform withheld the value of "
            "API_KEY in production"));
  const int before = f.agent.Count("ListVariables");
  auto plain = f.Run({"dev"});
  CHECK(plain.code == 2);
  CHECK(f.agent.Count("ListVariables") == before);  // without --env nothing is fetched
}

TEST_CASE("ctl: on a platform without environments each command says so and exits 5") {
  Fixture f;
  f.agent.environments_offered = false;
  const auto d = f.agent.AddDeployment("p1", {{"main.py", "1"}});
  WriteFile(f.tmp / "in.env", "A=1\n");
  const std::vector<std::vector<std::string>> commands = {
      {"environments"},
      {"environments", "ls"},
      {"environments", "add", "qa"},
      {"environments", "rm", "qa", "--yes"},
      {"env", "ls"},
      {"env", "ls", "--env", "staging"},
      {"env", "set", "A", "--env", "staging"},
      {"env", "unset", "A", "--env", "staging"},
      {"env", "pull", "--env", "staging"},
      {"env", "import", f.tmp / "in.env", "--env", "staging"},
      {"deploy", "--env", "staging"},
      {"dev", "--env", "staging"},
  };
  for (const auto& args : commands) {
    CAPTURE(args);
    auto r = f.Run(args, "value\n");
    CHECK(r.code == 5);
    CHECK(Has(r.err, "this platform does not offer environments"));
  }
  auto promote = Ctl(f.agent, {"promote", d.id(), "--to", "staging"});
  CHECK(promote.code == 5);
  CHECK(Has(promote.err, "this platform does not offer environments"));
  // And nothing changes for what does not name an environment.
  CHECK(f.Run({"deploy"}).code == 0);
  CHECK_FALSE(json::parse(Ctl(f.agent, {"status", d.id(), "--json"}).out).contains("environment"));
}
