#include "ctl/mcp/jsonrpc.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl::mcp {

using nlohmann::json;

json ErrorResponse(const json& id, int code, const std::string& message, json data) {
  json error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = std::move(data);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

json ResultResponse(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json Notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

json InFlightError(const json& id) {
  return ErrorResponse(
      id, kInvalidRequest,
      fmt::format("invalid request: id {} is already used by a call in flight", id.dump()));
}

bool ValidId(const json& id) { return id.is_string() || id.is_number_integer(); }

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

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

void LineSplitter::Feed(std::string_view bytes,
                        const std::function<void(std::string_view)>& on_line,
                        const std::function<void()>& on_too_long) {
  // Only the new bytes can hold a newline: what was left over had none.
  size_t from = buf_.size();
  buf_.append(bytes);
  size_t start = 0;
  for (size_t nl = buf_.find('\n', from); nl != std::string::npos; nl = buf_.find('\n', start)) {
    if (discarding_) {
      discarding_ = false;
    } else {
      on_line(std::string_view(buf_).substr(start, nl - start));
    }
    start = nl + 1;
  }
  buf_.erase(0, start);
  if (buf_.size() > max_) {
    if (!discarding_) on_too_long();
    discarding_ = true;
    buf_.clear();
  }
}

std::optional<std::string> LineSplitter::Finish() const {
  if (discarding_ || Trim(buf_).empty()) return std::nullopt;
  return buf_;
}

bool FdOutput::Write(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::Warn("mcp: cannot write to the client ({}); stopping", std::strerror(errno));
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

void MessageWriter::Send(const json* message, const std::function<void()>& before_write) {
  std::string line = message ? Dump(*message) + "\n" : std::string();
  std::lock_guard lock(mu_);
  if (before_write) before_write();
  if (closed_ || line.empty()) return;
  if (!out_.Write(line)) {
    closed_ = true;
    if (on_closed_) on_closed_();
  }
}

bool RequestsInFlight::Contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  return requests_.count(key) != 0;
}

bool RequestsInFlight::Add(const std::string& key, std::shared_ptr<CancelToken> cancel) {
  std::lock_guard lock(mu_);
  return requests_.emplace(key, std::move(cancel)).second;
}

void RequestsInFlight::Remove(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  for (const auto& key : keys) requests_.erase(key);
}

std::shared_ptr<CancelToken> RequestsInFlight::Find(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = requests_.find(key);
  return it == requests_.end() ? nullptr : it->second;
}

size_t RequestsInFlight::size() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

void RequestsInFlight::CancelAll() {
  std::lock_guard lock(mu_);
  for (auto& [key, token] : requests_) token->Cancel();
}

}  // namespace bim::ctl::mcp
