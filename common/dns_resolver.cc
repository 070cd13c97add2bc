// The c-ares implementation of common/dns_resolver.h: one channel per lookup, so lookups share
// nothing (no cache, no lock) and each reads /etc/resolv.conf afresh when it uses the system's
// servers. The caller's thread waits on the channel's sockets with poll(2), never select(2),
// which would break on descriptors past FD_SETSIZE in a process with many open.

#include "common/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace bim::dns {
namespace {

constexpr std::string_view kServerForm =
    "a DNS server is HOST:PORT with HOST an IPv4 address or an IPv6 address in brackets, e.g. "
    "127.0.0.1:5353 or [::1]:5353";

// ares_library_init is not thread-safe itself; once for the process.
int InitLibrary() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status;
}

struct ServerAddress {
  int family = AF_INET;
  in_addr v4{};
  ares_in6_addr v6{};
  int port = 0;
  std::string text;  // as given, for messages
};

Result<ServerAddress> ParseServer(const std::string& server) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("bad DNS server \"{}\": {}; {}", server, why, kServerForm));
  };
  std::string host;
  std::string port;
  ServerAddress out;
  if (!server.empty() && server.front() == '[') {
    auto close = server.find(']');
    if (close == std::string::npos) return bad("no ']' after the IPv6 address");
    if (close + 1 >= server.size() || server[close + 1] != ':') return bad("no :PORT");
    host = server.substr(1, close - 1);
    port = server.substr(close + 2);
    out.family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &out.v6) != 1) return bad("not an IPv6 address");
  } else {
    auto colon = server.rfind(':');
    if (colon == std::string::npos) return bad("no :PORT");
    host = server.substr(0, colon);
    port = server.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
    if (inet_pton(AF_INET, host.c_str(), &out.v4) != 1) return bad("not an IPv4 address");
  }
  int n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535) {
    return bad("the port is not a number from 1 to 65535");
  }
  out.port = n;
  out.text = server;
  return out;
}

int QueryType(RecordType type) {
  switch (type) {
    case RecordType::kA:
      return ns_t_a;
    case RecordType::kAAAA:
      return ns_t_aaaa;
    case RecordType::kCNAME:
      return ns_t_cname;
    case RecordType::kTXT:
      return ns_t_txt;
  }
  return ns_t_a;
}

std::string AddressText(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, addr, buf, sizeof buf)) return {};
  return buf;
}

std::string WithoutTrailingDot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

// The targets of the CNAME records in an answer's answer section. c-ares has no parser for
// CNAME answers, but its name expansion (with compression pointers) does the hard part.
Result<std::vector<std::string>> ParseCnameAnswer(const unsigned char* abuf, int alen) {
  auto bad = [] { return Error(ErrorCode::kProtocol, "a CNAME answer we could not read"); };
  if (alen < NS_HFIXEDSZ) return bad();
  int questions = (abuf[4] << 8) | abuf[5];
  int answers = (abuf[6] << 8) | abuf[7];
  const unsigned char* p = abuf + NS_HFIXEDSZ;
  const unsigned char* end = abuf + alen;
  auto skip_name = [&]() -> bool {
    char* name = nullptr;
    long len = 0;
    if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return false;
    ares_free_string(name);
    if (len > end - p) return false;
    p += len;
    return true;
  };
  for (int i = 0; i < questions; ++i) {
    if (!skip_name() || end - p < 4) return bad();
    p += 4;  // type, class
  }
  std::vector<std::string> out;
  for (int i = 0; i < answers; ++i) {
    if (!skip_name() || end - p < 10) return bad();
    int type = (p[0] << 8) | p[1];
    int rclass = (p[2] << 8) | p[3];
    int rdlength = (p[8] << 8) | p[9];
    p += 10;
    if (end - p < rdlength) return bad();
    if (type == ns_t_cname && rclass == ns_c_in) {
      char* target = nullptr;
      long len = 0;
      if (ares_expand_name(p, abuf, alen, &target, &len) != ARES_SUCCESS) return bad();
      out.push_back(WithoutTrailingDot(target));
      ares_free_string(target);
    }
    p += rdlength;
  }
  return out;
}

Result<std::vector<std::string>> ParseAnswer(RecordType type, const unsigned char* abuf, int alen) {
  std::vector<std::string> out;
  int status = ARES_SUCCESS;
  switch (type) {
    case RecordType::kA: {
      ares_addrttl addrs[64];
      int n = 64;
      status = ares_parse_a_reply(abuf, alen, nullptr, addrs, &n);
      if (status == ARES_SUCCESS) {
        for (int i = 0; i < n; ++i) out.push_back(AddressText(AF_INET, &addrs[i].ipaddr));
      }
      break;
    }
    case RecordType::kAAAA: {
      ares_addr6ttl addrs[64];
      int n = 64;
      status = ares_parse_aaaa_reply(abuf, alen, nullptr, addrs, &n);
      if (status == ARES_SUCCESS) {
        for (int i = 0; i < n; ++i) out.push_back(AddressText(AF_INET6, &addrs[i].ip6addr));
      }
      break;
    }
    case RecordType::kCNAME:
      return ParseCnameAnswer(abuf, alen);
    case RecordType::kTXT: {
      ares_txt_ext* txt = nullptr;
      status = ares_parse_txt_reply_ext(abuf, alen, &txt);
      if (status == ARES_SUCCESS) {
        // One TXT record may hold several strings; the first of each record says so.
        for (ares_txt_ext* t = txt; t; t = t->next) {
          std::string part(reinterpret_cast<const char*>(t->txt), t->length);
          if (t->record_start || out.empty()) {
            out.push_back(std::move(part));
          } else {
            out.back() += part;
          }
        }
        ares_free_data(txt);
      }
      break;
    }
  }
  if (status == ARES_ENODATA || status == ARES_ENOTFOUND) return std::vector<std::string>{};
  if (status != ARES_SUCCESS) {
    return Error(ErrorCode::kProtocol,
                 fmt::format("an answer we could not read ({})", ares_strerror(status)));
  }
  return out;
}

// What one query came to; the callback fills it.
struct Outcome {
  bool done = false;
  int status = ARES_SUCCESS;
  Result<std::vector<std::string>> values = std::vector<std::string>{};
  RecordType type = RecordType::kA;
};

void OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* o = static_cast<Outcome*>(arg);
  o->done = true;
  o->status = status;
  if (status == ARES_SUCCESS) o->values = ParseAnswer(o->type, abuf, alen);
}

// The servers a channel asks, as "HOST:PORT, ..." for messages about the system's resolver.
std::string ChannelServers(ares_channel channel) {
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(channel, &servers) != ARES_SUCCESS) return {};
  std::string out;
  for (ares_addr_port_node* s = servers; s; s = s->next) {
    if (!out.empty()) out += ", ";
    int port = s->udp_port ? s->udp_port : 53;
    if (s->family == AF_INET6) {
      out += fmt::format("[{}]:{}", AddressText(AF_INET6, &s->addr.addr6), port);
    } else {
      out += fmt::format("{}:{}", AddressText(AF_INET, &s->addr.addr4), port);
    }
  }
  ares_free_data(servers);
  return out;
}

class AresResolver final : public Resolver {
 public:
  explicit AresResolver(std::optional<ServerAddress> server) : server_(std::move(server)) {}

  std::string server() const override { return server_ ? server_->text : "the system's resolver"; }

  Result<std::vector<std::string>> Lookup(const std::string& name, RecordType type,
                                          std::chrono::milliseconds timeout) override {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    const std::string what = fmt::format("{} {}", RecordTypeName(type), name);
    if (int rc = InitLibrary(); rc != ARES_SUCCESS) {
      return Error(ErrorCode::kInternal,
                   fmt::format("cannot start the DNS library: {}", ares_strerror(rc)));
    }

    // Before the channel: destroying a channel calls back the queries it still has.
    Outcome outcome;
    outcome.type = type;

    // Two tries of a third of the time each (c-ares doubles the second), so a lost UDP packet
    // is asked again before the caller's deadline.
    ares_options options{};
    options.timeout = static_cast<int>(std::max<int64_t>(timeout.count() / 3, 20));
    options.tries = 2;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (server_) {
      // The one server's SERVFAIL or REFUSED comes back as such. Without the flag c-ares 1.18
      // moves on to the next server, and with none left reports ECONNREFUSED for all three.
      options.flags = ARES_FLAG_NOCHECKRESP;
      mask |= ARES_OPT_FLAGS;
    }
    ares_channel channel = nullptr;
    if (int rc = ares_init_options(&channel, &options, mask); rc != ARES_SUCCESS) {
      return Error(ErrorCode::kUnavailable, fmt::format("cannot set up DNS lookups with {}: {}",
                                                        server(), ares_strerror(rc)));
    }
    struct ChannelGuard {
      ares_channel c;
      ~ChannelGuard() { ares_destroy(c); }
    } guard{channel};

    if (server_) {
      ares_addr_port_node node{};
      node.family = server_->family;
      if (server_->family == AF_INET6) {
        node.addr.addr6 = server_->v6;
      } else {
        node.addr.addr4 = server_->v4;
      }
      node.udp_port = server_->port;
      node.tcp_port = server_->port;
      if (int rc = ares_set_servers_ports(channel, &node); rc != ARES_SUCCESS) {
        return Error(ErrorCode::kInternal,
                     fmt::format("cannot use DNS server {}: {}", server_->text, ares_strerror(rc)));
      }
    }
    const std::string asked =
        server_ ? fmt::format("DNS server {}", server_->text)
                : fmt::format("the system's DNS resolver ({})", ChannelServers(channel));

    ares_query(channel, name.c_str(), ns_c_in, QueryType(type), OnAnswer, &outcome);

    while (!outcome.done) {
      auto now = Clock::now();
      if (now >= deadline) {
        ares_cancel(channel);
        return Error(ErrorCode::kUnavailable,
                     fmt::format("{} did not answer within {} ms (looking up {})", asked,
                                 timeout.count(), what));
      }
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events) fds.push_back(pollfd{socks[i], events, 0});
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      timeval max{static_cast<time_t>(left.count() / 1000),
                  static_cast<suseconds_t>((left.count() % 1000) * 1000)};
      timeval tv{};
      timeval* wait = ares_timeout(channel, &max, &tv);
      int wait_ms = static_cast<int>(wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);
      int n = poll(fds.data(), fds.size(), wait_ms);
      if (n < 0 && errno != EINTR) {
        return Error(ErrorCode::kInternal,
                     fmt::format("waiting for {}: {}", asked, std::strerror(errno)));
      }
      if (n <= 0) {
        ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // its timeouts
        continue;
      }
      for (const pollfd& p : fds) {
        if (!p.revents) continue;
        bool readable = p.revents & (POLLIN | POLLERR | POLLHUP);
        bool writable = p.revents & POLLOUT;
        ares_process_fd(channel, readable ? p.fd : ARES_SOCKET_BAD,
                        writable ? p.fd : ARES_SOCKET_BAD);
        if (outcome.done) break;
      }
    }

    switch (outcome.status) {
      case ARES_SUCCESS:
        if (!outcome.values.ok()) {
          return Error(ErrorCode::kUnavailable, fmt::format("{} sent {} (looking up {})", asked,
                                                            outcome.values.error().message, what));
        }
        return std::move(outcome.values);
      case ARES_ENOTFOUND:
      case ARES_ENODATA:
        return std::vector<std::string>{};
      case ARES_EBADNAME:
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" is not a name DNS can look up", name));
      case ARES_ETIMEOUT:
        return Error(ErrorCode::kUnavailable,
                     fmt::format("{} did not answer within {} ms (looking up {})", asked,
                                 timeout.count(), what));
      case ARES_ECONNREFUSED:
        if (!server_) {
          return Error(ErrorCode::kUnavailable,
                       fmt::format("no server of {} answered: each refused the connection, "
                                   "failed (SERVFAIL) or refused the query (looking up {})",
                                   asked, what));
        }
        return Error(ErrorCode::kUnavailable,
                     fmt::format("{} refused the connection: nothing answers DNS there "
                                 "(looking up {})",
                                 asked, what));
      case ARES_ESERVFAIL:
        return Error(ErrorCode::kUnavailable,
                     fmt::format("{} answered SERVFAIL: it could not resolve {}", asked, what));
      case ARES_EREFUSED:
        return Error(ErrorCode::kUnavailable,
                     fmt::format("{} answered REFUSED: it does not serve {}", asked, what));
      default:
        return Error(ErrorCode::kUnavailable, fmt::format("{} failed: {} (looking up {})", asked,
                                                          ares_strerror(outcome.status), what));
    }
  }

 private:
  std::optional<ServerAddress> server_;
};

}  // namespace

std::string_view RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kA:
      return "A";
    case RecordType::kAAAA:
      return "AAAA";
    case RecordType::kCNAME:
      return "CNAME";
    case RecordType::kTXT:
      return "TXT";
  }
  return "A";
}

std::optional<RecordType> ParseRecordType(std::string_view name) {
  for (RecordType t : {RecordType::kA, RecordType::kAAAA, RecordType::kCNAME, RecordType::kTXT}) {
    if (RecordTypeName(t) == name) return t;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Resolver>> MakeResolver(const std::string& server) {
  if (server.empty()) return std::unique_ptr<Resolver>(new AresResolver(std::nullopt));
  auto parsed = ParseServer(server);
  if (!parsed.ok()) return parsed.error();
  return std::unique_ptr<Resolver>(new AresResolver(std::move(parsed.value())));
}

}  // namespace bim::dns
