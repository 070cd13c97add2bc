#include "bench/bench_user.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace bim::bench {
namespace {

const char* const kUnset[] = {
    "BACKEND_IM_TOKEN", "BACKEND_IM_SOCKET", "BACKEND_IM_NO_AUTOSTART", "VISUAL",
    "EDITOR",           "NOTIFY_SOCKET",     "INVOCATION_ID",           "JOURNAL_STREAM"};

}  // namespace

std::string BinPath(const std::string& name) {
  std::string ctl = test::CtlBinary();
  return ctl.substr(0, ctl.rfind('/') + 1) + name;
}

BenchUser::BenchUser(int stage_delay_ms, std::vector<std::string> more_mock_args, Start start) {
  ::mkdir((home_ / "run").c_str(), 0700);
  std::vector<std::string> mock_args = {"--token", kToken, "--stage-delay-ms",
                                        std::to_string(stage_delay_ms)};
  mock_args.insert(mock_args.end(), more_mock_args.begin(), more_mock_args.end());
  mock_ = std::make_unique<test::MockPlatform>(std::move(mock_args));
  env_ = {{"HOME", home_.path()},
          {"XDG_RUNTIME_DIR", home_ / "run"},
          {"XDG_STATE_HOME", home_ / "state"},
          {"XDG_CONFIG_HOME", home_ / "config"},
          {"BACKEND_IM_LOG_LEVEL", "info"},
          {"BACKEND_IM_API_URL", mock_->http_url()},
          {"NO_COLOR", "1"}};
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool drop = env_.count(key) > 0;
    for (const char* u : kUnset) drop = drop || key == u;
    if (!drop) env_strings_.push_back(kv);
  }
  for (const auto& [k, v] : env_) env_strings_.push_back(k + "=" + v);
  if (start == Start::kLoggedIn) Login();
}

BenchUser::~BenchUser() { StopAgent(); }

test::RunResult BenchUser::Ctl(std::vector<std::string> args, std::string stdin_data) {
  args.insert(args.begin(), test::CtlBinary());
  test::ProcessOptions o;
  o.env = env_;
  o.unset_env.assign(std::begin(kUnset), std::end(kUnset));
  o.stdin_data = std::move(stdin_data);
  auto r = test::Run(args, o, std::chrono::seconds(120));
  if (r.exit_code != 0) {
    throw std::runtime_error("backend-im " + args[1] + " failed (" + std::to_string(r.exit_code) +
                             "): " + r.out + r.err);
  }
  return r;
}

double BenchUser::TimeCommand(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env_strings_) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // posix_spawn (vfork-like) rather than fork: fork's cost grows with this process, which holds
  // gRPC and the mock's clients, and would pad every sample with the same constant.
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  for (int fd : {0, 1, 2}) {
    ::posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(argv[0] + ": posix_spawn: " + std::strerror(rc));
  int status = 0;
  ::waitpid(pid, &status, 0);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " exited with " +
                             std::to_string(status));
  }
  return ms;
}

void BenchUser::Login() { Ctl({"auth", "login", "--with-token"}, std::string(kToken) + "\n"); }

std::string BenchUser::Deploy(const std::string& dir) {
  auto r = Ctl({"deploy", "-d", dir, "--json"});
  return nlohmann::json::parse(r.out).at("deploymentId").get<std::string>();
}

std::string BenchUser::MakeProject(const std::string& name) {
  std::string dir = home_ / name;
  test::WriteFile(dir + "/main.py", "from fastapi import FastAPI\napp = FastAPI()\n");
  test::WriteFile(dir + "/requirements.txt", "fastapi\n");
  return dir;
}

int BenchUser::AgentPid() const {
  std::string s = test::ReadFile(StateDir() + "/agent.lock");
  return s.empty() ? 0 : std::atoi(s.c_str());
}

void BenchUser::StopAgent() { test::Terminate(AgentPid()); }

}  // namespace bim::bench
