// The MCP tools of the login (auth_status, auth_login_start, auth_login_check), and the login
// through the client that any tool needing one starts (URL-mode elicitation).
#include "common/log.h"
#include "ctl/mcp/tool_parts.h"
#include "ctl/models.h"

namespace bim::ctl {

namespace pb = backend_im::v1;
using namespace mcp_tools;
using std::chrono::milliseconds;
using std::chrono::seconds;

// auth_status, auth_login_start, auth_login_check
void McpTools::DefineAuthTools() {
  tools_.push_back(Tool{&ToolSpec("auth_status"), {}, ReadHints(), &McpTools::AuthStatus});
  tools_.push_back(Tool{&ToolSpec("auth_login_start"),
                        {},
                        WriteHints(false, false, true),
                        &McpTools::AuthLoginStart});
  const OperationSpec& check = ToolSpec("auth_login_check");
  tools_.push_back(Tool{&check,
                        {IdArg(check, "loginId", true), IntArg(check, "waitSeconds", 0, 50, 5)},
                        WriteHints(false, true, true),
                        &McpTools::AuthLoginCheck});
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
  json out = LoginCodeModel(*s);
  out["loginId"] = s->login_id();
  out["intervalSeconds"] = s->interval_seconds();
  out["nextStep"] = fmt::format(
      "Ask the user to {}, and approve. Then call auth_login_check with loginId \"{}\".", show,
      s->login_id());
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
  json out = LoginCheckModel(*r);
  switch (r->state()) {
    case pb::LoginCheckReply::PENDING:
      out["nextStep"] = fmt::format(
          "The user has not approved yet: call auth_login_check with loginId "
          "\"{}\" again in a few seconds.",
          id);
      break;
    case pb::LoginCheckReply::APPROVED:
      out["nextStep"] = "Logged in: generate and deploy can run.";
      break;
    case pb::LoginCheckReply::DENIED:
      out["nextStep"] =
          "The user denied the login. Start again with auth_login_start only if they want to.";
      break;
    case pb::LoginCheckReply::EXPIRED:
      out["nextStep"] =
          "The code expired before it was approved. Start again with auth_login_start.";
      break;
    default:
      out["nextStep"] =
          "The login failed (see message). Start again with auth_login_start, or ask the "
          "user to run `backend-im auth login` in a terminal.";
      break;
  }
  return Success(std::move(out));
}

}  // namespace bim::ctl
