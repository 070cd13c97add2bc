// The operations' catalog (ctl/operation_specs.h) against both front ends: every command's help
// and every MCP tool's listing read from it, one entry for an operation both offer, and every
// command's --json output in the shapes it gives. The commands run in this process against the
// agent in memory (tests/support/ctl_run.h).
#include "ctl/operation_specs.h"

#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "ctl/commands/command.h"
#include "ctl/mcp/tools.h"
#include "ctl/project_files.h"
#include "tests/support/ctl_run.h"
#include "tests/support/fake_agent_api.h"
#include "tests/support/harness.h"
#include "tests/support/json_schema_check.h"

using namespace bim;
using namespace bim::test;
using ctl::ArgSpec;
using ctl::OperationSpec;
using nlohmann::json;

namespace {

constexpr const char* kVersion = "2025-11-25";

// The entry of a command or tool, or null: unlike CliSpec and ToolSpec, never aborts.
const OperationSpec* SpecOf(std::string_view ctl::OperationSpec::*name, std::string_view value) {
  for (const auto& op : ctl::OperationSpecs()) {
    if (op.*name == value) return &op;
  }
  return nullptr;
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// Every command, as `backend-im --help` builds them, by its path ("auth status").
struct CommandTree {
  CLI::App app;
  FakeAgentApi agent;
  ctl::CommandLine cli{app, [this]() -> ctl::AgentApi& { return agent; }};
  std::map<std::string, const CLI::App*> commands;

  CommandTree() {
    for (const auto& c : ctl::Commands()) c.add(cli);
    Collect(&app, "");
  }
  void Collect(const CLI::App* parent, const std::string& prefix) {
    for (const CLI::App* sub : parent->get_subcommands({})) {
      std::string path = prefix + sub->get_name();
      commands[path] = sub;
      Collect(sub, path + " ");
    }
  }
};

// Every tool as tools/list lists them, by name.
struct ToolList {
  FakeAgentApi agent;
  TempDir tmp;
  ctl::McpTools tools{agent, tmp.path()};
  std::map<std::string, json> by_name;

  ToolList() {
    for (const auto& t : tools.ListTools(kVersion)) by_name[t["name"]] = t;
  }
};

}  // namespace

TEST_CASE("operation specs: each command and each tool has one entry, each argument one per side") {
  std::set<std::string_view> commands, tools;
  for (const auto& op : ctl::OperationSpecs()) {
    CAPTURE(op.cli);
    CAPTURE(op.tool);
    CHECK_FALSE(op.summary.empty());
    CHECK((op.cli.empty() || commands.insert(op.cli).second));
    CHECK((op.tool.empty() || tools.insert(op.tool).second));
    // A tool has a title and an outputSchema; only a command prints --json lines.
    CHECK(op.tool.empty() == op.title.empty());
    CHECK((op.tool.empty() || op.model || op.tool_output));
    CHECK((op.tool_output == nullptr || !op.tool.empty()));
    CHECK((op.json_lines.empty() || !op.cli.empty()));
    std::set<std::string_view> cli_args, tool_args;
    for (const ArgSpec& a : op.args) {
      CAPTURE(a.text);
      CHECK_FALSE(a.text.empty());
      CHECK(a.text.back() != '.');
      CHECK((a.cli.empty() || (!op.cli.empty() && cli_args.insert(a.cli).second)));
      CHECK((a.tool.empty() || (!op.tool.empty() && tool_args.insert(a.tool).second)));
      CHECK((a.cli_more.empty() || !a.cli.empty()));
      CHECK((a.tool_more.empty() || !a.tool.empty()));
      CHECK(&op.Arg(a.cli.empty() ? a.tool : a.cli) == &a);
    }
  }
  CHECK(&ctl::CliSpec("watch") == &ctl::ToolSpec("wait_for_deployment"));
  CHECK(&ctl::CliSpec("history") == &ctl::ToolSpec("list_deployments"));
}

TEST_CASE("operation specs: every command's help and its options' are its entry's") {
  CommandTree tree;
  std::set<std::string> seen;
  for (const auto& [path, cmd] : tree.commands) {
    CAPTURE(path);
    const OperationSpec* op = SpecOf(&OperationSpec::cli, path);
    REQUIRE_MESSAGE(op, "no entry for the command");
    seen.insert(path);
    CHECK(cmd->get_description() == ctl::CliHelp(*op));
    bool json_flag = false;
    size_t described = 0;
    for (const CLI::Option* opt : cmd->get_options()) {
      const std::string name = opt->get_name(false, true);
      CAPTURE(name);
      if (name == "-h,--help") continue;
      if (name == "--json") {
        json_flag = true;
        continue;
      }
      const ArgSpec* arg = nullptr;
      for (const ArgSpec& a : op->args) {
        if (a.cli == name) arg = &a;
      }
      REQUIRE_MESSAGE(arg, "the option is not in the entry");
      CHECK(opt->get_description() == ctl::CliHelp(*arg));
      ++described;
    }
    // The entry's arguments are the command's options, and its --json lines its --json.
    size_t cli_args = 0;
    for (const ArgSpec& a : op->args) cli_args += a.cli.empty() ? 0 : 1;
    CHECK(described == cli_args);
    CHECK(json_flag == !ctl::JsonLineSchemas(*op).empty());
  }
  for (const auto& op : ctl::OperationSpecs()) {
    if (!op.cli.empty()) CHECK_MESSAGE(seen.count(std::string(op.cli)), op.cli);
  }
}

TEST_CASE(
    "operation specs: every tool's title, description, arguments and outputSchema are its "
    "entry's") {
  ToolList list;
  for (const auto& [name, tool] : list.by_name) {
    CAPTURE(name);
    const OperationSpec* op = SpecOf(&OperationSpec::tool, name);
    REQUIRE_MESSAGE(op, "no entry for the tool");
    CHECK(tool["title"] == op->title);
    CHECK(tool["description"] == ctl::ToolDescription(*op));
    CHECK(tool["outputSchema"] == ctl::ToolOutputSchema(*op));
    const json& props = tool["inputSchema"]["properties"];
    size_t tool_args = 0;
    for (const ArgSpec& a : op->args) {
      if (a.tool.empty()) continue;
      ++tool_args;
      CAPTURE(a.tool);
      REQUIRE(props.contains(std::string(a.tool)));
      // A folder's description goes on to say where relative paths resolve.
      CHECK(StartsWith(props[std::string(a.tool)]["description"], ctl::ToolDescription(a)));
    }
    CHECK(props.size() == tool_args);
  }
  for (const auto& op : ctl::OperationSpecs()) {
    if (!op.tool.empty()) CHECK_MESSAGE(list.by_name.count(std::string(op.tool)), op.tool);
  }
}

TEST_CASE(
    "operation specs: an operation on both sides says the same on both, argument by "
    "argument") {
  CommandTree tree;
  ToolList list;
  int both = 0;
  for (const auto& op : ctl::OperationSpecs()) {
    if (op.cli.empty() || op.tool.empty()) continue;
    CAPTURE(op.cli);
    ++both;
    const CLI::App* cmd = tree.commands.at(std::string(op.cli));
    const json& tool = list.by_name.at(std::string(op.tool));
    CHECK(StartsWith(cmd->get_description(), op.summary));
    CHECK(StartsWith(tool["description"], op.summary));
    for (const ArgSpec& a : op.args) {
      if (a.cli.empty() || a.tool.empty()) continue;
      CAPTURE(a.cli);
      const CLI::Option* opt =
          cmd->get_option_no_throw(std::string(a.cli.substr(a.cli.rfind(',') + 1)));
      REQUIRE(opt);
      CHECK(StartsWith(opt->get_description(), a.text));
      CHECK(StartsWith(tool["inputSchema"]["properties"][std::string(a.tool)]["description"],
                       a.text));
    }
  }
  CHECK(both == 15);
}

TEST_CASE("operation specs: every command's --json output has its entry's shapes") {
  FakeAgentApi agent;
  TempDir t;
  WriteFile(t / "api/main.py", "app = 1\n");
  // For each command, the shapes its lines had.
  std::map<std::string, std::set<size_t>> matched;
  auto run = [&](const std::string& command, std::vector<std::string> args,
                 const std::string& stdin_text = "") {
    CAPTURE(command);
    const auto shapes = ctl::JsonLineSchemas(ctl::CliSpec(command));
    args.push_back("--json");
    auto r = Ctl(agent, args, stdin_text);
    CAPTURE(r.err);
    const auto lines = JsonLines(r.out);
    CHECK_FALSE(lines.empty());
    for (const json& line : lines) {
      CAPTURE(line.dump());
      std::vector<std::string> problems;
      size_t fits = shapes.size();
      for (size_t i = 0; i < shapes.size() && fits == shapes.size(); ++i) {
        auto p = SchemaProblems(shapes[i], line, /*closed=*/true);
        if (p.empty()) fits = i;
        problems.insert(problems.end(), p.begin(), p.end());
      }
      CHECK_MESSAGE(fits < shapes.size(), "fits none of the command's shapes");
      if (fits == shapes.size()) {
        for (const auto& p : problems) MESSAGE(p);
      }
      matched[command].insert(fits);
    }
    return lines;
  };

  run("auth status", {"auth", "status"});
  run("auth login", {"auth", "login"});
  run("auth logout", {"auth", "logout"});
  run("auth login", {"auth", "login", "--with-token"}, "good-token\n");
  run("auth status", {"auth", "status"});
  run("generate", {"generate", "REST API", "-o", t / "gen"});
  // An editor that is not there: a warning in the output's "editor", and nothing started.
  run("generate", {"generate", "REST API", "-o", t / "gen2", "-e", "no-such-editor-here"});
  const std::string first = run("deploy", {"deploy", "-d", t / "api"})[0]["deploymentId"];
  WriteFile(t / "api/main.py", "app = 2\n");
  run("deploy", {"deploy", "-d", t / "api", "-w"});
  run("deploy", {"deploy", "-d", t / "api", "--dry-run"});
  run("deploy", {"deploy", "-d", t / "gen", "--dry-run"});
  run("watch", {"watch", first});
  run("status", {"status", first});
  run("history", {"history"});
  agent.AddLogLine(first, "info", "INFO: started");
  {
    backend_im::v1::LogItem skipped, end;
    skipped.set_skipped(2);
    end.set_end("the deployment was replaced");
    agent.follow_items = {skipped, end};
  }
  run("logs", {"logs", first});
  run("logs", {"logs", first, "-f"});
  run("rollback", {"rollback", "-d", t / "api", "-w"});
  run("rollback", {"rollback", "--to", first});
  run("restore", {"restore", first, "-o", t / "restored"});
  run("diff", {"diff", first, "-d", t / "api"});
  run("diff", {"diff", first, t / "restored"});
  // Environments, variables and promote, in project p1.
  agent.logged_in = true;
  WriteFile(t / "p1/main.py", "app = 1\n");
  REQUIRE(ctl::SaveProjectMeta(t / "p1", {"p1"}).ok());
  const std::string p1 = t / "p1";
  run("deploy", {"deploy", "-d", p1});  // to production
  WriteFile(p1 + "/main.py", "app = 2\n");
  const std::string staged =
      run("deploy", {"deploy", "-d", p1, "--env", "staging"})[0]["deploymentId"];
  run("status", {"status", staged});
  run("promote", {"promote", staged, "--to", "production"});
  run("promote", {"promote", staged, "--to", "production", "-w"});
  run("history", {"history", "--env", "production"});
  run("rollback", {"rollback", "-d", p1, "--env", "production"});
  run("environments", {"environments", "-d", p1});
  run("environments ls", {"environments", "ls", "--project", "p1"});
  run("environments add", {"environments", "add", "qa", "-d", p1});
  run("environments rm", {"environments", "rm", "qa", "--yes", "-d", p1});
  run("env set", {"env", "set", "API_KEY", "--env", "staging", "-d", p1}, "s3cret\n");
  run("env ls", {"env", "ls", "-d", p1});
  run("env ls", {"env", "ls", "--env", "staging", "--show-values", "-d", p1});
  run("env pull", {"env", "pull", "--env", "staging", "-d", p1});
  run("env import", {"env", "import", p1 + "/.env.staging", "--env", "production", "-d", p1});
  run("env unset", {"env", "unset", "API_KEY", "--env", "staging", "-d", p1});
  run("domains add", {"domains", "add", "api.example.com", "-d", p1});
  run("domains", {"domains", "-d", p1});
  run("domains ls", {"domains", "ls", "--project", "p1"});
  run("domains verify", {"domains", "verify", "api.example.com", "-d", p1});
  run("domains rm", {"domains", "rm", "api.example.com", "--yes", "-d", p1});
  run("daemon status", {"daemon", "status"});
  agent.running = false;
  run("daemon status", {"daemon", "status"});
  agent.running = true;
  run("version", {"version"});

  // Every command with --json ran, and each of its shapes came out at least once.
  for (const auto& op : ctl::OperationSpecs()) {
    if (op.cli.empty() || ctl::JsonLineSchemas(op).empty()) continue;
    CAPTURE(op.cli);
    CHECK(matched[std::string(op.cli)].size() == ctl::JsonLineSchemas(op).size());
  }
}

TEST_CASE("schema check: names each place where a value breaks its schema") {
  const json schema{{"type", "object"},
                    {"required", {"id", "state"}},
                    {"properties",
                     {{"id", {{"type", "string"}}},
                      {"state", {{"type", "string"}, {"enum", {"on", "off"}}}},
                      {"logs", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  CHECK(SchemaProblems(schema, {{"id", "a"}, {"state", "on"}, {"logs", {"x"}}}, true).empty());
  auto problems =
      SchemaProblems(schema, {{"state", "dim"}, {"logs", {"x", 2}}, {"extra", 1}}, true);
  CHECK(problems == std::vector<std::string>{"$: required \"id\" is missing",
                                             "$: \"extra\" is not allowed",
                                             "$.logs[1]: 2 is not of type \"string\"",
                                             "$.state: \"dim\" is not one of [\"on\",\"off\"]"});
  // Open, as JSON Schema reads it: a field it does not list is allowed.
  CHECK(SchemaProblems(schema, {{"id", "a"}, {"state", "off"}, {"extra", 1}}).empty());
  CHECK(SchemaProblems(schema, json::array()) ==
        std::vector<std::string>{"$: [] is not of type \"object\""});
}
