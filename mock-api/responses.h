#pragma once
// The shapes every mock response takes: JSON bodies from common/contract.h, the error body
// {"error","message"} everywhere, and RFC 6749 §5.2 errors on the OAuth token endpoints.
// Free functions, no state.

#include <string>
#include <vector>

#include "ws/http_ws_server.h"

namespace bim::mock {

ws::HttpResponse JsonResponse(int status, std::string body);
// {"error": code, "message": message} (contract::ErrorBody).
ws::HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message);
// {"error": error, "error_description": description} (contract::OAuthError).
ws::HttpResponse OAuthErrorResponse(int status, const std::string& error,
                                    const std::string& description);
ws::HttpResponse HtmlResponse(int status, std::string body);
// 204 with no body.
ws::HttpResponse NoContentResponse();
// 405 method_not_allowed with an Allow header naming the method(s) the path takes.
ws::HttpResponse MethodNotAllowed(const char* allowed);
// The segments of a path's rest (e.g. after /api/projects/), each percent-decoded.
std::vector<std::string> PathSegments(const std::string& rest);

}  // namespace bim::mock
