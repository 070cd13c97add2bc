#pragma once
// The shapes every mock response takes: JSON bodies from common/contract.h, the error body
// {"error","message"} everywhere, and RFC 6749 §5.2 errors on the OAuth token endpoints.
// Free functions, no state.

#include <string>

#include "ws/http_ws_server.h"

namespace bim::mock {

ws::HttpResponse JsonResponse(int status, std::string body);
// {"error": code, "message": message} (contract::ErrorBody).
ws::HttpResponse ErrorResponse(int status, const std::string& code, const std::string& message);
// {"error": error, "error_description": description} (contract::OAuthError).
ws::HttpResponse OAuthErrorResponse(int status, const std::string& error,
                                    const std::string& description);
ws::HttpResponse HtmlResponse(int status, std::string body);

}  // namespace bim::mock
