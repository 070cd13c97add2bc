// Child processes via posix_spawn, temporary folders via mkdtemp, HTTP via libcurl
// (tests/support/harness.h).

// harness.h uses std::unique_ptr without including <memory>; include it first.
// clang-format off
#include <memory>
#include "tests/support/harness.h"
// clang-format on

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace bim::test {
namespace {

// libcurl wants its global init before any thread exists; a static initializer runs before
// main, and so before any test starts one.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
const CurlGlobal g_curl_global;

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

// BACKEND_IM_TEST_BIN_DIR runs the same tests against installed programs (e.g. /usr/bin).
std::string BinDir() {
  const char* dir = std::getenv("BACKEND_IM_TEST_BIN_DIR");
  return dir && *dir ? dir : BIM_BIN_DIR;
}
std::string MockBinary() { return BinDir() + "/backend-im-mock"; }
std::string AgentBinary() { return BinDir() + "/backend-imd"; }
std::string CtlBinary() { return BinDir() + "/backend-im"; }

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bim-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    throw std::runtime_error("mkdtemp(" + tmpl + ") failed: " + std::strerror(errno));
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> ChildEnvironment(const ProcessOptions& options) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& name : options.unset_env) env.erase(name);
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

Process::Process(std::vector<std::string> argv, ProcessOptions options)
    : io_dir_(std::make_unique<TempDir>()) {
  if (argv.empty()) throw std::invalid_argument("Process: empty argv");
  out_path_ = *io_dir_ / "stdout";
  err_path_ = *io_dir_ / "stderr";
  std::string in_path = "/dev/null";
  if (!options.stdin_data.empty()) {
    // A file rather than a pipe: the child reads it at its own pace and we never block.
    in_path = *io_dir_ / "stdin";
    WriteFile(in_path, options.stdin_data);
  }

  std::vector<std::string> env_strings = ChildEnvironment(options);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    // Like a shell: 127 and a reason on stderr, so a test reports it like any failure.
    exit_code_ = 127;
    WriteFile(err_path_, "cannot run " + argv[0] + ": " + std::strerror(rc) + "\n");
    WriteFile(out_path_, "");
    return;
  }
  pid_ = pid;
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_),
      exit_code_(other.exit_code_),
      out_path_(std::move(other.out_path_)),
      err_path_(std::move(other.err_path_)),
      io_dir_(std::move(other.io_dir_)) {
  other.pid_ = -1;
  other.exit_code_ = 0;
}

bool Process::Running() {
  if (exit_code_) return false;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!Running()) return exit_code_;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0 && Running()) ::kill(pid_, sig);
}

std::string Process::Stdout() const { return ReadFile(out_path_); }
std::string Process::Stderr() const { return ReadFile(err_path_); }

bool Process::WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout,
                            bool in_stderr) const {
  return WaitUntil(
      [&] { return (in_stderr ? Stderr() : Stdout()).find(needle) != std::string::npos; }, timeout);
}

RunResult Run(std::vector<std::string> argv, ProcessOptions options,
              std::chrono::milliseconds timeout) {
  Process p(std::move(argv), std::move(options));
  RunResult r;
  auto code = p.Wait(timeout);
  if (code) {
    r.exit_code = *code;
  } else {
    p.Signal(SIGKILL);
    p.Wait(std::chrono::seconds(5));
    r.exit_code = -1;
  }
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

MockPlatform::MockPlatform(std::vector<std::string> extra_args) {
  std::string port_file = dir_ / "port";
  std::vector<std::string> argv = {MockBinary(), "--port", "0", "--port-file", port_file};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>(std::move(argv));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::string text = Trim(ReadFile(port_file));
    if (!text.empty()) {
      port_ = std::atoi(text.c_str());
      if (port_ > 0) return;
    }
    if (!process_->Running()) {
      throw std::runtime_error("backend-im-mock exited before listening:\n" + Log());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("backend-im-mock did not write its port within 10 s:\n" + Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

MockPlatform::~MockPlatform() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  process_->Wait(std::chrono::seconds(5));  // ~Process kills it if it did not stop
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

bool Alive(int pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return !(paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

void Terminate(int pid) {
  if (!Alive(pid)) return;
  ::kill(pid, SIGTERM);
  // An agent stops in some 20-40 ms: look often, since every test stops at least one.
  for (int i = 0; i < 1000 && Alive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (Alive(pid)) ::kill(pid, SIGKILL);
}

std::string MockPlatform::http_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
std::string MockPlatform::ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_); }

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue, say) starts over
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    (*headers)[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
  }
  return size * n;
}

}  // namespace

HttpReply HttpRequest(const std::string& method, const std::string& url, const std::string& body,
                      const std::vector<std::string>& headers, std::chrono::milliseconds timeout) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  if (!curl) return reply;
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  // websocketpp never answers "Expect: 100-continue"; curl would wait a second for it.
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  if (method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST" || !body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    }
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  } else {
    reply.status = 0;
    reply.body = curl_easy_strerror(rc);
    reply.headers.clear();
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

namespace {

// False when path does not fit in a sockaddr_un.
bool UnixAddress(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

int UnixSocketThen(const std::string& path, int type, int (*op)(int, const sockaddr*, socklen_t)) {
  sockaddr_un addr;
  if (!UnixAddress(path, addr)) return -1;
  int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (op(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

}  // namespace

int BindUnixSocket(const std::string& path, int type) { return UnixSocketThen(path, type, ::bind); }

int ConnectUnixSocket(const std::string& path, int type) {
  return UnixSocketThen(path, type, ::connect);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

bool AdvanceMockClock(const MockPlatform& mock, std::chrono::milliseconds d) {
  return HttpRequest("POST",
                     mock.http_url() + "/mock/clock/advance?ms=" + std::to_string(d.count()))
             .status == 200;
}

int CountOfRefreshes(const std::string& mock_log) {
  int n = 0;
  const std::string needle = "grant refresh_token";
  for (size_t at = mock_log.find(needle); at != std::string::npos;
       at = mock_log.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace bim::test
