#pragma once
// Runs a list of checks against a Context, in order, into a Report. It decides what not to
// run: checks that create something under --read-only, checks that need a token when there is
// none, checks outside the --check filter (left out of the report entirely). A check that
// throws is a failure naming the exception, so one surprise cannot end the run. After the last
// check it removes what the run made and no check removed (Context::CleanUp).
//
// One thread; the Context is used for the duration of Run.

#include <vector>

#include "conformance/check.h"
#include "conformance/context.h"
#include "conformance/report.h"

namespace bim::conformance {

class Suite {
 public:
  explicit Suite(std::vector<Check> checks) : checks_(std::move(checks)) {}

  // Whether id is selected by the filter (prefixes; empty selects everything).
  static bool Selected(const std::string& id, const std::vector<std::string>& only);

  Report Run(Context& ctx) const;

 private:
  std::vector<Check> checks_;
};

}  // namespace bim::conformance
