#include "mock-api/responses.h"

#include "common/contract.h"

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

}  // namespace bim::mock
