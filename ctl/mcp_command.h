#pragma once
// `backend-im mcp`: a Model Context Protocol server on stdin/stdout for AI coding tools, and
// `backend-im mcp config` to print the snippet that registers it.

#include <CLI/CLI.hpp>

namespace bim::ctl {

// Adds the `mcp` subcommand (and its `config` subcommand) to app; when one of them runs,
// exit_code receives its exit code.
void AddMcpCommand(CLI::App& app, int& exit_code);

}  // namespace bim::ctl
