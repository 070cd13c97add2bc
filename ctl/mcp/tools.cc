#include "ctl/mcp/tools.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "common/contract.h"
#include "common/log.h"
#include "ctl/mcp/protocol.h"
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"
#include "ctl/operations.h"
#include "ctl/output.h"
#include "ctl/project_files.h"
#include "proto/convert.h"

namespace bim::ctl {

namespace pb = backend_im::v1;
using namespace mcp_tools;

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
  DefineDeploymentTools();
  DefineSnapshotTools();
  DefineEnvironmentTools();
  DefineLogTools();
  DefineAuthTools();
}

std::string McpTools::Where() const {
  return fmt::format("An absolute path is best; a relative one is taken from {}.", cwd_);
}

std::vector<McpTools::Arg> McpTools::WithWriteArgs(const OperationSpec& op, Arg first) const {
  Arg directory = FolderArg(op, "directory", true);
  directory.check = Check::kNewDir;
  return {std::move(first),
          std::move(directory),
          {"force", ArgType::kBoolean, false, ToolDescription(op.Arg("force")), 0, 0, Check::kNone,
           false}};
}

McpTools::Arg McpTools::TextArg(const OperationSpec& op, std::string name, bool required,
                                int64_t max_length) {
  std::string description = ToolDescription(op.Arg(name));
  return Arg{std::move(name), ArgType::kString, required, std::move(description), 1,
             max_length,      Check::kNone,     nullptr};
}

McpTools::Arg McpTools::IdArg(const OperationSpec& op, std::string name, bool required) {
  Arg a = TextArg(op, std::move(name), required, 128);
  a.check = Check::kId;
  return a;
}

McpTools::Arg McpTools::FolderArg(const OperationSpec& op, std::string name, bool required) const {
  Arg a = TextArg(op, std::move(name), required, 4096);
  a.description += " " + Where();
  a.check = Check::kExistingDir;
  return a;
}

McpTools::Arg McpTools::IntArg(const OperationSpec& op, std::string name, int64_t min, int64_t max,
                               int64_t default_value) {
  std::string description = ToolDescription(op.Arg(name));
  return Arg{std::move(name), ArgType::kInteger, false, std::move(description), min, max,
             Check::kNone,    default_value};
}

const McpTools::Tool* McpTools::Find(const std::string& name) const {
  for (const auto& t : tools_) {
    if (t.spec->tool == name) return &t;
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
    const OperationSpec& op = *t.spec;
    json tool{{"name", op.tool}, {"description", ToolDescription(op)}, {"inputSchema", schema}};
    // Titles and output schemas came with 2025-06-18, annotations with 2025-03-26.
    if (version >= "2025-06-18") {
      tool["title"] = op.title;
      tool["outputSchema"] = ToolOutputSchema(op);
    }
    if (version >= "2025-03-26") {
      json ann = t.annotations;
      ann["title"] = op.title;
      tool["annotations"] = ann;
    }
    // Tasks came with 2025-11-25; 2026-07-28 moved them to an extension without this field.
    const bool task_tool = t.handler == &McpTools::DeployAndWait ||
                           t.handler == &McpTools::PromoteAndWait ||
                           t.handler == &McpTools::WaitForDeployment;
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
    return Failure(fmt::format("invalid arguments for {}: {}", tool.spec->tool, what));
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
  bool confirmed = false;
  if (call.input_state.is_object() && call.input_state.contains(kConfirmInputKey)) {
    // 2026-07-28: the person's answer to the confirmation asked last round
    if (auto stop = ConfirmAnswered(name, call)) return std::move(*stop);
    confirmed = true;
  } else if (!call.input_state.is_null()) {  // 2026-07-28: a login through the client goes on
    if (auto stop = ContinueLogin(name, call)) return std::move(*stop);
    logged_in_here = true;
    confirmed = call.input_state.value("confirmed", false);
  }
  if (tool->confirm && !confirmed) {
    if (auto stop = Confirm(name, tool->confirm(args), call)) return std::move(*stop);
    confirmed = true;
  }
  Answer a = (this->*(tool->handler))(args, call);
  if (!a.needs_login || logged_in_here || call.cancel->cancelled()) return std::move(a.result);
  if (call.open_url) {
    if (auto stop = LoginThroughClient(name, a.result, call)) return std::move(*stop);
    log::Info("mcp: logged in through the client; {} again", name);
    return std::move((this->*(tool->handler))(args, call).result);
  }
  if (call.can_request_url) {
    McpToolResult ask = RequestLogin(name, a.result, call);
    // The next round runs the tool without asking for the confirmation again.
    if (confirmed && ask.input_state.is_object()) ask.input_state["confirmed"] = true;
    return ask;
  }
  return std::move(a.result);
}

namespace {

std::string DeclinedText(const std::string& tool) {
  return fmt::format(
      "{}: the user declined; nothing was changed. Do not call {} again unless they ask for it.",
      tool, tool);
}

}  // namespace

std::optional<McpToolResult> McpTools::Confirm(const std::string& tool, const std::string& message,
                                               McpToolCall& call) {
  if (call.confirm) {
    log::Info("mcp: {} asks the person to confirm", tool);
    McpToolCall::ConfirmAnswer answer = call.confirm(message);
    if (call.cancel->cancelled()) return Cancelled();
    switch (answer) {
      case McpToolCall::ConfirmAnswer::kConfirmed:
        return std::nullopt;
      case McpToolCall::ConfirmAnswer::kRefused:
        return Failure(DeclinedText(tool));
      case McpToolCall::ConfirmAnswer::kFailed:
        return Failure(fmt::format(
            "{}: the client could not ask the user to confirm, so nothing was changed. Ask the "
            "user in the conversation, then call {} again only if they agree.",
            tool, tool));
    }
  }
  if (call.can_request_form) {
    McpToolResult r;
    r.input_requests = {{kConfirmInputKey,
                         {{"method", "elicitation/create"},
                          {"params", mcp::ConfirmFormParams(message, /*with_mode=*/true)}}}};
    r.input_state = {{kConfirmInputKey, true}};
    return r;
  }
  return std::nullopt;  // no way to ask here: the destructiveHint lets the client ask
}

std::optional<McpToolResult> McpTools::ConfirmAnswered(const std::string& tool,
                                                       const McpToolCall& call) {
  const json answer = call.input_responses.is_object()
                          ? call.input_responses.value(kConfirmInputKey, json())
                          : json();
  if (mcp::ConfirmAnswerOf(answer) == McpToolCall::ConfirmAnswer::kConfirmed) return std::nullopt;
  return Failure(DeclinedText(tool));
}

McpTools::Answer McpTools::FailureOf(const OpError& e, const std::string& what) {
  Answer a = Failure(ToolErrorText(e, what));
  a.needs_login = e.kind == OpFailure::kAuth;
  return a;
}

}  // namespace bim::ctl
