#include "ctl/mcp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl {
namespace {

using nlohmann::json;

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kServerBusy = -32000;
constexpr int kNotInitialized = -32002;
constexpr int kMissingCapability = -32021;   // 2026-07-28
constexpr int kUnsupportedVersion = -32022;  // 2026-07-28

// The versions initialize accepts, newest first.
const std::array<const char*, 4> kSupportedVersions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                       "2024-11-05"};

constexpr const char* kVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kServerInfoKey = "io.modelcontextprotocol/serverInfo";
constexpr const char* kRelatedTaskKey = "io.modelcontextprotocol/related-task";
constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";
constexpr int64_t kDiscoverTtlMs = 60 * 60 * 1000;  // how long clients may cache discover/lists

json ErrorResponse(const json& id, int code, const std::string& message, json data = nullptr) {
  json error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = std::move(data);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

json ResultResponse(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

// MCP ids are strings or integers; anything else (null included) is not an id.
bool ValidId(const json& id) { return id.is_string() || id.is_number_integer(); }

// Protocol versions are dates, so they compare as strings.
bool AtLeast(const std::string& version, const char* since) { return version >= since; }

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

// How deeply brackets nest in a JSON text, strings aside; stops counting past limit. Copying a
// parsed value recurses once per level, so a line of a million '[' must never be parsed.
size_t NestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// A request that names its version in _meta is a 2026-07-28 request, served on its own.
bool IsModernRequest(const json& params) {
  if (!params.is_object()) return false;
  auto meta = params.find("_meta");
  return meta != params.end() && meta->is_object() && meta->contains(kVersionKey);
}

bool HasTasksExtension(const json& client_capabilities) {
  auto ext = client_capabilities.find("extensions");
  return ext != client_capabilities.end() && ext->is_object() && ext->contains(kTasksExtension);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Task ids are the only thing that stands between a task and another local client (stdio has
// no authentication), so they come from the kernel's random source, as the spec asks.
std::string NewTaskId() {
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

// What tasks/result gives for a cancelled task.
json CancelledTaskResult() {
  return json{{"content", json::array({{{"type", "text"},
                                        {"text",
                                         "The task was cancelled: the waiting stopped. A "
                                         "deployment that had started goes on; "
                                         "deployment_status or list_deployments show it."}}})},
              {"isError", true}};
}

// Whether a task has not reached a terminal status (working, or waiting for the person).
template <typename TaskT>
bool Running(const TaskT& task) {
  return task.status == "working" || task.status == "input_required";
}

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

McpServer::McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info,
                     std::chrono::milliseconds shutdown_grace)
    : tools_(tools),
      in_fd_(in_fd),
      out_fd_(out_fd),
      info_(std::move(info)),
      shutdown_grace_(shutdown_grace) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;
  }
  for (const auto& t : tools_.ListTools(kTasksVersion)) {
    auto exec = t.find("execution");
    if (exec == t.end()) continue;
    std::string support = exec->value("taskSupport", "forbidden");
    if (support == "optional" || support == "required")
      task_tools_.insert(t["name"].get<std::string>());
  }
}

McpServer::~McpServer() {
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

std::string McpServer::NegotiateVersion(const std::string& requested) {
  for (const char* v : kSupportedVersions) {
    if (requested == v) return requested;
  }
  return kFallbackProtocolVersion;
}

void McpServer::Stop() {
  if (wake_fds_[1] >= 0) {
    char c = 1;
    (void)!::write(wake_fds_[1], &c, 1);
  }
}

int McpServer::Run() {
  std::string buf;
  bool discarding = false;  // inside a line that was too long, until its newline
  bool input_ended = false;
  std::array<char, 64 * 1024> chunk;
  while (!output_closed_) {
    pollfd fds[2] = {{in_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, wake_fds_[0] >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::Error("mcp: cannot wait for input: {}", std::strerror(errno));
      break;
    }
    if (wake_fds_[0] >= 0 && fds[1].revents != 0) break;
    if (fds[0].revents == 0) continue;
    ssize_t got = ::read(in_fd_, chunk.data(), chunk.size());
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      log::Error("mcp: cannot read the input: {}", std::strerror(errno));
      break;
    }
    if (got == 0) {
      input_ended = true;
      break;
    }
    // Only the new bytes can hold a newline: what was left over had none.
    size_t from = buf.size();
    buf.append(chunk.data(), static_cast<size_t>(got));
    size_t start = 0;
    for (size_t nl = buf.find('\n', from); nl != std::string::npos; nl = buf.find('\n', start)) {
      if (discarding) {
        discarding = false;
      } else {
        HandleLine(std::string_view(buf).substr(start, nl - start));
      }
      start = nl + 1;
    }
    buf.erase(0, start);
    if (buf.size() > kMaxLineBytes) {
      if (!discarding) {
        Send(ErrorResponse(
            nullptr, kParseError,
            fmt::format("parse error: a message longer than {} bytes was dropped", kMaxLineBytes)));
      }
      discarding = true;
      buf.clear();
    }
  }
  if (!discarding && !Trim(buf).empty()) HandleLine(buf);  // a last line without its newline

  // After the end of the input, calls that finish quickly still answer (`printf ... |
  // backend-im mcp` works); a long wait is cancelled so the server exits promptly, as the
  // spec's stdio shutdown expects. Stop() cancels at once.
  std::unique_lock lock(mu_);
  if (input_ended && !output_closed_) {
    workers_cv_.wait_for(lock, shutdown_grace_, [this] { return workers_ == 0; });
  }
  for (auto& [key, token] : in_flight_) token->Cancel();
  for (auto& [id, task] : tasks_) {
    if (!task.finished) task.cancel->Cancel();
  }
  tasks_cv_.notify_all();
  workers_cv_.wait(lock, [this] { return workers_ == 0; });
  return 0;
}

void McpServer::HandleLine(std::string_view raw) {
  std::string_view line = Trim(raw);
  if (line.empty()) return;
  if (NestingDepth(line, kMaxDepth) > kMaxDepth) {
    Send(ErrorResponse(
        nullptr, kParseError,
        fmt::format("parse error: the message nests deeper than {} levels", kMaxDepth)));
    return;
  }
  json msg = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded()) {
    Send(ErrorResponse(nullptr, kParseError,
                       "parse error: the line is not valid JSON (send one JSON-RPC message per "
                       "line, UTF-8)"));
    return;
  }
  try {
    if (msg.is_array()) {
      HandleBatch(msg);
      return;
    }
    Outcome o = HandleMessage(msg, /*in_batch=*/false);
    if (o.response) Send(*o.response);
    if (o.job) {
      auto job = std::make_shared<ToolJob>(std::move(*o.job));
      try {
        StartWorker([this, job] {
          auto r = RunJob(*job);
          SendAndRetire(r ? &*r : nullptr, {job->key});
        });
      } catch (...) {
        std::lock_guard lock(mu_);
        in_flight_.erase(job->key);
        throw;
      }
    }
    if (o.background) {
      try {
        StartWorker(std::move(o.background->work));
      } catch (...) {
        std::lock_guard lock(mu_);
        in_flight_.erase(o.background->key);
        throw;
      }
    }
  } catch (const std::exception& e) {
    log::Error("mcp: internal error handling a message: {}", e.what());
    json id = nullptr;
    if (msg.is_object() && msg.contains("id") && ValidId(msg["id"])) id = msg["id"];
    Send(ErrorResponse(id, kInternalError, std::string("internal error: ") + e.what()));
  }
}

McpServer::Outcome McpServer::HandleMessage(const json& msg, bool in_batch) {
  if (!msg.is_object()) {
    return {ErrorResponse(nullptr, kInvalidRequest,
                          "invalid request: a JSON-RPC message is a JSON object"),
            std::nullopt};
  }
  auto id_it = msg.find("id");
  bool has_id = id_it != msg.end();
  json id = has_id && ValidId(*id_it) ? *id_it : json(nullptr);
  auto jsonrpc = msg.find("jsonrpc");
  if (jsonrpc == msg.end() || *jsonrpc != "2.0") {
    return {ErrorResponse(id, kInvalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\""),
            std::nullopt};
  }
  auto method_it = msg.find("method");
  if (method_it == msg.end()) {
    if (msg.contains("result") || msg.contains("error")) {
      // A response: to an elicitation/create of ours, or to nothing (ignored, as JSON-RPC asks).
      if (!TakeResponse(msg)) {
        log::Debug("mcp: ignoring a response to no request of ours (id {})",
                   has_id ? Dump(*id_it) : "");
      }
      return {};
    }
    return {ErrorResponse(id, kInvalidRequest, "invalid request: no \"method\""), std::nullopt};
  }
  if (!method_it->is_string()) {
    return {ErrorResponse(id, kInvalidRequest, "invalid request: \"method\" must be a string"),
            std::nullopt};
  }
  const std::string method = method_it->get<std::string>();
  auto params_it = msg.find("params");
  json params = params_it == msg.end() || params_it->is_null() ? json::object() : *params_it;
  if (!has_id) {
    HandleNotification(method, params);
    return {};
  }
  if (!ValidId(*id_it)) {
    return {ErrorResponse(nullptr, kInvalidRequest,
                          "invalid request: \"id\" must be a string or an integer"),
            std::nullopt};
  }
  return HandleRequest(id, method, params, in_batch);
}

void McpServer::HandleNotification(const std::string& method, const json& params) {
  if (method == "notifications/initialized") {
    log::Debug("mcp: the client is initialized");
    return;
  }
  if (method == "notifications/cancelled") {
    if (!params.is_object() || !params.contains("requestId")) return;
    const json& rid = params["requestId"];
    if (!ValidId(rid)) return;
    std::shared_ptr<CancelToken> token;
    {
      std::lock_guard lock(mu_);
      auto it = in_flight_.find(rid.dump());
      if (it != in_flight_.end()) token = it->second;
    }
    // A request that already finished, or that was never ours, is ignored (the spec allows it).
    if (token) {
      std::string reason;
      if (auto r = params.find("reason"); r != params.end() && r->is_string()) reason = *r;
      log::Info("mcp: request {} cancelled by the client{}", rid.dump(),
                reason.empty() ? "" : ": " + reason);
      token->Cancel();
      tasks_cv_.notify_all();  // a tasks/result waiting for its task
    }
    return;
  }
  // Any other notification (progress, roots/list_changed, ...) needs nothing from us.
  log::Debug("mcp: ignoring notification {}", method);
}

McpServer::Outcome McpServer::HandleRequest(const json& id, const std::string& method,
                                            const json& params, bool in_batch) {
  // Whatever the method: a second answer under the id of a call in flight would leave the
  // client unable to tell the two apart, and could be taken for the call's own.
  if (InFlight(id)) return {InFlightError(id), std::nullopt};
  if (method == "initialize") return Initialize(id, params, in_batch);
  if (method == "server/discover" || IsModernRequest(params)) {
    return HandleModernRequest(id, method, params);
  }
  if (method == "ping") return {ResultResponse(id, json::object()), std::nullopt};
  if (method.rfind("tasks/", 0) == 0) {
    RequestContext ctx;
    {
      std::lock_guard lock(mu_);
      ctx.version = protocol_version_;
      if (!initialized_) ctx.version.clear();
    }
    if (AtLeast(ctx.version, kTasksVersion)) return HandleTaskRequest(id, method, params, ctx);
  }
  if (method != "tools/list" && method != "tools/call") {
    return {ErrorResponse(id, kMethodNotFound,
                          fmt::format("method not found: {} (this server offers tools: "
                                      "tools/list and tools/call)",
                                      method)),
            std::nullopt};
  }
  std::string version;
  {
    std::lock_guard lock(mu_);
    if (!initialized_) {
      return {ErrorResponse(id, kNotInitialized,
                            "the server is not initialized: send \"initialize\" first"),
              std::nullopt};
    }
    version = protocol_version_;
  }
  if (!params.is_object()) {
    return {ErrorResponse(id, kInvalidParams, "invalid params: \"params\" must be an object"),
            std::nullopt};
  }
  if (method == "tools/list") {
    // One page holds every tool, so any cursor gets them all and no nextCursor.
    return {ResultResponse(id, json{{"tools", tools_.ListTools(version)}}), std::nullopt};
  }
  return ToolsCall(id, params, RequestContext{false, version, json::object()});
}

json McpServer::Complete(json result) const {
  result["resultType"] = "complete";
  result["_meta"][kServerInfoKey] = {{"name", info_.name}, {"version", info_.version}};
  return result;
}

McpServer::Outcome McpServer::HandleModernRequest(const json& id, const std::string& method,
                                                  const json& params) {
  auto invalid = [&](const std::string& message) {
    return Outcome{ErrorResponse(id, kInvalidParams, "invalid params: " + message), std::nullopt};
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
    return {ErrorResponse(id, kUnsupportedVersion,
                          fmt::format("unsupported protocol version {}: requests that carry "
                                      "their version in _meta must name {}; older versions "
                                      "are negotiated with initialize",
                                      version, kModernVersion),
                          {{"supported", json::array({kModernVersion})}, {"requested", version}}),
            std::nullopt};
  }
  auto caps = meta->find(kCapabilitiesKey);
  if (caps == meta->end() || !caps->is_object()) {
    return invalid(fmt::format("{} needs params._meta[\"{}\"], an object ({{}} for none)", method,
                               kCapabilitiesKey));
  }
  RequestContext ctx{true, version, *caps};
  if (method == "server/discover") return {ResultResponse(id, Discover()), std::nullopt};
  if (method == "tools/list") {
    json result{
        {"tools", tools_.ListTools(version)}, {"ttlMs", kDiscoverTtlMs}, {"cacheScope", "public"}};
    return {ResultResponse(id, Complete(std::move(result))), std::nullopt};
  }
  if (method == "tools/call") return ToolsCall(id, params, ctx);
  if (method == "tasks/get" || method == "tasks/cancel" || method == "tasks/update") {
    return HandleTaskRequest(id, method, params, ctx);
  }
  return {ErrorResponse(id, kMethodNotFound,
                        fmt::format("method not found: {} (under {} this server offers "
                                    "server/discover, tools/list, tools/call, and with the "
                                    "tasks extension tasks/get, tasks/update and tasks/cancel)",
                                    method, kModernVersion)),
          std::nullopt};
}

json McpServer::Discover() const {
  json versions = json::array({kModernVersion});
  for (const char* v : kSupportedVersions) versions.push_back(v);
  json result{
      {"supportedVersions", versions},
      {"capabilities",
       {{"tools", {{"listChanged", false}}}, {"extensions", {{kTasksExtension, json::object()}}}}},
      {"ttlMs", kDiscoverTtlMs},
      {"cacheScope", "public"}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  result = Complete(std::move(result));
  result["_meta"][kServerInfoKey]["title"] = info_.title;
  return result;
}

McpServer::Outcome McpServer::Initialize(const json& id, const json& params, bool in_batch) {
  if (in_batch) {
    return {ErrorResponse(id, kInvalidRequest,
                          "invalid request: initialize must not be part of a batch"),
            std::nullopt};
  }
  if (!params.is_object() || !params.contains("protocolVersion") ||
      !params["protocolVersion"].is_string()) {
    return {ErrorResponse(id, kInvalidParams,
                          "invalid params: initialize needs params.protocolVersion, a string "
                          "such as \"2025-06-18\""),
            std::nullopt};
  }
  std::string requested = params["protocolVersion"].get<std::string>();
  std::string version = NegotiateVersion(requested);
  {
    std::lock_guard lock(mu_);
    if (initialized_) {
      return {ErrorResponse(id, kInvalidRequest,
                            "invalid request: already initialized (initialize is sent once)"),
              std::nullopt};
    }
    initialized_ = true;
    protocol_version_ = version;
    if (auto caps = params.find("capabilities"); caps != params.end() && caps->is_object()) {
      client_capabilities_ = *caps;
    }
  }
  std::string client = "an unnamed client";
  if (auto ci = params.find("clientInfo"); ci != params.end() && ci->is_object()) {
    if (auto n = ci->find("name"); n != ci->end() && n->is_string()) client = *n;
    if (auto v = ci->find("version"); v != ci->end() && v->is_string()) {
      client += " " + v->get<std::string>();
    }
  }
  log::Info("mcp: {} asked for protocol {}; answering {}", client, requested, version);
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
  return {ResultResponse(id, std::move(result)), std::nullopt};
}

McpServer::Outcome McpServer::ToolsCall(const json& id, const json& params,
                                        const RequestContext& ctx) {
  auto name_it = params.find("name");
  if (name_it == params.end() || !name_it->is_string()) {
    return {ErrorResponse(id, kInvalidParams,
                          "invalid params: tools/call needs params.name, the tool's name"),
            std::nullopt};
  }
  std::string name = name_it->get<std::string>();
  if (!tools_.HasTool(name)) {
    return {ErrorResponse(id, kInvalidParams,
                          fmt::format("unknown tool: {} (tools/list names the tools)", name)),
            std::nullopt};
  }
  json arguments = json::object();
  if (auto a = params.find("arguments"); a != params.end() && !a->is_null()) {
    if (!a->is_object()) {
      return {
          ErrorResponse(id, kInvalidParams, "invalid params: params.arguments must be an object"),
          std::nullopt};
    }
    arguments = *a;
  }
  json progress_token = nullptr;
  if (auto meta = params.find("_meta"); meta != params.end() && meta->is_object()) {
    if (auto t = meta->find("progressToken"); t != meta->end() && ValidId(*t)) progress_token = *t;
  }
  // URL-mode elicitation, declared by the client: {"elicitation": {"url": {}}}.
  auto declares_url_mode = [](const json& caps) {
    auto e = caps.find("elicitation");
    return e != caps.end() && e->is_object() && e->contains("url") && (*e)["url"].is_object();
  };
  json input_state, input_responses;
  if (ctx.modern) {
    if (auto rs = params.find("requestState"); rs != params.end() && !rs->is_null()) {
      std::lock_guard lock(mu_);
      auto round = rs->is_string() ? rounds_.find(rs->get<std::string>()) : rounds_.end();
      if (round == rounds_.end() || round->second.tool != name ||
          round->second.arguments != arguments.dump() || round->second.expires_ms < NowMs()) {
        return {ErrorResponse(id, kInvalidParams,
                              "invalid params: requestState is not one this server gave for "
                              "this call, or it was used or has expired; call the tool again "
                              "without requestState and inputResponses"),
                std::nullopt};
      }
      input_state = std::move(round->second.state);
      rounds_.erase(round);
      if (auto r = params.find("inputResponses"); r != params.end() && r->is_object()) {
        input_responses = *r;
      }
    }
  }
  ToolJob job;
  job.id = id;
  job.key = id.dump();
  job.name = name;
  job.arguments = std::move(arguments);
  job.progress_token = progress_token;
  job.cancel = std::make_shared<CancelToken>();
  job.version = ctx.version;
  job.input_state = std::move(input_state);
  job.input_responses = std::move(input_responses);
  if (ctx.modern) {
    job.can_request_url = declares_url_mode(ctx.client_capabilities);
  } else if (AtLeast(ctx.version, kTasksVersion)) {
    std::lock_guard lock(mu_);
    job.can_open_url = declares_url_mode(client_capabilities_);
  }
  // 2025-11-25: the client asks for a task (params.task); 2026-07-28: the server decides, for a
  // client that declared the extension. Older versions have no tasks and ignore params.task.
  json task_params = json::object();
  bool as_task = false;
  if (ctx.modern) {
    // A call that answers an input-required round goes on as the plain call it began as.
    as_task = task_tools_.count(name) != 0 && HasTasksExtension(ctx.client_capabilities) &&
              job.input_state.is_null();
  } else if (AtLeast(ctx.version, kTasksVersion)) {
    if (auto t = params.find("task"); t != params.end() && !t->is_null()) {
      if (!t->is_object()) {
        return {ErrorResponse(id, kInvalidParams, "invalid params: params.task must be an object"),
                std::nullopt};
      }
      if (task_tools_.count(name) == 0) {
        return {ErrorResponse(id, kMethodNotFound,
                              fmt::format("the tool {} cannot run as a task (its "
                                          "execution.taskSupport is forbidden); call it "
                                          "without params.task",
                                          name)),
                std::nullopt};
      }
      as_task = true;
      task_params = *t;
    }
  }
  if (as_task) return StartTask(std::move(job), task_params, ctx);
  std::lock_guard lock(mu_);
  // Checked again here, with the insertion under the same lock.
  if (in_flight_.count(job.key) != 0) return {InFlightError(id), std::nullopt};
  if (in_flight_.size() + running_tasks_ >= kMaxCallsInFlight) {
    return {ErrorResponse(id, kServerBusy,
                          fmt::format("server busy: {} tool calls are already running; wait for "
                                      "one to finish",
                                      kMaxCallsInFlight)),
            std::nullopt};
  }
  in_flight_[job.key] = job.cancel;
  return {std::nullopt, std::move(job)};
}

bool McpServer::InFlight(const json& id) {
  std::lock_guard lock(mu_);
  return in_flight_.count(id.dump()) != 0;
}

json McpServer::InFlightError(const json& id) {
  return ErrorResponse(
      id, kInvalidRequest,
      fmt::format("invalid request: id {} is already used by a call in flight", id.dump()));
}

void McpServer::HandleBatch(const json& batch) {
  std::string version;
  bool initialized;
  {
    std::lock_guard lock(mu_);
    version = protocol_version_;
    initialized = initialized_;
  }
  if (batch.empty()) {
    Send(ErrorResponse(nullptr, kInvalidRequest, "invalid request: an empty batch"));
    return;
  }
  if (!initialized || AtLeast(version, "2025-06-18")) {
    Send(ErrorResponse(nullptr, kInvalidRequest,
                       initialized ? "invalid request: JSON-RPC batches are not part of MCP " +
                                         version + "; send one message per line"
                                   : std::string("invalid request: initialize must not be part "
                                                 "of a batch; send it on a line of its own")));
    return;
  }
  auto responses = std::make_shared<json>(json::array());
  auto jobs = std::make_shared<std::vector<ToolJob>>();
  for (const auto& msg : batch) {
    Outcome o = HandleMessage(msg, /*in_batch=*/true);
    if (o.response) responses->push_back(std::move(*o.response));
    if (o.job) jobs->push_back(std::move(*o.job));
    if (o.background) StartWorker(std::move(o.background->work));  // a 2026-07-28 task
  }
  if (jobs->empty()) {
    if (!responses->empty()) Send(*responses);
    return;
  }
  // The batch's answer is one array, so its tool calls run one after another on one worker,
  // and their ids stay in flight until that array is sent.
  try {
    StartWorker([this, responses, jobs] {
      std::vector<std::string> keys;
      for (auto& job : *jobs) {
        keys.push_back(job.key);
        if (auto r = RunJob(job)) responses->push_back(std::move(*r));
      }
      SendAndRetire(responses->empty() ? nullptr : responses.get(), keys);
    });
  } catch (...) {
    std::lock_guard lock(mu_);
    for (const auto& job : *jobs) in_flight_.erase(job.key);
    throw;
  }
}

McpToolResult McpServer::CallTool(ToolJob& job,
                                  const std::function<void(const std::string&)>& on_stage) {
  McpToolCall call;
  call.protocol_version = job.version;
  call.cancel = job.cancel.get();
  call.as_task = !job.task_id.empty();
  const bool with_message = AtLeast(call.protocol_version, "2025-03-26");
  call.progress = [this, &job, &on_stage, with_message](double progress, double total,
                                                        const std::string& message) {
    if (job.cancel->cancelled()) return;
    if (on_stage && !message.empty()) on_stage(message);
    if (job.progress_token.is_null()) return;
    json params{{"progressToken", job.progress_token}, {"progress", progress}};
    if (total > 0) params["total"] = total;
    if (with_message && !message.empty()) params["message"] = message;
    Send(json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", params}});
  };
  std::string elicitation_id;  // of the last elicitation/create sent for this call
  if (job.can_open_url) {
    call.open_url = [this, &job, &elicitation_id](const std::string& url,
                                                  const std::string& message) {
      return OpenUrl(job, url, message, elicitation_id);
    };
    call.url_done = [this, &elicitation_id] {
      if (elicitation_id.empty()) return;
      Send(json{{"jsonrpc", "2.0"},
                {"method", "notifications/elicitation/complete"},
                {"params", {{"elicitationId", elicitation_id}}}});
    };
  }
  call.can_request_url = job.can_request_url && job.task_id.empty();
  call.input_state = job.input_state;
  call.input_responses = job.input_responses;
  McpToolResult result;
  try {
    result = tools_.CallTool(job.name, job.arguments, call);
    if (!result.input_requests.is_null() && !call.can_request_url) {
      throw std::logic_error("the tool asked for input the client cannot give");
    }
  } catch (const std::exception& e) {
    log::Error("mcp: tool {} threw: {}", job.name, e.what());
    result.is_error = true;
    result.message = std::string("internal error in backend-im: ") + e.what();
  }
  return result;
}

std::optional<json> McpServer::RunJob(ToolJob& job) {
  McpToolResult result = CallTool(job, nullptr);
  if (job.cancel->cancelled()) {
    log::Debug("mcp: request {} was cancelled; no response", job.key);
    return std::nullopt;
  }
  if (!result.input_requests.is_null()) return ResultResponse(job.id, InputRequired(job, result));
  json out = ToolResultJson(result, job.version);
  if (job.version == kModernVersion) out = Complete(std::move(out));
  return ResultResponse(job.id, std::move(out));
}

json McpServer::InputRequired(const ToolJob& job, const McpToolResult& result) {
  std::string state_id = NewTaskId();
  {
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    for (auto it = rounds_.begin(); it != rounds_.end();) {
      it = it->second.expires_ms < now ? rounds_.erase(it) : std::next(it);
    }
    if (rounds_.size() >= kMaxInputRounds) {  // the oldest to expire goes
      auto oldest = std::min_element(rounds_.begin(), rounds_.end(), [](auto& a, auto& b) {
        return a.second.expires_ms < b.second.expires_ms;
      });
      rounds_.erase(oldest);
    }
    rounds_[state_id] =
        InputRound{job.name, job.arguments.dump(), result.input_state, now + kInputRoundTtlMs};
  }
  json out = Complete(json::object());
  out["resultType"] = "input_required";
  if (!result.input_requests.empty()) out["inputRequests"] = result.input_requests;
  out["requestState"] = state_id;
  return out;
}

McpToolCall::UrlAnswer McpServer::OpenUrl(ToolJob& job, const std::string& url,
                                          const std::string& message, std::string& elicitation_id) {
  using Answer = McpToolCall::UrlAnswer;
  elicitation_id = NewTaskId();
  json params{
      {"mode", "url"}, {"elicitationId", elicitation_id}, {"url", url}, {"message", message}};
  json id;
  {
    std::lock_guard lock(mu_);
    id = fmt::format("bim-{}", next_outgoing_id_++);
    outgoing_[id.dump()] = Outgoing{};
    if (!job.task_id.empty()) {
      params["_meta"][kRelatedTaskKey] = {{"taskId", job.task_id}};
      auto t = tasks_.find(job.task_id);
      if (t != tasks_.end() && t->second.status == "working") {
        t->second.status = "input_required";
        t->second.status_message = message;
        t->second.updated_ms = NowMs();
      }
    }
  }
  log::Info("mcp: asking the client to open {} (request {})", url, id.dump());
  Send(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "elicitation/create"}, {"params", params}});
  json response;
  {
    std::unique_lock lock(mu_);
    // The client answers when the person has; a cancel of the call or the end of the server
    // (which cancels every call) stops the wait.
    while (!outgoing_[id.dump()].answered && !job.cancel->cancelled()) {
      outgoing_cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    response = std::move(outgoing_[id.dump()].response);
    outgoing_.erase(id.dump());
    if (!job.task_id.empty()) {
      auto t = tasks_.find(job.task_id);
      if (t != tasks_.end() && t->second.status == "input_required") {
        t->second.status = "working";
        t->second.status_message = "waiting for the login to be approved";
        t->second.updated_ms = NowMs();
      }
    }
  }
  if (response.is_null()) {  // cancelled before the client answered: it may close its prompt
    Send(json{{"jsonrpc", "2.0"},
              {"method", "notifications/cancelled"},
              {"params", {{"requestId", id}, {"reason", "the tool call was cancelled"}}}});
    return Answer::kCancel;
  }
  if (auto e = response.find("error"); e != response.end()) {
    log::Warn("mcp: the client could not open the page: {}",
              e->is_object() ? e->value("message", Dump(*e)) : Dump(*e));
    return Answer::kFailed;
  }
  const json result = response.value("result", json::object());
  const std::string action =
      result.is_object() && result.contains("action") && result["action"].is_string()
          ? result["action"].get<std::string>()
          : "";
  log::Info("mcp: the client answered {} to request {}", action.empty() ? "?" : action, id.dump());
  if (action == "accept") return Answer::kAccept;
  if (action == "decline") return Answer::kDecline;
  if (action == "cancel") return Answer::kCancel;
  return Answer::kFailed;
}

bool McpServer::TakeResponse(const json& msg) {
  auto id = msg.find("id");
  if (id == msg.end() || !ValidId(*id)) return false;
  std::lock_guard lock(mu_);
  auto it = outgoing_.find(id->dump());
  if (it == outgoing_.end() || it->second.answered) return false;
  it->second.answered = true;
  it->second.response = msg;
  outgoing_cv_.notify_all();
  return true;
}

// ---- tasks ------------------------------------------------------------------------------------

McpServer::Outcome McpServer::StartTask(ToolJob job, const json& task_params,
                                        const RequestContext& ctx) {
  Task task;
  task.id = NewTaskId();
  task.modern = ctx.modern;
  task.created_ms = task.updated_ms = NowMs();
  if (auto ttl = task_params.find("ttl"); ttl != task_params.end() && ttl->is_number_integer()) {
    task.ttl_ms = std::clamp<int64_t>(ttl->get<int64_t>(), 1000, kMaxTaskTtlMs);
  }
  task.status_message = fmt::format("{} started", job.name);
  task.cancel = job.cancel;
  job.task_id = task.id;
  job.key.clear();  // the request is answered now; its id is free again
  json answer;
  {
    std::lock_guard lock(mu_);
    ExpireTasks();
    if (in_flight_.size() + running_tasks_ >= kMaxCallsInFlight) {
      return {ErrorResponse(job.id, kServerBusy,
                            fmt::format("server busy: {} tool calls and tasks are already "
                                        "running; wait for one to finish",
                                        kMaxCallsInFlight)),
              std::nullopt};
    }
    ++running_tasks_;
    answer = TaskJson(task);
    tasks_.emplace(task.id, std::move(task));
  }
  log::Info("mcp: {} runs as task {}", job.name, job.task_id);
  if (ctx.modern) {
    answer = Complete(std::move(answer));
    answer["resultType"] = "task";
  } else {
    answer = json{{"task", std::move(answer)}};
  }
  auto shared = std::make_shared<ToolJob>(std::move(job));
  return {ResultResponse(shared->id, std::move(answer)), std::nullopt,
          Background{"", [this, shared] { RunTask(*shared); }}};
}

void McpServer::RunTask(ToolJob& job) {
  auto on_stage = [this, &job](const std::string& message) {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(job.task_id);
    if (it == tasks_.end() || it->second.status != "working") return;
    it->second.status_message = message;
    it->second.updated_ms = NowMs();
  };
  McpToolResult result = CallTool(job, on_stage);
  std::lock_guard lock(mu_);
  --running_tasks_;
  auto it = tasks_.find(job.task_id);
  if (it != tasks_.end()) {
    Task& task = it->second;
    task.finished = true;
    task.result = ToolResultJson(result, job.version);
    if (task.status == "working") {
      // 2025-11-25: an error result fails the task; the 2026 extension keeps "failed" for
      // JSON-RPC errors, so there the task completes with the error result.
      task.status = result.is_error && !task.modern ? "failed" : "completed";
      if (result.is_error) task.status_message = result.message;
      task.updated_ms = NowMs();
    }
    log::Info("mcp: task {} ({}) is {}", task.id, job.name, task.status);
  }
  tasks_cv_.notify_all();
}

json McpServer::TaskJson(const Task& task) const {
  json j{{"taskId", task.id},
         {"status", task.status},
         {"createdAt", FormatIso(task.created_ms)},
         {"lastUpdatedAt", FormatIso(task.updated_ms)}};
  if (!task.status_message.empty()) j["statusMessage"] = task.status_message;
  // The 2026 extension renamed ttl and pollInterval to say their unit.
  j[task.modern ? "ttlMs" : "ttl"] = task.ttl_ms;
  j[task.modern ? "pollIntervalMs" : "pollInterval"] = kTaskPollIntervalMs;
  return j;
}

void McpServer::ExpireTasks() {
  const int64_t now = NowMs();
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    const Task& t = it->second;
    bool ended = t.finished || t.status == "cancelled";
    if (ended && now - t.updated_ms >= t.ttl_ms) {
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

McpServer::Outcome McpServer::HandleTaskRequest(const json& id, const std::string& method,
                                                const json& params, const RequestContext& ctx) {
  auto error = [&](int code, const std::string& message, json data = nullptr) {
    return Outcome{ErrorResponse(id, code, message, std::move(data)), std::nullopt};
  };
  auto answer = [&](json result) {
    return Outcome{ResultResponse(id, ctx.modern ? Complete(std::move(result)) : std::move(result)),
                   std::nullopt};
  };
  if (ctx.modern && !HasTasksExtension(ctx.client_capabilities)) {
    return error(kMissingCapability,
                 fmt::format("{} needs the {} extension: declare it in "
                             "_meta[\"{}\"].extensions",
                             method, kTasksExtension, kCapabilitiesKey),
                 {{"requiredCapabilities", {{"extensions", {{kTasksExtension, json::object()}}}}}});
  }
  if (!params.is_object()) return error(kInvalidParams, "invalid params: must be an object");
  const bool known = method == "tasks/get" || method == "tasks/cancel" ||
                     (!ctx.modern && (method == "tasks/result" || method == "tasks/list")) ||
                     (ctx.modern && method == "tasks/update");
  if (!known) {
    return error(
        kMethodNotFound,
        fmt::format("method not found: {} (under {} the task methods are {})", method, ctx.version,
                    ctx.modern ? "tasks/get, tasks/update and tasks/cancel"
                               : "tasks/get, tasks/result, tasks/cancel and tasks/list"));
  }
  if (method == "tasks/list") {
    // One page holds every task, so any cursor gets them all and no nextCursor.
    json list = json::array();
    std::lock_guard lock(mu_);
    ExpireTasks();
    for (const auto& [tid, task] : tasks_) {
      if (!task.modern) list.push_back(TaskJson(task));
    }
    return answer(json{{"tasks", std::move(list)}});
  }
  // A `task` member here is ignored: the SDK 1.32 client copies it into every task request.
  auto tid_it = params.find("taskId");
  if (tid_it == params.end() || !tid_it->is_string()) {
    return error(kInvalidParams, fmt::format("invalid params: {} needs params.taskId", method));
  }
  const std::string task_id = *tid_it;
  std::shared_ptr<CancelToken> to_cancel;
  std::unique_lock lock(mu_);
  ExpireTasks();
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.modern != ctx.modern) {
    return error(kInvalidParams,
                 fmt::format("unknown task: {} (a task is forgotten once its ttl has passed "
                             "after it ended)",
                             task_id));
  }
  Task& task = it->second;
  if (method == "tasks/get") {
    json j = TaskJson(task);
    if (ctx.modern && task.status == "completed") j["result"] = Complete(task.result);
    return answer(std::move(j));
  }
  if (method == "tasks/update") return answer(json::object());  // no task of ours asks for input
  if (method == "tasks/cancel") {
    if (!Running(task)) {
      if (ctx.modern) return answer(json::object());  // cancellation is advisory there
      return error(kInvalidParams,
                   fmt::format("cannot cancel task {}: already in terminal status '{}'", task_id,
                               task.status));
    }
    task.status = "cancelled";
    task.status_message =
        "cancelled by the client: the waiting stopped (a deployment that had started goes on)";
    task.updated_ms = NowMs();
    json j = TaskJson(task);
    to_cancel = task.cancel;
    lock.unlock();
    log::Info("mcp: task {} cancelled by the client", task_id);
    to_cancel->Cancel();
    tasks_cv_.notify_all();
    return answer(ctx.modern ? json::object() : std::move(j));
  }
  // tasks/result: the tool's result once the task has ended, so the wait is on a worker.
  auto result_of = [task_id](const Task& t) {
    json r = t.status == "cancelled" ? CancelledTaskResult() : t.result;
    r["_meta"][kRelatedTaskKey] = {{"taskId", task_id}};
    return r;
  };
  if (!Running(task)) return answer(result_of(task));
  const std::string key = id.dump();
  if (in_flight_.count(key) != 0) return {InFlightError(id), std::nullopt};
  auto token = std::make_shared<CancelToken>();
  in_flight_[key] = token;
  return {std::nullopt, std::nullopt,
          Background{key, [this, id, key, token, task_id, result_of] {
                       std::optional<json> response;
                       {
                         std::unique_lock wait_lock(mu_);
                         tasks_cv_.wait(wait_lock, [&] {
                           auto t = tasks_.find(task_id);
                           return token->cancelled() || t == tasks_.end() || !Running(t->second);
                         });
                         auto t = tasks_.find(task_id);
                         if (token->cancelled()) {
                           log::Debug("mcp: request {} was cancelled; no response", key);
                         } else if (t == tasks_.end()) {
                           response = ErrorResponse(id, kInvalidParams, "unknown task: " + task_id);
                         } else {
                           response = ResultResponse(id, result_of(t->second));
                         }
                       }
                       SendAndRetire(response ? &*response : nullptr, {key});
                     }}};
}

void McpServer::StartWorker(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    ++workers_;
  }
  try {
    std::thread([this, work = std::move(work)] {
      work();
      std::lock_guard lock(mu_);
      --workers_;
      workers_cv_.notify_all();
    }).detach();
  } catch (...) {
    std::lock_guard lock(mu_);
    --workers_;
    throw;
  }
}

void McpServer::Send(const json& message) { SendAndRetire(&message, {}); }

void McpServer::SendAndRetire(const json* message, const std::vector<std::string>& keys) {
  std::string line = message ? Dump(*message) + "\n" : std::string();
  std::lock_guard lock(out_mu_);
  if (!keys.empty()) {
    // The ids become free under out_mu_, just before their answer is written: a request that
    // reuses one and finds it free is answered after that answer, never before it.
    std::lock_guard flight(mu_);
    for (const auto& key : keys) in_flight_.erase(key);
  }
  if (output_closed_ || line.empty()) return;
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(out_fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::Warn("mcp: cannot write to the client ({}); stopping", std::strerror(errno));
      output_closed_ = true;
      Stop();
      return;
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace bim::ctl
