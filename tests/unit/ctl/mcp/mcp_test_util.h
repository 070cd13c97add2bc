#pragma once
// For the MCP server's unit tests: a fake McpToolProvider, an Output that keeps what the server
// writes in memory, and a server run in-process on a pipe, in simulated time.

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "ctl/mcp/jsonrpc.h"
#include "ctl/mcp/server.h"
#include "ctl/mcp/tool_provider.h"

namespace bim::ctl::mcp_test {

using nlohmann::json;
using namespace std::chrono_literals;

// How long a test waits for something the server does at once before it fails.
inline constexpr auto kPatience = 10s;

// The tools, each a behaviour:
//   echo   answers {"echo": arguments};
//   fail   answers an error result, "it failed";
//   slow   reports the stage "stage one", then waits for Release() or its cancel (taskSupport);
//   login  needs the person: open_url under 2025-11-25, input_requests under 2026-07-28, and
//          answers what it got; throws when the client offers neither;
//   confirm asks the person to confirm: call.confirm, else input_requests under 2026-07-28
//          (with can_request_form), and answers what it got, or {"asked": false}.
class FakeTools : public McpToolProvider {
 public:
  json ListTools(const std::string& version) const override {
    if (throw_on_list) throw std::runtime_error("the tool list broke");
    json tools = json::array();
    for (const char* name : {"echo", "fail", "slow", "login", "confirm"}) {
      json tool{{"name", name}, {"inputSchema", {{"type", "object"}}}};
      const std::string n = name;
      if (version >= "2025-11-25" && n != "echo" && n != "login" && n != "confirm") {
        tool["execution"] = {{"taskSupport", "optional"}};
      }
      tools.push_back(tool);
    }
    return tools;
  }

  bool HasTool(const std::string& name) const override {
    return name == "echo" || name == "fail" || name == "slow" || name == "login" ||
           name == "confirm";
  }

  McpToolResult CallTool(const std::string& name, const json& arguments,
                         McpToolCall& call) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back(Seen{name, call.protocol_version, call.as_task, call.can_request_url,
                            static_cast<bool>(call.open_url), call.input_state,
                            call.input_responses, static_cast<bool>(call.confirm),
                            call.can_request_form});
    }
    McpToolResult r;
    if (name == "fail") {
      r.is_error = true;
      r.message = "it failed";
    } else if (name == "slow") {
      call.progress(1, 0, "stage one");
      std::unique_lock lock(mu_);
      ++waiting_;
      cv_.notify_all();
      // The cancel token signals nobody, so its state is looked at every few milliseconds.
      while (!released_ && !call.cancel->cancelled()) cv_.wait_for(lock, 2ms);
      --waiting_;
      cv_.notify_all();
      r.structured = {{"slow", "done"}};
    } else if (name == "login") {
      r = Login(call);
    } else if (name == "confirm") {
      r = Confirm(call);
    } else {
      r.structured = {{"echo", arguments}};
    }
    return r;
  }

  // Lets every slow call return.
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Waits until exactly n slow calls are waiting.
  bool WaitForWaiting(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return waiting_ == n; });
  }
  struct Seen {
    std::string name;
    std::string version;
    bool as_task = false;
    bool can_request_url = false;
    bool can_open_url = false;
    json input_state;
    json input_responses;
    bool can_confirm = false;
    bool can_request_form = false;
  };
  std::vector<Seen> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  std::atomic<bool> throw_on_list{false};

 private:
  McpToolResult Login(McpToolCall& call) {
    McpToolResult r;
    if (call.open_url) {
      auto answer = call.open_url("https://example.test/approve", "Approve the login");
      if (answer == McpToolCall::UrlAnswer::kAccept) call.url_done();
      r.structured = {{"answer", static_cast<int>(answer)}};
    } else if (call.can_request_url && call.input_state.is_null()) {
      r.input_requests = {{"login", {{"method", "elicitation/create"}}}};
      r.input_state = {{"step", 1}};
    } else if (call.can_request_url) {
      r.structured = {{"state", call.input_state}, {"responses", call.input_responses}};
    } else {
      throw std::runtime_error("no way to reach the person");
    }
    return r;
  }

  McpToolResult Confirm(McpToolCall& call) {
    McpToolResult r;
    if (call.confirm) {
      r.structured = {{"answer", static_cast<int>(call.confirm("Go ahead?"))}};
    } else if (call.can_request_form && call.input_state.is_null()) {
      r.input_requests = {{"confirm", {{"method", "elicitation/create"}}}};
      r.input_state = {{"step", 1}};
    } else {
      r.structured = {{"asked", false}};
    }
    return r;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int waiting_ = 0;
  std::vector<Seen> calls_;
};

// The lines written to a MemoryOutput, for the test to take one by one.
class Lines {
 public:
  void Append(std::string_view bytes) {
    std::lock_guard lock(mu_);
    partial_.append(bytes);
    for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  // The next whole line, or nullopt when none comes within timeout.
  std::optional<std::string> NextLine(std::chrono::milliseconds timeout = kPatience) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !lines_.empty(); })) return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }
  json Next() {
    auto line = NextLine();
    REQUIRE_MESSAGE(line.has_value(), "the server wrote nothing in time");
    return json::parse(*line);
  }
  // Lines written and not yet taken, and the bytes of a line without its newline.
  size_t pending() {
    std::lock_guard lock(mu_);
    return lines_.size() + (partial_.empty() ? 0 : 1);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::string partial_;
};

class MemoryOutput final : public mcp::Output {
 public:
  explicit MemoryOutput(std::shared_ptr<Lines> lines) : lines_(std::move(lines)) {}
  bool Write(std::string_view bytes) override {
    lines_->Append(bytes);
    return true;
  }

 private:
  std::shared_ptr<Lines> lines_;
};

inline constexpr int64_t kStartMs = 1'700'000'000'000;

// An McpServer on a pipe, run by a thread of its own, writing to memory, in simulated time.
class ServerHarness {
 public:
  explicit ServerHarness(std::chrono::milliseconds grace = 0ms) {
    REQUIRE(::pipe(in_) == 0);
    server_ =
        std::make_unique<McpServer>(tools, in_[0], std::make_unique<MemoryOutput>(lines), clock,
                                    McpServerInfo{"bim-test", "Test", "1.2.3", "use it"}, grace);
    runner_ = std::thread([this] { rc_ = server_->Run(); });
  }
  ~ServerHarness() {
    CloseInput();
    if (runner_.joinable()) runner_.join();
    ::close(in_[0]);
  }

  void SendRaw(const std::string& bytes) {
    REQUIRE(::write(in_[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  void Send(const json& message) { SendRaw(message.dump() + "\n"); }
  json Next() { return lines->Next(); }
  json Request(const json& message) {
    Send(message);
    return Next();
  }
  // Ends the input and waits for Run() to return; its return code.
  int Finish() {
    CloseInput();
    runner_.join();
    return rc_;
  }
  void CloseInput() {
    if (in_[1] >= 0) ::close(in_[1]);
    in_[1] = -1;
  }
  // initialize with version (and capabilities), answered; then notifications/initialized.
  json Initialize(const std::string& version, json capabilities = json::object()) {
    json r = Request({{"jsonrpc", "2.0"},
                      {"id", 0},
                      {"method", "initialize"},
                      {"params",
                       {{"protocolVersion", version},
                        {"capabilities", std::move(capabilities)},
                        {"clientInfo", {{"name", "unit"}, {"version", "1"}}}}}});
    Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    return r;
  }

  FakeTools tools;
  FakeClock clock{kStartMs};
  std::shared_ptr<Lines> lines = std::make_shared<Lines>();

 private:
  int in_[2] = {-1, -1};
  std::unique_ptr<McpServer> server_;
  std::thread runner_;
  int rc_ = -1;
};

inline json Req(const json& id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

// params with the 2026-07-28 _meta: that version, and capabilities.
inline json Modern(json params = json::object(), json capabilities = json::object()) {
  params["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2026-07-28";
  params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = std::move(capabilities);
  return params;
}

inline json TasksExtension() {
  return {{"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}};
}

inline int ErrorCode(const json& response) { return response.at("error").at("code").get<int>(); }

}  // namespace bim::ctl::mcp_test
