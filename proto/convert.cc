#include "proto/convert.h"

namespace bim::proto {
namespace pb = backend_im::v1;

namespace {

std::optional<contract::Stage> FromProto(pb::Stage stage, const std::string& status) {
  switch (stage) {
    case pb::STAGE_QUEUED:
      return contract::Stage::kQueued;
    case pb::STAGE_COMMITTING:
      return contract::Stage::kCommitting;
    case pb::STAGE_CREATING_NAMESPACE:
      return contract::Stage::kCreatingNamespace;
    case pb::STAGE_CREATING_PVC:
      return contract::Stage::kCreatingPvc;
    case pb::STAGE_BUILDING:
      return contract::Stage::kBuilding;
    case pb::STAGE_DEPLOYING:
      return contract::Stage::kDeploying;
    case pb::STAGE_HEALTH_CHECK:
      return contract::Stage::kHealthCheck;
    case pb::STAGE_COMPLETE:
      return contract::Stage::kComplete;
    case pb::STAGE_FAILED:
      return contract::Stage::kFailed;
    default:
      return contract::ParseStage(status);
  }
}

}  // namespace

pb::Stage ToProto(contract::Stage stage) {
  switch (stage) {
    case contract::Stage::kQueued:
      return pb::STAGE_QUEUED;
    case contract::Stage::kCommitting:
      return pb::STAGE_COMMITTING;
    case contract::Stage::kCreatingNamespace:
      return pb::STAGE_CREATING_NAMESPACE;
    case contract::Stage::kCreatingPvc:
      return pb::STAGE_CREATING_PVC;
    case contract::Stage::kBuilding:
      return pb::STAGE_BUILDING;
    case contract::Stage::kDeploying:
      return pb::STAGE_DEPLOYING;
    case contract::Stage::kHealthCheck:
      return pb::STAGE_HEALTH_CHECK;
    case contract::Stage::kComplete:
      return pb::STAGE_COMPLETE;
    case contract::Stage::kFailed:
      return pb::STAGE_FAILED;
  }
  return pb::STAGE_UNSPECIFIED;
}

void ToProto(const contract::StageEvent& event, pb::DeploymentEvent* out) {
  out->set_stage(ToProto(event.status));
  out->set_status(std::string(contract::StageName(event.status)));
  for (const auto& l : event.logs) out->add_logs(l);
  out->set_url(event.url.value_or(""));
}

std::optional<contract::Stage> StageOf(const pb::DeploymentEvent& event) {
  return FromProto(event.stage(), event.status());
}

std::optional<contract::Stage> StageOf(const pb::Deployment& deployment) {
  return FromProto(deployment.stage(), deployment.status());
}

}  // namespace bim::proto
