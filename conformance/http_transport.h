#pragma once
// The one door the conformance suite has to the platform's HTTP side, behind an interface of
// ours so the suite's logic (retries, device login, checks) is tested with a scripted fake.
// CurlTransport is the real one.
//
// Send blocks the calling thread. Implementations need not be thread-safe: the suite runs its
// checks one after the other on one thread.

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bim::conformance {

struct HttpCall {
  std::string method;  // GET, POST, PUT, DELETE
  std::string url;     // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
};

struct HttpAnswer {
  long status = 0;                             // 0: no answer at all; error says why
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // transport error when status is 0

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Never throws; a connection that fails comes back as status 0 with error set.
  virtual HttpAnswer Send(const HttpCall& call) = 0;
};

}  // namespace bim::conformance
