#include "conformance/checks.h"

namespace bim::conformance {

std::vector<Check> AllChecks() {
  std::vector<Check> all;
  for (auto group :
       {AuthAndErrorChecks, DeviceFlowChecks, DeployChecks, StreamChecks, RetryAndValidationChecks,
        EnvironmentChecks, DomainChecks, LogChecks, RefreshChecks, WholeRunChecks}) {
    auto checks = group();
    all.insert(all.end(), std::make_move_iterator(checks.begin()),
               std::make_move_iterator(checks.end()));
  }
  return all;
}

}  // namespace bim::conformance
