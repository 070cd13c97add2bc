#include "ctl/mcp/session.h"

#include "common/log.h"
#include "ctl/mcp/jsonrpc.h"
#include "ctl/output.h"

namespace bim::ctl::mcp {
namespace {

using nlohmann::json;

// A request that names its version in _meta is a 2026-07-28 request, served on its own.
bool IsModernRequest(const json& params) {
  if (!params.is_object()) return false;
  auto meta = params.find("_meta");
  return meta != params.end() && meta->is_object() && meta->contains(kVersionKey);
}

std::string ClientName(const json& params) {
  std::string client = "an unnamed client";
  if (auto ci = params.find("clientInfo"); ci != params.end() && ci->is_object()) {
    if (auto n = ci->find("name"); n != ci->end() && n->is_string()) client = *n;
    if (auto v = ci->find("version"); v != ci->end() && v->is_string()) {
      client += " " + v->get<std::string>();
    }
  }
  return client;
}

}  // namespace

Outcome Session::HandleRequest(const json& id, const std::string& method, const json& params,
                               bool in_batch) {
  if (method == "initialize") return Initialize(id, params, in_batch);
  if (method == "server/discover" || IsModernRequest(params)) {
    return HandleModernRequest(id, method, params);
  }
  return HandleLegacyRequest(id, method, params);
}

void Session::HandleNotification(const std::string& method, const json& params) {
  if (method == "notifications/initialized") {
    log::Debug("mcp: the client is initialized");
    return;
  }
  if (method == "notifications/cancelled") {
    if (!params.is_object() || !params.contains("requestId")) return;
    const json& rid = params["requestId"];
    if (!ValidId(rid)) return;
    std::string reason;
    if (auto r = params.find("reason"); r != params.end() && r->is_string()) reason = *r;
    calls_.Cancel(rid, reason);
    return;
  }
  // Any other notification (progress, roots/list_changed, ...) needs nothing from us.
  log::Debug("mcp: ignoring notification {}", method);
}

std::optional<std::string> Session::BatchRefusal() const {
  if (!initialized_) {
    return "invalid request: initialize must not be part of a batch; send it on a line of its "
           "own";
  }
  if (AtLeast(protocol_version_, "2025-06-18")) {
    return "invalid request: JSON-RPC batches are not part of MCP " + protocol_version_ +
           "; send one message per line";
  }
  return std::nullopt;
}

Outcome Session::Initialize(const json& id, const json& params, bool in_batch) {
  if (in_batch) {
    return Reply(ErrorResponse(id, kInvalidRequest,
                               "invalid request: initialize must not be part of a batch"));
  }
  if (!params.is_object() || !params.contains("protocolVersion") ||
      !params["protocolVersion"].is_string()) {
    return Reply(ErrorResponse(id, kInvalidParams,
                               "invalid params: initialize needs params.protocolVersion, a "
                               "string such as \"2025-06-18\""));
  }
  if (initialized_) {
    return Reply(ErrorResponse(id, kInvalidRequest,
                               "invalid request: already initialized (initialize is sent once)"));
  }
  std::string requested = params["protocolVersion"].get<std::string>();
  std::string version = NegotiateVersion(requested);
  initialized_ = true;
  protocol_version_ = version;
  if (auto caps = params.find("capabilities"); caps != params.end() && caps->is_object()) {
    client_capabilities_ = *caps;
  }
  log::Info("mcp: {} asked for protocol {}; answering {}", ClientName(params), requested, version);
  return Reply(ResultResponse(id, InitializeResult(version)));
}

json Session::InitializeResult(const std::string& version) const {
  json server_info{{"name", info_.name}, {"version", info_.version}};
  if (AtLeast(version, "2025-06-18")) server_info["title"] = info_.title;
  json capabilities{{"tools", {{"listChanged", false}}}};
  if (AtLeast(version, kTasksVersion)) {
    capabilities["tasks"] = {{"list", json::object()},
                             {"cancel", json::object()},
                             {"requests", {{"tools", {{"call", json::object()}}}}}};
  }
  json result{
      {"protocolVersion", version}, {"capabilities", capabilities}, {"serverInfo", server_info}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return result;
}

Outcome Session::HandleLegacyRequest(const json& id, const std::string& method,
                                     const json& params) {
  if (method == "ping") return Reply(ResultResponse(id, json::object()));
  RequestContext ctx{false, initialized_ ? protocol_version_ : "", client_capabilities_};
  if (method.rfind("tasks/", 0) == 0 && AtLeast(ctx.version, kTasksVersion)) {
    return calls_.TaskRequest(id, method, params, ctx);
  }
  if (method != "tools/list" && method != "tools/call") {
    return Reply(ErrorResponse(id, kMethodNotFound,
                               fmt::format("method not found: {} (this server offers tools: "
                                           "tools/list and tools/call)",
                                           method)));
  }
  if (!initialized_) {
    return Reply(ErrorResponse(id, kNotInitialized,
                               "the server is not initialized: send \"initialize\" first"));
  }
  if (!params.is_object()) {
    return Reply(ErrorResponse(id, kInvalidParams, "invalid params: \"params\" must be an object"));
  }
  if (method == "tools/list") {
    // One page holds every tool, so any cursor gets them all and no nextCursor.
    return Reply(ResultResponse(id, json{{"tools", tools_.ListTools(ctx.version)}}));
  }
  return calls_.ToolsCall(id, params, ctx);
}

std::optional<json> Session::CheckModernMeta(const json& id, const std::string& method,
                                             const json& params, RequestContext& ctx) const {
  auto invalid = [&](const std::string& message) {
    return ErrorResponse(id, kInvalidParams, "invalid params: " + message);
  };
  if (!params.is_object()) return invalid("\"params\" must be an object");
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object() || !meta->contains(kVersionKey) ||
      !(*meta)[kVersionKey].is_string()) {
    return invalid(fmt::format("{} needs params._meta[\"{}\"], a string such as \"{}\"", method,
                               kVersionKey, kModernVersion));
  }
  const std::string version = (*meta)[kVersionKey].get<std::string>();
  if (version != kModernVersion) {
    // Older versions are negotiated with initialize, never named per request.
    return ErrorResponse(id, kUnsupportedVersion,
                         fmt::format("unsupported protocol version {}: requests that carry "
                                     "their version in _meta must name {}; older versions "
                                     "are negotiated with initialize",
                                     version, kModernVersion),
                         {{"supported", json::array({kModernVersion})}, {"requested", version}});
  }
  auto caps = meta->find(kCapabilitiesKey);
  if (caps == meta->end() || !caps->is_object()) {
    return invalid(fmt::format("{} needs params._meta[\"{}\"], an object ({{}} for none)", method,
                               kCapabilitiesKey));
  }
  ctx = RequestContext{true, version, *caps};
  return std::nullopt;
}

Outcome Session::HandleModernRequest(const json& id, const std::string& method,
                                     const json& params) {
  RequestContext ctx;
  if (auto error = CheckModernMeta(id, method, params, ctx)) return Reply(std::move(*error));
  if (method == "server/discover") return Reply(ResultResponse(id, Discover()));
  if (method == "tools/list") {
    json result{{"tools", tools_.ListTools(ctx.version)},
                {"ttlMs", kDiscoverTtlMs},
                {"cacheScope", "public"}};
    return Reply(ResultResponse(id, ModernResult(std::move(result), info_)));
  }
  if (method == "tools/call") return calls_.ToolsCall(id, params, ctx);
  if (method == "tasks/get" || method == "tasks/cancel" || method == "tasks/update") {
    return calls_.TaskRequest(id, method, params, ctx);
  }
  return Reply(ErrorResponse(id, kMethodNotFound,
                             fmt::format("method not found: {} (under {} this server offers "
                                         "server/discover, tools/list, tools/call, and with the "
                                         "tasks extension tasks/get, tasks/update and "
                                         "tasks/cancel)",
                                         method, kModernVersion)));
}

json Session::Discover() const {
  json versions = json::array({kModernVersion});
  for (const char* v : kSupportedVersions) versions.push_back(v);
  json result{
      {"supportedVersions", versions},
      {"capabilities",
       {{"tools", {{"listChanged", false}}}, {"extensions", {{kTasksExtension, json::object()}}}}},
      {"ttlMs", kDiscoverTtlMs},
      {"cacheScope", "public"}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  result = ModernResult(std::move(result), info_);
  result["_meta"][kServerInfoKey]["title"] = info_.title;
  return result;
}

}  // namespace bim::ctl::mcp
