#pragma once
// The seam between the MCP protocol (McpServer: framing, lifecycle, threads) and what the tools
// do (McpTools: the agent over gRPC, the local files). The server calls CallTool on a worker
// thread of its own, one per tools/call, possibly several at once, so an implementation must
// be safe to call concurrently. ListTools and HasTool are called from the reading thread.
//
// Argument validation belongs to the provider: a bad argument is a tool result with is_error
// set and a message that names the argument, so the model can correct itself. Only a tool name
// that HasTool rejects is a protocol error (JSON-RPC -32602), decided by the server.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "ctl/cancel_token.h"

namespace bim::ctl {

// One tools/call in progress, as the provider sees it.
struct McpToolCall {
  std::string protocol_version;  // the negotiated one, e.g. "2025-06-18"
  // Reports progress (notifications/progress) when the request asked for it; a no-op
  // otherwise. progress must grow from one report to the next; total <= 0 means unknown.
  std::function<void(double progress, double total, const std::string& message)> progress;
  CancelToken* cancel = nullptr;  // never null while CallTool runs
  // The call runs as a task (2025-11-25 `params.task`, or the 2026-07-28 tasks extension): the
  // client is not waiting on the request, so a tool may go on until its work is really done
  // (deploy then follows the deployment to its end). Only for tools whose ListTools entry
  // declares execution.taskSupport.
  bool as_task = false;

  // Sending the person to a web page through the client (URL-mode elicitation), for a step only
  // they can do, such as approving a login. Two forms, by era; at most one is available.
  //
  // 2025-11-25 (elicitation/create, a request to the client): open_url asks the client to
  // offer url to the person with message, and blocks until the client answers, the call is
  // cancelled or the server stops. Empty when the client did not declare elicitation.url.
  // url_done then tells the client the page's flow has finished
  // (notifications/elicitation/complete); call it only after an accepted open_url.
  enum class UrlAnswer { kAccept, kDecline, kCancel, kFailed };
  std::function<UrlAnswer(const std::string& url, const std::string& message)> open_url;
  std::function<void()> url_done;
  //
  // 2026-07-28 (multi-round trip): the server cannot send requests; a tool returns an
  // McpToolResult with input_requests instead, and the client calls the tool again with the
  // answers. can_request_url says the client declared elicitation.url on this request. On the
  // repeated call, input_state is what the tool returned as input_state last round (kept by the
  // server, never seen by the client) and input_responses the client's answers, by key; both
  // are null on a first call.
  bool can_request_url = false;
  nlohmann::json input_state;
  nlohmann::json input_responses;

  // Asking the person to confirm an action through the client (form-mode elicitation: a message
  // and one boolean, `confirm`), before a tool changes a variable or what an environment serves.
  // At most one form is available; with neither, the tool acts (its destructiveHint lets the
  // client ask).
  //
  // 2025-06-18 and later (elicitation/create): confirm shows message and blocks until the
  // client answers, the call is cancelled or the server stops: kConfirmed only for an accept
  // with confirm true; kRefused for a decline, a cancel, or confirm false; kFailed when the
  // client answered with an error. Empty when the client did not declare form elicitation.
  enum class ConfirmAnswer { kConfirmed, kRefused, kFailed };
  std::function<ConfirmAnswer(const std::string& message)> confirm;
  // 2026-07-28: the client declared form elicitation on this request; the tool asks with
  // input_requests, as for a login (not for a task, which cannot take rounds).
  bool can_request_form = false;
};

struct McpToolResult {
  bool is_error = false;
  // For a success: a JSON object that matches the tool's outputSchema (structuredContent).
  nlohmann::json structured;
  // For an error: what went wrong and what to do next, written for a model.
  std::string message;
  // 2026-07-28 only: the tool needs the person first. input_requests maps keys to the requests
  // for the client (e.g. {"login": {"method": "elicitation/create", "params": {...}}}), or is
  // an empty object when the tool only needs to be called again later; input_state is what the
  // tool wants back on that call (McpToolCall::input_state). Null for every other result.
  nlohmann::json input_requests;
  nlohmann::json input_state;
};

class McpToolProvider {
 public:
  virtual ~McpToolProvider() = default;
  // The `tools` array of a tools/list result, shaped for the negotiated protocol version. A tool
  // that can run as a task says so with execution.taskSupport when the version has tasks
  // (2025-11-25); the server reads that to know which calls it may run as tasks.
  virtual nlohmann::json ListTools(const std::string& protocol_version) const = 0;
  virtual bool HasTool(const std::string& name) const = 0;
  // arguments is a JSON object (empty when the call had none). Never throws for bad input.
  virtual McpToolResult CallTool(const std::string& name, const nlohmann::json& arguments,
                                 McpToolCall& call) = 0;
};

}  // namespace bim::ctl
