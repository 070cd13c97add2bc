// The `domains` commands run in this process against the agent in memory: their output, text and
// --json (the records to create, each lookup's findings), their exit codes, and that a name is
// normalised and checked before the agent is asked.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "ctl/project_files.h"
#include "tests/support/ctl_run.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"

using namespace bim;
using namespace bim::test;
using nlohmann::json;

namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
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
  backend_im::v1::Domain& Domain(const std::string& name) { return agent.domains["p1"][name]; }
};

}  // namespace

TEST_CASE("ctl domains add prints the exact records to create, and --json gives them") {
  Fixture f;
  auto r = f.Run({"domains", "add", "API.Example.com."});
  CHECK(r.code == 0);
  CHECK(f.agent.last_add_domain->domain() == "api.example.com");
  CHECK(f.agent.last_add_domain->project_id() == "p1");
  CHECK(f.agent.last_add_domain->environment().empty());
  CHECK(Has(r.out, "Added domain api.example.com to project p1 (production)"));
  CHECK(Has(r.out, "TXT   _backend-im.api.example.com  backend-im-verify=tok-1\n"));
  CHECK(Has(r.out, "A     api.example.com              127.0.0.1\n"));
  CHECK(Has(r.out, "backend-im domains verify api.example.com"));

  auto j = f.Run({"domains", "add", "www.example.com", "--env", "staging", "--json"});
  CHECK(j.code == 0);
  json out = json::parse(j.out);
  CHECK(out["domain"] == "www.example.com");
  CHECK(out["environment"] == "staging");
  CHECK(out["records"] == json::array({{{"type", "TXT"},
                                        {"name", "_backend-im.www.example.com"},
                                        {"value", "backend-im-verify=tok-1"},
                                        {"found", json::array()}},
                                       {{"type", "A"},
                                        {"name", "www.example.com"},
                                        {"value", "127.0.0.1"},
                                        {"found", json::array()}}}));
}

TEST_CASE("ctl domains add refuses a name that is not a domain before asking the agent") {
  Fixture f;
  for (std::string bad :
       {"localhost", "x-.example.com", "a..b", "exa mple.com", "a_b.example.com"}) {
    CAPTURE(bad);
    auto r = f.Run({"domains", "add", bad});
    CHECK(r.code == 2);
    CHECK(Has(r.err, "is not a domain name"));
  }
  CHECK(f.agent.Count("AddDomain") == 0);
  auto env = f.Run({"domains", "add", "api.example.com", "--env", "Bad Env"});
  CHECK(env.code == 2);
  auto missing = f.Run({"domains", "add", "api.example.com", "--env", "qa"});
  CHECK(missing.code == 7);
  CHECK(f.Run({"domains", "add", "--help"}).out.find("DNS records") != std::string::npos);
}

TEST_CASE("ctl domains ls shows each domain's environment, dns and certificate") {
  Fixture f;
  REQUIRE(f.Run({"domains", "add", "api.example.com"}).code == 0);
  REQUIRE(f.Run({"domains", "add", "www.example.com", "--env", "staging"}).code == 0);
  f.Domain("api.example.com").set_dns("valid");
  f.Domain("api.example.com").set_certificate("issued");
  auto ls = f.Run({"domains", "ls"});
  CHECK(ls.code == 0);
  CHECK(Has(ls.out, "Custom domains of project p1"));
  CHECK(Has(ls.out, "api.example.com                           production    valid     issued"));
  CHECK(Has(ls.out, "www.example.com                           staging       pending   pending"));
  auto alone = f.Run({"domains", "--json"});
  CHECK(alone.code == 0);
  json all = json::parse(alone.out);
  CHECK(all["projectId"] == "p1");
  CHECK(all["domains"].size() == 2);
  auto staging = f.Run({"domains", "ls", "--env", "staging", "--json"});
  json only = json::parse(staging.out);
  REQUIRE(only["domains"].size() == 1);
  CHECK(only["domains"][0]["domain"] == "www.example.com");
  // By --project, without a folder.
  auto by_id = Ctl(f.agent, {"domains", "ls", "--project", "p1", "--json"});
  CHECK(by_id.code == 0);
  CHECK(json::parse(by_id.out)["domains"].size() == 2);
}

TEST_CASE("ctl domains verify names the missing record, exits 1, and 0 once the DNS is valid") {
  Fixture f;
  REQUIRE(f.Run({"domains", "add", "api.example.com"}).code == 0);
  auto& d = f.Domain("api.example.com");
  // The A record is there; the TXT record is not, as both lookups say.
  auto* txt = d.mutable_records(0);
  txt->set_checked(true);
  txt->set_ok(false);
  txt->set_agent_checked(true);
  auto* a = d.mutable_records(1);
  a->set_checked(true);
  a->set_ok(true);
  a->add_found("127.0.0.1");
  a->set_agent_checked(true);
  a->set_agent_ok(true);
  a->add_agent_found("127.0.0.1");

  auto r = f.Run({"domains", "verify", "api.example.com"});
  CHECK(r.code == 1);
  CHECK(Has(r.out, "dns pending, certificate pending"));
  CHECK(Has(r.out,
            "✗ TXT _backend-im.api.example.com\n"
            "    expected:       backend-im-verify=tok-1\n"
            "    agent found:    nothing\n"
            "    platform found: nothing\n"));
  CHECK(Has(r.out,
            "✓ A api.example.com\n"
            "    expected:       127.0.0.1\n"
            "    agent found:    127.0.0.1\n"
            "    platform found: 127.0.0.1\n"));
  CHECK(Has(r.out, "The agent asked 127.0.0.1:5353."));
  CHECK(r.err ==
        "backend-im: domains verify api.example.com: The platform found no TXT record at "
        "_backend-im.api.example.com: create TXT _backend-im.api.example.com with the value "
        "backend-im-verify=tok-1\n");

  auto j = f.Run({"domains", "verify", "api.example.com", "--json"});
  CHECK(j.code == 1);
  json out = json::parse(j.out);
  CHECK(out["valid"] == false);
  CHECK(out["resolver"] == "127.0.0.1:5353");
  CHECK(out["records"][0]["agentFound"] == json::array());
  CHECK(out["records"][0]["ok"] == false);
  CHECK(out["records"][1]["agentOk"] == true);
  REQUIRE(out["advice"].size() == 1);

  // A record that points elsewhere is named with what it holds.
  a->set_ok(false);
  a->clear_found();
  a->add_found("192.0.2.7");
  d.set_dns("invalid");
  auto wrong = f.Run({"domains", "verify", "api.example.com"});
  CHECK(wrong.code == 1);
  CHECK(Has(wrong.err,
            "The A record at api.example.com holds 192.0.2.7, not the value asked for: "
            "change it to A api.example.com with the value 127.0.0.1"));

  // Published: valid, exit 0.
  for (auto* rec : {txt, a}) {
    rec->set_ok(true);
    rec->clear_found();
    rec->add_found(rec->value());
  }
  d.set_dns("valid");
  auto ok = f.Run({"domains", "verify", "API.example.com"});
  CHECK(ok.code == 0);
  CHECK(ok.err.empty());
  CHECK(Has(ok.out, "The platform found every record."));
  auto ok_json = f.Run({"domains", "verify", "api.example.com", "--json"});
  CHECK(ok_json.code == 0);
  CHECK(json::parse(ok_json.out)["advice"] == json::array());

  auto unknown = f.Run({"domains", "verify", "other.example.com"});
  CHECK(unknown.code == 7);
}

TEST_CASE("ctl domains rm needs --yes without a terminal") {
  Fixture f;
  REQUIRE(f.Run({"domains", "add", "api.example.com"}).code == 0);
  auto refused = f.Run({"domains", "rm", "api.example.com"});
  CHECK(refused.code == 2);
  CHECK(Has(refused.err, "pass --yes to remove it"));
  CHECK(f.agent.Count("RemoveDomain") == 0);
  auto rm = f.Run({"domains", "rm", "API.example.com.", "--yes", "--json"});
  CHECK(rm.code == 0);
  CHECK(json::parse(rm.out) == json{{"projectId", "p1"}, {"domain", "api.example.com"}});
  CHECK(f.agent.domains["p1"].empty());
  auto gone = f.Run({"domains", "rm", "api.example.com", "--yes"});
  CHECK(gone.code == 7);
}

TEST_CASE("ctl domains on a platform without them: the agent's words, exit 5") {
  Fixture f;
  f.agent.domains_offered = false;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"domains", "add", "api.example.com"},
        std::vector<std::string>{"domains", "ls"},
        std::vector<std::string>{"domains", "verify", "api.example.com"},
        std::vector<std::string>{"domains", "rm", "api.example.com", "--yes"}}) {
    CAPTURE(args[1]);
    auto r = f.Run(args);
    CHECK(r.code == 5);
    CHECK(Has(r.err, "this platform does not offer custom domains"));
  }
}

TEST_CASE("ctl domains: platform text is escaped on a terminal line") {
  Fixture f;
  REQUIRE(f.Run({"domains", "add", "api.example.com"}).code == 0);
  f.Domain("api.example.com").set_detail("evil\x1b]0;title\x07 text");
  auto ls = f.Run({"domains", "ls"});
  CHECK(ls.code == 0);
  CHECK_FALSE(Has(ls.out, "\x1b"));
  CHECK(Has(ls.out, "evil\\x1b]0;title\\x07 text"));
}
