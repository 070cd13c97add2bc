#pragma once
// What integration tests use to run the real programs: child processes with their own
// environment, temporary XDG folders, and a running backend-im-mock on a free port.
// Paths of the built binaries come in as compile definitions (see tests/CMakeLists.txt).

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bim::test {

// Paths of the programs under test: build/bin, or $BACKEND_IM_TEST_BIN_DIR when set.
std::string MockBinary();
std::string AgentBinary();
std::string CtlBinary();

// A folder removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

using Env = std::map<std::string, std::string>;

struct ProcessOptions {
  Env env;  // set on top of the test's own environment
  std::vector<std::string> unset_env;
  std::string cwd;         // empty: the test's
  std::string stdin_data;  // written to the child's stdin, then closed
  bool new_process_group = false;
};

// A child's environment as "NAME=value" strings: the test's own, minus options.unset_env, with
// options.env on top.
std::vector<std::string> ChildEnvironment(const ProcessOptions& options);

// A child process; its stdout and stderr go to files read back on demand. The destructor
// kills (SIGKILL) and reaps a child that is still running.
class Process {
 public:
  Process(std::vector<std::string> argv, ProcessOptions options = {});
  ~Process();
  Process(Process&&) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;

  int pid() const { return pid_; }
  bool Running();
  // The exit code (128+N for a signal), or nullopt when still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  std::string Stdout() const;
  std::string Stderr() const;
  // Waits until stdout or stderr contains needle; false at the deadline.
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout,
                     bool in_stderr = false) const;

 private:
  int pid_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_, err_path_;
  std::unique_ptr<TempDir> io_dir_;
};

struct RunResult {
  int exit_code = -1;  // -1: timed out (the child was killed)
  std::string out;
  std::string err;
};

// Runs argv to completion (killed after timeout).
RunResult Run(std::vector<std::string> argv, ProcessOptions options = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

// backend-im-mock on 127.0.0.1 and a free port, stopped (SIGTERM) with the object.
class MockPlatform {
 public:
  explicit MockPlatform(std::vector<std::string> extra_args = {});
  ~MockPlatform();
  int port() const { return port_; }
  std::string http_url() const;  // http://127.0.0.1:PORT
  std::string ws_url() const;    // ws://127.0.0.1:PORT
  Process& process() { return *process_; }
  std::string Log() const { return process_->Stderr() + process_->Stdout(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// Blocking HTTP for tests (libcurl).
struct HttpReply {
  long status = 0;  // 0: no response (connection error)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};
HttpReply HttpRequest(const std::string& method, const std::string& url,
                      const std::string& body = "", const std::vector<std::string>& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Moves the clock of a mock started with --test-clock on by d (POST /mock/clock/advance): its
// tokens and device codes age by d at once. False when the mock refused.
bool AdvanceMockClock(const MockPlatform& mock, std::chrono::milliseconds d);

// How many refresh_token grants a mock's request log shows.
int CountOfRefreshes(const std::string& mock_log);

// True while pid runs; a zombie waiting for its reaper counts as gone.
bool Alive(int pid);
// Stops a process that is not our child (a detached agent, say): SIGTERM, up to 5 s to exit,
// then SIGKILL.
void Terminate(int pid);

// Checks cond every `every` until it holds (true) or timeout has passed (false, after one last
// check). Tests wait with it for something they can observe, never for a fixed time.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(10));

// A new Unix socket of `type` (SOCK_STREAM, SOCK_DGRAM), close-on-exec, bound at path: the
// socket file exists, nothing listens yet. -1 with errno set when that fails; the caller closes it.
int BindUnixSocket(const std::string& path, int type = SOCK_STREAM);
// A new Unix socket of `type`, close-on-exec, connected to path; -1 with errno set when nothing
// accepts there. The caller closes it.
int ConnectUnixSocket(const std::string& path, int type = SOCK_STREAM);

// Reads a whole file; empty when missing.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);  // creates parents

}  // namespace bim::test
