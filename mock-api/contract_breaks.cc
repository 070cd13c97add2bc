#include "mock-api/contract_breaks.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/commit_hash.h"

namespace bim::mock {

std::string ContractBreaks::Wire(std::string json) const {
  if (!options_.break_rename_field) return json;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("commitHash")) return json;
  j["commit_hash"] = j["commitHash"];
  j.erase("commitHash");
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<contract::Stage> ContractBreaks::Plan(std::vector<contract::Stage> plan) const {
  if (!options_.break_status_order) return plan;
  auto deploying = std::find(plan.begin(), plan.end(), contract::Stage::kDeploying);
  auto health = std::find(plan.begin(), plan.end(), contract::Stage::kHealthCheck);
  if (deploying != plan.end() && health != plan.end()) std::iter_swap(deploying, health);
  return plan;
}

std::string ContractBreaks::CommitHash(const contract::FileMap& files) const {
  if (!options_.break_commit_hash) return bim::CommitHash(files);
  std::string data;
  for (auto it = files.rbegin(); it != files.rend(); ++it) data += it->first + it->second;
  return Sha256Hex(data).substr(0, 12);
}

}  // namespace bim::mock
