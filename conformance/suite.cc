#include "conformance/suite.h"

#include <exception>

namespace bim::conformance {

bool Suite::Selected(const std::string& id, const std::vector<std::string>& only) {
  if (only.empty()) return true;
  for (const auto& prefix : only) {
    if (id.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

Report Suite::Run(Context& ctx) const {
  const SuiteOptions& o = ctx.options();
  Report report(o.api_url, o.label, o.read_only);
  for (const Check& check : checks_) {
    if (!Selected(check.id, o.only)) continue;
    CheckResult result;
    if (check.creates && o.read_only) {
      result = Skipped(
          "--read-only: this check creates or changes something on the platform (a deployment, "
          "an environment) or runs the generator");
    } else if (check.needs_token && !ctx.has_token()) {
      result = Skipped("no token: pass --token or --device-login");
    } else {
      try {
        result = check.run(ctx);
      } catch (const std::exception& e) {
        result = Fail(std::string("the check could not finish: ") + e.what());
      }
    }
    ctx.Progress(check.id + ": " + std::string(OutcomeName(result.outcome)));
    report.Add(check, std::move(result));
  }
  ctx.CleanUp();
  report.SetCreatedDeployments(ctx.created_deployments());
  return report;
}

}  // namespace bim::conformance
