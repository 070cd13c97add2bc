#pragma once
// HttpClient on libcurl. Thread-safe: each Send uses its own easy handle. curl_global_init must
// have run before any thread starts (the agent's main does it).
//
// Protocols are limited to http and https, redirects are not followed (the API has none; a
// redirect could downgrade to http or leak the Authorization header), and the peer and host
// name are always verified for https.

#include <string>

#include "daemon/http_client.h"

namespace bim::daemon {

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(std::string ca_file = "") : ca_file_(std::move(ca_file)) {}
  Result<HttpResponse> Send(const HttpRequest& request) override;

 private:
  std::string ca_file_;
};

}  // namespace bim::daemon
