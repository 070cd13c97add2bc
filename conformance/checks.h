#pragma once
// The catalog of conformance checks, grouped by what they look at, and all of them in the order
// a run takes them (AllChecks). Every id is unique and stable: reports, tests and people refer
// to checks by id. Ids under "ext." are the contract's optional extensions: their absence is
// not-supported, never a failure.

#include <vector>

#include "conformance/check.h"

namespace bim::conformance {

// auth.*, status.unknown_id, ws.unknown_id, errors.bad_body.*: nothing is created.
std::vector<Check> AuthAndErrorChecks();
// device.*: the RFC 8628 device flow's answers and error codes; nothing is created.
std::vector<Check> DeviceFlowChecks();
// generate.*, deploy.*: the generator, and the one sample deployment's answer.
std::vector<Check> DeployChecks();
// ws.*, status.*, deploy.completes, ext.seq, ext.since, ext.status_seq, ext.ws_auth: the sample
// deployment watched to its end.
std::vector<Check> StreamChecks();
// ext.idempotency_*, errors.deploy_validation, deploy.unsafe_paths: requests that may create a
// deployment on a platform that breaks the contract.
std::vector<Check> RetryAndValidationChecks();
// ext.environments*: environments, variables and promote in the run's own project; the writing
// ones make an environment, set a variable, deploy and promote to it, and remove it.
std::vector<Check> EnvironmentChecks();
// ext.domains*: custom domains in the run's own project; the writing ones add a domain, read,
// verify and remove it. They cannot publish DNS records, so they judge pending domains only.
std::vector<Check> DomainChecks();
// ext.logs*: runtime logs, read from the sample deployment by page and by stream; they create
// nothing but the sample deployment.
std::vector<Check> LogChecks();
// ext.refresh_token: needs the tokens of --device-login.
std::vector<Check> RefreshChecks();
// ext.error_body, ext.www_authenticate, ext.retry_after: judged over every answer of the run,
// so they come last.
std::vector<Check> WholeRunChecks();

std::vector<Check> AllChecks();

}  // namespace bim::conformance
