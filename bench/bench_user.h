#pragma once
// One isolated user for a benchmark: its own HOME and XDG folders, a running backend-im-mock,
// and helpers to run the real ctl there (which starts the real agent on demand). The agent is
// stopped when the object goes away. Main thread only.

#include <memory>
#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace bim::bench {

class BenchUser {
 public:
  // The bearer token the mock accepts and Login() logs in with.
  static constexpr const char* kToken = "dev-token";
  // Whether the user logs in at once (which starts the agent), or later through Login().
  enum class Start { kLoggedIn, kLoggedOut };

  // The mock gets stage_delay_ms (--stage-delay-ms), accepts the token Login() uses, and takes
  // more_mock_args on top.
  explicit BenchUser(int stage_delay_ms, std::vector<std::string> more_mock_args = {},
                     Start start = Start::kLoggedIn);
  ~BenchUser();
  BenchUser(const BenchUser&) = delete;
  BenchUser& operator=(const BenchUser&) = delete;

  test::MockPlatform& mock() { return *mock_; }
  const std::string& home() const { return home_.path(); }
  std::string SocketPath() const { return home_ / "run/backend-im/agent.sock"; }
  std::string StateDir() const { return home_ / "state/backend-im"; }
  // The environment every child gets (this process's, with the user's folders on top).
  const std::vector<std::string>& Environment() const { return env_strings_; }

  // Runs the ctl to completion; throws when it fails.
  test::RunResult Ctl(std::vector<std::string> args, std::string stdin_data = "");
  // Runs argv with this user's environment, output to /dev/null, and returns its wall time in
  // ms from posix_spawn to the end of waitpid. The same path times the ctl and the no-op baseline.
  // Throws when the program exits non-zero.
  double TimeCommand(const std::vector<std::string>& argv);

  void Login();                                      // auth login --with-token (starts the agent)
  std::string Deploy(const std::string& dir);        // deploy -d DIR --json; its deploymentId
  std::string MakeProject(const std::string& name);  // a small valid FastAPI project
  int AgentPid() const;
  void StopAgent();

 private:
  test::TempDir home_;
  test::Env env_;
  std::vector<std::string> env_strings_;
  std::unique_ptr<test::MockPlatform> mock_;
};

// Path of a program next to backend-im (the build's bin folder).
std::string BinPath(const std::string& name);

}  // namespace bim::bench
