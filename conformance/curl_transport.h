#pragma once
// HttpTransport over the agent's libcurl client (common/curl_http_client.h): http and https
// only, no redirects followed (a redirect is an answer the suite wants to see), peer and host
// verified for https, no signals.
//
// Call GlobalInit() once in main before any thread starts (libcurl's rule). Each Send uses its
// own easy handle, so one CurlTransport could serve several threads, though the suite uses one.

#include <string>

#include "common/curl_http_client.h"
#include "conformance/http_transport.h"

namespace bim::conformance {

class CurlTransport final : public HttpTransport {
 public:
  // ca_file: an extra CA bundle for https; empty = the system's.
  explicit CurlTransport(std::string ca_file = "")
      : http_(std::move(ca_file), "backend-im-contract-test") {}

  static void GlobalInit();

  HttpAnswer Send(const HttpCall& call) override;

 private:
  CurlHttpClient http_;
};

}  // namespace bim::conformance
