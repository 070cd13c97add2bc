#pragma once
// Reaching the person through the client (elicitation), in each era:
//   - Elicitation (2025-06-18 and later): the server's own requests to the client,
//     elicitation/create under ids "bim-1", "bim-2"...: {mode "url", elicitationId, url, message}
//     to send them to a web page (Open, 2025-11-25), or a form that asks them to confirm an
//     action (Confirm: {mode "form" (from 2025-11-25), message, requestedSchema}); the tool's
//     worker waits for the response, which the reading thread routes back (TakeResponse);
//   - InputRounds (2026-07-28, which has no server-to-client requests): a tools/call answers
//     resultType "input_required" with a requestState, the random id of a round kept here; the
//     client calls again with that requestState, which only the same tool with the same
//     arguments may use, once, within kInputRoundTtlMs.
// Both are thread-safe; what they are given is borrowed.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "ctl/cancel_token.h"
#include "ctl/mcp/jsonrpc.h"
#include "ctl/mcp/protocol.h"
#include "ctl/mcp/tasks.h"
#include "ctl/mcp/tool_provider.h"

namespace bim::ctl::mcp {

inline constexpr size_t kMaxInputRounds = 64;                // kept requestStates
inline constexpr int64_t kInputRoundTtlMs = 15 * 60 * 1000;  // how long one stays valid

class Elicitation {
 public:
  Elicitation(MessageWriter& writer, TaskStore& tasks) : writer_(writer), tasks_(tasks) {}

  // Asks the client to offer url to the person with message, and waits for its answer, or for
  // cancel (which the end of the server also sets). For a task's tool (task_id not empty) the
  // request carries the related-task _meta and the task shows input_required meanwhile.
  // elicitation_id receives the id the request carried, for Completed().
  McpToolCall::UrlAnswer Open(const std::string& url, const std::string& message,
                              const std::string& task_id, const CancelToken& cancel,
                              std::string& elicitation_id);
  // Asks the client to show message with a form of one boolean, confirm, and waits for the
  // answer as Open does (a task shows input_required meanwhile). version: the call's, which
  // decides whether the request names its mode.
  McpToolCall::ConfirmAnswer Confirm(const std::string& message, const std::string& version,
                                     const std::string& task_id, const CancelToken& cancel);
  // notifications/elicitation/complete: the page's flow is done.
  void Completed(const std::string& elicitation_id);
  // The response to a request of ours; false when no request of ours waits for its id.
  bool TakeResponse(const nlohmann::json& response);

 private:
  struct Outgoing {
    bool answered = false;
    nlohmann::json response;
  };
  // Sends elicitation/create with params (for a task's tool, with its related-task _meta while
  // the task shows input_required with message, then resumed with resumed) and waits for the
  // response: null when cancelled first. what says in the log what is asked.
  nlohmann::json Ask(nlohmann::json params, const std::string& what, const std::string& message,
                     const std::string& resumed, const std::string& task_id,
                     const CancelToken& cancel);
  // The result of the client's response, or nullopt (logged) when it answered with an error.
  static std::optional<nlohmann::json> ResultOf(const nlohmann::json& response);
  // Waits for the response to the request keyed key: null when cancelled first.
  nlohmann::json Wait(const std::string& key, const CancelToken& cancel);

  MessageWriter& writer_;
  TaskStore& tasks_;
  std::mutex mu_;
  std::condition_variable answered_cv_;      // with mu_: a response to ours arrived
  std::map<std::string, Outgoing> pending_;  // guarded by mu_; by id, dumped
  int64_t next_id_ = 1;                      // guarded by mu_
};

class InputRounds {
 public:
  InputRounds(const Clock& clock, const McpServerInfo& info) : clock_(clock), info_(info) {}

  // The input_required answer to a call of tool with arguments whose result asks for input
  // (input_requests set): the result's input_state is kept under a new requestState. When
  // kMaxInputRounds are kept, the one closest to expiring makes room.
  nlohmann::json InputRequired(const std::string& tool, const nlohmann::json& arguments,
                               const McpToolResult& result);
  // The input_state kept under request_state for this tool and arguments, which uses it up;
  // nullopt when there is none (never given, given for another call, used, or expired).
  std::optional<nlohmann::json> Take(const nlohmann::json& request_state, const std::string& tool,
                                     const nlohmann::json& arguments);

 private:
  struct Round {
    std::string tool;
    std::string arguments;  // dumped
    nlohmann::json state;   // the tool's input_state
    int64_t expires_ms = 0;
  };

  const Clock& clock_;
  const McpServerInfo& info_;
  std::mutex mu_;
  std::map<std::string, Round> rounds_;  // guarded by mu_; by requestState
};

}  // namespace bim::ctl::mcp
