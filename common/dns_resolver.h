#pragma once
// DNS lookups of the records a custom domain needs (docs/API_CONTRACTS.md §6.3), asked of a
// server we name or of the system's. The embedded platform checks a domain with it
// (backend-im-mock --dns-server), and so does the agent for `domains verify`
// (BACKEND_IM_DNS_SERVER), so both see what the domain's owner published, not a cache of ours.
//
// The one implementation uses c-ares (dns_resolver.cc); tests that need other answers run a
// real DNS server on loopback (tests/support/dns_server.h), never a fake resolver.
//
// Thread-safety: Lookup may be called from several threads at once; it blocks the caller.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bim::dns {

enum class RecordType { kA, kAAAA, kCNAME, kTXT };
std::string_view RecordTypeName(RecordType type);  // "A", "AAAA", "CNAME", "TXT"
std::optional<RecordType> ParseRecordType(std::string_view name);

class Resolver {
 public:
  virtual ~Resolver() = default;
  // The values of name's records of type: addresses as text ("192.0.2.1", "2001:db8::1"),
  // a CNAME's target without its trailing dot, each TXT record's strings joined. An empty list
  // when the name does not exist or has none of that type (NXDOMAIN, NODATA): an answer, not an
  // error. kUnavailable, with words, when no server answered within timeout or each one failed
  // (SERVFAIL, REFUSED).
  virtual Result<std::vector<std::string>> Lookup(const std::string& name, RecordType type,
                                                  std::chrono::milliseconds timeout) = 0;
  // Where it asks: "HOST:PORT", or "the system's resolver".
  virtual std::string server() const = 0;
};

// server: "HOST:PORT" with HOST an IPv4 or IPv6 address ("[::1]:5353"), or "" for the servers
// of /etc/resolv.conf. kInvalidArgument, saying the form, for anything else.
Result<std::unique_ptr<Resolver>> MakeResolver(const std::string& server);

}  // namespace bim::dns
