#include "common/contained_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace bim {
namespace {

constexpr size_t kChildStack = 256 * 1024;

// Everything the child needs, prepared before clone: after it, the child may only make
// async-signal-safe calls (the parent has other threads, and their locks are copied held).
struct ChildArgs {
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* dir = nullptr;
  ProcessLimits limits;
  int output_w = -1;
  int sync_r = -1;  // one byte from the parent once the id maps are written
  int sync_w = -1;  // the parent's end, closed at once so that its death reads as EOF
  // Close-on-exec, never written: the parent reads EOF once the child closed it, i.e. after
  // PR_SET_PDEATHSIG was set, so that the starting thread cannot end before that unnoticed.
  int ack_w = -1;
  pid_t parent = 0;
  bool namespaced = false;
};

void WriteAll(int fd, const char* text) { (void)!::write(fd, text, ::strlen(text)); }

// The child's failures return its exit status from ChildMain, and clone's trampoline ends it
// with the exit system call: no exit() or _exit(), whose sanitizer versions would run their
// end-of-process work on the parent's copied state, and no [[noreturn]] call, before which ASan
// checks the stack it runs on (the child's is ours).
int Fail(const char* what) {
  int e = errno;
  WriteAll(2, "backend-im: cannot start the program: ");
  WriteAll(2, what);
  WriteAll(2, ": ");
  WriteAll(2, ::strerrordesc_np(e) ? ::strerrordesc_np(e) : "error");
  WriteAll(2, "\n");
  return 127;
}

bool Limit(int resource, uint64_t value) {
  if (value == 0) return true;
  rlimit r{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  // CPU: SIGXCPU at the soft limit (Python's default action ends it), SIGKILL a second later.
  if (resource == RLIMIT_CPU) r.rlim_max = r.rlim_cur + 1;
  return ::setrlimit(resource, &r) == 0;
}

int ChildMain(void* raw) {
  auto* a = static_cast<ChildArgs*>(raw);
  // Dies with the thread that started it; checked against a parent that already ended
  // (outside a PID namespace getppid() names the parent, inside it is 0).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!a->namespaced && ::getppid() != a->parent) return 126;
  ::close(a->sync_w);
  ::close(a->ack_w);
  char go = 0;
  if (::read(a->sync_r, &go, 1) != 1) return 126;  // the parent failed or ended
  ::close(a->sync_r);
  ::setpgid(0, 0);

  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // ignored ones stay so at exec

  if (!Limit(RLIMIT_AS, a->limits.address_space_bytes) ||
      !Limit(RLIMIT_CPU, a->limits.cpu_seconds) || !Limit(RLIMIT_FSIZE, a->limits.file_bytes) ||
      !Limit(RLIMIT_NOFILE, a->limits.open_files)) {
    return Fail("setrlimit");
  }
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);

  int null = ::open("/dev/null", O_RDONLY);
  if (null < 0 || ::dup2(null, 0) < 0) return Fail("/dev/null");
  if (::dup2(a->output_w, 1) < 0 || ::dup2(a->output_w, 2) < 0) return Fail("dup2");
  if (::chdir(a->dir) != 0) return Fail(a->dir);
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  ::execve(a->argv[0], a->argv.data(), a->envp.data());
  return Fail(a->argv[0]);
}

bool WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/" + name);
  out << text;
  return static_cast<bool>(out.flush());
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

struct Pipe {
  int r = -1, w = -1;
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!WIFSIGNALED(status)) return "ended";
  int sig = WTERMSIG(status);
  const char* abbrev = ::sigabbrev_np(sig);
  std::string text = "killed by SIG" + std::string(abbrev ? abbrev : std::to_string(sig).c_str());
  if (sig == SIGXCPU) text += " (the CPU time limit)";
  if (sig == SIGXFSZ) text += " (the file size limit)";
  return text;
}

Result<ContainedProcess> ContainedProcess::Start(const ContainedSpec& spec) {
  if (spec.argv.empty()) return Error(ErrorCode::kInvalidArgument, "no program to start");
  Pipe output, sync, ack;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe2 failed");
  output.r = fds[0], output.w = fds[1];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe2 failed");
  sync.r = fds[0], sync.w = fds[1];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe2 failed");
  ack.r = fds[0], ack.w = fds[1];

  ChildArgs args;
  args.argv = Pointers(spec.argv);
  args.envp = Pointers(spec.env);
  args.dir = spec.dir.c_str();
  args.limits = spec.limits;
  args.output_w = output.w;
  args.sync_r = sync.r;
  args.sync_w = sync.w;
  args.ack_w = ack.w;
  args.parent = ::getpid();

  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Error(ErrorCode::kIo, "cannot map a stack for the child");
  char* top = static_cast<char*>(stack) + kChildStack;
  // No CLONE_VM: the child gets its own copy of memory, so the stack can go once clone returns.
  int ns_flags = CLONE_NEWUSER | CLONE_NEWPID | (spec.own_network ? CLONE_NEWNET : 0);
  args.namespaced = true;
  pid_t pid = ::clone(ChildMain, top, ns_flags | SIGCHLD, &args);
  if (pid < 0) {
    // No unprivileged user namespaces here (a container, or a kernel setting): a process
    // group only, and no network isolation.
    args.namespaced = false;
    pid = ::clone(ChildMain, top, SIGCHLD, &args);
  }
  int clone_errno = errno;
  ::munmap(stack, kChildStack);
  if (pid < 0) {
    return Error(ErrorCode::kIo, std::string("cannot start a process: ") + ::strerror(clone_errno));
  }

  ContainedProcess p;
  p.pid_ = pid;
  p.namespaced_ = args.namespaced;
  if (p.namespaced_) {
    // Our uid and gid are the only ones in its user namespace, mapped to themselves.
    const std::string uid = std::to_string(::getuid()), gid = std::to_string(::getgid());
    if (!WriteProcFile(pid, "setgroups", "deny") ||
        !WriteProcFile(pid, "uid_map", uid + " " + uid + " 1\n") ||
        !WriteProcFile(pid, "gid_map", gid + " " + gid + " 1\n")) {
      return Error(ErrorCode::kIo, "cannot write the user namespace's id maps");  // ~p kills it
    }
  }
  if (::write(sync.w, "g", 1) != 1) return Error(ErrorCode::kIo, "cannot release the child");
  // Until the child has set its parent-death signal (see ChildArgs::ack_w).
  ::close(ack.w);
  ack.w = -1;
  char none = 0;
  while (::read(ack.r, &none, 1) < 0 && errno == EINTR) {
  }
  p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (p.pidfd_ >= 0) ::fcntl(p.pidfd_, F_SETFD, FD_CLOEXEC);
  ::close(output.w);
  output.w = -1;
  ::fcntl(output.r, F_SETFL, ::fcntl(output.r, F_GETFL) | O_NONBLOCK);
  p.output_fd_ = output.r;
  output.r = -1;
  return p;
}

ContainedProcess::ContainedProcess(ContainedProcess&& other) noexcept { *this = std::move(other); }

ContainedProcess& ContainedProcess::operator=(ContainedProcess&& other) noexcept {
  if (this != &other) {
    Close();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    output_fd_ = std::exchange(other.output_fd_, -1);
    namespaced_ = other.namespaced_;
    ended_ = std::move(other.ended_);
  }
  return *this;
}

ContainedProcess::~ContainedProcess() { Close(); }

void ContainedProcess::Close() {
  if (pid_ > 0 && !ended_) {
    Kill();
    Wait();
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  if (output_fd_ >= 0) ::close(output_fd_);
  pid_ = pidfd_ = output_fd_ = -1;
}

void ContainedProcess::Terminate() {
  if (pid_ <= 0 || ended_) return;
  // In its PID namespace the program is init, which gets only the signals it handles: a server
  // that handles SIGTERM (uvicorn does) stops cleanly, and the namespace goes with it.
  ::kill(namespaced_ ? pid_ : -pid_, SIGTERM);
}

void ContainedProcess::Kill() {
  if (pid_ <= 0 || ended_) return;
  // Killing a PID namespace's init kills everything in it; a group is signalled whole.
  ::kill(pid_, SIGKILL);
  if (!namespaced_) ::kill(-pid_, SIGKILL);
}

std::optional<std::string> ContainedProcess::Poll() {
  if (ended_ || pid_ <= 0) return ended_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    ended_ = DescribeWaitStatus(status);
    // Outside a namespace, what it left in its group goes too.
    if (!namespaced_) ::kill(-pid_, SIGKILL);
  }
  return ended_;
}

std::string ContainedProcess::Wait() {
  while (!ended_ && pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, 0);
    if (r == pid_) {
      ended_ = DescribeWaitStatus(status);
      if (!namespaced_) ::kill(-pid_, SIGKILL);
    } else if (r < 0 && errno != EINTR) {
      ended_ = "lost (waitpid failed)";
    }
  }
  return ended_.value_or("not started");
}

}  // namespace bim
