#include "ctl/models.h"

#include "ctl/json_schema.h"
#include "ctl/output.h"

namespace bim::ctl {

namespace pb = backend_im::v1;
using nlohmann::json;
using namespace schema;

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
  if (!d.environment().empty()) j["environment"] = d.environment();
  if (!d.promoted_of().empty()) j["promotedOf"] = d.promoted_of();
  j["restorable"] = d.restorable();
  return j;
}

json DeploymentModelSchema() {
  return Object(
      {Str("deploymentId", "The deployment's id"), Str("projectId", "The project it belongs to"),
       Str("commitHash", "Hash of the uploaded files"),
       Str("status",
           "queued, committing, creating_namespace, creating_pvc, building, "
           "deploying, health_check, complete or failed"),
       Bool("terminal", "True once complete or failed"),
       Str("createdAt", "When it was created (ISO 8601, UTC)"),
       Str("updatedAt", "When it last changed (ISO 8601, UTC)"),
       Int("lastSeq", "The number of its newest event"),
       OptStr("url",
              "The live URL, present once complete: https://<commitHash>.backend.im on "
              "Backend.im, http://127.0.0.1:PORT on the embedded platform when it runs apps"),
       OptStr("directory", "The local folder it was deployed from, when known"),
       OptStr("streamProblem",
              "Present while the agent cannot follow the platform's live "
              "stream, or when the platform said something unusable"),
       Optional(StrArray("logs",
                         "The platform's log lines, oldest first; absent when there "
                         "are none (history leaves them out)")),
       OptBool("logsTruncated", "Present (true) when the logs were too long to return whole"),
       OptStr("restoredOf", "Present on a rollback: the deployment whose files it deployed again"),
       OptStr("environment",
              "The environment it went to (production, staging, ...); absent on a platform "
              "without environments"),
       OptStr("promotedOf",
              "Present on a promote: the deployment whose files it started in this environment"),
       Bool("restorable",
            "True when the agent keeps its files, so it can be rolled back to, "
            "restored and diffed")});
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

json EventModelSchema() {
  return Object({Str("deploymentId", "The deployment's id"),
                 Int("seq", "The event's number, from 1"),
                 Str("status", "The stage it reached (see status in a deployment)"),
                 StrArray("logs", "The log lines that came with it"),
                 Bool("terminal", "True when the deployment is complete or failed"),
                 Str("source", "How the agent learned it: stream or poll"),
                 Str("receivedAt", "When the agent received it (ISO 8601, UTC)"),
                 OptStr("url", "The live URL, on the event that completes it")});
}

json LoginCodeModel(const pb::LoginStartReply& s) {
  json j{{"verificationUri", s.verification_uri()},
         {"userCode", s.user_code()},
         {"expiresInSeconds", s.expires_in_seconds()}};
  if (!s.verification_uri_complete().empty()) {
    j["verificationUriComplete"] = s.verification_uri_complete();
  }
  return j;
}

json LoginCodeModelSchema() {
  return Object({Str("verificationUri", "The page the user opens"),
                 OptStr("verificationUriComplete",
                        "The same page with the code filled in, when the platform offers one"),
                 Str("userCode", "The code the user enters there"),
                 Int("expiresInSeconds", "How long the code is valid")});
}

json LoginCheckModel(const pb::LoginCheckReply& r) {
  const bool approved = r.state() == pb::LoginCheckReply::APPROVED;
  const char* state = approved ? "approved" : "failed";
  if (r.state() == pb::LoginCheckReply::PENDING) state = "pending";
  if (r.state() == pb::LoginCheckReply::DENIED) state = "denied";
  if (r.state() == pb::LoginCheckReply::EXPIRED) state = "expired";
  json j{
      {"state", state}, {"message", r.message()}, {"loggedIn", approved && r.auth().logged_in()}};
  if (approved && !r.auth().email().empty()) j["email"] = r.auth().email();
  return j;
}

json LoginCheckModelSchema() {
  return Object(
      {Enum("state", {"pending", "approved", "denied", "expired", "failed"}, "Where the login is"),
       Str("message", "The platform's words about it, if any"),
       Bool("loggedIn", "True once approved"),
       OptStr("email", "The user's email once logged in, when the platform says it")});
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

json AuthModelSchema() {
  return Object(
      {Bool("loggedIn", "True when generate and deploy can run"),
       Str("apiUrl", "The Backend.im platform in use"),
       OptStr("source",
              "How the login was made: device, token or environment; absent when "
              "nobody is logged in"),
       OptStr("userId", "The user's id, when the platform says it"),
       OptStr("email", "The user's email, when the platform says it"),
       OptBool("canRefresh",
               "Whether the agent can renew the login by itself; present when logged in"),
       OptBool("verified",
               "Whether the platform confirmed the login just now; present when logged in"),
       OptStr("expiresAt",
              "When the access token expires (renewed automatically when "
              "possible); absent when it has no known expiry")});
}

namespace {

// files[{path, bytes}]
json FileSizes(const contract::FileMap& files) {
  json out = json::array();
  for (const auto& [path, content] : files) {
    out.push_back({{"path", path}, {"bytes", content.size()}});
  }
  return out;
}
Property FileSizesField(std::string name, std::string description) {
  return ArrayOf(std::move(name),
                 Object({Str("path", "Path inside the folder"), Int("bytes", "Size in bytes")}),
                 std::move(description));
}

// skipped[{path, reason}]
json Skipped(const std::vector<SkippedFile>& skipped) {
  json out = json::array();
  for (const auto& s : skipped) out.push_back({{"path", s.path}, {"reason", s.reason}});
  return out;
}
Property SkippedField() {
  return ArrayOf(
      "skipped",
      Object({Str("path", "Path inside the folder"), Str("reason", "Why it was left out")}),
      "Files left out, and why");
}

// What a result that wrote files into a folder (generate, restore) has besides its own fields:
// every file, and which were written or already there.
json WrittenFiles(json fields, const contract::FileMap& files, const WriteReport& report) {
  fields["files"] = FileSizes(files);
  fields["written"] = report.written;
  fields["unchanged"] = report.unchanged;
  return fields;
}
json WrittenFilesSchema(std::vector<Property> fields, std::string every_file) {
  fields.push_back(FileSizesField("files", std::move(every_file)));
  fields.push_back(StrArray("written", "Files created or changed"));
  fields.push_back(StrArray("unchanged", "Files that already had this content"));
  return Object(std::move(fields));
}

}  // namespace

json GenerateModel(const GenerateOutcome& g) {
  json j = WrittenFiles({{"directory", g.directory}}, g.files, g.report);
  if (!g.project_id.empty()) j["projectId"] = g.project_id;
  return j;
}

json GenerateModelSchema() {
  return WrittenFilesSchema(
      {Str("directory", "The absolute folder the project is in"),
       OptStr("projectId",
              "The platform's project for this code, remembered in the folder for "
              "deploy; absent when the platform names none")},
      "Every generated file");
}

json RestoreModel(const RestoreOutcome& r) {
  return WrittenFiles({{"deploymentId", r.deployment.id()}, {"directory", r.directory}}, r.files,
                      r.report);
}

json RestoreModelSchema() {
  return WrittenFilesSchema({Str("deploymentId", "The deployment whose files were written"),
                             Str("directory", "The absolute folder the files are in")},
                            "Every file of the deployment");
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

json DiffModelSchema() {
  return Object({Str("from", "The deployment compared from"),
                 Str("to", "The deployment or folder compared with"),
                 Bool("same", "True when the two hold the same files"),
                 ArrayOf("files",
                         Object({Str("path", "Path inside the project"),
                                 Enum("change", {"added", "removed", "changed"}, "How it differs"),
                                 Bool("binary", "True for a binary file (no text diff)")}),
                         "The files that differ, in path order"),
                 Str("diff", "The unified diff; empty when same")});
}

json DeployModel(const DeployOutcome& d) {
  json j = DeploymentModel(d.deployment);
  j["directory"] = d.directory;
  j["fileCount"] = d.snapshot.files.size();
  j["totalBytes"] = d.snapshot.total_bytes;
  j["skipped"] = Skipped(d.snapshot.skipped);
  return j;
}

json DeployModelSchema() {
  return WithFields(DeploymentModelSchema(),
                    {Str("directory", "The absolute folder that was uploaded"),
                     Int("fileCount", "How many files were uploaded"),
                     Int("totalBytes", "How many bytes were uploaded"), SkippedField()});
}

json DryRunModel(const ProjectSnapshot& snap, const std::optional<TreeDiff>& changes,
                 const std::string& against) {
  json j{{"files", FileSizes(snap.files)},
         {"skipped", Skipped(snap.skipped)},
         {"fileCount", snap.files.size()},
         {"totalBytes", snap.total_bytes}};
  if (changes) {
    json ch{{"against", against},
            {"added", json::array()},
            {"changed", json::array()},
            {"removed", json::array()}};
    for (const auto& f : changes->changes) ch[ChangeName(f.kind)].push_back(f.path);
    j["changes"] = std::move(ch);
  }
  return j;
}

json DryRunModelSchema() {
  return Object(
      {FileSizesField("files", "The files that would be uploaded"), SkippedField(),
       Int("fileCount", "How many files would be uploaded"),
       Int("totalBytes", "How many bytes would be uploaded"),
       Optional(Field("changes", Object({Str("against", "The project's last deployment"),
                                         StrArray("added", "Files it does not have"),
                                         StrArray("changed", "Files whose content differs"),
                                         StrArray("removed", "Files only it has")})))});
}

// ---- environments and variables ---------------------------------------------------------------

json EnvironmentsModel(const pb::ListEnvironmentsReply& r) {
  json list = json::array();
  for (const auto& e : r.environments()) {
    json j{{"name", e.name()}, {"variables", e.variables()}};
    if (!e.deployment_id().empty()) j["deploymentId"] = e.deployment_id();
    if (!e.url().empty()) j["url"] = e.url();
    list.push_back(std::move(j));
  }
  return json{{"projectId", r.project_id()}, {"environments", std::move(list)}};
}

json EnvironmentsModelSchema() {
  return Object(
      {Str("projectId", "The project"),
       ArrayOf("environments",
               Object({Str("name", "The environment's name"),
                       Int("variables", "How many variables it has"),
                       OptStr("deploymentId", "The deployment it serves now; absent: none yet"),
                       OptStr("url", "Where it serves it")}),
               "Its environments, by name")});
}

json ChangeModel(const EnvironmentChange& c) {
  json j{{"projectId", c.project_id}, {"environment", c.environment}};
  if (!c.key.empty()) j["key"] = c.key;
  return j;
}

json ChangeModelSchema() {
  return Object({Str("projectId", "The project"), Str("environment", "The environment"),
                 OptStr("key", "The variable, for a change to one (never its value)")});
}

json VariablesModel(const pb::ListVariablesReply& r, bool with_values) {
  json list = json::array();
  for (const auto& v : r.variables()) {
    json j{{"key", v.key()}};
    if (with_values && v.has_value()) j["value"] = v.value();
    list.push_back(std::move(j));
  }
  return json{{"projectId", r.project_id()},
              {"environment", r.environment()},
              {"variables", std::move(list)}};
}

json VariablesModelSchema() {
  return Object({Str("projectId", "The project"), Str("environment", "The environment"),
                 ArrayOf("variables",
                         Object({Str("key", "The variable's name"),
                                 OptStr("value",
                                        "Its value: only with --show-values, when the platform "
                                        "gave it")}),
                         "Its variables, by name")});
}

json VariableFileModel(const VariableFileOutcome& f) {
  json j{{"projectId", f.project_id},
         {"environment", f.environment},
         {"file", f.file},
         {"keys", f.keys}};
  if (!f.expanded.empty()) j["expanded"] = f.expanded;
  return j;
}

json VariableFileModelSchema() {
  return Object(
      {Str("projectId", "The project"), Str("environment", "The environment"),
       Str("file", "The dotenv file, absolute"),
       StrArray("keys", "The variables written (pull) or set (import), in the file's order"),
       Optional(StrArray("expanded",
                         "pull: the keys whose values hold ${, which python-dotenv expands "
                         "unless read with interpolate=False"))});
}

// ---- custom domains ----------------------------------------------------------------------------

json DomainModel(const pb::Domain& d, bool with_lookups) {
  json records = json::array();
  for (const auto& r : d.records()) {
    json j{{"type", r.type()},
           {"name", r.name()},
           {"value", r.value()},
           {"found", std::vector<std::string>(r.found().begin(), r.found().end())}};
    if (r.checked()) j["ok"] = r.ok();
    if (with_lookups) {
      if (r.agent_checked()) {
        j["agentFound"] = std::vector<std::string>(r.agent_found().begin(), r.agent_found().end());
        j["agentOk"] = r.agent_ok();
      }
      if (!r.agent_error().empty()) j["agentError"] = r.agent_error();
    }
    records.push_back(std::move(j));
  }
  json j{{"domain", d.domain()}, {"projectId", d.project_id()},    {"environment", d.environment()},
         {"dns", d.dns()},       {"certificate", d.certificate()}, {"records", std::move(records)}};
  if (d.checked_at() > 0) j["checkedAt"] = d.checked_at();
  if (!d.detail().empty()) j["detail"] = d.detail();
  return j;
}

json DomainModelSchema() {
  return Object(
      {Str("domain", "The domain name"), Str("projectId", "The project"),
       Str("environment", "The environment it serves"),
       Enum("dns", {"pending", "valid", "invalid"},
            "pending until every record is found as asked; invalid when a name answers with "
            "another value; valid when every record is there"),
       Enum("certificate", {"pending", "issued", "failed"},
            "The TLS certificate: pending until the DNS is first valid, then issued or failed"),
       ArrayOf(
           "records",
           Object({Str("type", "A, AAAA, CNAME or TXT"),
                   Str("name", "The fully qualified name to create it at"),
                   Str("value", "What it must hold"),
                   StrArray("found", "What the platform's last lookup found at the name"),
                   OptBool("ok", "Whether that holds the value; absent before any lookup"),
                   Optional(StrArray("agentFound", "verify: what the agent's lookup found now")),
                   OptBool("agentOk", "verify: whether that holds the value"),
                   OptStr("agentError", "verify: why the agent's lookup got no answer")}),
           "The DNS records to create"),
       Optional(Int("checkedAt", "Unix ms of the platform's last lookup")),
       OptStr("detail", "Why the DNS is invalid or the certificate failed")});
}

json DomainsModel(const pb::ListDomainsReply& r) {
  json list = json::array();
  for (const auto& d : r.domains()) list.push_back(DomainModel(d));
  return json{{"projectId", r.project_id()}, {"domains", std::move(list)}};
}

json DomainsModelSchema() {
  return Object({Str("projectId", "The project"),
                 ArrayOf("domains", DomainModelSchema(), "Its custom domains, by name")});
}

std::vector<std::string> DomainAdvice(const pb::Domain& d) {
  std::vector<std::string> out;
  if (d.dns() == "valid") return out;
  for (const auto& r : d.records()) {
    if (r.checked() && r.ok()) continue;
    std::string create = r.type() + " " + r.name() + " with the value " + r.value();
    if (r.found().empty()) {
      out.push_back("The platform found no " + r.type() + " record at " + r.name() + ": create " +
                    create);
    } else {
      std::string found;
      for (const auto& f : r.found()) found += (found.empty() ? "" : ", ") + f;
      out.push_back("The " + r.type() + " record at " + r.name() + " holds " + found +
                    ", not the value asked for: change it to " + create);
    }
  }
  if (out.empty()) {
    out.push_back(
        "The platform has not found every record yet; DNS changes can take a while to "
        "be seen: run `backend-im domains verify " +
        d.domain() + "` again later");
  }
  return out;
}

json DomainVerifyModel(const pb::VerifyDomainReply& r) {
  json j = DomainModel(r.domain(), true);
  j["valid"] = r.domain().dns() == "valid";
  if (!r.resolver().empty()) j["resolver"] = r.resolver();
  j["advice"] = DomainAdvice(r.domain());
  return j;
}

json DomainVerifyModelSchema() {
  return WithFields(
      DomainModelSchema(),
      {Bool("valid", "True when the platform found every record as asked (dns is valid)"),
       OptStr("resolver", "Where the agent looked the records up itself"),
       StrArray("advice", "What to create or change, one sentence a record; empty when valid")});
}

json DomainChangeModel(const DomainChange& c) {
  return json{{"projectId", c.project_id}, {"domain", c.domain}};
}

json DomainChangeModelSchema() {
  return Object({Str("projectId", "The project"), Str("domain", "The domain")});
}

// ---- runtime logs ----

json LogLineModel(const pb::LogLine& l, const std::string& deployment_id) {
  return json{{"deploymentId", deployment_id},
              {"seq", l.seq()},
              {"timestamp", FormatIso(l.timestamp_unix_ms())},
              {"level", l.level()},
              {"source", l.source()},
              {"text", l.text()}};
}

json LogLineModelSchema() {
  return Object({Str("deploymentId", "The deployment whose app printed it"),
                 Int("seq", "The line's number: 1, 2, 3... per deployment"),
                 Str("timestamp", "When the platform read it (ISO 8601, UTC)"),
                 Str("level", "debug, info, warning or error"),
                 Str("source", "app (its output), access (a request it answered) or platform"),
                 Str("text", "The line, without its newline")});
}

json LogSkippedModel(int64_t count, const std::string& deployment_id) {
  return json{{"deploymentId", deployment_id}, {"skipped", count}};
}

json LogSkippedModelSchema() {
  return Object({Str("deploymentId", "The deployment followed"),
                 Int("skipped",
                     "How many lines will not come: no longer kept, or read too "
                     "slowly")});
}

json LogEndModel(const std::string& reason, const std::string& deployment_id) {
  return json{{"deploymentId", deployment_id}, {"end", reason}};
}

json LogEndModelSchema() {
  return Object({Str("deploymentId", "The deployment followed"),
                 Str("end", "Why the app's output ended (replaced, failed, stopped)")});
}

json LogsReportModel(const LogsReport& r) {
  const pb::Deployment& d = r.logs.deployment();
  json lines = json::array();
  for (const auto& l : r.logs.lines()) lines.push_back(LogLineModel(l, d.id()));
  json j{{"deploymentId", d.id()},
         {"status", d.status()},
         {"lines", std::move(lines)},
         {"cut", r.cut},
         {"linesLeftOut", r.lines_left_out}};
  if (!r.logs.chosen().empty()) j["chosen"] = r.logs.chosen();
  if (r.failure) {
    j["failure"] = json{
        {"status", r.failure->status()},
        {"logs", std::vector<std::string>(r.failure->logs().begin(), r.failure->logs().end())}};
    if (!r.failed_stage.empty()) j["failure"]["stage"] = r.failed_stage;
    json errors = json::array();
    for (const auto& l : r.errors) errors.push_back(LogLineModel(l, d.id()));
    j["errors"] = std::move(errors);
  }
  return j;
}

json LogsReportModelSchema() {
  return Object(
      {Str("deploymentId", "The deployment the lines are of"),
       Str("status", "Its stage: complete, failed, building, ..."),
       OptStr("chosen", "How it was chosen, when not named by its id"),
       ArrayOf("lines", LogLineModelSchema(), "Its app's newest lines that match, oldest first"),
       Bool("cut", "True when lines were left out to stay within maxLines and maxBytes"),
       Int("linesLeftOut", "How many lines were left out for the caps"),
       Optional(Field("failure",
                      Object({Str("status", "failed"),
                              OptStr("stage", "The stage it failed at: building, health_check..."),
                              StrArray("logs",
                                       "The platform's logs from that stage on, the first lines: "
                                       "why the build or the health check failed")}))),
       Optional(ArrayOf("errors", LogLineModelSchema(),
                        "For a failed deployment: its app's last error lines (a traceback)"))});
}

}  // namespace bim::ctl
