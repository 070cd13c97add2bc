#include "conformance/curl_transport.h"

#include <curl/curl.h>

#include "common/limits.h"

namespace bim::conformance {

void CurlTransport::GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }

HttpAnswer CurlTransport::Send(const HttpCall& call) {
  HttpRequest request;
  request.method = call.method;
  request.url = call.url;
  request.headers = call.headers;
  request.body = call.body;
  request.timeout = call.timeout;
  // The agent's own limits: an answer it would refuse fails the check that asked for it.
  if (call.url.find("/api/generate") != std::string::npos) {
    request.max_body_bytes = limits::kMaxGenerateAnswerBytes;
  }
  HttpAnswer answer;
  auto response = http_.Send(request);
  if (!response.ok()) {
    answer.error = response.error().message;
    return answer;
  }
  answer.status = response->status;
  answer.headers = std::move(response->headers);
  answer.body = std::move(response->body);
  return answer;
}

}  // namespace bim::conformance
