#include "conformance/deployment_observer.h"

#include <algorithm>

namespace bim::conformance {
namespace {

// Whether a body (a stage message or a status answer) names a terminal status.
bool NamesTerminal(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) return false;
  auto stage = contract::ParseStage(j["status"].get<std::string>());
  return stage && contract::IsTerminal(*stage);
}

}  // namespace

Observation DeploymentObserver::Watch(const std::string& id) {
  using std::chrono::milliseconds;
  const SuiteOptions& o = ctx_.options();
  const Clock& clock = ctx_.clock();
  Observation obs;
  obs.ws_path = ctx_.WsPath(id);

  WsAttempt ws = ctx_.OpenWs(ctx_.WsUrl(id), Auth::kToken);
  obs.ws_connected = ws.connection != nullptr;
  obs.ws_refused_status = ws.refused_status;
  obs.ws_error = ws.error;
  bool ws_done = !obs.ws_connected;
  bool poll_done = false;
  int failed_polls = 0;
  std::optional<std::chrono::steady_clock::time_point> terminal_at;

  const auto start = clock.Steady();
  const auto deadline = start + o.deploy_timeout;
  auto next_poll = start;
  for (;;) {
    auto now = clock.Steady();
    if (ws_done && poll_done) break;
    if (now >= deadline) {
      obs.timed_out = true;
      break;
    }
    if (!poll_done && now >= next_poll) {
      obs.polls.push_back(ctx_.Get("/api/status/" + contract::PercentEncode(id)));
      const Exchange& p = obs.polls.back();
      failed_polls = p.answer.status == 200 ? 0 : failed_polls + 1;
      // A status that never answers 200 would otherwise be polled until the deadline.
      if (NamesTerminal(p.answer.body) || failed_polls >= 3) poll_done = true;
      next_poll = clock.Steady() + o.poll_interval;
      continue;
    }
    auto wake = poll_done ? deadline : std::min(next_poll, deadline);
    if (ws_done) {
      ctx_.sleeper().SleepFor(std::chrono::duration_cast<milliseconds>(wake - now));
      continue;
    }
    if (terminal_at) wake = std::min(wake, *terminal_at + o.close_grace);
    auto wait = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(wake - now));
    ws::Event e = ws.connection->Receive(wait);
    if (e.kind == ws::EventKind::kMessage) {
      obs.frames.push_back(e.payload);
      if (!terminal_at && NamesTerminal(e.payload)) terminal_at = clock.Steady();
    } else if (e.kind == ws::EventKind::kClosed) {
      obs.close_code = e.close_code;
      obs.close_reason = e.payload;
      ws_done = true;
    } else if (terminal_at && clock.Steady() >= *terminal_at + o.close_grace) {
      obs.closed_by_suite = true;
      ws.connection->Close();
      ws_done = true;
    }
  }
  if (!ws_done && ws.connection) {
    obs.closed_by_suite = true;
    ws.connection->Close();
  }
  return obs;
}

}  // namespace bim::conformance
