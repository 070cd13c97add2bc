#pragma once
// Between the contract's types (common/contract.h) and the agent's proto: the one place that
// knows both, so the agent's service and the ctl's presenters never copy fields one by one.
// A field added to contract::StageEvent is added to DeploymentEvent and written in ToProto.

#include <optional>

#include "backend_im/v1/agent.pb.h"
#include "common/contract.h"

namespace bim::proto {

backend_im::v1::Stage ToProto(contract::Stage stage);
// Sets the event's stage, status, logs and url (and any later field of StageEvent).
void ToProto(const contract::StageEvent& event, backend_im::v1::DeploymentEvent* out);
// Sets the deployment's stage and status (the stage's name), as the event's are set.
void SetStage(contract::Stage stage, backend_im::v1::Deployment* out);

// The stage of an event or deployment: the typed field, or, from an agent older than it, the
// status name; nullopt when neither is known.
std::optional<contract::Stage> StageOf(const backend_im::v1::DeploymentEvent& event);
std::optional<contract::Stage> StageOf(const backend_im::v1::Deployment& deployment);

}  // namespace bim::proto
