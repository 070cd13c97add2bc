#pragma once
// Watches one deployment to its end the two ways the contract offers, at the same time: one
// WebSocket (/ws?deploymentId=) read as messages arrive, and GET /api/status/{id} every
// poll_interval. It stops when the stream has closed and a poll has shown a terminal status,
// or at deploy_timeout. A stream left open past close_grace after its terminal message is
// closed by the suite (and recorded as such). It records; the checks judge.
//
// Uses the Context's HTTP, WebSocket and clock; one thread, the caller's. Receive timeouts on
// the WebSocket are what pace the polls, so it never sleeps while a message could arrive.

#include <string>

#include "conformance/context.h"

namespace bim::conformance {

class DeploymentObserver {
 public:
  explicit DeploymentObserver(Context& ctx) : ctx_(ctx) {}

  Observation Watch(const std::string& deployment_id);

 private:
  Context& ctx_;
};

}  // namespace bim::conformance
