#include "ctl/mcp/protocol.h"

#include <sys/random.h>

#include <cerrno>
#include <stdexcept>

#include "ctl/output.h"

namespace bim::ctl::mcp {

using nlohmann::json;

std::string NegotiateVersion(const std::string& requested) {
  for (const char* v : kSupportedVersions) {
    if (requested == v) return requested;
  }
  return kFallbackProtocolVersion;
}

bool HasTasksExtension(const json& client_capabilities) {
  auto ext = client_capabilities.find("extensions");
  return ext != client_capabilities.end() && ext->is_object() && ext->contains(kTasksExtension);
}

bool DeclaresUrlElicitation(const json& client_capabilities) {
  auto e = client_capabilities.find("elicitation");
  return e != client_capabilities.end() && e->is_object() && e->contains("url") &&
         (*e)["url"].is_object();
}

bool DeclaresFormElicitation(const json& client_capabilities) {
  auto e = client_capabilities.find("elicitation");
  if (e == client_capabilities.end() || !e->is_object()) return false;
  if (auto form = e->find("form"); form != e->end()) return form->is_object();
  return !e->contains("url");
}

json ConfirmFormParams(const std::string& message, bool with_mode) {
  json params{{"message", message},
              {"requestedSchema",
               {{"type", "object"},
                {"properties",
                 {{"confirm",
                   {{"type", "boolean"},
                    {"title", "Confirm"},
                    {"description", "Yes, go ahead"},
                    {"default", false}}}}},
                {"required", {"confirm"}}}}};
  if (with_mode) params["mode"] = "form";
  return params;
}

McpToolCall::ConfirmAnswer ConfirmAnswerOf(const json& result) {
  using Answer = McpToolCall::ConfirmAnswer;
  if (!result.is_object() || result.value("action", json()) != "accept") return Answer::kRefused;
  auto content = result.find("content");
  if (content == result.end() || !content->is_object()) return Answer::kRefused;
  auto confirm = content->find("confirm");
  return confirm != content->end() && *confirm == true ? Answer::kConfirmed : Answer::kRefused;
}

json ToolResultJson(const McpToolResult& r, const std::string& version) {
  if (r.is_error) {
    return json{{"content", json::array({{{"type", "text"}, {"text", r.message}}})},
                {"isError", true}};
  }
  // The spec asks a tool with structured output to send the same JSON as text too, for
  // clients that only read content.
  json out{{"content", json::array({{{"type", "text"}, {"text", Dump(r.structured)}}})},
           {"isError", false}};
  if (AtLeast(version, "2025-06-18")) out["structuredContent"] = r.structured;
  return out;
}

json ModernResult(json result, const McpServerInfo& info) {
  result["resultType"] = "complete";
  result["_meta"][kServerInfoKey] = {{"name", info.name}, {"version", info.version}};
  return result;
}

std::string NewRandomId() {
  std::array<unsigned char, 16> bytes{};
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("no random bytes for a task id");
    got += static_cast<size_t>(n);
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

}  // namespace bim::ctl::mcp
