#pragma once
// ContainedProcess: a program we do not trust (a user's app, its build check, a dev server),
// started so that it cannot outlive us or reach further than we allow:
//   - its own PID namespace when the kernel lets an unprivileged user have one (Debian's does):
//     the program is PID 1 there, and when it dies the kernel kills every process it started,
//     so nothing it forks escapes a stop. Without namespaces it gets a process group instead,
//     which a stop signals whole, but which a double fork can leave;
//   - optionally its own network namespace (own_network): no network at all, only Unix
//     sockets in files, so the only way in is the socket its parent connects to;
//   - PR_SET_PDEATHSIG(SIGKILL): when the thread that started it ends, or the whole process is
//     killed with SIGKILL, the program is killed too (with the PID namespace, all of it is).
//     So start it from a thread that lives as long as the program should;
//   - resource limits (address space, CPU time, file size, open files; no core dumps), its own
//     working folder, stdin from /dev/null, stdout and stderr into one pipe that we read, and
//     only the environment it is given.
// The user namespace maps our own uid and gid, so the program sees the files as ours.
//
// Threading: a ContainedProcess is used by one thread at a time. Move-only; destroying one that
// still runs kills it (SIGKILL to all of it) and reaps it.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace bim {

struct ProcessLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0: inherited
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU; SIGXCPU, then SIGKILL a second later
  uint64_t file_bytes = 0;           // RLIMIT_FSIZE: no file it writes grows past this
  uint64_t open_files = 0;           // RLIMIT_NOFILE
};

struct ContainedSpec {
  std::vector<std::string> argv;  // argv[0] is run as given: an absolute path, or relative to dir
  std::vector<std::string> env;   // "NAME=value", the whole environment
  std::string dir;                // its working folder
  ProcessLimits limits;
  bool own_network = false;
};

class ContainedProcess {
 public:
  // Starts the program. Errors: kInvalidArgument (empty argv), kIo (pipes, clone). A program
  // that cannot be executed starts, writes why to its output and exits with status 127.
  static Result<ContainedProcess> Start(const ContainedSpec& spec);

  ContainedProcess(ContainedProcess&& other) noexcept;
  ContainedProcess& operator=(ContainedProcess&& other) noexcept;
  ContainedProcess(const ContainedProcess&) = delete;
  ContainedProcess& operator=(const ContainedProcess&) = delete;
  ~ContainedProcess();

  pid_t pid() const { return pid_; }
  // Readable when the program has ended (a pidfd), for an event loop to wait on; -1 if the
  // kernel has no pidfd_open.
  int exit_fd() const { return pidfd_; }
  // The read end of its stdout and stderr, non-blocking; EOF once it and all it started are gone.
  int output_fd() const { return output_fd_; }
  // True when it runs in PID and user namespaces of its own (false: only a process group).
  bool namespaced() const { return namespaced_; }

  // Asks it to stop: SIGTERM to the program (and, without namespaces, its process group).
  void Terminate();
  // SIGKILL to all of it.
  void Kill();
  // The exit status text once it has ended ("exited with status 1", "killed by SIGXCPU (the
  // CPU time limit)"), nullopt while it runs. Reaps it.
  std::optional<std::string> Poll();
  // Waits for it to end, then reaps it.
  std::string Wait();

 private:
  ContainedProcess() = default;
  void Close();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int output_fd_ = -1;
  bool namespaced_ = false;
  std::optional<std::string> ended_;
};

// "exited with status N" / "killed by SIGNAME", from a wait status.
std::string DescribeWaitStatus(int status);

}  // namespace bim
