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
#include "ctl/output.h"
#include "ctl/project_files.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kQuick = seconds(30);
constexpr milliseconds kSlow = std::chrono::minutes(10);
constexpr const char* kErrorCodeKey = "x-backend-im-error-code";
constexpr const char* kLoginHint =
    "not logged in: ask the user to run `backend-im auth login` in a terminal, or log in from "
    "here with auth_login_start and auth_login_check";

McpToolResult Failure(std::string message) {
  return McpToolResult{true, nullptr, std::move(message)};
}
McpToolResult Success(json structured) { return McpToolResult{false, std::move(structured), {}}; }
McpToolResult Cancelled() { return Failure("cancelled by the client"); }

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

json DeploymentStructured(const pb::Deployment& d, bool with_logs) {
  json j{{"deploymentId", d.id()},        {"projectId", d.project_id()},
         {"commitHash", d.commit_hash()}, {"status", d.status()},
         {"terminal", d.terminal()},      {"createdAt", FormatIso(d.created_at_unix_ms())}};
  SetIfKnown(j, "url", d.url());
  SetIfKnown(j, "directory", d.directory());
  if (with_logs) {
    j["updatedAt"] = FormatIso(d.updated_at_unix_ms());
    j["logs"] = std::vector<std::string>(d.logs().begin(), d.logs().end());
    SetIfKnown(j, "streamProblem", d.stream_problem());
  }
  return j;
}

std::string NextStepFor(const pb::Deployment& d) {
  if (d.status() == "complete") {
    return fmt::format("Deployed. Give the user the URL {}", d.url());
  }
  if (d.status() == "failed") {
    return "The deployment failed: read the logs, fix the project files, then call deploy again.";
  }
  return fmt::format("Still {}: call wait_for_deployment again with deploymentId \"{}\".",
                     d.status(), d.id());
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
// An object schema whose properties are all required except the OptStr ones.
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

json DeploymentSchema(bool with_logs) {
  json p{
      {"deploymentId", Str("The deployment's id")},
      {"projectId", Str("The project it belongs to")},
      {"commitHash", Str("Hash of the uploaded files; the URL is https://<commitHash>.backend.im")},
      {"status", Str("queued, committing, creating_namespace, creating_pvc, building, "
                     "deploying, health_check, complete or failed")},
      {"terminal", Bool("True once complete or failed")},
      {"url", OptStr("The live URL; present once complete")},
      {"createdAt", Str("When it was created (ISO 8601, UTC)")},
      {"directory", OptStr("The local folder it was deployed from, when known")}};
  if (with_logs) {
    p["updatedAt"] = Str("When it last changed (ISO 8601, UTC)");
    p["logs"] = StrArray("The platform's log lines, oldest first");
    p["streamProblem"] = OptStr("Present while the agent cannot follow the platform's live stream");
  }
  return Object(std::move(p));
}

}  // namespace

McpTools::McpTools(AgentClient& client, std::string cwd) : client_(client), cwd_(std::move(cwd)) {
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
      "follow it to its URL. Hidden files, .git, node_modules, caches, virtualenvs and secrets "
      "(.env*, *.pem, *.key) are never uploaded. Deploying again replaces the project's "
      "previous deployment. Needs a login (see auth_status).",
      {{"directory", ArgType::kString, true,
        "The project folder to upload; it must exist, e.g. the one given to generate. " + where, 1,
        4096, Check::kExistingDir, nullptr},
       {"projectId", ArgType::kString, false,
        "The project to deploy to. Default: the one generate or an earlier deploy remembered "
        "in the folder (.backend-im/project.json), else a new project.",
        1, 128, Check::kId, nullptr}},
      Object({{"deploymentId", Str("Pass this to wait_for_deployment or deployment_status")},
              {"projectId", Str("The project deployed to")},
              {"commitHash", Str("Hash of the uploaded files; the URL will be "
                                 "https://<commitHash>.backend.im")},
              {"status", Str("The status right after the upload, usually queued")},
              {"directory", Str("The absolute folder that was uploaded")},
              {"fileCount", Int("How many files were uploaded")},
              {"totalBytes", Int("How many bytes were uploaded")},
              {"skipped",
               {{"type", "array"},
                {"description", "Files left out, and why"},
                {"items", Object({{"path", Str("Path inside the folder")},
                                  {"reason", Str("Why it was left out")}})}}},
              {"nextStep", Str("What to do next")}}),
      deploy_hints,
      &McpTools::Deploy});

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
      [] {
        json s = DeploymentSchema(/*with_logs=*/true);
        s["properties"]["timedOut"] = Bool("True when timeoutSeconds passed first");
        s["properties"]["nextStep"] = Str("What to do next");
        s["required"].push_back("timedOut");
        s["required"].push_back("nextStep");
        return s;
      }(),
      read_hints,
      &McpTools::WaitForDeployment});

  tools_.push_back(Tool{"deployment_status",
                        "Deployment status",
                        "The current status, URL and logs of one deployment, without waiting.",
                        {deployment_id},
                        DeploymentSchema(/*with_logs=*/true),
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
                     {"items", DeploymentSchema(/*with_logs=*/false)}}}}),
           {{"readOnlyHint", true}, {"openWorldHint", false}},
           &McpTools::ListDeployments});

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
  if (call.cancel->cancelled()) return Cancelled();
  return (this->*(tool->handler))(args, call);
}

std::optional<McpToolResult> McpTools::Connect() {
  std::lock_guard lock(client_mu_);
  auto s = client_.Connect();
  if (s.ok()) return std::nullopt;
  return Failure("cannot reach the backend-im agent: " + s.error().message);
}

McpTools::RpcOutcome McpTools::Rpc(McpToolCall& call, milliseconds timeout,
                                   const std::function<grpc::Status(grpc::ClientContext*)>& fn) {
  auto ctx = client_.NewContext(timeout);
  if (!call.cancel->Attach(ctx.get())) {
    return {grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"), ""};
  }
  grpc::Status st = fn(ctx.get());
  call.cancel->Detach();
  RpcOutcome out{st, ""};
  {
    std::lock_guard lock(client_mu_);
    client_.CheckReply(*ctx);
  }
  const auto& md = ctx->GetServerTrailingMetadata();
  if (auto it = md.find(kErrorCodeKey); it != md.end()) {
    out.platform_code.assign(it->second.data(), it->second.size());
  }
  return out;
}

McpToolResult McpTools::RpcError(const RpcOutcome& o, const std::string& what,
                                 McpToolCall& call) const {
  const std::string& msg = o.status.error_message();
  switch (o.status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      if (msg.rfind("not logged in", 0) == 0)
        return Failure(fmt::format("{}: {}", what, kLoginHint));
      return Failure(fmt::format("{}: {} (the agent said: {})", what, kLoginHint, msg));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Failure(fmt::format("{} failed: {}", what, msg));
    case grpc::StatusCode::NOT_FOUND:
      return Failure(
          fmt::format("{} failed: {}. Check the id: list_deployments shows the "
                      "deployments made here.",
                      what, msg));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Failure(
          fmt::format("{} failed: the backend-im agent did not answer in time; try "
                      "again, or ask the user to check `backend-im daemon status`",
                      what));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Failure(fmt::format("{} failed: Backend.im refused: {}", what, msg));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      if (call.cancel->cancelled()) return Cancelled();
      if (o.platform_code.empty()) {
        return Failure(
            fmt::format("{} failed: lost the connection to the backend-im agent ({}); "
                        "call the tool again, and if it keeps failing ask the user "
                        "to run `backend-im daemon status`",
                        what, msg));
      }
      return Failure(
          fmt::format("{} failed: Backend.im could not be reached ({}); try again in "
                      "a minute",
                      what, msg));
    default:
      return Failure(fmt::format("{} failed: {}", what, msg));
  }
}

// ---- tools ------------------------------------------------------------------------------------

McpToolResult McpTools::Generate(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  // Before the platform is asked: a refused folder would waste the generate.
  if (auto s = CheckOutputFolder(dir); !s.ok()) {
    return Failure("generate failed: " + s.error().message);
  }
  if (auto err = Connect()) return *err;
  pb::GenerateRequest req;
  req.set_prompt(args["prompt"].get<std::string>());
  pb::GenerateReply reply;
  auto o = Rpc(call, kSlow,
               [&](grpc::ClientContext* ctx) { return client_.stub().Generate(ctx, req, &reply); });
  if (!o.status.ok()) return RpcError(o, "generate", call);
  if (call.cancel->cancelled()) return Cancelled();  // nothing written for a cancelled call

  contract::FileMap files;
  for (const auto& f : reply.files()) files[f.path()] = f.content();
  if (static_cast<int>(files.size()) != reply.files_size()) {
    return Failure(
        "generate failed: the platform's answer names a file twice; nothing was written");
  }
  auto written = WriteProjectFiles(dir, files, args["force"].get<bool>());
  if (!written.ok()) {
    if (written.error().code == ErrorCode::kConflict) {
      return Failure(
          fmt::format("generate wrote nothing: {}. Call generate again with force "
                      "true to overwrite them, or choose another directory.",
                      written.error().message));
    }
    return Failure("generate failed: " + written.error().message);
  }
  if (!reply.project_id().empty()) {
    if (auto s = SaveProjectMeta(dir, {reply.project_id()}); !s.ok()) {
      return Failure("generate wrote the files but cannot remember the project: " +
                     s.error().message);
    }
  }
  json list = json::array();
  for (const auto& [path, content] : files)
    list.push_back({{"path", path}, {"bytes", content.size()}});
  json out{{"directory", dir},
           {"files", list},
           {"written", written->written},
           {"unchanged", written->unchanged},
           {"nextStep", fmt::format("Read or adapt the files if needed, then call deploy "
                                    "with directory \"{}\".",
                                    dir)}};
  SetIfKnown(out, "projectId", reply.project_id());
  return Success(std::move(out));
}

McpToolResult McpTools::Deploy(const json& args, McpToolCall& call) {
  const std::string dir = args["directory"];
  auto snap = ReadProjectFiles(dir);
  if (!snap.ok()) return Failure("deploy failed: " + snap.error().message);
  if (snap->files.empty()) {
    return Failure(
        fmt::format("deploy failed: nothing to upload in {} (hidden files, caches and "
                    "secrets are left out). Call generate first, or pass the folder "
                    "that holds main.py.",
                    dir));
  }
  std::string project = args.contains("projectId") ? args["projectId"].get<std::string>() : "";
  if (project.empty()) {
    if (auto meta = LoadProjectMeta(dir)) project = meta->project_id;
  }
  if (auto err = Connect()) return *err;
  pb::DeployRequest req;
  for (const auto& [path, content] : snap->files) {
    auto* f = req.add_files();
    f->set_path(path);
    f->set_content(content);
  }
  req.set_project_id(project);
  req.set_directory(dir);
  pb::DeployReply reply;
  auto o = Rpc(call, kSlow,
               [&](grpc::ClientContext* ctx) { return client_.stub().Deploy(ctx, req, &reply); });
  if (!o.status.ok()) return RpcError(o, "deploy", call);
  const auto& d = reply.deployment();
  if (!d.project_id().empty() && d.project_id() != project) {
    if (auto s = SaveProjectMeta(dir, {d.project_id()}); !s.ok()) {
      log::Warn("mcp: cannot remember the project id in {}: {}", dir, s.error().message);
    }
  }
  json skipped = json::array();
  for (const auto& s : snap->skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  return Success({{"deploymentId", d.id()},
                  {"projectId", d.project_id()},
                  {"commitHash", d.commit_hash()},
                  {"status", d.status()},
                  {"directory", dir},
                  {"fileCount", snap->files.size()},
                  {"totalBytes", snap->total_bytes},
                  {"skipped", skipped},
                  {"nextStep", fmt::format("Call wait_for_deployment with deploymentId \"{}\" to "
                                           "follow it to its URL (it takes a minute or more).",
                                           d.id())}});
}

McpToolResult McpTools::WaitForDeployment(const json& args, McpToolCall& call) {
  const std::string id = args["deploymentId"];
  const int64_t timeout_s = args["timeoutSeconds"];
  if (auto err = Connect()) return *err;
  pb::WatchRequest req;
  req.set_deployment_id(id);
  auto ctx = client_.NewContext(seconds(timeout_s));
  if (!call.cancel->Attach(ctx.get())) return Cancelled();
  auto reader = client_.stub().Watch(ctx.get(), req);
  pb::DeploymentEvent ev;
  bool checked = false;
  double reported = 0;
  const double total = static_cast<double>(contract::SuccessPath().size());
  while (reader->Read(&ev)) {
    if (!checked) {
      std::lock_guard lock(client_mu_);
      client_.CheckReply(*ctx);
      checked = true;
    }
    auto stage = contract::ParseStage(ev.status());
    if (!stage) continue;
    // One step per stage of the success path; failed jumps to the end.
    double progress = std::min<double>(contract::StageRank(*stage) + 1, total);
    if (progress <= reported) continue;
    reported = progress;
    std::string message = ev.status();
    if (ev.logs_size() > 0) message += ": " + ev.logs(ev.logs_size() - 1);
    call.progress(progress, total, message);
  }
  grpc::Status st = reader->Finish();
  call.cancel->Detach();
  if (call.cancel->cancelled()) return Cancelled();
  bool deadline = st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (!st.ok() && !deadline) {
    RpcOutcome o{st, ""};
    const auto& md = ctx->GetServerTrailingMetadata();
    if (auto it = md.find(kErrorCodeKey); it != md.end()) {
      o.platform_code.assign(it->second.data(), it->second.size());
    }
    return RpcError(o, "wait_for_deployment", call);
  }
  // The agent's store has the whole story, logs included, whatever the stream delivered.
  pb::StatusRequest sreq;
  sreq.set_deployment_id(id);
  pb::Deployment d;
  auto o =
      Rpc(call, kQuick, [&](grpc::ClientContext* c) { return client_.stub().Status(c, sreq, &d); });
  if (!o.status.ok()) return RpcError(o, "wait_for_deployment", call);
  json out = DeploymentStructured(d, /*with_logs=*/true);
  out["timedOut"] = deadline && !d.terminal();
  out["nextStep"] = NextStepFor(d);
  return Success(std::move(out));
}

McpToolResult McpTools::DeploymentStatus(const json& args, McpToolCall& call) {
  if (auto err = Connect()) return *err;
  pb::StatusRequest req;
  req.set_deployment_id(args["deploymentId"].get<std::string>());
  pb::Deployment d;
  auto o = Rpc(call, kQuick,
               [&](grpc::ClientContext* ctx) { return client_.stub().Status(ctx, req, &d); });
  if (!o.status.ok()) return RpcError(o, "deployment_status", call);
  return Success(DeploymentStructured(d, /*with_logs=*/true));
}

McpToolResult McpTools::ListDeployments(const json& args, McpToolCall& call) {
  if (auto err = Connect()) return *err;
  pb::HistoryRequest req;
  if (args.contains("projectId")) req.set_project_id(args["projectId"].get<std::string>());
  req.set_limit(static_cast<int32_t>(args["limit"].get<int64_t>()));
  pb::HistoryReply reply;
  auto o = Rpc(call, kQuick,
               [&](grpc::ClientContext* ctx) { return client_.stub().History(ctx, req, &reply); });
  if (!o.status.ok()) return RpcError(o, "list_deployments", call);
  json list = json::array();
  for (const auto& d : reply.deployments()) list.push_back(DeploymentStructured(d, false));
  return Success({{"deployments", list}});
}

McpToolResult McpTools::AuthStatus(const json&, McpToolCall& call) {
  if (auto err = Connect()) return *err;
  pb::AuthStatusRequest req;
  req.set_verify(true);
  pb::AuthStatusReply a;
  auto o = Rpc(call, kQuick,
               [&](grpc::ClientContext* ctx) { return client_.stub().AuthStatus(ctx, req, &a); });
  if (!o.status.ok()) return RpcError(o, "auth_status", call);
  json out{{"loggedIn", a.logged_in()}, {"apiUrl", a.api_url()}};
  SetIfKnown(out, "source", a.source());
  SetIfKnown(out, "userId", a.user_id());
  SetIfKnown(out, "email", a.email());
  SetIfKnown(out, "expiresAt", FormatIso(a.expires_at_unix_ms()));
  out["nextStep"] = a.logged_in()
                        ? std::string("Logged in: generate and deploy can run.")
                        : std::string(
                              "Not logged in: ask the user to run `backend-im auth login` "
                              "in a terminal, or call auth_login_start.");
  return Success(std::move(out));
}

McpToolResult McpTools::AuthLoginStart(const json&, McpToolCall& call) {
  if (auto err = Connect()) return *err;
  pb::LoginStartReply s;
  auto o = Rpc(call, kQuick, [&](grpc::ClientContext* ctx) {
    return client_.stub().LoginStart(ctx, pb::LoginStartRequest(), &s);
  });
  if (!o.status.ok()) return RpcError(o, "auth_login_start", call);
  std::string show =
      s.verification_uri_complete().empty()
          ? fmt::format("open {} and enter the code {}", s.verification_uri(), s.user_code())
          : fmt::format("open {} and enter the code {} (or open {} directly)", s.verification_uri(),
                        s.user_code(), s.verification_uri_complete());
  json out{{"loginId", s.login_id()},
           {"verificationUri", s.verification_uri()},
           {"userCode", s.user_code()},
           {"expiresInSeconds", s.expires_in_seconds()},
           {"intervalSeconds", s.interval_seconds()},
           {"nextStep", fmt::format("Ask the user to {}, and approve. Then call "
                                    "auth_login_check with loginId \"{}\".",
                                    show, s.login_id())}};
  SetIfKnown(out, "verificationUriComplete", s.verification_uri_complete());
  return Success(std::move(out));
}

McpToolResult McpTools::AuthLoginCheck(const json& args, McpToolCall& call) {
  const std::string id = args["loginId"];
  const int64_t wait = args["waitSeconds"];
  if (auto err = Connect()) return *err;
  pb::LoginCheckRequest req;
  req.set_login_id(id);
  req.set_wait_seconds(static_cast<int32_t>(wait));
  pb::LoginCheckReply r;
  auto o = Rpc(call, seconds(wait) + kQuick,
               [&](grpc::ClientContext* ctx) { return client_.stub().LoginCheck(ctx, req, &r); });
  if (!o.status.ok()) {
    if (o.status.error_code() == grpc::StatusCode::NOT_FOUND) {
      return Failure(
          fmt::format("auth_login_check failed: no login {} is in progress (the agent "
                      "may have restarted); start again with auth_login_start",
                      id));
    }
    return RpcError(o, "auth_login_check", call);
  }
  std::string state, next;
  switch (r.state()) {
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
  const bool approved = r.state() == pb::LoginCheckReply::APPROVED;
  json out{{"state", state},
           {"message", r.message()},
           {"loggedIn", approved && r.auth().logged_in()},
           {"nextStep", next}};
  if (approved) SetIfKnown(out, "email", r.auth().email());
  return Success(std::move(out));
}

}  // namespace bim::ctl
