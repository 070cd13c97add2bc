#include "ctl/mcp/elicitation.h"

#include <algorithm>
#include <chrono>
#include <iterator>

#include "common/log.h"
#include "ctl/output.h"

namespace bim::ctl::mcp {

using nlohmann::json;

json Elicitation::Ask(json params, const std::string& what, const std::string& message,
                      const std::string& resumed, const std::string& task_id,
                      const CancelToken& cancel) {
  json id;
  {
    std::lock_guard lock(mu_);
    id = fmt::format("bim-{}", next_id_++);
    pending_[id.dump()] = Outgoing{};
  }
  if (!task_id.empty()) {
    params["_meta"][kRelatedTaskKey] = {{"taskId", task_id}};
    tasks_.AwaitInput(task_id, message);
  }
  log::Info("mcp: {} (request {})", what, id.dump());
  writer_.Send(
      json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "elicitation/create"}, {"params", params}});
  json response = Wait(id.dump(), cancel);
  if (!task_id.empty()) tasks_.Resume(task_id, resumed);
  if (response.is_null()) {  // cancelled before the client answered: it may close its prompt
    writer_.Send(Notification("notifications/cancelled",
                              {{"requestId", id}, {"reason", "the tool call was cancelled"}}));
    return response;
  }
  if (auto result = ResultOf(response); result) {
    const json action = result->is_object() ? result->value("action", json()) : json();
    log::Info("mcp: the client answered {} to request {}",
              action.is_string() ? action.get<std::string>() : "?", id.dump());
  }
  return response;
}

std::optional<json> Elicitation::ResultOf(const json& response) {
  if (auto e = response.find("error"); e != response.end()) {
    log::Warn("mcp: the client could not ask the person: {}",
              e->is_object() ? e->value("message", Dump(*e)) : Dump(*e));
    return std::nullopt;
  }
  return response.value("result", json::object());
}

McpToolCall::UrlAnswer Elicitation::Open(const std::string& url, const std::string& message,
                                         const std::string& task_id, const CancelToken& cancel,
                                         std::string& elicitation_id) {
  using Answer = McpToolCall::UrlAnswer;
  elicitation_id = NewRandomId();
  json params{
      {"mode", "url"}, {"elicitationId", elicitation_id}, {"url", url}, {"message", message}};
  json response = Ask(std::move(params), "asking the client to open " + url, message,
                      "waiting for the login to be approved", task_id, cancel);
  if (response.is_null()) return Answer::kCancel;
  const auto result = ResultOf(response);
  if (!result) return Answer::kFailed;
  const std::string action =
      result->is_object() && result->contains("action") && (*result)["action"].is_string()
          ? (*result)["action"].get<std::string>()
          : "";
  if (action == "accept") return Answer::kAccept;
  if (action == "decline") return Answer::kDecline;
  if (action == "cancel") return Answer::kCancel;
  return Answer::kFailed;
}

McpToolCall::ConfirmAnswer Elicitation::Confirm(const std::string& message,
                                                const std::string& version,
                                                const std::string& task_id,
                                                const CancelToken& cancel) {
  json response = Ask(ConfirmFormParams(message, AtLeast(version, "2025-11-25")),
                      "asking the person to confirm", message, "confirmed", task_id, cancel);
  if (response.is_null()) return McpToolCall::ConfirmAnswer::kRefused;
  const auto result = ResultOf(response);
  if (!result) return McpToolCall::ConfirmAnswer::kFailed;
  return ConfirmAnswerOf(*result);
}

json Elicitation::Wait(const std::string& key, const CancelToken& cancel) {
  std::unique_lock lock(mu_);
  // The client answers when the person has; a cancel of the call or the end of the server
  // (which cancels every call) stops the wait. A cancel comes with no notification to this
  // condition variable, hence the bounded waits.
  while (!pending_[key].answered && !cancel.cancelled()) {
    answered_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  json response = std::move(pending_[key].response);
  pending_.erase(key);
  return response;
}

void Elicitation::Completed(const std::string& elicitation_id) {
  writer_.Send(
      Notification("notifications/elicitation/complete", {{"elicitationId", elicitation_id}}));
}

bool Elicitation::TakeResponse(const json& response) {
  auto id = response.find("id");
  if (id == response.end() || !ValidId(*id)) return false;
  std::lock_guard lock(mu_);
  auto it = pending_.find(id->dump());
  if (it == pending_.end() || it->second.answered) return false;
  it->second.answered = true;
  it->second.response = response;
  answered_cv_.notify_all();
  return true;
}

json InputRounds::InputRequired(const std::string& tool, const json& arguments,
                                const McpToolResult& result) {
  std::string state_id = NewRandomId();
  {
    std::lock_guard lock(mu_);
    const int64_t now = clock_.NowUnixMs();
    for (auto it = rounds_.begin(); it != rounds_.end();) {
      it = it->second.expires_ms < now ? rounds_.erase(it) : std::next(it);
    }
    if (rounds_.size() >= kMaxInputRounds) {  // the oldest to expire goes
      auto oldest = std::min_element(rounds_.begin(), rounds_.end(), [](auto& a, auto& b) {
        return a.second.expires_ms < b.second.expires_ms;
      });
      rounds_.erase(oldest);
    }
    rounds_[state_id] = Round{tool, arguments.dump(), result.input_state, now + kInputRoundTtlMs};
  }
  json out = ModernResult(json::object(), info_);
  out["resultType"] = "input_required";
  if (!result.input_requests.empty()) out["inputRequests"] = result.input_requests;
  out["requestState"] = state_id;
  return out;
}

std::optional<json> InputRounds::Take(const json& request_state, const std::string& tool,
                                      const json& arguments) {
  std::lock_guard lock(mu_);
  auto round =
      request_state.is_string() ? rounds_.find(request_state.get<std::string>()) : rounds_.end();
  if (round == rounds_.end() || round->second.tool != tool ||
      round->second.arguments != arguments.dump() ||
      round->second.expires_ms < clock_.NowUnixMs()) {
    return std::nullopt;
  }
  json state = std::move(round->second.state);
  rounds_.erase(round);
  return state;
}

}  // namespace bim::ctl::mcp
