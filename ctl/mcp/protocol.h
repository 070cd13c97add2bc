#pragma once
// The vocabulary the MCP server's parts share: the versions it speaks and their two eras, the
// _meta keys of 2026-07-28, a tool result's shape in each version, and the random ids the
// protocol asks for. Stateless: safe from any thread.

#include <array>
#include <nlohmann/json.hpp>
#include <string>

#include "ctl/mcp/tool_provider.h"

namespace bim::ctl {

struct McpServerInfo {
  std::string name;
  std::string title;
  std::string version;
  std::string instructions;  // for the model: what the server is for, the usual flow
};

namespace mcp {

// What initialize answers to a version it does not know: the latest of the legacy era.
inline constexpr const char* kFallbackProtocolVersion = "2025-11-25";
inline constexpr const char* kTasksVersion = "2025-11-25";   // the first with tasks
inline constexpr const char* kModernVersion = "2026-07-28";  // no initialize; per-request _meta
// The versions initialize accepts, newest first.
inline constexpr std::array<const char*, 4> kSupportedVersions = {"2025-11-25", "2025-06-18",
                                                                  "2025-03-26", "2024-11-05"};

inline constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kServerInfoKey = "io.modelcontextprotocol/serverInfo";
inline constexpr const char* kRelatedTaskKey = "io.modelcontextprotocol/related-task";
inline constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";

// Protocol versions are dates, so they compare as strings.
inline bool AtLeast(const std::string& version, const char* since) { return version >= since; }

// The version answered to a client that asked for `requested` in initialize.
std::string NegotiateVersion(const std::string& requested);

// A request's era and version: the session's, or the one its _meta names (2026-07-28), with the
// client's capabilities from initialize or from that _meta.
struct RequestContext {
  bool modern = false;
  std::string version;
  nlohmann::json client_capabilities = nlohmann::json::object();
};

// Whether capabilities declare the 2026-07-28 tasks extension.
bool HasTasksExtension(const nlohmann::json& client_capabilities);
// Whether capabilities declare URL-mode elicitation: {"elicitation": {"url": {}}}.
bool DeclaresUrlElicitation(const nlohmann::json& client_capabilities);
// Whether capabilities declare form-mode elicitation: {"elicitation": {"form": {}}}, or
// {"elicitation": {}}, which means forms (2025-06-18 had no other mode).
bool DeclaresFormElicitation(const nlohmann::json& client_capabilities);

// The params of an elicitation/create that asks the person to confirm: message, and a form of
// one required boolean, confirm. with_mode: name the mode ("form"; 2025-11-25 and later).
nlohmann::json ConfirmFormParams(const std::string& message, bool with_mode);
// What the client's result for that form says: kConfirmed only for action "accept" with
// content.confirm true.
McpToolCall::ConfirmAnswer ConfirmAnswerOf(const nlohmann::json& result);

// A CallToolResult as `version` shapes it.
nlohmann::json ToolResultJson(const McpToolResult& result, const std::string& version);
// A 2026-07-28 result: resultType "complete" and the server's name and version in _meta.
nlohmann::json ModernResult(nlohmann::json result, const McpServerInfo& info);

// 32 hex digits from the kernel's random source. Task ids and requestStates are all that stands
// between them and another local client (stdio has no authentication), so they are
// unguessable, as the spec asks. Throws std::runtime_error when no random bytes come.
std::string NewRandomId();

}  // namespace mcp
}  // namespace bim::ctl
