#pragma once
// The command line (ctl/commands/) run in this process against the agent in memory
// (FakeAgentApi), as `backend-im args...` would run: for unit tests of a command's output and
// exit code. stdout and stderr are the process's own, redirected to files for the run, so one
// run at a time.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fake_agent_api.h"

namespace bim::test {

struct CtlRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `backend-im args...` against agent, with stdin_text on standard input.
CtlRun Ctl(FakeAgentApi& agent, std::vector<std::string> args, const std::string& stdin_text = "");

// What --json printed: one JSON document a line.
std::vector<nlohmann::json> JsonLines(const std::string& out);

}  // namespace bim::test
