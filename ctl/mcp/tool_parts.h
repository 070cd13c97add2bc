#pragma once
// What the MCP tools' files (ctl/mcp/*tools.cc) share: results, the pieces of their JSON
// Schemas, and small checks. Not for use outside them.

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

// JSON Schema pieces for the output schemas.
inline json Str(const std::string& description) {
  return json{{"type", "string"}, {"description", description}};
}
// A string that a result leaves out when it has no value (see SetIfKnown); Object() keeps it
// out of `required`.
inline json OptStr(const std::string& description) {
  return json{{"type", "string"}, {"description", description}, {"x-optional", true}};
}
inline json Bool(const std::string& description) {
  return json{{"type", "boolean"}, {"description", description}};
}
inline json Int(const std::string& description) {
  return json{{"type", "integer"}, {"description", description}};
}
inline json StrArray(const std::string& description) {
  return json{{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}
// A boolean that a result leaves out when it does not apply (see OptStr).
inline json OptBool(const std::string& description) {
  return json{{"type", "boolean"}, {"description", description}, {"x-optional", true}};
}
// An object schema whose properties are all required except the OptStr and OptBool ones.
inline json Object(json properties) {
  json required = json::array();
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    if (it->value("x-optional", false)) {
      it->erase("x-optional");
    } else {
      required.push_back(it.key());
    }
  }
  return json{{"type", "object"}, {"properties", std::move(properties)}, {"required", required}};
}

// schema (an object) with more properties, required unless OptStr/OptBool.
inline json WithFields(json schema, json more) {
  json extra = Object(std::move(more));
  for (auto& [k, v] : extra["properties"].items()) schema["properties"][k] = v;
  for (auto& r : extra["required"]) schema["required"].push_back(r);
  return schema;
}

// A tool's result fields, with the nextStep that every tool's result but list_deployments' has.
inline json Stepped(json fields) {
  fields["nextStep"] = Str("What to do next");
  return fields;
}

// The fields of a result that wrote files into a folder (generate, restore), besides its own:
// every file, and which were written or already there.
inline json WrittenFilesFields(json fields, const std::string& every_file) {
  fields["files"] = {{"type", "array"},
                     {"description", every_file},
                     {"items", Object({{"path", Str("Path inside the folder")},
                                       {"bytes", Int("Size in bytes")}})}};
  fields["written"] = StrArray("Files created or changed");
  fields["unchanged"] = StrArray("Files that already had this content");
  return Object(Stepped(std::move(fields)));
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
