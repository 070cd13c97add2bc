#pragma once
// Escaping for XML and HTML, one implementation for both users: the agent's desktop notices
// (daemon/notifier.cc; servers that announce body-markup read a small subset of XML) and the
// mock's HTML pages (mock-api/auth_server.cc).
//
// Pure; never throws but for allocation.

#include <string>
#include <string_view>

namespace bim {

// &, < and > as entities: enough for text between tags.
std::string EscapeMarkupText(std::string_view text);
// The same, and " and ' too: safe inside an attribute value quoted either way.
std::string EscapeMarkupAttribute(std::string_view text);

}  // namespace bim
