#include "tests/support/ctl_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "ctl/commands/command.h"
#include "tests/support/harness.h"

namespace bim::test {

CtlRun Ctl(FakeAgentApi& agent, std::vector<std::string> args, const std::string& stdin_text) {
  TempDir io;
  WriteFile(io / "in", stdin_text);
  std::fflush(stdout);
  std::fflush(stderr);
  int saved[3] = {::dup(0), ::dup(1), ::dup(2)};
  int in = ::open((io / "in").c_str(), O_RDONLY);
  int out = ::open((io / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err = ::open((io / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  std::clearerr(stdin);
  std::cin.clear();
  args.insert(args.begin(), "backend-im");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CtlRun r;
  r.code = ctl::RunCommandLine(static_cast<int>(argv.size()), argv.data(),
                               [&agent]() -> ctl::AgentApi& { return agent; });
  std::fflush(stdout);
  std::fflush(stderr);
  std::cout.flush();
  for (int fd = 0; fd < 3; ++fd) {
    ::dup2(saved[fd], fd);
    ::close(saved[fd]);
  }
  ::close(in);
  ::close(out);
  ::close(err);
  std::clearerr(stdin);
  std::cin.clear();
  r.out = ReadFile(io / "out");
  r.err = ReadFile(io / "err");
  return r;
}

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  for (size_t at = 0; at < out.size();) {
    size_t nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size();
    lines.push_back(nlohmann::json::parse(out.substr(at, nl - at)));
    at = nl + 1;
  }
  return lines;
}

}  // namespace bim::test
