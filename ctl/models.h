#pragma once
// The models of what the ctl shows, shared by `--json` and MCP's structuredContent: one JSON
// shape per thing (a deployment, an event, the login, an operation's outcome), so a script and
// an assistant read the same fields. Fields without a value are left out, never null (one JSON
// type per field).

#include <nlohmann/json.hpp>

#include "backend_im/v1/agent.pb.h"
#include "ctl/operations.h"

namespace bim::ctl {

// ---- the one model of a deployment ----
// Field names shared by `--json` and MCP's structuredContent. Fields without a value are left
// out, never null (one JSON type per field): url until complete, directory when unknown,
// streamProblem when the stream is healthy.
//   deploymentId projectId commitHash status terminal createdAt updatedAt lastSeq restorable
//   url? directory? streamProblem? logs? logsTruncated? restoredOf?
nlohmann::json DeploymentModel(const backend_im::v1::Deployment& d);
// Its JSON Schema (every field above; logs and logsTruncated optional).
nlohmann::json DeploymentModelSchema();
//   deploymentId seq status logs terminal source receivedAt url?
nlohmann::json EventModel(const backend_im::v1::DeploymentEvent& e);
//   loggedIn apiUrl canRefresh? verified? source? userId? email? expiresAt?
nlohmann::json AuthModel(const backend_im::v1::AuthStatusReply& a);

//   directory projectId? files[{path, bytes}] written unchanged
nlohmann::json GenerateModel(const GenerateOutcome& g);
//   deploymentId directory files[{path, bytes}] written unchanged
nlohmann::json RestoreModel(const RestoreOutcome& r);
//   from to same files[{path, change, binary}] diff
nlohmann::json DiffModel(const DiffOutcome& d);
//   DeploymentModel's fields, and fileCount totalBytes skipped[{path, reason}]
nlohmann::json DeployModel(const DeployOutcome& d);

}  // namespace bim::ctl
