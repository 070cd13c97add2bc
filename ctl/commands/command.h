#pragma once
// A command of the backend-im command line. Each top-level command is one file under
// ctl/commands/ that adds itself to the command line (its name, flags and what it runs) and is
// listed once in ctl/commands/registry.cc. Its help, and its options', come from the
// operations' catalog (ctl/operation_specs.h), which the MCP tools read too. What a command runs
// calls operations (ctl/operations.h) and presents their outcome: text for people (ctl/output.h),
// or the shared models with --json (ctl/models.h). It returns the exit code.

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/agent_api.h"
#include "ctl/cancel_token.h"
#include "ctl/operation_specs.h"
#include "ctl/operations.h"
#include "ctl/output.h"

namespace bim::ctl {

// What a running command has: the operations on the agent, its cancel token, the style of the
// terminal, and whether --json was given.
class CommandContext {
 public:
  CommandContext(AgentApi& agent, bool json) : agent_(agent), ops_(agent), json_(json) {}

  Operations& ops() { return ops_; }
  AgentApi& agent() { return agent_; }
  CancelToken& cancel() { return cancel_; }
  const Style& style() const { return style_; }
  bool json() const { return json_; }

  // Prints why an operation failed and returns its exit code. what: the command and its
  // argument as typed ("status ID"), cut to 80 bytes: an argument of any length (a 10 KB id)
  // must not fill the error line.
  int Failed(const OpError& e, const std::string& what) const;

 private:
  AgentApi& agent_;
  Operations ops_;
  CancelToken cancel_;
  Style style_;
  bool json_;
};

// The command line being built: where a command's file adds its subcommand.
class CommandLine {
 public:
  using Run = std::function<int(CommandContext&)>;
  // agent: the agent's API for the command that runs, made only then (a parse error or --help
  // never reaches the agent).
  CommandLine(CLI::App& app, std::function<AgentApi&()> agent)
      : app_(app), agent_(std::move(agent)) {}

  CLI::App& app() { return app_; }
  // Storage for an option's value, as long as the command line lives.
  template <typename T>
  T& Value(T initial = T()) {
    auto v = std::make_shared<T>(std::move(initial));
    T& ref = *v;
    values_.push_back(std::move(v));
    return ref;
  }
  // Adds the command that `command` names in the catalog ("deploy"; "auth status" under the
  // "auth" added before), with the catalog's help.
  CLI::App* Add(std::string_view command);
  // Adds the argument of cmd's operation that its CLI11 name names ("-d,--dir", "--project", a
  // positional's "id"), with the catalog's description.
  template <typename T>
  CLI::Option* Option(CLI::App* cmd, std::string_view name, T& value) {
    return cmd->add_option(std::string(name), value, ArgHelp(cmd, name));
  }
  CLI::Option* Flag(CLI::App* cmd, std::string_view name, bool& value) {
    return cmd->add_flag(std::string(name), value, ArgHelp(cmd, name));
  }
  // The deployment id that cmd takes as its one positional argument.
  std::string& DeploymentId(CLI::App* cmd) {
    auto& id = Value<std::string>();
    Option(cmd, "id", id)->required();
    return id;
  }
  // Adds --json to cmd (the last of its options, as help lists them), and runs `run` when cmd
  // is the command given, keeping its exit code.
  void OnRun(CLI::App* cmd, Run run);
  // The same for a command without --json.
  void OnRunWithoutJson(CLI::App* cmd, Run run);
  int& exit_code() { return exit_code_; }
  // The agent's API, made now: for a command that runs otherwise than through OnRun.
  AgentApi& agent() { return agent_(); }

 private:
  std::string ArgHelp(const CLI::App* cmd, std::string_view name) const;

  CLI::App& app_;
  std::function<AgentApi&()> agent_;
  std::vector<std::pair<CLI::App*, const OperationSpec*>> specs_;  // each command's
  std::vector<std::shared_ptr<void>> values_;
  bool json_ = false;
  int exit_code_ = 0;
};

// After a list of files written: how many were already up to date, when some were.
void PrintUnchanged(const WriteReport& report);

// A top-level command: its name (argv[1]) and what adds it to the command line.
struct Command {
  std::string_view name;
  void (*add)(CommandLine& cli);
};

// Every command, in the order help lists them (ctl/commands/registry.cc).
std::span<const Command> Commands();

// Parses argv and runs the command against `agent`; returns the exit code.
int RunCommandLine(int argc, char** argv, std::function<AgentApi&()> agent);

}  // namespace bim::ctl
