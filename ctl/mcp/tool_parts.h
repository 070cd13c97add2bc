#pragma once
// What the MCP tools' files (ctl/mcp/*tools.cc) share: results, annotations and small checks.
// Not for use outside them. Their schemas' pieces are ctl/json_schema.h's.

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ctl/mcp/tools.h"
#include "ctl/operations.h"

namespace bim::ctl::mcp_tools {

using nlohmann::json;

inline McpToolResult Failure(std::string message) {
  McpToolResult r;
  r.is_error = true;
  r.message = std::move(message);
  return r;
}
inline McpToolResult Success(json structured) {
  McpToolResult r;
  r.structured = std::move(structured);
  return r;
}
inline McpToolResult Cancelled() { return Failure(ToolErrorText({OpFailure::kCancelled, ""}, "")); }

// Sets j[key] to value unless value is empty. A field with no value is left out rather than
// sent as null: its outputSchema property is an optional string, because a type list such as
// ["string", "null"] is handled badly by clients and validators that take one type per field.
inline void SetIfKnown(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

// Code points in valid UTF-8 (as nlohmann::json's strings are): every byte that does not
// continue a sequence starts one.
inline size_t CodePoints(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

inline bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::string NextStepFor(const backend_im::v1::Deployment& d) {
  if (!d.terminal()) {
    return fmt::format("Still {}: call wait_for_deployment again with deploymentId \"{}\".",
                       d.status(), d.id());
  }
  auto final = Operations::FinalOutcome(d);
  if (final.ok()) return fmt::format("Deployed. Give the user the URL {}", d.url());
  if (final.error().kind == OpFailure::kDeployFailed) {
    return "The deployment failed: read the logs, fix the project files, then call deploy again.";
  }
  // Complete without a usable URL: the platform's fault, not the project's.
  return fmt::format(
      "Do not tell the user it is deployed: {}. Ask them to check the platform, "
      "or deploy again later.",
      final.error().message);
}

// The annotations of a tool that changes something, of one that starts a deployment, and of
// one that only reads.
inline json WriteHints(bool destructive, bool idempotent, bool open_world) {
  return json{{"readOnlyHint", false},
              {"destructiveHint", destructive},
              {"idempotentHint", idempotent},
              {"openWorldHint", open_world}};
}
inline json DeployHints() { return WriteHints(true, false, true); }
inline json ReadHints() { return json{{"readOnlyHint", true}, {"openWorldHint", true}}; }

}  // namespace bim::ctl::mcp_tools
