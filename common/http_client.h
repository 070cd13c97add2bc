#pragma once
// HTTP behind an interface of ours, so that no caller depends on libcurl: the agent's
// PlatformClient and the conformance suite's transport talk to this, CurlHttpClient implements
// it, and tests can put faults in between.
//
// Send returns an Error only when no whole HTTP response arrived (connection refused, timeout,
// TLS failure), or when the answer broke a limit while it arrived: a body over max_body_bytes,
// headers over limits::kMaxAnswerHeaderBytes, or a Content-Encoding (compression) the request
// never asked for. Those are kProtocol errors that name the request and the limit; nothing of
// such an answer is kept. Any status code, 500 included, is a response for the caller to judge.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/limits.h"
#include "common/result.h"

namespace bim {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
  // The answer's body may be at most this long; the transfer is cut the moment it is longer.
  std::size_t max_body_bytes = limits::kMaxAnswerBytes;
  // Called once, on the calling thread, when the answer's body begins to arrive and before any
  // of it is kept or memory is reserved for it (it may block: the transfer waits, and TCP slows
  // the server); an error ends the transfer with that error. Empty: none.
  std::function<Status()> before_body;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::optional<int64_t> retry_after_seconds;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace bim
