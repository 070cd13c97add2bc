#pragma once
// The models of what the ctl shows, shared by `--json` and MCP's structuredContent: one JSON
// shape per thing (a deployment, an event, the login, an operation's outcome), so a script and
// an assistant read the same fields. Fields without a value are left out, never null (one JSON
// type per field).

#include <nlohmann/json.hpp>

#include "backend_im/v1/agent.pb.h"
#include "ctl/operations.h"

namespace bim::ctl {

// Each model has its JSON Schema beside it (XModelSchema), the shape that `--json` prints and
// that the operations' catalog (ctl/operation_specs.h) gives both front ends.

// ---- the one model of a deployment ----
// Field names shared by `--json` and MCP's structuredContent. Fields without a value are left
// out, never null (one JSON type per field): url until complete, directory when unknown,
// streamProblem when the stream is healthy.
//   deploymentId projectId commitHash status terminal createdAt updatedAt lastSeq restorable
//   url? directory? streamProblem? logs? logsTruncated? restoredOf? environment? promotedOf?
nlohmann::json DeploymentModel(const backend_im::v1::Deployment& d);
nlohmann::json DeploymentModelSchema();
//   deploymentId seq status logs terminal source receivedAt url?
nlohmann::json EventModel(const backend_im::v1::DeploymentEvent& e);
nlohmann::json EventModelSchema();
// A device login's page and code:
//   verificationUri userCode expiresInSeconds verificationUriComplete?
nlohmann::json LoginCodeModel(const backend_im::v1::LoginStartReply& s);
nlohmann::json LoginCodeModelSchema();
// Where a device login stands:
//   state (pending, approved, denied, expired, failed) message loggedIn email?
nlohmann::json LoginCheckModel(const backend_im::v1::LoginCheckReply& r);
nlohmann::json LoginCheckModelSchema();
//   loggedIn apiUrl canRefresh? verified? source? userId? email? expiresAt?
nlohmann::json AuthModel(const backend_im::v1::AuthStatusReply& a);
nlohmann::json AuthModelSchema();

//   directory projectId? files[{path, bytes}] written unchanged
nlohmann::json GenerateModel(const GenerateOutcome& g);
nlohmann::json GenerateModelSchema();
//   deploymentId directory files[{path, bytes}] written unchanged
nlohmann::json RestoreModel(const RestoreOutcome& r);
nlohmann::json RestoreModelSchema();
//   from to same files[{path, change, binary}] diff
nlohmann::json DiffModel(const DiffOutcome& d);
nlohmann::json DiffModelSchema();
//   DeploymentModel's fields, and fileCount totalBytes skipped[{path, reason}]
nlohmann::json DeployModel(const DeployOutcome& d);
nlohmann::json DeployModelSchema();
// What `deploy --dry-run` would upload, and how that differs from the project's last deployment
// (`against`), when there is one to compare with:
//   files[{path, bytes}] skipped[{path, reason}] fileCount totalBytes
//   changes?{against, added[], changed[], removed[]}
nlohmann::json DryRunModel(const ProjectSnapshot& snap, const std::optional<TreeDiff>& changes,
                           const std::string& against);
nlohmann::json DryRunModelSchema();

// ---- environments and variables: never a value, but in `env ls --show-values` ----
//   projectId environments[{name, variables, deploymentId?, url?}]
nlohmann::json EnvironmentsModel(const backend_im::v1::ListEnvironmentsReply& r);
nlohmann::json EnvironmentsModelSchema();
// An environment added or removed, a variable set or unset:
//   projectId environment key?
nlohmann::json ChangeModel(const EnvironmentChange& c);
nlohmann::json ChangeModelSchema();
// One environment's variables; value only when with_values and the platform gave it:
//   projectId environment variables[{key, value?}]
nlohmann::json VariablesModel(const backend_im::v1::ListVariablesReply& r, bool with_values);
nlohmann::json VariablesModelSchema();
// A dotenv file pulled or imported: its keys, never their values:
//   projectId environment file keys[] expanded?[]
nlohmann::json VariableFileModel(const VariableFileOutcome& f);
nlohmann::json VariableFileModelSchema();

// ---- custom domains ----
// A domain and the records it needs; with lookups (verify), what the agent's own lookup found:
//   domain projectId environment dns certificate checkedAt? detail?
//   records[{type, name, value, found[], ok?, agentFound?[], agentOk?, agentError?}]
nlohmann::json DomainModel(const backend_im::v1::Domain& d, bool with_lookups = false);
nlohmann::json DomainModelSchema();
//   projectId domains[domain...]
nlohmann::json DomainsModel(const backend_im::v1::ListDomainsReply& r);
nlohmann::json DomainsModelSchema();
// A verify: the domain with lookups, and whether it is valid, where the agent asked, and what
// to do about each record that is not there yet:
//   ...domain valid resolver? advice[]
nlohmann::json DomainVerifyModel(const backend_im::v1::VerifyDomainReply& r);
nlohmann::json DomainVerifyModelSchema();
// What a person has to do about each record that the platform did not find as asked, one
// sentence each (empty when none).
std::vector<std::string> DomainAdvice(const backend_im::v1::Domain& d);
//   projectId domain
nlohmann::json DomainChangeModel(const DomainChange& c);
nlohmann::json DomainChangeModelSchema();
// ---- runtime logs ----
// One line an app printed; a follow's skipped lines and its end (each names its deployment):
//   deploymentId seq timestamp level source text
//   deploymentId skipped
//   deploymentId end
nlohmann::json LogLineModel(const backend_im::v1::LogLine& l, const std::string& deployment_id);
nlohmann::json LogLineModelSchema();
nlohmann::json LogSkippedModel(int64_t count, const std::string& deployment_id);
nlohmann::json LogSkippedModelSchema();
nlohmann::json LogEndModel(const std::string& reason, const std::string& deployment_id);
nlohmann::json LogEndModelSchema();
// get_logs' result (an assistant's): the deployment, how it was chosen, the lines, whether the
// caps cut them; for a failed deployment, its failure and the app's last error lines:
//   deploymentId status chosen? lines[] cut linesLeftOut failure?{status logs[]} errors?[]
nlohmann::json LogsReportModel(const LogsReport& r);
nlohmann::json LogsReportModelSchema();

}  // namespace bim::ctl
