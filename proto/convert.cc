#include "proto/convert.h"

#include <utility>

namespace bim::proto {
namespace pb = backend_im::v1;

namespace {

// Each stage of the contract and its proto value: the one table both directions read.
constexpr std::pair<contract::Stage, pb::Stage> kStages[] = {
    {contract::Stage::kQueued, pb::STAGE_QUEUED},
    {contract::Stage::kCommitting, pb::STAGE_COMMITTING},
    {contract::Stage::kCreatingNamespace, pb::STAGE_CREATING_NAMESPACE},
    {contract::Stage::kCreatingPvc, pb::STAGE_CREATING_PVC},
    {contract::Stage::kBuilding, pb::STAGE_BUILDING},
    {contract::Stage::kDeploying, pb::STAGE_DEPLOYING},
    {contract::Stage::kHealthCheck, pb::STAGE_HEALTH_CHECK},
    {contract::Stage::kComplete, pb::STAGE_COMPLETE},
    {contract::Stage::kFailed, pb::STAGE_FAILED},
};

std::optional<contract::Stage> FromProto(pb::Stage stage, const std::string& status) {
  for (const auto& [ours, theirs] : kStages) {
    if (theirs == stage) return ours;
  }
  return contract::ParseStage(status);  // STAGE_UNSPECIFIED: an agent from before the enum
}

// An event or a deployment: the typed stage, and its name for ctls older than the enum.
template <typename Message>
void SetStageOf(contract::Stage stage, Message* out) {
  out->set_stage(ToProto(stage));
  out->set_status(std::string(contract::StageName(stage)));
}

}  // namespace

pb::Stage ToProto(contract::Stage stage) {
  for (const auto& [ours, theirs] : kStages) {
    if (ours == stage) return theirs;
  }
  return pb::STAGE_UNSPECIFIED;
}

void ToProto(const contract::StageEvent& event, pb::DeploymentEvent* out) {
  SetStageOf(event.status, out);
  for (const auto& l : event.logs) out->add_logs(l);
  out->set_url(event.url.value_or(""));
}

void SetStage(contract::Stage stage, pb::Deployment* out) { SetStageOf(stage, out); }

std::optional<contract::Stage> StageOf(const pb::DeploymentEvent& event) {
  return FromProto(event.stage(), event.status());
}

std::optional<contract::Stage> StageOf(const pb::Deployment& deployment) {
  return FromProto(deployment.stage(), deployment.status());
}

}  // namespace bim::proto
