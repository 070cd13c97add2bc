#pragma once
// An isolated user for agent tests: its own HOME and XDG folders, a running mock platform, and
// helpers to run the real ctl (which starts the real agent on demand) in that environment.
// The agent is stopped (and killed if it must be) when the fixture goes away.

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/harness.h"

namespace bim::test {

class AgentFixture {
 public:
  // Stages 20 ms apart by default: a deployment takes 0.15 s. Tests that need one to outlast
  // something name their own --stage-delay-ms.
  explicit AgentFixture(std::vector<std::string> mock_args = {"--token", "dev-token",
                                                              "--stage-delay-ms", "20"},
                        bool start_mock = true) {
    ::mkdir((home_ / "run").c_str(), 0700);
    env_ = {{"HOME", home_.path()},
            {"XDG_RUNTIME_DIR", home_ / "run"},
            {"XDG_STATE_HOME", home_ / "state"},
            {"XDG_CONFIG_HOME", home_ / "config"},
            {"BACKEND_IM_LOG_LEVEL", "debug"},
            {"NO_COLOR", "1"}};
    if (start_mock) StartMock(std::move(mock_args));
  }

  ~AgentFixture() { StopAgent(); }

  // BACKEND_IM_TEST_SEED_ONLY=1 runs every mock in --seed-only mode: a platform with only the
  // seed's part of the contract (CTest registers the extension-independent tests that way too).
  void StartMock(std::vector<std::string> args) {
    const char* seed_only = std::getenv("BACKEND_IM_TEST_SEED_ONLY");
    if (seed_only && std::string(seed_only) == "1" &&
        std::find(args.begin(), args.end(), "--seed-only") == args.end()) {
      args.push_back("--seed-only");
    }
    mock_ = std::make_unique<MockPlatform>(std::move(args));
    env_["BACKEND_IM_API_URL"] = mock_->http_url();
  }

  MockPlatform& mock() { return *mock_; }
  const TempDir& home() const { return home_; }
  Env& env() { return env_; }
  std::string SocketPath() const { return home_ / "run/backend-im/agent.sock"; }
  std::string StateDir() const { return home_ / "state/backend-im"; }

  ProcessOptions Options(std::string stdin_data = "", std::string cwd = "") const {
    ProcessOptions o;
    o.env = env_;
    o.unset_env = {"BACKEND_IM_TOKEN", "BACKEND_IM_SOCKET", "BACKEND_IM_NO_AUTOSTART", "VISUAL",
                   "EDITOR", "NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM",
                   // No desktop notices from tests on the desktop of whoever runs them.
                   "DBUS_SESSION_BUS_ADDRESS"};
    o.stdin_data = std::move(stdin_data);
    o.cwd = std::move(cwd);
    return o;
  }

  RunResult Ctl(std::vector<std::string> args, std::string stdin_data = "", std::string cwd = "",
                std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    args.insert(args.begin(), CtlBinary());
    return Run(args, Options(std::move(stdin_data), std::move(cwd)), timeout);
  }

  Process StartCtl(std::vector<std::string> args, std::string cwd = "") {
    args.insert(args.begin(), CtlBinary());
    return Process(args, Options("", std::move(cwd)));
  }

  void LoginWithToken(const std::string& token = "dev-token") {
    auto r = Ctl({"auth", "login", "--with-token"}, token + "\n");
    REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err));
  }

  // The pid written in the agent's lock file, or 0.
  int AgentPid() const {
    std::string s = ReadFile(StateDir() + "/agent.lock");
    return s.empty() ? 0 : std::atoi(s.c_str());
  }

  void StopAgent() { Terminate(AgentPid()); }

  std::string AgentLog() const { return ReadFile(StateDir() + "/agent.log"); }

  // How many stage events of deployment id the agent's database holds (0 when unreadable).
  long StoredEvents(const std::string& id) const {
    auto r = Run({"sqlite3", StateDir() + "/agent.db",
                  "SELECT COUNT(*) FROM events WHERE deployment_id = '" + id + "';"});
    return std::atol(r.out.c_str());
  }

  // Deploys dir (without --watch) and returns the deployment as JSON.
  nlohmann::json Deploy(const std::string& dir) {
    auto r = Ctl({"deploy", "-d", dir, "--json"});
    REQUIRE_MESSAGE(r.exit_code == 0, (r.out + r.err));
    return nlohmann::json::parse(r.out);
  }

  // Writes a small valid FastAPI project.
  std::string MakeProject(const std::string& name, bool with_main = true) {
    std::string dir = home_ / name;
    if (with_main) {
      WriteFile(dir + "/main.py", "from fastapi import FastAPI\napp = FastAPI()\n");
    }
    WriteFile(dir + "/requirements.txt", "fastapi\n");
    WriteFile(dir + "/app/models.py", "x = 1\n");
    return dir;
  }

 private:
  TempDir home_;
  Env env_;
  std::unique_ptr<MockPlatform> mock_;
};

// True when something accepts connections on the Unix socket at path.
inline bool Listening(const std::string& path) {
  int fd = ConnectUnixSocket(path);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Whether the agent that ran as pid is gone for its clients: its process, and its socket, which
// the kernel closes only after the last of its threads (the process can look dead before that).
inline bool AgentGone(const AgentFixture& f, int pid) {
  return !Alive(pid) && !Listening(f.SocketPath());
}

// Parses one JSON object per line.
inline std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    pos = nl + 1;
  }
  return out;
}

inline std::vector<std::string> Statuses(const std::vector<nlohmann::json>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.at("status").get<std::string>());
  return out;
}

inline const std::vector<std::string>& SuccessStages() {
  static const std::vector<std::string> kStages = {
      "queued",   "committing", "creating_namespace", "creating_pvc",
      "building", "deploying",  "health_check",       "complete"};
  return kStages;
}

// Counts occurrences of needle in haystack.
inline int CountOf(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace bim::test
