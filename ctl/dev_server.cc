#include "ctl/dev_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/contained_process.h"
#include "ctl/interrupt.h"
#include "ctl/op_result.h"
#include "ctl/output.h"

extern char** environ;

namespace bim::ctl {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartupWait = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(5);
const char* const kVenvAdvice =
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt";

bool IsExecutable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string RealPath(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out(real);
  std::free(real);
  return out;
}

// Runs a program to its end (up to timeout) and returns what it printed.
std::optional<std::string> Capture(const ContainedSpec& spec, std::chrono::seconds timeout) {
  auto p = ContainedProcess::Start(spec);
  if (!p.ok()) return std::nullopt;
  std::string out;
  auto deadline = Clock::now() + timeout;
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      p->Kill();
      break;
    }
    pollfd pfd{p->output_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    ssize_t n = ::read(p->output_fd(), buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0 && out.size() < (1u << 20)) out.append(buf, static_cast<size_t>(n));
  }
  p->Wait();
  return out;
}

std::optional<app_runtime::BuildCheck> CheckWith(const std::string& python,
                                                 const std::string& dir) {
  ContainedSpec spec;
  spec.argv = {python, "-c", app_runtime::BuildCheckScript()};
  spec.env = DevEnvironment(environ, {});
  spec.dir = dir;
  auto out = Capture(spec, std::chrono::seconds(60));
  if (!out) return std::nullopt;
  auto check = app_runtime::ParseBuildCheck(*out);
  if (!check.ok()) return std::nullopt;
  return *check;
}

// Asks the server, over TCP on loopback, GET path; the answer's status, or nullopt when it does
// not answer (yet).
std::optional<int> AskOnce(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<int> status;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = app_runtime::HealthRequest(path);
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string answer;
      char buf[1024];
      ssize_t n;
      while (answer.size() < 64 && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        answer.append(buf, static_cast<size_t>(n));
      }
      status = app_runtime::HttpStatusOf(answer);
    }
  }
  ::close(fd);
  return status;
}

bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// Prints each whole line of the server's output to stderr as it comes.
class LineForwarder {
 public:
  void Add(const char* data, size_t n) {
    partial_.append(data, n);
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      PrintErr("{}\n", std::string_view(partial_).substr(start, nl - start));
    }
    partial_.erase(0, start);
    if (partial_.size() > 8192) Flush();
  }
  void Flush() {
    if (!partial_.empty()) PrintErr("{}\n", partial_);
    partial_.clear();
  }

 private:
  std::string partial_;
};

}  // namespace

std::vector<std::string> DevEnvironment(char** ours,
                                        const std::map<std::string, std::string>& variables) {
  std::vector<std::string> env;
  for (char** e = ours; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (name == "BACKEND_IM_TOKEN" || name == "PYTHONUNBUFFERED" ||
        variables.count(std::string(name))) {
      continue;
    }
    env.emplace_back(entry);
  }
  for (const auto& [key, value] : variables) env.push_back(key + "=" + value);
  if (!variables.count("PYTHONUNBUFFERED")) env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

std::vector<std::string> DevPythonCandidates(const std::string& dir, const std::string& path_env) {
  std::vector<std::string> found;
  auto add = [&](const std::string& p) {
    if (!IsExecutable(p)) return;
    for (const auto& f : found) {
      if (RealPath(f) == RealPath(p)) return;
    }
    found.push_back(p);
  };
  add(dir + "/.venv/bin/python");
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string entry = path_env.substr(start, end - start);
    if (!entry.empty() && entry[0] == '/' && IsExecutable(entry + "/python3")) {
      add(entry + "/python3");
      break;
    }
    start = end + 1;
  }
  add("/usr/bin/python3");
  return found;
}

std::string DebianPackageFor(const std::string& distribution) {
  std::string out = "python3-";
  for (char c : distribution) {
    out +=
        c == '_' || c == '.' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

DevCheckVerdict JudgeDevCheck(const app_runtime::BuildCheck& check, const std::string& python,
                              bool venv) {
  DevCheckVerdict v;
  std::vector<std::string> missing;
  if (check.uvicorn_version.empty()) missing.push_back("uvicorn");
  for (const auto& r : check.requirements) {
    if (r.installed.empty()) {
      missing.push_back(r.name);
    } else if (!r.met) {
      v.warnings.push_back(
          fmt::format("{} {} is installed, which does not meet requirements.txt's {}", r.name,
                      r.installed, r.line));
    }
  }
  for (const auto& u : check.unreadable) {
    v.warnings.push_back(fmt::format("requirements.txt: cannot check the line \"{}\"", u));
  }
  for (const auto& e : check.syntax_errors) v.warnings.push_back("SyntaxError in " + e);
  if (missing.empty()) return v;
  std::string names, packages;
  for (const auto& m : missing) {
    names += (names.empty() ? "" : ", ") + m;
    packages += " " + DebianPackageFor(m);
  }
  v.errors.push_back(
      fmt::format("{} {} not installed for {}", names, missing.size() == 1 ? "is" : "are", python));
  if (venv) {
    v.errors.push_back(
        "Install them into the project's environment: .venv/bin/pip install -r "
        "requirements.txt" +
        std::string(check.uvicorn_version.empty() ? " uvicorn" : ""));
  } else {
    v.errors.push_back(fmt::format("Install Debian's packages: sudo apt install{}", packages));
    v.errors.push_back(fmt::format("or the project's own environment: {}", kVenvAdvice));
  }
  return v;
}

int RunDevServer(const DevOptions& options) {
  const std::string dir = RealPath(options.dir);
  struct stat st {};
  if (::stat((dir + "/main.py").c_str(), &st) != 0) {
    PrintErr(
        "backend-im: dev: {} has no main.py: run it in a project's folder (backend-im generate "
        "makes one), or name the folder with -d DIR\n",
        options.dir);
    return kExitUsage;
  }
  const char* path_env = std::getenv("PATH");
  auto candidates = DevPythonCandidates(dir, path_env ? path_env : "");
  if (candidates.empty()) {
    PrintErr(
        "backend-im: dev: no Python 3 found (tried .venv/bin/python, python3 on PATH, "
        "/usr/bin/python3). Install Debian's: sudo apt install python3 python3-uvicorn\n");
    return kExitDeployFailed;
  }
  // The project's .venv when it has one; else the first Python that has uvicorn.
  const bool venv = candidates[0] == dir + "/.venv/bin/python";
  std::string python;
  std::optional<app_runtime::BuildCheck> check;
  for (const auto& candidate : candidates) {
    auto c = CheckWith(candidate, dir);
    if (!c) continue;
    if (!python.empty() && c->uvicorn_version.empty()) continue;
    python = candidate;
    check = std::move(c);
    if (venv || !check->uvicorn_version.empty()) break;
  }
  if (!check) {
    PrintErr("backend-im: dev: cannot check the project with {}: is it Python 3.8 or newer?\n",
             candidates[0]);
    return kExitDeployFailed;
  }
  auto verdict = JudgeDevCheck(*check, python, venv);
  for (const auto& w : verdict.warnings) PrintErr("warning: {}\n", w);
  if (!verdict.errors.empty()) {
    PrintErr("backend-im: dev: {}\n", verdict.errors[0]);
    for (size_t i = 1; i < verdict.errors.size(); ++i) PrintErr("  {}\n", verdict.errors[i]);
    return kExitDeployFailed;
  }
  if (!PortFree(options.port)) {
    PrintErr(
        "backend-im: dev: port {} on 127.0.0.1 is in use: stop what uses it, or pass --port N\n",
        options.port);
    return kExitDeployFailed;
  }

  ContainedSpec spec;
  spec.argv = app_runtime::UvicornArgv(python, {"", options.port}, /*reload=*/true);
  spec.env = DevEnvironment(environ, options.variables);
  spec.dir = dir;
  interrupt::Interruptible interruptible;
  auto started = ContainedProcess::Start(spec);
  if (!started.ok()) {
    PrintErr("backend-im: dev: cannot start uvicorn: {}\n", started.error().message);
    return kExitDeployFailed;
  }
  ContainedProcess server = std::move(*started);
  const std::string url = fmt::format("http://127.0.0.1:{}", options.port);
  Print("Starting {} with {} (uvicorn {}, reload on)\n", dir, python, check->uvicorn_version);
  std::fflush(stdout);

  // The health check runs beside the loop that forwards the server's output.
  std::atomic<bool> stop{false};
  std::thread health([&] {
    auto deadline = Clock::now() + kStartupWait;
    while (!stop && Clock::now() < deadline) {
      for (const auto& path : app_runtime::HealthPaths()) {
        auto status = AskOnce(options.port, path);
        if (!status) break;
        if (*status == 404 && path != app_runtime::HealthPaths().back()) continue;
        if (*status >= 200 && *status < 300) {
          Print(
              "✓ Serving {} (GET {} answered {}). It reloads when a .py file changes; Ctrl-C "
              "stops it.\n",
              url, path, *status);
        } else {
          PrintErr("warning: {} answers, but GET {} answered {}\n", url, path, *status);
        }
        std::fflush(stdout);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!stop)
      PrintErr("warning: {} did not answer within {} s; see the output above\n", url,
               kStartupWait.count());
  });

  LineForwarder out;
  char buf[8192];
  bool interrupted = false;
  bool killing = false;  // SIGKILL at kill_at unless it ended
  Clock::time_point kill_at{};
  bool output_open = true;
  for (;;) {
    const bool ended = server.Poll().has_value();
    if (ended && !output_open) break;
    pollfd fds[3] = {{output_open ? server.output_fd() : -1, POLLIN, 0},
                     {interruptible.fd(), POLLIN, 0},
                     {ended ? -1 : server.exit_fd(), POLLIN, 0}};
    const int timeout = killing || ended || server.exit_fd() < 0 ? 100 : -1;
    if (::poll(fds, 3, timeout) < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      ssize_t n = ::read(server.output_fd(), buf, sizeof buf);
      if (n > 0) out.Add(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) output_open = false;
    }
    if (fds[1].revents && !interrupted) {
      interrupted = true;
      uint64_t ignored;
      (void)!::read(interruptible.fd(), &ignored, sizeof ignored);
      PrintErr("Stopping the dev server...\n");
      server.Terminate();
      killing = true;
      kill_at = Clock::now() + kStopGrace;
    }
    if (killing && Clock::now() >= kill_at) {
      server.Kill();
      killing = false;
    }
  }
  out.Flush();
  stop = true;
  health.join();
  std::string ended = server.Wait();
  if (interrupted) {
    PrintErr("Stopped.\n");
    return kExitOk;
  }
  PrintErr("backend-im: dev: uvicorn {}\n", ended);
  return kExitDeployFailed;
}

}  // namespace bim::ctl
