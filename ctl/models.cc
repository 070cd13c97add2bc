#include "ctl/models.h"

#include "ctl/output.h"

namespace bim::ctl {

namespace pb = backend_im::v1;
using nlohmann::json;

// ---- the model ------------------------------------------------------------------------------

json DeploymentModel(const pb::Deployment& d) {
  json j{{"deploymentId", d.id()},
         {"projectId", d.project_id()},
         {"commitHash", d.commit_hash()},
         {"status", d.status()},
         {"terminal", d.terminal()},
         {"createdAt", FormatIso(d.created_at_unix_ms())},
         {"updatedAt", FormatIso(d.updated_at_unix_ms())},
         {"lastSeq", d.last_seq()}};
  if (!d.url().empty()) j["url"] = d.url();
  if (!d.directory().empty()) j["directory"] = d.directory();
  if (!d.stream_problem().empty()) j["streamProblem"] = d.stream_problem();
  if (d.logs_size() > 0) j["logs"] = std::vector<std::string>(d.logs().begin(), d.logs().end());
  if (d.logs_truncated()) j["logsTruncated"] = true;
  if (!d.restored_of().empty()) j["restoredOf"] = d.restored_of();
  j["restorable"] = d.restorable();
  return j;
}

json DeploymentModelSchema() {
  auto str = [](const char* description) {
    return json{{"type", "string"}, {"description", description}};
  };
  json properties{
      {"deploymentId", str("The deployment's id")},
      {"projectId", str("The project it belongs to")},
      {"commitHash", str("Hash of the uploaded files; the URL is https://<commitHash>.backend.im")},
      {"status", str("queued, committing, creating_namespace, creating_pvc, building, "
                     "deploying, health_check, complete or failed")},
      {"terminal", {{"type", "boolean"}, {"description", "True once complete or failed"}}},
      {"createdAt", str("When it was created (ISO 8601, UTC)")},
      {"updatedAt", str("When it last changed (ISO 8601, UTC)")},
      {"lastSeq", {{"type", "integer"}, {"description", "The number of its newest event"}}},
      {"url", str("The live URL (https); present once complete")},
      {"directory", str("The local folder it was deployed from, when known")},
      {"streamProblem", str("Present while the agent cannot follow the platform's live stream, "
                            "or when the platform said something unusable")},
      {"logs",
       {{"type", "array"},
        {"items", {{"type", "string"}}},
        {"description",
         "The platform's log lines, oldest first; absent when there are none "
         "(history leaves them out)"}}},
      {"logsTruncated",
       {{"type", "boolean"},
        {"description", "Present (true) when the logs were too long to return whole"}}},
      {"restoredOf", str("Present on a rollback: the deployment whose files it deployed again")},
      {"restorable",
       {{"type", "boolean"},
        {"description",
         "True when the agent keeps its files, so it can be rolled back to, restored and "
         "diffed"}}}};
  return json{{"type", "object"},
              {"properties", std::move(properties)},
              {"required",
               {"deploymentId", "projectId", "commitHash", "status", "terminal", "createdAt",
                "updatedAt", "lastSeq", "restorable"}}};
}

json EventModel(const pb::DeploymentEvent& e) {
  json j{{"deploymentId", e.deployment_id()},
         {"seq", e.seq()},
         {"status", e.status()},
         {"logs", std::vector<std::string>(e.logs().begin(), e.logs().end())},
         {"terminal", e.terminal()},
         {"source", e.source()},
         {"receivedAt", FormatIso(e.received_at_unix_ms())}};
  if (!e.url().empty()) j["url"] = e.url();
  return j;
}

json AuthModel(const pb::AuthStatusReply& a) {
  json j{{"loggedIn", a.logged_in()}, {"apiUrl", a.api_url()}};
  if (!a.logged_in()) return j;
  j["canRefresh"] = a.can_refresh();
  j["verified"] = a.verified();
  if (!a.source().empty()) j["source"] = a.source();
  if (!a.user_id().empty()) j["userId"] = a.user_id();
  if (!a.email().empty()) j["email"] = a.email();
  if (a.expires_at_unix_ms() > 0) j["expiresAt"] = FormatIso(a.expires_at_unix_ms());
  return j;
}

json GenerateModel(const GenerateOutcome& g) {
  json files = json::array();
  for (const auto& [path, content] : g.files) {
    files.push_back({{"path", path}, {"bytes", content.size()}});
  }
  json j{{"directory", g.directory},
         {"files", std::move(files)},
         {"written", g.report.written},
         {"unchanged", g.report.unchanged}};
  if (!g.project_id.empty()) j["projectId"] = g.project_id;
  return j;
}

json RestoreModel(const RestoreOutcome& r) {
  json files = json::array();
  for (const auto& [path, content] : r.files) {
    files.push_back({{"path", path}, {"bytes", content.size()}});
  }
  return json{{"deploymentId", r.deployment.id()},
              {"directory", r.directory},
              {"files", std::move(files)},
              {"written", r.report.written},
              {"unchanged", r.report.unchanged}};
}

json DiffModel(const DiffOutcome& d) {
  json files = json::array();
  for (const auto& c : d.diff.changes) {
    files.push_back({{"path", c.path}, {"change", ChangeName(c.kind)}, {"binary", c.binary}});
  }
  return json{{"from", d.from},
              {"to", d.to},
              {"same", d.diff.same()},
              {"files", std::move(files)},
              {"diff", d.diff.Unified()}};
}

json DeployModel(const DeployOutcome& d) {
  json j = DeploymentModel(d.deployment);
  json skipped = json::array();
  for (const auto& s : d.snapshot.skipped) {
    skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  }
  j["directory"] = d.directory;
  j["fileCount"] = d.snapshot.files.size();
  j["totalBytes"] = d.snapshot.total_bytes;
  j["skipped"] = std::move(skipped);
  return j;
}

}  // namespace bim::ctl
