// knotd started with fork/exec rather than the harness's posix_spawn, because only a forked
// child can ask the kernel to kill it when its parent dies (tests/support/dns_server.h).

// clang-format off
#include <memory>
#include "tests/support/dns_server.h"
// clang-format on

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/harness.h"

namespace bim::test {
namespace {

constexpr const char* kKnotd = "/usr/sbin/knotd";
constexpr const char* kKnotc = "/usr/sbin/knotc";
constexpr auto kStartTimeout = std::chrono::seconds(15);

// A socket of type bound to addr:port (0: any port); -1 when that fails.
int BindInet(int family, int type, int port) {
  int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc = -1;
  if (family == AF_INET6) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

bool HasIpv6Loopback() {
  int fd = BindInet(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// A port that is free for UDP and TCP on 127.0.0.1 (and ::1 when ipv6), when we looked.
int FreePort(bool ipv6) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int tcp = BindInet(AF_INET, SOCK_STREAM, 0);
    if (tcp < 0) continue;
    int port = BoundPort(tcp);
    std::vector<int> held{tcp};
    bool free = port > 0;
    if (free) held.push_back(BindInet(AF_INET, SOCK_DGRAM, port));
    if (ipv6) {
      held.push_back(BindInet(AF_INET6, SOCK_STREAM, port));
      held.push_back(BindInet(AF_INET6, SOCK_DGRAM, port));
    }
    for (int fd : held) {
      if (fd < 0) {
        free = false;
      } else {
        ::close(fd);
      }
    }
    if (free) return port;
  }
  throw std::runtime_error("DnsServer: found no port free for both UDP and TCP on loopback");
}

// A DNS query for zone's SOA, without recursion.
std::string SoaQuery(const std::string& zone, uint16_t id) {
  std::string q;
  q += static_cast<char>(id >> 8);
  q += static_cast<char>(id & 0xff);
  q += std::string("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
  size_t start = 0;
  while (start < zone.size()) {
    size_t dot = zone.find('.', start);
    if (dot == std::string::npos) dot = zone.size();
    q += static_cast<char>(dot - start);
    q += zone.substr(start, dot - start);
    start = dot + 1;
  }
  q += std::string("\x00\x00\x06\x00\x01", 5);  // root, SOA, IN
  return q;
}

std::string Tail(const std::string& text, size_t max) {
  return text.size() <= max ? text : text.substr(text.size() - max);
}

}  // namespace

DnsServer::DnsServer(std::string zone) : zone_(std::move(zone)), dir_(std::make_unique<TempDir>()) {
  ipv6_ = HasIpv6Loopback();
  std::filesystem::create_directories(*dir_ / "db");
  // Another process may take the port between FreePort and knotd's bind: then a new one.
  for (int attempt = 1;; ++attempt) {
    port_ = FreePort(ipv6_);
    WriteConfig();
    try {
      Start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 5 || Log().find("address already in use") == std::string::npos) throw;
      WriteFile(*dir_ / "knotd.log", "");
    }
  }
}

DnsServer::~DnsServer() { Stop(); }

std::string DnsServer::Address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string DnsServer::Address6() const { return ipv6_ ? "[::1]:" + std::to_string(port_) : ""; }

std::string DnsServer::Log() const { return ReadFile(*dir_ / "knotd.log"); }

void DnsServer::WriteConfig() const {
  const std::string& d = dir_->path();
  std::string listen = "127.0.0.1@" + std::to_string(port_);
  if (ipv6_) listen = "[ " + listen + ", ::1@" + std::to_string(port_) + " ]";
  // No `user`: knotd stays who started it. Zone changes live in memory only (no journal, no
  // zone file sync); Start writes the zone file again from records_.
  WriteFile(*dir_ / "knot.conf",
            "server:\n"
            "    listen: " +
                listen +
                "\n"
                "    rundir: " +
                d +
                "\n"
                "    pidfile: " +
                d +
                "/knot.pid\n"
                "    udp-workers: 1\n"
                "    tcp-workers: 1\n"
                "    background-workers: 1\n"
                "control:\n"
                "    listen: " +
                d +
                "/knot.sock\n"
                "log:\n"
                "  - target: stderr\n"
                "    any: notice\n"
                "database:\n"
                "    storage: " +
                d +
                "/db\n"
                "template:\n"
                "  - id: default\n"
                "    storage: " +
                d +
                "\n"
                "    file: \"%s.zone\"\n"
                "    zonefile-sync: -1\n"
                "    zonefile-load: whole\n"
                "    journal-content: none\n"
                "zone:\n"
                "  - domain: " +
                zone_ + "\n");
}

void DnsServer::WriteZoneFile() const {
  // The serial only grows, so a restarted knotd never sees an older zone.
  std::string zone = "$ORIGIN " + zone_ + ".\n$TTL 1\n@ SOA ns1 hostmaster " +
                     std::to_string(std::time(nullptr)) + " 3600 600 86400 1\n" +
                     "@ NS ns1\nns1 A 127.0.0.1\n";
  for (const Record& r : records_) zone += r.name + " 1 " + r.type + " " + r.rdata + "\n";
  WriteFile(*dir_ / (zone_ + ".zone"), zone);
}

void DnsServer::Start() {
  if (pid_ > 0) return;
  WriteZoneFile();
  std::string log_path = *dir_ / "knotd.log";
  std::string conf = *dir_ / "knot.conf";
  // Everything the child needs, built before fork: after it only async-signal-safe calls.
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    throw std::runtime_error("DnsServer: cannot open " + log_path + ": " + std::strerror(errno));
  }
  std::vector<std::string> argv_strings{kKnotd, "-c", conf};
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  sigset_t none;
  sigemptyset(&none);

  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(1);  // the parent died before prctl
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(kKnotd, argv.data());
    _exit(127);
  }
  int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    throw std::runtime_error(std::string("DnsServer: fork: ") + std::strerror(fork_errno));
  }
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("DnsServer: knotd exited at start (status " +
                               std::to_string(status) + "): " + Tail(Log(), 2000));
    }
    if (Answers() &&
        Run({kKnotc, "-s", *dir_ / "knot.sock", "-t", "5", "zone-status", zone_}).exit_code == 0) {
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Stop();
      throw std::runtime_error("DnsServer: knotd did not answer within 15 s: " + Tail(Log(), 2000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void DnsServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

// Whether knotd answers a UDP query for the zone's SOA with NOERROR and an answer.
bool DnsServer::Answers() const {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  const uint16_t id = 0x4b44;
  std::string q = SoaQuery(zone_, id);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size())) {
    pollfd p{fd, POLLIN, 0};
    unsigned char buf[512];
    if (::poll(&p, 1, 200) == 1) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ok = n >= 12 && ((buf[0] << 8) | buf[1]) == id && (buf[2] & 0x80) && (buf[3] & 0x0f) == 0 &&
           ((buf[6] << 8) | buf[7]) > 0;
    }
  }
  ::close(fd);
  return ok;
}

std::string DnsServer::Absolute(const std::string& name) const {
  std::string n = name;
  if (!n.empty() && n.back() == '.') n.pop_back();
  if (n != zone_ && (n.size() <= zone_.size() ||
                     n.compare(n.size() - zone_.size() - 1, std::string::npos, "." + zone_) != 0)) {
    throw std::invalid_argument("DnsServer: " + name + " is not inside the zone " + zone_);
  }
  return n + ".";
}

std::string DnsServer::Rdata(const std::string& type, const std::string& value) {
  if (type == "CNAME" || type == "NS") {
    return !value.empty() && value.back() == '.' ? value : value + ".";
  }
  if (type != "TXT" || (!value.empty() && value.front() == '"')) return value;
  // One record: its text quoted, in strings of at most 255 bytes as DNS requires.
  std::string out;
  for (size_t start = 0; start < value.size() || start == 0; start += 255) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : value.substr(start, 255)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    if (value.empty()) break;
  }
  return out;
}

void DnsServer::Knotc(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{kKnotc, "-s", *dir_ / "knot.sock", "-t", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv, {}, std::chrono::seconds(10));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    throw std::runtime_error("DnsServer: knotc" + cmd + " failed (exit " +
                             std::to_string(r.exit_code) + "): " + r.err + r.out);
  }
}

void DnsServer::Transaction(const std::vector<std::string>& change) {
  if (pid_ <= 0) return;  // Start serves records_ as they are then
  Knotc({"zone-begin", zone_});
  try {
    Knotc(change);
    Knotc({"zone-commit", zone_});
  } catch (...) {
    try {
      Knotc({"zone-abort", zone_});
    } catch (...) {
    }
    throw;
  }
}

void DnsServer::AddRecord(const std::string& name, const std::string& type,
                          const std::string& value) {
  Record r{Absolute(name), type, Rdata(type, value)};
  Transaction({"zone-set", zone_, r.name, "1", r.type, r.rdata});
  records_.push_back(std::move(r));
}

void DnsServer::RemoveRecord(const std::string& name, const std::string& type,
                             const std::string& value) {
  std::string n = Absolute(name);
  std::string rdata = value.empty() ? "" : Rdata(type, value);
  bool any = false;
  std::erase_if(records_, [&](const Record& r) {
    bool match = r.name == n && r.type == type && (rdata.empty() || r.rdata == rdata);
    any = any || match;
    return match;
  });
  if (!any) return;
  std::vector<std::string> change{"zone-unset", zone_, n, type};
  if (!rdata.empty()) change.push_back(rdata);
  Transaction(change);
}

}  // namespace bim::test
