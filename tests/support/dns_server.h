#pragma once
// A real authoritative DNS server for tests: Knot DNS (knotd, from Debian's `knot`) serving one
// zone on loopback and a free port, UDP and TCP, unprivileged, from a temporary folder of its
// own. Tests publish and withdraw records while it runs (knotc's zone transactions on its
// control socket), and stop it to see what a client does when no server answers.
//
// Every record has TTL 1, and so has the zone's negative answers (its SOA's minimum), so a
// resolver in between would forget an answer within a second; the servers under test ask this
// one directly.
//
// Ownership: the object owns the knotd process; the destructor stops it and reaps it. knotd
// also dies with the thread that started it (PR_SET_PDEATHSIG), so a test that crashes leaves
// none behind: start it from the test's own thread, not from one that ends before the test.
// Errors (knotd will not start, knotc refuses a change) throw std::runtime_error with knotd's
// own words. Not thread-safe: one test thread uses it.

#include <memory>
#include <string>
#include <vector>

namespace bim::test {

class TempDir;

class DnsServer {
 public:
  // Serves zone (SOA, NS ns1.{zone}, ns1.{zone} A 127.0.0.1) and returns once it answers.
  explicit DnsServer(std::string zone = "example.test");
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  const std::string& zone() const { return zone_; }
  int port() const { return port_; }
  // "127.0.0.1:PORT", the form --dns-server and BACKEND_IM_DNS_SERVER take.
  std::string Address() const;
  // "[::1]:PORT" when the machine has IPv6 loopback (it then listens there too), else "".
  std::string Address6() const;

  // Publishes a record with TTL 1. name is fully qualified, inside zone(), with or without the
  // trailing dot. value as a client reads it back: an address, a CNAME's target (made absolute
  // here), or a TXT record's text, which this quotes into one string. A TXT value that starts
  // with '"' is taken as written, in zone-file form, so '"abc" "def"' is one record of two
  // strings.
  void AddRecord(const std::string& name, const std::string& type, const std::string& value);
  // Withdraws name's record of type with value, or all of name's records of type when value is
  // empty. Withdrawing what is not there is not an error.
  void RemoveRecord(const std::string& name, const std::string& type,
                    const std::string& value = "");

  // Stops knotd: the port then refuses (UDP answers with ICMP port unreachable).
  void Stop();
  // Starts it again on the same port, serving the records published so far.
  void Start();
  bool running() const { return pid_ > 0; }

  // knotd's log, for a failing test's message.
  std::string Log() const;

 private:
  struct Record {
    std::string name;  // absolute, with the trailing dot
    std::string type;
    std::string rdata;  // zone-file form
  };
  std::string Absolute(const std::string& name) const;
  static std::string Rdata(const std::string& type, const std::string& value);
  void WriteZoneFile() const;
  void WriteConfig() const;
  void Knotc(const std::vector<std::string>& args) const;
  void Transaction(const std::vector<std::string>& change);
  bool Answers() const;

  std::string zone_;
  std::unique_ptr<TempDir> dir_;
  int port_ = 0;
  bool ipv6_ = false;
  int pid_ = -1;
  std::vector<Record> records_;
};

}  // namespace bim::test
