#pragma once
// HttpClient on libcurl, shared by the agent and backend-im-contract-test (library bim_http,
// apart from bim_common so that the ctl does not link libcurl). Thread-safe: each Send uses its
// own easy handle. curl_global_init must have run before any thread starts (each main does it).
//
// Protocols are limited to http and https, redirects are not followed (the API has none; a
// redirect could downgrade to http or leak the Authorization header), and the peer and host
// name are always verified for https.
//
// Answers are bounded while they arrive (HttpRequest::max_body_bytes, the header limit in
// common/limits.h): the transfer is cut at the first byte over, with or without a
// Content-Length. Compression is never asked for nor decoded, and an answer that comes
// compressed anyway is refused, so an answer's size on the wire is its size in memory.

#include <string>
#include <utility>

#include "common/http_client.h"

namespace bim {

class CurlHttpClient final : public HttpClient {
 public:
  // ca_file: an extra CA bundle for https (empty: the system's). user_agent: the program's name,
  // to which "/<version>" is added.
  explicit CurlHttpClient(std::string ca_file = "", std::string user_agent = "backend-imd")
      : ca_file_(std::move(ca_file)), user_agent_(std::move(user_agent)) {}
  Result<HttpResponse> Send(const HttpRequest& request) override;

 private:
  std::string ca_file_;
  std::string user_agent_;
};

}  // namespace bim
