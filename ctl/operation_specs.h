#pragma once
// The catalog of what the ctl offers: one description of each operation, read by both front
// ends. A command (ctl/commands/) takes its help from here, its own and its options'; an MCP
// tool (ctl/mcp/) its title, its description, its arguments' descriptions and its
// outputSchema. An operation that both offer (deploy, and the deploy tool) has one summary,
// and each argument that both take has one description, whatever each front end calls it (the
// CLI's positional `id` is the tool's `deploymentId`): `backend-im deploy --help` and the deploy
// tool cannot come to say different things. What only one front end has to say (the CLI's
// exit codes and defaults, what a model should call next) is that front end's `more`.
//
// It also holds the shapes of what each operation returns, as JSON Schema made of the shared
// models' (ctl/models.h): every line its command prints with --json, and its tool's
// structuredContent. tests/unit/ctl/operation_specs_test.cc runs every command with --json
// against these, and reads every command's help and every tool's listing back from here.
//
// The catalog is constant data, string views and function pointers, made at compile time:
// reading it costs a command nothing at start-up, and a schema is made only when asked for.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bim::ctl {

// One argument, by its name on each front end (empty where that one does not take it).
struct ArgSpec {
  std::string_view cli;   // as CLI11 takes it: "-d,--dir", "--project", a positional's "id"
  std::string_view tool;  // the MCP argument: "directory"
  std::string_view text;  // the description both show, without a final period
  std::string_view cli_more = {};   // what the command line adds: its default, its range
  std::string_view tool_more = {};  // what a model is told besides
};

using SchemaFn = nlohmann::json (*)();

struct OperationSpec {
  std::string_view cli = {};        // the command as typed after `backend-im`: "auth status"
  std::string_view tool = {};       // the MCP tool: "auth_status"
  std::string_view title = {};      // the tool's title
  std::string_view summary = {};    // what it does, both front ends' first sentence
  std::string_view cli_more = {};   // what only the command line says: its exit codes
  std::string_view tool_more = {};  // what only a model is told: what to call next
  std::span<const ArgSpec> args = {};
  // What it returns, as one of the shared models (ctl/models.h): the line --json prints, and
  // with a nextStep, the tool's structuredContent; unless the two below say otherwise.
  SchemaFn model = nullptr;
  // --json: each line the command prints has one of these shapes; none: the model's.
  std::span<const SchemaFn> json_lines = {};
  // The tool's structuredContent; none: the model's with a nextStep.
  SchemaFn tool_output = nullptr;

  // The argument with this name on either front end; aborts when there is none, a mistake that
  // the tests catch as they build every command and list every tool.
  const ArgSpec& Arg(std::string_view name) const;
};

// Every operation: the commands, groups too ("auth"), then the tools that only MCP has.
std::span<const OperationSpec> OperationSpecs();
// The operation of a command ("auth status") or of a tool ("auth_status"); aborts when none.
const OperationSpec& CliSpec(std::string_view command);
const OperationSpec& ToolSpec(std::string_view tool);

// The shapes of the lines a command prints with --json, each one's JSON Schema (none: it has no
// --json); and a tool's outputSchema.
std::vector<nlohmann::json> JsonLineSchemas(const OperationSpec& op);
nlohmann::json ToolOutputSchema(const OperationSpec& op);

// What the command line shows: the text, then its `more` ("(default: ...)" follows the text,
// a sentence follows a period).
std::string CliHelp(const OperationSpec& op);
std::string CliHelp(const ArgSpec& arg);
// What a model is shown: the same, with tool_more, ending as a sentence.
std::string ToolDescription(const OperationSpec& op);
std::string ToolDescription(const ArgSpec& arg);

}  // namespace bim::ctl
