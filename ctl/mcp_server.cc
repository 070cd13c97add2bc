#include "ctl/mcp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
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

const std::array<const char*, 3> kSupportedVersions = {"2025-06-18", "2025-03-26", "2024-11-05"};

json ErrorResponse(const json& id, int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
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

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

McpServer::McpServer(McpToolProvider& tools, int in_fd, int out_fd, McpServerInfo info)
    : tools_(tools), in_fd_(in_fd), out_fd_(out_fd), info_(std::move(info)) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;
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
  return kLatestProtocolVersion;
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
    workers_cv_.wait_for(lock, kShutdownGrace, [this] { return workers_ == 0; });
  }
  for (auto& [key, token] : in_flight_) token->Cancel();
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
      // A response, but this server never sends requests: nothing to match it with.
      log::Debug("mcp: ignoring a response from the client (id {})", has_id ? Dump(*id_it) : "");
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
    std::shared_ptr<McpCancelToken> token;
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
  if (method == "ping") return {ResultResponse(id, json::object()), std::nullopt};
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
  return ToolsCall(id, params);
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
  json result{{"protocolVersion", version},
              {"capabilities", {{"tools", {{"listChanged", false}}}}},
              {"serverInfo", server_info}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return {ResultResponse(id, std::move(result)), std::nullopt};
}

McpServer::Outcome McpServer::ToolsCall(const json& id, const json& params) {
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
  ToolJob job{id,
              id.dump(),
              name,
              std::move(arguments),
              progress_token,
              std::make_shared<McpCancelToken>()};
  std::lock_guard lock(mu_);
  // Checked again here, with the insertion under the same lock.
  if (in_flight_.count(job.key) != 0) return {InFlightError(id), std::nullopt};
  if (in_flight_.size() >= kMaxCallsInFlight) {
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

std::optional<json> McpServer::RunJob(ToolJob& job) {
  McpToolCall call;
  {
    std::lock_guard lock(mu_);
    call.protocol_version = protocol_version_;
  }
  call.cancel = job.cancel.get();
  const bool with_message = AtLeast(call.protocol_version, "2025-03-26");
  call.progress = [this, &job, with_message](double progress, double total,
                                             const std::string& message) {
    if (job.progress_token.is_null() || job.cancel->cancelled()) return;
    json params{{"progressToken", job.progress_token}, {"progress", progress}};
    if (total > 0) params["total"] = total;
    if (with_message && !message.empty()) params["message"] = message;
    Send(json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", params}});
  };
  McpToolResult result;
  try {
    result = tools_.CallTool(job.name, job.arguments, call);
  } catch (const std::exception& e) {
    log::Error("mcp: tool {} threw: {}", job.name, e.what());
    result.is_error = true;
    result.message = std::string("internal error in backend-im: ") + e.what();
  }
  if (job.cancel->cancelled()) {
    log::Debug("mcp: request {} was cancelled; no response", job.key);
    return std::nullopt;
  }
  return ResultResponse(job.id, ToolResultJson(result, call.protocol_version));
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
