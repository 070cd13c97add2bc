#include "ctl/mcp_tools.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "common/contract.h"
#include "common/log.h"
#include "ctl/models.h"
#include "ctl/operations.h"
#include "ctl/output.h"
#include "ctl/project_files.h"
#include "proto/convert.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

McpToolResult Failure(std::string message) {
  McpToolResult r;
  r.is_error = true;
  r.message = std::move(message);
  return r;
}
McpToolResult Success(json structured) {
  McpToolResult r;
  r.structured = std::move(structured);
  return r;
}
McpToolResult Cancelled() { return Failure(ToolErrorText({OpFailure::kCancelled, ""}, "")); }

// Sets j[key] to value unless value is empty. A field with no value is left out rather than
// sent as null: its outputSchema property is an optional string, because a type list such as
// ["string", "null"] is handled badly by clients and validators that take one type per field.
void SetIfKnown(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

// Code points in valid UTF-8 (as nlohmann::json's strings are): every byte that does not
// continue a sequence starts one.
size_t CodePoints(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string NextStepFor(const pb::Deployment& d) {
  if (!d.terminal()) {
    return fmt::format("Still {}: call wait_for_deployment again with deploymentId \"{}\".",
                       d.status(), d.id());
  }
  auto final = Operations::FinalOutcome(d);
  if (final.ok()) return fmt::format("Deployed. Give the user the URL {}", d.url());
  if (final.error().kind == OpFailure::kDeployFailed) {
    return "The deployment failed: read the logs, fix the project files, then call deploy again.";
  }
  // Complete without a usable URL: the platform's fault, not the project's.
  return fmt::format(
      "Do not tell the user it is deployed: {}. Ask them to check the platform, "
      "or deploy again later.",
      final.error().message);
}

// JSON Schema pieces for the output schemas.
json Str(const std::string& description) {
  return json{{"type", "string"}, {"description", description}};
}
// A string that a result leaves out when it has no value (see SetIfKnown); Object() keeps it
// out of `required`.
json OptStr(const std::string& description) {
  return json{{"type", "string"}, {"description", description}, {"x-optional", true}};
}
json Bool(const std::string& description) {
  return json{{"type", "boolean"}, {"description", description}};
}
json Int(const std::string& description) {
  return json{{"type", "integer"}, {"description", description}};
}
json StrArray(const std::string& description) {
  return json{{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}
// A boolean that a result leaves out when it does not apply (see OptStr).
json OptBool(const std::string& description) {
  return json{{"type", "boolean"}, {"description", description}, {"x-optional", true}};
}
// An object schema whose properties are all required except the OptStr and OptBool ones.
json Object(json properties) {
  json required = json::array();
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    if (it->value("x-optional", false)) {
      it->erase("x-optional");
    } else {
      required.push_back(it.key());
    }
  }
  return json{{"type", "object"}, {"properties", std::move(properties)}, {"required", required}};
}

// schema (an object) with more properties, required unless OptStr/OptBool.
json WithFields(json schema, json more) {
  json extra = Object(std::move(more));
  for (auto& [k, v] : extra["properties"].items()) schema["properties"][k] = v;
  for (auto& r : extra["required"]) schema["required"].push_back(r);
  return schema;
}

}  // namespace

std::string ToolErrorText(const OpError& e, const std::string& what) {
  constexpr const char* kLoginHint =
      "not logged in: ask the user to run `backend-im auth login` in a terminal, or log in from "
      "here with auth_login_start and auth_login_check";
  switch (e.kind) {
    case OpFailure::kAuth:
      if (e.message.rfind("not logged in", 0) == 0) return fmt::format("{}: {}", what, kLoginHint);
      return fmt::format("{}: {} (the agent said: {})", what, kLoginHint, e.message);
    case OpFailure::kNotFound:
      return fmt::format(
          "{} failed: {}. Check the id: list_deployments shows the deployments made here.", what,
          e.message);
    case OpFailure::kAgent:
      return fmt::format(
          "{} failed: {} (the backend-im agent); call the tool again, and if it keeps failing "
          "ask the user to run `backend-im daemon status`",
          what, e.message);
    case OpFailure::kConflict:
      return fmt::format(
          "{} wrote nothing: {}. Call {} again with force true to overwrite them, or choose "
          "another directory.",
          what, e.message, what);
    case OpFailure::kCancelled:
      return "cancelled by the client";
    case OpFailure::kDeployFailed:
      return fmt::format("{}: {}", what, e.message);
    default:
      return fmt::format("{} failed: {}", what, e.message);
  }
}

McpTools::McpTools(AgentApi& agent, std::string cwd) : ops_(agent), cwd_(std::move(cwd)) {
  DefineTools();
}

void McpTools::DefineTools() {
  const std::string where =
      fmt::format("An absolute path is best; a relative one is taken from {}.", cwd_);
  const Arg deployment_id{"deploymentId",
                          ArgType::kString,
                          true,
                          "The deploymentId that deploy returned (list_deployments lists them).",
                          1,
                          128,
                          Check::kId,
                          nullptr};
  const json deploy_hints{{"readOnlyHint", false},
                          {"destructiveHint", true},
                          {"idempotentHint", false},
                          {"openWorldHint", true}};
  const json read_hints{{"readOnlyHint", true}, {"openWorldHint", true}};

  tools_.push_back(
      Tool{"generate",
           "Generate a FastAPI backend",
           "Generate a FastAPI (Python) backend from a plain-language description and write its "
           "files into a local folder. Returns the files written. Nothing is written outside the "
           "folder, and a local file with different content is never overwritten unless force is "
           "true (then nothing is written and the conflicts are listed). Next: read or adapt the "
           "files, then call deploy with the same directory. Needs a login (see auth_status).",
           {{"prompt", ArgType::kString, true,
             "What the backend should do, in plain words, e.g. \"REST API for users and orders "
             "with SQLite\".",
             1, 20000, Check::kNone, nullptr},
            {"directory", ArgType::kString, true,
             "The folder to write the project into; created if missing, but its parent folder must "
             "exist. " +
                 where,
             1, 4096, Check::kNewDir, nullptr},
            {"force", ArgType::kBoolean, false,
             "Overwrite local files whose content differs from the generated ones. Default false.",
             0, 0, Check::kNone, false}},
           Object({{"directory", Str("The absolute folder the project is in")},
                   {"projectId", OptStr("The platform's project for this code, remembered in "
                                        "the folder for deploy; absent when the platform names "
                                        "none")},
                   {"files",
                    {{"type", "array"},
                     {"description", "Every generated file"},
                     {"items", Object({{"path", Str("Path inside the folder")},
                                       {"bytes", Int("Size in bytes")}})}}},
                   {"written", StrArray("Files created or changed")},
                   {"unchanged", StrArray("Files that already had this content")},
                   {"nextStep", Str("What to do next")}}),
           {{"readOnlyHint", false},
            {"destructiveHint", true},
            {"idempotentHint", true},
            {"openWorldHint", true}},
           &McpTools::Generate});

  tools_.push_back(Tool{
      "deploy",
      "Deploy a project folder",
      "Upload a local project folder to Backend.im and start a deployment. Returns at once "
      "with deploymentId, projectId and commitHash while the platform builds and deploys it, "
      "which takes a minute or more. Next: call wait_for_deployment with the deploymentId to "
      "follow it to its URL. As a task (protocol 2025-11-25 and later), it lasts until the "
      "deployment is complete or failed and ends with its URL and logs; cancelling the task "
      "stops the waiting, never the deployment. Hidden files, .git, node_modules, caches, "
      "virtualenvs and secrets "
      "(.env*, *.pem, *.key) are never uploaded. Deploying again replaces the project's "
      "previous deployment. Needs a login (see auth_status).",
      {{"directory", ArgType::kString, true,
        "The project folder to upload; it must exist, e.g. the one given to generate. " + where, 1,
        4096, Check::kExistingDir, nullptr},
       {"projectId", ArgType::kString, false,
        "The project to deploy to. Default: the one generate or an earlier deploy remembered "
        "in the folder (.backend-im/project.json), else a new project.",
        1, 128, Check::kId, nullptr}},
      // The deployment, as every tool and `backend-im deploy --json` show it, and the upload.
      WithFields(DeploymentModelSchema(),
                 {{"directory", Str("The absolute folder that was uploaded")},
                  {"fileCount", Int("How many files were uploaded")},
                  {"totalBytes", Int("How many bytes were uploaded")},
                  {"skipped",
                   {{"type", "array"},
                    {"description", "Files left out, and why"},
                    {"items", Object({{"path", Str("Path inside the folder")},
                                      {"reason", Str("Why it was left out")}})}}},
                  {"nextStep", Str("What to do next")}}),
      deploy_hints,
      &McpTools::DeployAndWait});

  tools_.push_back(Tool{
      "wait_for_deployment",
      "Wait for a deployment",
      "Wait until a deployment is complete or failed, or until timeoutSeconds pass, and return "
      "its status, URL and logs. Sends a progress notification for each stage when the "
      "request carries a progressToken. If it returns with timedOut true, call it again. "
      "Cancelling this request stops the waiting, never the deployment.",
      {deployment_id,
       {"timeoutSeconds", ArgType::kInteger, false,
        "How long to wait at most, in seconds (1 to 900, default 50). Keep it below your "
        "client's request timeout.",
        1, 900, Check::kNone, 50}},
      WithFields(DeploymentModelSchema(),
                 {{"timedOut", Bool("True when timeoutSeconds passed first")},
                  {"nextStep", Str("What to do next")}}),
      read_hints,
      &McpTools::WaitForDeployment});

  tools_.push_back(Tool{"deployment_status",
                        "Deployment status",
                        "The current status, URL and logs of one deployment, without waiting.",
                        {deployment_id},
                        WithFields(DeploymentModelSchema(), {{"nextStep", Str("What to do next")}}),
                        read_hints,
                        &McpTools::DeploymentStatus});

  tools_.push_back(
      Tool{"list_deployments",
           "List deployments",
           "Past deployments made from this computer, newest first, with their status and URL.",
           {{"projectId", ArgType::kString, false, "Only the deployments of this project.", 1, 128,
             Check::kId, nullptr},
            {"limit", ArgType::kInteger, false, "How many at most (1 to 100, default 20).", 1, 100,
             Check::kNone, 20}},
           Object({{"deployments",
                    {{"type", "array"},
                     {"description", "Newest first"},
                     {"items", DeploymentModelSchema()}}}}),
           {{"readOnlyHint", true}, {"openWorldHint", false}},
           &McpTools::ListDeployments});

  tools_.push_back(Tool{
      "rollback",
      "Roll a project back",
      "Deploy the files of an earlier deployment of a project again, as a new deployment: by "
      "default those of the newest complete deployment whose files differ from the current "
      "one, or exactly toDeploymentId. The agent keeps the files of recent deployments "
      "(list_deployments shows restorable); the new deployment's commitHash equals the earlier "
      "one's. Returns at once; next: call wait_for_deployment with the deploymentId. Give "
      "directory, projectId or toDeploymentId. Needs a login (see auth_status).",
      {{"directory", ArgType::kString, false,
        "A project folder: its remembered project (.backend-im/project.json) is rolled back. " +
            where,
        1, 4096, Check::kExistingDir, nullptr},
       {"projectId", ArgType::kString, false, "The project to roll back.", 1, 128, Check::kId,
        nullptr},
       {"toDeploymentId", ArgType::kString, false,
        "Roll back to exactly this deployment (list_deployments lists them).", 1, 128, Check::kId,
        nullptr}},
      WithFields(DeploymentModelSchema(), {{"nextStep", Str("What to do next")}}),
      deploy_hints,
      &McpTools::Rollback});

  tools_.push_back(Tool{
      "diff",
      "Diff deployments or a folder",
      "A unified diff (as diff -u) between the files of a deployment and a local project "
      "folder, or between two deployments. With only directory: the folder against its "
      "project's last deployment, i.e. what the next deploy would change. The agent keeps the "
      "files of recent deployments (list_deployments shows restorable).",
      {{"deploymentId", ArgType::kString, false,
        "The deployment to compare from. Default: the last deployment of directory's project.", 1,
        128, Check::kId, nullptr},
       {"otherDeploymentId", ArgType::kString, false,
        "Compare with this deployment instead of a folder.", 1, 128, Check::kId, nullptr},
       {"directory", ArgType::kString, false,
        "The project folder to compare with (what deploy would upload from it). " + where, 1, 4096,
        Check::kExistingDir, nullptr}},
      Object({{"from", Str("The deployment compared from")},
              {"to", Str("The deployment or folder compared with")},
              {"same", Bool("True when the two hold the same files")},
              {"files",
               {{"type", "array"},
                {"description", "The files that differ, in path order"},
                {"items", Object({{"path", Str("Path inside the project")},
                                  {"change",
                                   {{"type", "string"},
                                    {"enum", {"added", "removed", "changed"}},
                                    {"description", "How it differs"}}},
                                  {"binary", Bool("True for a binary file (no text diff)")}})}}},
              {"diff", Str("The unified diff; empty when same")},
              {"nextStep", Str("What to do next")}}),
      {{"readOnlyHint", true}, {"openWorldHint", false}},
      &McpTools::Diff});

  tools_.push_back(Tool{
      "restore",
      "Restore a deployment's files",
      "Write the exact files of an earlier deployment into a local folder, with the same safe "
      "writing as generate: nothing is written outside the folder, and a local file with "
      "different content is never overwritten unless force is true (then nothing is written and "
      "the conflicts are listed). The agent keeps the files of recent deployments "
      "(list_deployments shows restorable). Next: read or change them, then deploy the folder.",
      {{"deploymentId", ArgType::kString, true,
        "The deployment whose files to write (list_deployments lists them).", 1, 128, Check::kId,
        nullptr},
       {"directory", ArgType::kString, true,
        "The folder to write the files into; created if missing, but its parent folder must "
        "exist. " +
            where,
        1, 4096, Check::kNewDir, nullptr},
       {"force", ArgType::kBoolean, false,
        "Overwrite local files whose content differs from the deployment's. Default false.", 0, 0,
        Check::kNone, false}},
      Object({{"deploymentId", Str("The deployment whose files were written")},
              {"directory", Str("The absolute folder the files are in")},
              {"files",
               {{"type", "array"},
                {"description", "Every file of the deployment"},
                {"items", Object({{"path", Str("Path inside the folder")},
                                  {"bytes", Int("Size in bytes")}})}}},
              {"written", StrArray("Files created or changed")},
              {"unchanged", StrArray("Files that already had this content")},
              {"nextStep", Str("What to do next")}}),
      {{"readOnlyHint", false},
       {"destructiveHint", true},
       {"idempotentHint", true},
       {"openWorldHint", false}},
      &McpTools::Restore});

  tools_.push_back(
      Tool{"auth_status",
           "Login status",
           "Whether the user is logged in to Backend.im, as whom, and to which platform. Checks "
           "the stored login with the platform. Call it before generate or deploy when unsure.",
           {},
           Object({{"loggedIn", Bool("True when generate and deploy can run")},
                   {"apiUrl", Str("The Backend.im platform in use")},
                   {"source", OptStr("How the login was made: device, token or environment; "
                                     "absent when nobody is logged in")},
                   {"userId", OptStr("The user's id, when the platform says it")},
                   {"email", OptStr("The user's email, when the platform says it")},
                   {"canRefresh", OptBool("Whether the agent can renew the login by itself; "
                                          "present when logged in")},
                   {"verified", OptBool("Whether the platform confirmed the login just now; "
                                        "present when logged in")},
                   {"expiresAt", OptStr("When the access token expires (renewed automatically "
                                        "when possible); absent when it has no known expiry")},
                   {"nextStep", Str("What to do next")}}),
           read_hints,
           &McpTools::AuthStatus});

  tools_.push_back(
      Tool{"auth_login_start",
           "Start a login",
           "Start a browser login to Backend.im for the user (device flow, step 1). Returns a URL "
           "and a one-time code: show both to the user and ask them to open the URL and approve; "
           "only the user can approve. Then call auth_login_check with the loginId.",
           {},
           Object({{"loginId", Str("Pass this to auth_login_check")},
                   {"verificationUri", Str("The page the user opens")},
                   {"verificationUriComplete",
                    OptStr("The same page with the code filled in, when the platform offers one")},
                   {"userCode", Str("The code the user enters there")},
                   {"expiresInSeconds", Int("How long the code is valid")},
                   {"intervalSeconds", Int("How often the platform may be asked")},
                   {"nextStep", Str("What to do next")}}),
           {{"readOnlyHint", false},
            {"destructiveHint", false},
            {"idempotentHint", false},
            {"openWorldHint", true}},
           &McpTools::AuthLoginStart});

  tools_.push_back(
      Tool{"auth_login_check",
           "Check a login",
           "Check a login started with auth_login_start (device flow, step 2). state is pending "
           "(the user has not approved yet: call again), approved (logged in), denied, expired or "
           "failed (start again with auth_login_start if the user wants).",
           {{"loginId", ArgType::kString, true, "The loginId that auth_login_start returned.", 1,
             128, Check::kId, nullptr},
            {"waitSeconds", ArgType::kInteger, false,
             "Wait up to this long for the user to finish (0 to 50, default 5).", 0, 50,
             Check::kNone, 5}},
           Object({{"state",
                    {{"type", "string"},
                     {"enum", {"pending", "approved", "denied", "expired", "failed"}},
                     {"description", "Where the login is"}}},
                   {"message", Str("The platform's words about it, if any")},
                   {"loggedIn", Bool("True once approved")},
                   {"email", OptStr("The user's email once logged in, when the platform says it")},
                   {"nextStep", Str("What to do next")}}),
           {{"readOnlyHint", false},
            {"destructiveHint", false},
            {"idempotentHint", true},
            {"openWorldHint", true}},
           &McpTools::AuthLoginCheck});
}

const McpTools::Tool* McpTools::Find(const std::string& name) const {
  for (const auto& t : tools_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool McpTools::HasTool(const std::string& name) const { return Find(name) != nullptr; }

json McpTools::ListTools(const std::string& version) const {
  json list = json::array();
  for (const auto& t : tools_) {
    json props = json::object();
    json required = json::array();
    for (const auto& a : t.args) {
      json p{{"description", a.description}};
      switch (a.type) {
        case ArgType::kString:
          p["type"] = "string";
          p["minLength"] = a.min;
          p["maxLength"] = a.max;
          if (a.check == Check::kId) p["pattern"] = "^[A-Za-z0-9._-]+$";
          break;
        case ArgType::kInteger:
          p["type"] = "integer";
          p["minimum"] = a.min;
          p["maximum"] = a.max;
          break;
        case ArgType::kBoolean:
          p["type"] = "boolean";
          break;
      }
      if (!a.default_value.is_null()) p["default"] = a.default_value;
      props[a.name] = std::move(p);
      if (a.required) required.push_back(a.name);
    }
    json schema{{"type", "object"}, {"properties", props}, {"additionalProperties", false}};
    if (!required.empty()) schema["required"] = required;
    json tool{{"name", t.name}, {"description", t.description}, {"inputSchema", schema}};
    // Titles and output schemas came with 2025-06-18, annotations with 2025-03-26.
    if (version >= "2025-06-18") {
      tool["title"] = t.title;
      tool["outputSchema"] = t.output_schema;
    }
    if (version >= "2025-03-26") {
      json ann = t.annotations;
      ann["title"] = t.title;
      tool["annotations"] = ann;
    }
    // Tasks came with 2025-11-25; 2026-07-28 moved them to an extension without this field.
    const bool task_tool =
        t.handler == &McpTools::DeployAndWait || t.handler == &McpTools::WaitForDeployment;
    if (task_tool && version >= "2025-11-25" && version < "2026-07-28") {
      tool["execution"] = {{"taskSupport", "optional"}};
    }
    list.push_back(std::move(tool));
  }
  return list;
}

std::string McpTools::Absolute(const std::string& path) const {
  namespace fs = std::filesystem;
  std::string p = path;
  if (p == "~" || p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) p = std::string(home) + p.substr(1);
  }
  fs::path abs = p[0] == '/' ? fs::path(p) : fs::path(cwd_) / p;
  std::string out = abs.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::optional<McpToolResult> McpTools::Validate(const Tool& tool, json& args) const {
  auto bad = [&](const std::string& what) {
    return Failure(fmt::format("invalid arguments for {}: {}", tool.name, what));
  };
  for (auto it = args.begin(); it != args.end(); ++it) {
    bool known = std::any_of(tool.args.begin(), tool.args.end(),
                             [&](const Arg& a) { return a.name == it.key(); });
    if (known) continue;
    std::string names;
    for (const auto& a : tool.args) names += (names.empty() ? "" : ", ") + a.name;
    return bad(
        fmt::format("unknown argument \"{}\"; {}", it.key(),
                    names.empty() ? "this tool takes no arguments" : "this tool takes: " + names));
  }
  for (const auto& a : tool.args) {
    auto it = args.find(a.name);
    if (it == args.end() || it->is_null()) {
      if (a.required) return bad(fmt::format("missing \"{}\": {}", a.name, a.description));
      if (it != args.end()) args.erase(it);
      if (!a.default_value.is_null()) args[a.name] = a.default_value;
      continue;
    }
    json& v = *it;
    switch (a.type) {
      case ArgType::kBoolean:
        if (!v.is_boolean()) return bad(fmt::format("\"{}\" must be true or false", a.name));
        break;
      case ArgType::kInteger: {
        int64_t n = 0;
        bool ok = false;
        if (v.is_number_unsigned()) {
          ok = v.get<uint64_t>() <= static_cast<uint64_t>(a.max);
          n = ok ? static_cast<int64_t>(v.get<uint64_t>()) : 0;
        } else if (v.is_number_integer()) {
          ok = true;
          n = v.get<int64_t>();
        } else if (v.is_number_float()) {  // JSON Schema counts 5.0 as an integer
          double d = v.get<double>();
          ok = std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 1e15;
          n = ok ? static_cast<int64_t>(d) : 0;
        }
        if (!ok || n < a.min || n > a.max) {
          return bad(
              fmt::format("\"{}\" must be a whole number from {} to {}", a.name, a.min, a.max));
        }
        v = n;
        break;
      }
      case ArgType::kString: {
        if (!v.is_string()) return bad(fmt::format("\"{}\" must be a string", a.name));
        std::string s = v.get<std::string>();
        // Characters as the inputSchema's minLength and maxLength count them: code points.
        const auto length = static_cast<int64_t>(CodePoints(s));
        if (length < a.min || length > a.max) {
          return bad(fmt::format("\"{}\" must be {} to {} characters long", a.name, a.min, a.max));
        }
        // The kernel ends a path at its first NUL ("n2\u0000x" is the folder n2), and no prompt
        // or id needs one: refused in every string before it can reach a file or the agent.
        if (s.find('\0') != std::string::npos) {
          return bad(fmt::format("\"{}\" contains a NUL character (\\u0000); remove it", a.name));
        }
        switch (a.check) {
          case Check::kNone:
            break;
          case Check::kId:
            if (!contract::ValidateId(s, "id").ok()) {
              return bad(
                  fmt::format("\"{}\" is not an id: \"{}\" (ids are letters, digits, "
                              "'-', '_' and '.'). {}",
                              a.name, s.substr(0, 64), a.description));
            }
            break;
          case Check::kExistingDir: {
            std::string abs = Absolute(s);
            if (!Exists(abs)) {
              return bad(
                  fmt::format("\"{}\": the folder {} does not exist. Pass the folder "
                              "that holds the project, e.g. the one given to generate.",
                              a.name, abs));
            }
            if (!IsDir(abs)) return bad(fmt::format("\"{}\": {} is not a folder", a.name, abs));
            v = abs;
            break;
          }
          case Check::kNewDir: {
            std::string abs = Absolute(s);
            if (Exists(abs) && !IsDir(abs)) {
              return bad(fmt::format("\"{}\": {} exists and is not a folder", a.name, abs));
            }
            std::string parent = std::filesystem::path(abs).parent_path().string();
            if (!IsDir(parent)) {
              return bad(
                  fmt::format("\"{}\": the parent folder {} does not exist; create it "
                              "first or choose another place",
                              a.name, parent));
            }
            v = abs;
            break;
          }
        }
        break;
      }
    }
  }
  return std::nullopt;
}

McpToolResult McpTools::CallTool(const std::string& name, const json& arguments,
                                 McpToolCall& call) {
  const Tool* tool = Find(name);
  if (!tool) return Failure("unknown tool " + name);
  json args = arguments.is_object() ? arguments : json::object();
  if (auto bad = Validate(*tool, args)) return *bad;
  // A task cancelled before its tool started still deploys: cancelling a task stops the
  // waiting, never the deployment (DeployAndWait uploads under a token of its own).
  if (call.cancel->cancelled() && !call.as_task) return Cancelled();
  bool logged_in_here = false;
  if (!call.input_state.is_null()) {  // 2026-07-28: a login through the client goes on
    if (auto stop = ContinueLogin(name, call)) return std::move(*stop);
    logged_in_here = true;
  }
  Answer a = (this->*(tool->handler))(args, call);
  if (!a.needs_login || logged_in_here || call.cancel->cancelled()) return std::move(a.result);
  if (call.open_url) {
    if (auto stop = LoginThroughClient(name, a.result, call)) return std::move(*stop);
    log::Info("mcp: logged in through the client; {} again", name);
    return std::move((this->*(tool->handler))(args, call).result);
  }
  if (call.can_request_url) return RequestLogin(name, a.result, call);
  return std::move(a.result);
}

McpTools::Answer McpTools::FailureOf(const OpError& e, const std::string& what) {
  Answer a = Failure(ToolErrorText(e, what));
  a.needs_login = e.kind == OpFailure::kAuth;
  return a;
}

// ---- login through the client ---------------------------------------------------------------

namespace {

// The page the person opens: the one with the code filled in when the platform has it.
std::string LoginPage(const pb::LoginStartReply& s) {
  return s.verification_uri_complete().empty() ? s.verification_uri()
                                               : s.verification_uri_complete();
}

std::string LoginPrompt(const pb::LoginStartReply& s, const std::string& tool) {
  return fmt::format(
      "Sign in to Backend.im so your assistant can run {}: open the page and approve the code {}.",
      tool, s.user_code());
}

// The person declined the login page (why: the client's answer, when worth saying).
std::string NotOpenedText(const std::string& tool, const std::string& why) {
  return fmt::format(
      "{}: not logged in; the user did not open the login page{}. Call {} again if they change "
      "their mind, or ask them to run `backend-im auth login` in a terminal.",
      tool, why.empty() ? "" : " (" + why + ")", tool);
}

// Why a login that is no longer pending did not end in a login, for a model.
std::string LoginEndText(const pb::LoginCheckReply& r, const std::string& tool) {
  switch (r.state()) {
    case pb::LoginCheckReply::DENIED:
      return fmt::format(
          "{}: not logged in; the user denied the login. Call {} again only if they want to.", tool,
          tool);
    case pb::LoginCheckReply::EXPIRED:
      return fmt::format(
          "{}: not logged in; the login code expired before the user approved it. Call {} "
          "again to start a new login.",
          tool, tool);
    case pb::LoginCheckReply::PENDING:
      return fmt::format(
          "{}: not logged in; the user has not approved the login yet. Call {} again, or log "
          "in with auth_login_start and auth_login_check.",
          tool, tool);
    default:
      return fmt::format(
          "{}: not logged in; the login failed: {}. Ask the user to run `backend-im auth "
          "login` in a terminal.",
          tool, r.message());
  }
}

}  // namespace

McpToolResult McpTools::LoginDidNotStart(McpToolResult no_login, const OpError& why,
                                         McpToolCall& call) {
  if (call.cancel->cancelled()) return Cancelled();
  // The tool's own error already says how else to log in (a platform without the device flow
  // still takes `backend-im auth login --with-token`); this says why it was not done here.
  no_login.message += fmt::format(" (a login from here could not start: {})", why.message);
  return no_login;
}

Result<pb::LoginCheckReply, McpToolResult> McpTools::AwaitApproval(
    const std::string& tool, const std::string& login_id,
    std::chrono::steady_clock::time_point deadline, McpToolCall& call) {
  auto r = ops_.AwaitLogin(login_id, deadline, *call.cancel, [&call] {
    call.progress(0, 0, "waiting for the user to approve the login");
  });
  if (!r.ok()) return Failure(ToolErrorText(r.error(), tool + " (waiting for the login)"));
  return std::move(*r);
}

std::optional<McpToolResult> McpTools::LoginThroughClient(const std::string& tool,
                                                          const McpToolResult& no_login,
                                                          McpToolCall& call) {
  auto s = ops_.LoginStart(*call.cancel);
  if (!s.ok()) return LoginDidNotStart(no_login, s.error(), call);
  const auto deadline =
      std::chrono::steady_clock::now() + seconds(std::max<int64_t>(s->expires_in_seconds(), 1));
  log::Info("mcp: {} needs a login; asking the client to open the login page", tool);
  switch (call.open_url(LoginPage(*s), LoginPrompt(*s, tool))) {
    case McpToolCall::UrlAnswer::kAccept:
      break;
    case McpToolCall::UrlAnswer::kDecline:
    case McpToolCall::UrlAnswer::kCancel:
      if (call.cancel->cancelled()) return Cancelled();
      return Failure(NotOpenedText(tool, ""));
    case McpToolCall::UrlAnswer::kFailed:
      if (call.cancel->cancelled()) return Cancelled();
      return Failure(fmt::format(
          "{}: not logged in, and the client could not show the login page. Log in with "
          "auth_login_start and auth_login_check, or ask the user to run `backend-im auth "
          "login` in a terminal.",
          tool));
  }
  auto r = AwaitApproval(tool, s->login_id(), deadline, call);
  if (call.cancel->cancelled()) return Cancelled();
  if (!r.ok()) return r.error();
  if (r->state() != pb::LoginCheckReply::APPROVED) return Failure(LoginEndText(*r, tool));
  if (call.url_done) call.url_done();
  return std::nullopt;
}

McpToolResult McpTools::RequestLogin(const std::string& tool, const McpToolResult& no_login,
                                     McpToolCall& call) {
  auto s = ops_.LoginStart(*call.cancel);
  if (!s.ok()) return LoginDidNotStart(no_login, s.error(), call);
  log::Info("mcp: {} needs a login; asking the client to open the login page", tool);
  const int64_t expires_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch() +
                                               seconds(s->expires_in_seconds()))
          .count();
  McpToolResult r;
  r.input_requests = {
      {kLoginInputKey,
       {{"method", "elicitation/create"},
        {"params",
         {{"mode", "url"}, {"url", LoginPage(*s)}, {"message", LoginPrompt(*s, tool)}}}}}};
  r.input_state = {{"loginId", s->login_id()}, {"expiresAtMs", expires_ms}};
  return r;
}

std::optional<McpToolResult> McpTools::ContinueLogin(const std::string& tool, McpToolCall& call) {
  const json& state = call.input_state;
  const std::string login_id = state.value("loginId", "");
  const json answer = call.input_responses.is_object()
                          ? call.input_responses.value(kLoginInputKey, json())
                          : json();
  if (answer.is_object()) {  // the round that asked the client to open the page
    const std::string action = answer.value("action", "");
    if (action != "accept") {
      return Failure(NotOpenedText(tool, action.empty() ? "no answer" : action));
    }
  }
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const int64_t left_ms = std::max<int64_t>(state.value("expiresAtMs", int64_t{0}) - now_ms, 0);
  auto deadline = std::chrono::steady_clock::now() +
                  std::min<milliseconds>(milliseconds(left_ms), kLoginRoundWait);
  auto r = AwaitApproval(tool, login_id, deadline, call);
  if (call.cancel->cancelled()) return Cancelled();
  if (!r.ok()) return r.error();
  if (r->state() == pb::LoginCheckReply::APPROVED) return std::nullopt;
  if (r->state() == pb::LoginCheckReply::PENDING && left_ms > 0) {
    McpToolResult again;  // nothing to ask: only to be called again
    again.input_requests = json::object();
    again.input_state = state;
    return again;
  }
  return Failure(LoginEndText(*r, tool));
}

// ---- tools ------------------------------------------------------------------------------------
// Each translates: arguments in, an operation (ctl/operations.h), its result out through the
// shared models, plus the nextStep a model needs.

McpTools::Answer McpTools::Generate(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  auto done = ops_.Generate(args["prompt"].get<std::string>(), dir, args["force"].get<bool>(),
                            *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "generate");
  json out = GenerateModel(*done);
  out["nextStep"] = fmt::format(
      "Read or adapt the files if needed, then call deploy with directory \"{}\".", dir);
  return Success(std::move(out));
}

McpTools::Answer McpTools::Deploy(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  std::string project = args.contains("projectId") ? args["projectId"].get<std::string>() : "";
  auto done = ops_.Deploy(dir, project, *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "deploy");
  if (!done->note.empty()) log::Warn("mcp: deploy of {}: {}", dir, done->note);
  json out = DeployModel(*done);
  out["nextStep"] = fmt::format(
      "Call wait_for_deployment with deploymentId \"{}\" to follow it to its URL (it takes a "
      "minute or more).",
      done->deployment.id());
  return Success(std::move(out));
}

McpTools::Answer McpTools::DeployAndWait(const json& args, McpToolCall& call) {
  if (!call.as_task) return Deploy(args, call);
  // Cancelling a task stops its waiting, never the deployment: the upload runs to its end.
  CancelToken upload_token;
  McpToolCall upload = call;
  upload.cancel = &upload_token;
  Answer deployed_answer = Deploy(args, upload);
  if (deployed_answer.result.is_error) return deployed_answer;
  McpToolResult deployed = std::move(deployed_answer.result);
  // No time limit: the task lasts as long as the deployment (a year stands for "no limit").
  json wait_args{{"deploymentId", deployed.structured["deploymentId"]},
                 {"timeoutSeconds", 365LL * 24 * 3600}};
  McpToolResult waited = WaitForDeployment(wait_args, call).result;
  if (waited.is_error) {
    waited.message += fmt::format(" (deploymentId \"{}\" was uploaded)",
                                  deployed.structured["deploymentId"].get<std::string>());
    return waited;
  }
  deployed.structured.update(waited.structured);
  return deployed;
}

McpTools::Answer McpTools::WaitForDeployment(const json& args, McpToolCall& call) {
  const std::string id = args["deploymentId"];
  const int64_t timeout_s = args["timeoutSeconds"];
  double reported = 0;
  const double total = static_cast<double>(contract::SuccessPath().size());
  Operations::WatchHooks hooks;
  hooks.on_event = [&](const pb::DeploymentEvent& ev) {
    auto stage = proto::StageOf(ev);
    if (!stage) return;
    // One step per stage of the success path; failed jumps to the end.
    double progress = std::min<double>(contract::StageRank(*stage) + 1, total);
    if (progress <= reported) return;
    reported = progress;
    std::string message = ev.status();
    if (ev.logs_size() > 0) message += ": " + ev.logs(ev.logs_size() - 1);
    call.progress(progress, total, message);
  };
  auto done = ops_.Watch(id, 0, seconds(timeout_s), hooks, *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "wait_for_deployment");
  json out = DeploymentModel(done->deployment);
  out["timedOut"] = done->timed_out;
  out["nextStep"] = NextStepFor(done->deployment);
  return Success(std::move(out));
}

McpTools::Answer McpTools::DeploymentStatus(const json& args, McpToolCall& call) {
  auto d = ops_.Status(args["deploymentId"].get<std::string>(), *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "deployment_status");
  json out = DeploymentModel(*d);
  out["nextStep"] = NextStepFor(*d);
  return Success(std::move(out));
}

McpTools::Answer McpTools::ListDeployments(const json& args, McpToolCall& call) {
  std::string project = args.contains("projectId") ? args["projectId"].get<std::string>() : "";
  auto list = ops_.History(project, static_cast<int>(args["limit"].get<int64_t>()), *call.cancel);
  if (!list.ok()) return FailureOf(list.error(), "list_deployments");
  json deployments = json::array();
  for (const auto& d : *list) deployments.push_back(DeploymentModel(d));
  return Success({{"deployments", std::move(deployments)}});
}

McpTools::Answer McpTools::Rollback(const json& args, McpToolCall& call) {
  auto str = [&](const char* key) {
    return args.contains(key) ? args[key].get<std::string>() : std::string();
  };
  std::string dir = str("directory"), project = str("projectId"), to = str("toDeploymentId");
  if (dir.empty() && project.empty() && to.empty()) {
    return Failure("rollback needs directory, projectId or toDeploymentId");
  }
  auto d = ops_.Rollback(dir.empty() ? "." : dir, project, to, *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "rollback");
  json out = DeploymentModel(*d);
  out["nextStep"] = fmt::format(
      "Call wait_for_deployment with deploymentId \"{}\" to follow the rollback to its URL.",
      d->id());
  return Success(std::move(out));
}

McpTools::Answer McpTools::Diff(const json& args, McpToolCall& call) {
  auto str = [&](const char* key) {
    return args.contains(key) ? args[key].get<std::string>() : std::string();
  };
  std::string from = str("deploymentId"), other = str("otherDeploymentId"), dir = str("directory");
  if (other.empty() && dir.empty()) {
    return Failure("diff needs directory (a project folder) or otherDeploymentId");
  }
  if (from.empty() && dir.empty()) {
    return Failure("diff needs deploymentId, or directory to compare with its last deployment");
  }
  auto d = ops_.Diff(from, other, dir, *call.cancel);
  if (!d.ok()) return FailureOf(d.error(), "diff");
  json out = DiffModel(*d);
  out["nextStep"] = d->diff.same()
                        ? std::string("They hold the same files.")
                        : std::string(
                              "Read the diff. To go back to the earlier files, call rollback; "
                              "to ship the folder's, call deploy.");
  return Success(std::move(out));
}

McpTools::Answer McpTools::Restore(const json& args, McpToolCall& call) {
  auto done =
      ops_.Restore(args["deploymentId"].get<std::string>(), args["directory"].get<std::string>(),
                   args["force"].get<bool>(), *call.cancel);
  if (!done.ok()) return FailureOf(done.error(), "restore");
  json out = RestoreModel(*done);
  out["nextStep"] = fmt::format(
      "Read or change the files, then call deploy with directory \"{}\" (or diff to compare it "
      "with a deployment).",
      done->directory);
  return Success(std::move(out));
}

McpTools::Answer McpTools::AuthStatus(const json&, McpToolCall& call) {
  auto a = ops_.AuthStatus(/*verify=*/true, *call.cancel);
  if (!a.ok()) return Failure(ToolErrorText(a.error(), "auth_status"));
  json out = AuthModel(*a);
  out["nextStep"] = a->logged_in()
                        ? std::string("Logged in: generate and deploy can run.")
                        : std::string(
                              "Not logged in: ask the user to run `backend-im auth login` "
                              "in a terminal, or call auth_login_start.");
  return Success(std::move(out));
}

McpTools::Answer McpTools::AuthLoginStart(const json&, McpToolCall& call) {
  auto s = ops_.LoginStart(*call.cancel);
  if (!s.ok()) return Failure(ToolErrorText(s.error(), "auth_login_start"));
  std::string show =
      s->verification_uri_complete().empty()
          ? fmt::format("open {} and enter the code {}", s->verification_uri(), s->user_code())
          : fmt::format("open {} and enter the code {} (or open {} directly)",
                        s->verification_uri(), s->user_code(), s->verification_uri_complete());
  json out{{"loginId", s->login_id()},
           {"verificationUri", s->verification_uri()},
           {"userCode", s->user_code()},
           {"expiresInSeconds", s->expires_in_seconds()},
           {"intervalSeconds", s->interval_seconds()},
           {"nextStep", fmt::format("Ask the user to {}, and approve. Then call "
                                    "auth_login_check with loginId \"{}\".",
                                    show, s->login_id())}};
  SetIfKnown(out, "verificationUriComplete", s->verification_uri_complete());
  return Success(std::move(out));
}

McpTools::Answer McpTools::AuthLoginCheck(const json& args, McpToolCall& call) {
  const std::string id = args["loginId"];
  auto r = ops_.LoginCheck(id, static_cast<int>(args["waitSeconds"].get<int64_t>()), *call.cancel);
  if (!r.ok()) {
    if (r.error().kind == OpFailure::kNotFound) {
      return Failure(
          fmt::format("auth_login_check failed: {} with auth_login_start", r.error().message));
    }
    return Failure(ToolErrorText(r.error(), "auth_login_check"));
  }
  std::string state, next;
  switch (r->state()) {
    case pb::LoginCheckReply::PENDING:
      state = "pending";
      next = fmt::format(
          "The user has not approved yet: call auth_login_check with loginId "
          "\"{}\" again in a few seconds.",
          id);
      break;
    case pb::LoginCheckReply::APPROVED:
      state = "approved";
      next = "Logged in: generate and deploy can run.";
      break;
    case pb::LoginCheckReply::DENIED:
      state = "denied";
      next = "The user denied the login. Start again with auth_login_start only if they want to.";
      break;
    case pb::LoginCheckReply::EXPIRED:
      state = "expired";
      next = "The code expired before it was approved. Start again with auth_login_start.";
      break;
    default:
      state = "failed";
      next =
          "The login failed (see message). Start again with auth_login_start, or ask the "
          "user to run `backend-im auth login` in a terminal.";
      break;
  }
  const bool approved = r->state() == pb::LoginCheckReply::APPROVED;
  json out{{"state", state},
           {"message", r->message()},
           {"loggedIn", approved && r->auth().logged_in()},
           {"nextStep", next}};
  if (approved) SetIfKnown(out, "email", r->auth().email());
  return Success(std::move(out));
}

}  // namespace bim::ctl
