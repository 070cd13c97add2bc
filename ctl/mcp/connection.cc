#include "ctl/mcp/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl::mcp {

using nlohmann::json;

Connection::Connection(int in_fd, MessageWriter& writer, Handler& handler, WorkerThreads& workers,
                       RequestsInFlight& in_flight, size_t max_line_bytes)
    : in_fd_(in_fd),
      writer_(writer),
      handler_(handler),
      workers_(workers),
      in_flight_(in_flight),
      max_line_bytes_(max_line_bytes) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;
  }
}

Connection::~Connection() {
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void Connection::Stop() {
  if (wake_fds_[1] >= 0) {
    char c = 1;
    (void)!::write(wake_fds_[1], &c, 1);
  }
}

bool Connection::Serve() {
  LineSplitter lines(max_line_bytes_);
  auto on_line = [this](std::string_view line) { HandleLine(line); };
  auto on_too_long = [this] {
    writer_.Send(ErrorResponse(
        nullptr, kParseError,
        fmt::format("parse error: a message longer than {} bytes was dropped", max_line_bytes_)));
  };
  bool input_ended = false;
  std::array<char, 64 * 1024> chunk;
  while (!writer_.closed()) {
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
    lines.Feed(std::string_view(chunk.data(), static_cast<size_t>(got)), on_line, on_too_long);
  }
  if (auto last = lines.Finish()) HandleLine(*last);
  return input_ended;
}

void Connection::HandleLine(std::string_view raw) {
  std::string_view line = Trim(raw);
  if (line.empty()) return;
  if (NestingDepth(line, kMaxDepth) > kMaxDepth) {
    writer_.Send(ErrorResponse(
        nullptr, kParseError,
        fmt::format("parse error: the message nests deeper than {} levels", kMaxDepth)));
    return;
  }
  json msg = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded()) {
    writer_.Send(ErrorResponse(nullptr, kParseError,
                               "parse error: the line is not valid JSON (send one JSON-RPC "
                               "message per line, UTF-8)"));
    return;
  }
  try {
    if (msg.is_array()) {
      HandleBatch(msg);
    } else {
      Start(HandleMessage(msg, /*in_batch=*/false));
    }
  } catch (const std::exception& e) {
    log::Error("mcp: internal error handling a message: {}", e.what());
    json id = nullptr;
    if (msg.is_object() && msg.contains("id") && ValidId(msg["id"])) id = msg["id"];
    writer_.Send(ErrorResponse(id, kInternalError, std::string("internal error: ") + e.what()));
  }
}

void Connection::Start(Outcome o) {
  if (o.response) writer_.Send(*o.response);
  if (o.deferred) {
    auto deferred = std::make_shared<Deferred>(std::move(*o.deferred));
    try {
      workers_.Start([this, deferred] {
        auto r = deferred->run();
        SendAndRetire(r ? &*r : nullptr, {deferred->key});
      });
    } catch (...) {
      in_flight_.Remove({deferred->key});
      throw;
    }
  }
  if (o.background) workers_.Start(std::move(o.background));
}

Outcome Connection::HandleMessage(const json& msg, bool in_batch) {
  if (!msg.is_object()) {
    return Reply(ErrorResponse(nullptr, kInvalidRequest,
                               "invalid request: a JSON-RPC message is a JSON object"));
  }
  auto id_it = msg.find("id");
  bool has_id = id_it != msg.end();
  json id = has_id && ValidId(*id_it) ? *id_it : json(nullptr);
  auto jsonrpc = msg.find("jsonrpc");
  if (jsonrpc == msg.end() || *jsonrpc != "2.0") {
    return Reply(
        ErrorResponse(id, kInvalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\""));
  }
  auto method_it = msg.find("method");
  if (method_it == msg.end()) {
    if (msg.contains("result") || msg.contains("error")) {
      // A response: to a request of ours, or to nothing (ignored, as JSON-RPC asks).
      if (!handler_.HandleResponse(msg)) {
        log::Debug("mcp: ignoring a response to no request of ours (id {})",
                   has_id ? Dump(*id_it) : "");
      }
      return {};
    }
    return Reply(ErrorResponse(id, kInvalidRequest, "invalid request: no \"method\""));
  }
  if (!method_it->is_string()) {
    return Reply(
        ErrorResponse(id, kInvalidRequest, "invalid request: \"method\" must be a string"));
  }
  const std::string method = method_it->get<std::string>();
  auto params_it = msg.find("params");
  json params = params_it == msg.end() || params_it->is_null() ? json::object() : *params_it;
  if (!has_id) {
    handler_.HandleNotification(method, params);
    return {};
  }
  if (!ValidId(*id_it)) {
    return Reply(ErrorResponse(nullptr, kInvalidRequest,
                               "invalid request: \"id\" must be a string or an integer"));
  }
  // Whatever the method: a second answer under the id of a call in flight would leave the
  // client unable to tell the two apart, and could be taken for the call's own.
  if (in_flight_.Contains(RequestsInFlight::Key(id))) return Reply(InFlightError(id));
  return handler_.HandleRequest(id, method, params, in_batch);
}

void Connection::HandleBatch(const json& batch) {
  if (batch.empty()) {
    writer_.Send(ErrorResponse(nullptr, kInvalidRequest, "invalid request: an empty batch"));
    return;
  }
  if (auto refusal = handler_.BatchRefusal()) {
    writer_.Send(ErrorResponse(nullptr, kInvalidRequest, *refusal));
    return;
  }
  auto responses = std::make_shared<json>(json::array());
  auto deferred = std::make_shared<std::vector<Deferred>>();
  for (const auto& msg : batch) {
    Outcome o = HandleMessage(msg, /*in_batch=*/true);
    if (o.response) responses->push_back(std::move(*o.response));
    if (o.deferred) deferred->push_back(std::move(*o.deferred));
    if (o.background) workers_.Start(std::move(o.background));  // a 2026-07-28 task
  }
  if (deferred->empty()) {
    if (!responses->empty()) writer_.Send(*responses);
    return;
  }
  // The batch's answer is one array, so its deferred answers are computed one after another on
  // one worker, and their ids stay in flight until that array is sent.
  try {
    workers_.Start([this, responses, deferred] {
      std::vector<std::string> keys;
      for (auto& d : *deferred) {
        keys.push_back(d.key);
        if (auto r = d.run()) responses->push_back(std::move(*r));
      }
      SendAndRetire(responses->empty() ? nullptr : responses.get(), keys);
    });
  } catch (...) {
    std::vector<std::string> keys;
    for (const auto& d : *deferred) keys.push_back(d.key);
    in_flight_.Remove(keys);
    throw;
  }
}

void Connection::SendAndRetire(const json* message, const std::vector<std::string>& keys) {
  writer_.Send(message, [&] {
    if (!keys.empty()) in_flight_.Remove(keys);
  });
}

}  // namespace bim::ctl::mcp
