#include "mock-api/responses.h"

#include "common/contract.h"
#include "common/percent_encoding.h"

namespace bim::mock {

ws::HttpResponse JsonResponse(int status, std::string body) {
  ws::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

ws::HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message) {
  return JsonResponse(status, contract::ToJson(contract::ErrorBody{code, message}));
}

ws::HttpResponse OAuthErrorResponse(int status, const std::string& error,
                                    const std::string& description) {
  return JsonResponse(status, contract::ToJson(contract::OAuthError{error, description}));
}

ws::HttpResponse HtmlResponse(int status, std::string body) {
  ws::HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

ws::HttpResponse NoContentResponse() {
  ws::HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

ws::HttpResponse MethodNotAllowed(const char* allowed) {
  auto r = ErrorResponse(405, "method_not_allowed", std::string("use ") + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

std::vector<std::string> PathSegments(const std::string& rest) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    out.push_back(PercentDecode(rest.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

}  // namespace bim::mock
