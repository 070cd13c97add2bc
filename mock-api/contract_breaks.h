#pragma once
// The mock's deliberate contract breaks (--break), so that backend-im-contract-test can be
// shown to catch a platform that drifts from docs/API_CONTRACTS.md: a renamed field, statuses
// out of order, a commit hash made by another rule. With no --break every method is the
// identity (or the contract's own rule), so the mock's normal behaviour does not change.
//
// Stateless apart from a reference to the options, which must outlive it; safe from any
// thread.

#include <string>
#include <vector>

#include "common/contract.h"
#include "mock-api/mock_options.h"

namespace bim::mock {

class ContractBreaks {
 public:
  explicit ContractBreaks(const MockOptions& options) : options_(options) {}

  // The JSON of a deploy answer, a status answer or a stage message as it goes on the wire:
  // with rename-field, its "commitHash" is called "commit_hash".
  std::string Wire(std::string json) const;
  // The stages a deployment passes: with status-order, health_check comes before deploying.
  std::vector<contract::Stage> Plan(std::vector<contract::Stage> plan) const;
  // The commit hash of an upload: with commit-hash, the rule run over the paths in reverse
  // byte-wise order instead of ascending.
  std::string CommitHash(const contract::FileMap& files) const;

 private:
  const MockOptions& options_;
};

}  // namespace bim::mock
