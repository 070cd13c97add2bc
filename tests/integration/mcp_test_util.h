#pragma once
// Driving `backend-im mcp` as an MCP client would: a child process with pipes on both ends,
// raw JSON-RPC lines in, one JSON message per line out. The harness's Process sends stdin once
// and reads output from files, which a conversation cannot use, hence this helper.
//
// McpSession is used from the test's thread only. Every line the server prints on stdout is
// kept (lines()); a line that is not a JSON-RPC 2.0 message is recorded in stray() so tests
// can prove that stdout carries protocol messages only. stderr goes to a file (Stderr()).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/agent_fixture.h"
#include "tests/support/harness.h"
#include "tests/support/json_schema_check.h"

extern char** environ;

namespace bim::test {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class McpSession {
 public:
  // Starts `backend-im mcp` (plus extra args) with options' environment and working folder.
  explicit McpSession(const ProcessOptions& options, std::vector<std::string> extra = {}) {
    ::signal(SIGPIPE, SIG_IGN);  // a server that died must fail the test, not kill it
    int in[2], out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::string err_path = io_ / "stderr";
    err_path_ = err_path;

    std::vector<std::string> argv = {CtlBinary(), "mcp"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<std::string> env_strings = ChildEnvironment(options);
    std::vector<char*> c_argv, c_env;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    for (auto& e : env_strings) c_env.push_back(e.data());
    c_env.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
    int rc = ::posix_spawn(&pid_, c_argv[0], &fa, nullptr, c_argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0] << ": " << std::strerror(rc));
    to_server_ = in[1];
    from_server_ = out[0];
  }

  ~McpSession() {
    CloseInput();
    if (pid_ > 0 && !exit_code_) {
      if (!Wait(seconds(5))) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
      }
    }
    if (from_server_ >= 0) ::close(from_server_);
  }

  McpSession(const McpSession&) = delete;
  McpSession& operator=(const McpSession&) = delete;

  int pid() const { return pid_; }

  // Writes one raw line (a newline is added).
  void SendLine(const std::string& line) {
    REQUIRE(to_server_ >= 0);
    std::string data = line + "\n";
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(to_server_, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      REQUIRE_MESSAGE(n > 0, "the server stopped reading: " << std::strerror(errno));
      off += static_cast<size_t>(n);
    }
  }
  void Send(const json& message) { SendLine(message.dump()); }

  void Notify(const std::string& method, json params = json::object()) {
    Send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

  // Sends a request with a fresh integer id; returns the id.
  int64_t SendRequest(const std::string& method, json params = json::object()) {
    int64_t id = next_id_++;
    Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }

  // The next message not yet taken, or nullopt at the deadline / end of output.
  std::optional<json> Next(milliseconds timeout = seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pending_.empty()) {
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !ReadSome(left)) return std::nullopt;
    }
    json m = pending_.front();
    pending_.pop_front();
    return m;
  }

  // The response to id: taken from others() if an earlier wait skipped over it, else waited
  // for; every other message meanwhile goes to others().
  std::optional<json> Response(const json& id, milliseconds timeout = seconds(30)) {
    for (auto it = others_.begin(); it != others_.end(); ++it) {
      if (it->contains("id") && (*it)["id"] == id && !it->contains("method")) {
        json m = *it;
        others_.erase(it);
        return m;
      }
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      auto m = Next(std::max(left, milliseconds(0)));
      if (!m) return std::nullopt;
      if (m->contains("id") && (*m)["id"] == id && !m->contains("method")) return m;
      others_.push_back(*m);
    }
  }

  // Returns once the server has read every line sent before: it reads its input in order, and
  // answers a ping on the reading thread (with an error where ping is not served, but answers).
  void WaitUntilRead() { Call("ping"); }

  // Sends a request and returns its response (REQUIREs that one comes).
  json Call(const std::string& method, json params = json::object(),
            milliseconds timeout = seconds(30)) {
    int64_t id = SendRequest(method, std::move(params));
    auto r = Response(id, timeout);
    REQUIRE_MESSAGE(r.has_value(), "no response to " << method << "; stderr:\n" << Stderr());
    return *r;
  }

  // tools/call; returns the `result` (REQUIREs a result, not a JSON-RPC error).
  json CallTool(const std::string& name, json arguments = json::object(), json meta = nullptr,
                milliseconds timeout = seconds(60)) {
    json params{{"name", name}, {"arguments", std::move(arguments)}};
    if (!meta.is_null()) params["_meta"] = std::move(meta);
    json r = Call("tools/call", std::move(params), timeout);
    REQUIRE_MESSAGE(r.contains("result"), r.dump());
    return r["result"];
  }

  // initialize + notifications/initialized; returns the initialize result.
  json Initialize(const std::string& version = "2025-06-18", json capabilities = json::object()) {
    json r =
        Call("initialize", {{"protocolVersion", version},
                            {"capabilities", std::move(capabilities)},
                            {"clientInfo", {{"name", "mcp-protocol-test"}, {"version", "1.0"}}}});
    REQUIRE_MESSAGE(r.contains("result"), r.dump());
    Notify("notifications/initialized");
    return r["result"];
  }

  // Everything read so far (messages taken or not), in order.
  const std::vector<json>& lines() const { return all_; }
  // Messages skipped over by Response() (notifications, other responses).
  std::vector<json>& others() { return others_; }
  // stdout lines that were not JSON-RPC 2.0 messages.
  const std::vector<std::string>& stray() const { return stray_; }

  void CloseInput() {
    if (to_server_ >= 0) ::close(to_server_);
    to_server_ = -1;
  }

  // The exit code once the server ended, or nullopt at the deadline.
  std::optional<int> Wait(milliseconds timeout) {
    if (exit_code_) return exit_code_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  bool Running() { return !Wait(milliseconds(0)).has_value(); }
  std::string Stderr() const { return ReadFile(err_path_); }

 private:
  // Reads what is there (waiting up to timeout); false at the deadline or end of output.
  bool ReadSome(milliseconds timeout) {
    pollfd p{from_server_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return false;
    char buf[65536];
    ssize_t got = ::read(from_server_, buf, sizeof buf);
    if (got <= 0) return false;
    partial_.append(buf, static_cast<size_t>(got));
    for (size_t nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
      std::string line = partial_.substr(0, nl);
      partial_.erase(0, nl + 1);
      json m = json::parse(line, nullptr, false);
      if (m.is_discarded() || !(m.is_object() || m.is_array()) ||
          (m.is_object() && m.value("jsonrpc", "") != "2.0")) {
        stray_.push_back(line);
        continue;
      }
      all_.push_back(m);
      pending_.push_back(m);
    }
    return true;
  }

  TempDir io_;
  std::string err_path_;
  pid_t pid_ = -1;
  int to_server_ = -1;
  int from_server_ = -1;
  std::optional<int> exit_code_;
  int64_t next_id_ = 1;
  std::string partial_;
  std::deque<json> pending_;
  std::vector<json> all_;
  std::vector<json> others_;
  std::vector<std::string> stray_;
};

// An agent logged in with the mock's token, the mock's stages stage_delay_ms apart.
struct LoggedInAgent : AgentFixture {
  explicit LoggedInAgent(const char* stage_delay_ms)
      : AgentFixture({"--token", "dev-token", "--stage-delay-ms", stage_delay_ms}) {
    LoginWithToken();
  }
};

// Such an agent and an MCP server session for it, not yet initialized.
struct AgentWithSession {
  explicit AgentWithSession(const char* stage_delay_ms) : f(stage_delay_ms) {}
  LoggedInAgent f;
  McpSession s{f.Options()};
};

const char* const kRelatedTask = "io.modelcontextprotocol/related-task";

// The 2026-07-28 envelope every modern request carries in params._meta; extra_caps are merged
// into its clientCapabilities.
inline json ModernMeta(bool with_tasks = true, const std::string& version = "2026-07-28",
                       const json& extra_caps = json::object()) {
  json caps = extra_caps;
  if (with_tasks) caps["extensions"] = {{"io.modelcontextprotocol/tasks", json::object()}};
  return {
      {"io.modelcontextprotocol/protocolVersion", version},
      {"io.modelcontextprotocol/clientCapabilities", caps},
      {"io.modelcontextprotocol/clientInfo", {{"name", "mcp-protocol-test"}, {"version", "1"}}}};
}

inline json ModernParams(json params = json::object(), bool with_tasks = true) {
  params["_meta"] = ModernMeta(with_tasks);
  return params;
}

// The text of a tool result's first content block.
inline std::string ResultText(const json& result) {
  if (!result.contains("content") || result["content"].empty()) return "";
  return result["content"][0].value("text", "");
}

inline bool IsErrorResult(const json& result) { return result.value("isError", false); }

// A JSON-RPC error response's code, or 0.
inline int ErrorCodeOf(const json& response) {
  if (!response.contains("error")) return 0;
  return response["error"].value("code", 0);
}

// Requests the mock platform has served so far, one line each in its request log; the log folds
// a line repeated at once into "(the previous message came N more times)", which counts too.
inline int PlatformRequests(MockPlatform& mock) {
  const std::string log = mock.Log();
  const std::string folded = "(the previous message came ";
  int count = 0;
  bool last = false;  // whether the line before was a platform request
  for (size_t at = 0, nl; at < log.size(); at = nl + 1) {
    nl = log.find('\n', at);
    if (nl == std::string::npos) nl = log.size();
    const std::string line = log.substr(at, nl - at);
    if (auto f = line.find(folded); f != std::string::npos) {
      if (last) count += std::atoi(line.c_str() + f + folded.size());
      continue;
    }
    last = line.find(" /api/") != std::string::npos || line.find(" /ws") != std::string::npos ||
           line.find(" /oauth/") != std::string::npos;
    count += last ? 1 : 0;
  }
  return count;
}

// PlatformRequests once every request the mock answered so far is in its log: it logs a request
// after answering it, so a count taken right after a call may miss that call's line. The mock
// serves and logs one request at a time on its one thread, so once a request of ours to a path
// of its own (never folded into the line before) shows in the log, so does every request
// answered before it.
inline int SettledPlatformRequests(MockPlatform& mock) {
  static int probes = 0;
  const std::string probe = "/mock/settled-" + std::to_string(++probes);
  REQUIRE(HttpRequest("GET", mock.http_url() + probe).status != 0);
  REQUIRE(WaitUntil([&] { return CountOf(mock.Log(), " " + probe + " ") == 1; }, seconds(10)));
  return PlatformRequests(mock);
}

// Places in a JSON document that hold null, e.g. "$.url".
inline void NullsIn(const json& value, const std::string& where, std::vector<std::string>& out) {
  if (value.is_null()) out.push_back(where);
  if (value.is_object()) {
    for (const auto& [key, v] : value.items()) NullsIn(v, where + "." + key, out);
  }
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      NullsIn(value[i], where + "[" + std::to_string(i) + "]", out);
  }
}

// Where a schema gives "type" as a list (e.g. ["string", "null"]). Valid JSON Schema, but
// clients and validators that take one type per field (the MCP Inspector's strict mode warns
// about it) handle it badly; an optional field says the same portably.
inline void ListTypesIn(const json& schema, const std::string& where,
                        std::vector<std::string>& out) {
  if (schema.is_object()) {
    for (const auto& [key, v] : schema.items()) {
      if (key == "type" && v.is_array()) out.push_back(where + ": " + v.dump());
      ListTypesIn(v, where + "." + key, out);
    }
  }
  if (schema.is_array()) {
    for (size_t i = 0; i < schema.size(); ++i) {
      ListTypesIn(schema[i], where + "[" + std::to_string(i) + "]", out);
    }
  }
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace bim::test
