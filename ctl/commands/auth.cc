// backend-im auth login | status | logout
#include <cstdio>
#include <iostream>
#include <iterator>

#include "ctl/commands/command.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

namespace pb = backend_im::v1;

int PrintLoggedIn(CommandContext& c, const pb::AuthStatusReply& a) {
  if (c.json()) {
    PrintJson(AuthModel(a));
  } else {
    std::string who = a.email().empty() ? a.user_id() : a.email();
    Print("{} Logged in to {}{}\n", c.style().Green("✓"), a.api_url(),
          who.empty() ? "" : " as " + who);
  }
  return kExitOk;
}

int LoginWithToken(CommandContext& c) {
  std::string token((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (token.find_first_not_of(" \t\r\n") == std::string::npos) {
    PrintErr(
        "backend-im: auth login --with-token reads the token from standard input, e.g.\n"
        "  echo \"$BACKEND_IM_TOKEN\" | backend-im auth login --with-token\n");
    return kExitUsage;
  }
  auto reply = c.ops().LoginWithToken(token, c.cancel());
  if (!reply.ok()) return c.Failed(reply.error(), "login failed");
  return PrintLoggedIn(c, *reply);
}

int Login(CommandContext& c, bool with_token) {
  if (with_token) return LoginWithToken(c);
  auto start = c.ops().LoginStart(c.cancel());
  if (!start.ok()) return c.Failed(start.error(), "cannot start the login");
  if (c.json()) {
    PrintJson(LoginCodeModel(*start));
  } else {
    Print("To log in, open {}\nand enter the code {}\n", c.style().Bold(start->verification_uri()),
          c.style().Bold(start->user_code()));
    if (!start->verification_uri_complete().empty()) {
      Print("(or open {} directly)\n", start->verification_uri_complete());
    }
    Print("Waiting for you to approve...\n");
  }
  std::fflush(stdout);
  auto reply = c.ops().AwaitLogin(start->login_id(), std::nullopt, c.cancel());
  if (!reply.ok()) return c.Failed(reply.error(), "login failed");
  if (reply->state() == pb::LoginCheckReply::APPROVED) return PrintLoggedIn(c, reply->auth());
  PrintErr("backend-im: login failed: {}\n", reply->message());
  return kExitAuth;
}

int Status(CommandContext& c) {
  auto reply = c.ops().AuthStatus(/*verify=*/true, c.cancel());
  if (!reply.ok()) return c.Failed(reply.error(), "cannot check the login");
  if (c.json()) {
    PrintJson(AuthModel(*reply));
    return reply->logged_in() ? kExitOk : kExitAuth;
  }
  if (!reply->logged_in()) {
    PrintErr("Not logged in to {}. Run `backend-im auth login`.\n", reply->api_url());
    return kExitAuth;
  }
  std::string who = reply->email().empty() ? reply->user_id() : reply->email();
  Print("Logged in to {}{}\n", reply->api_url(), who.empty() ? "" : " as " + who);
  if (!reply->user_id().empty()) Print("  user id:  {}\n", reply->user_id());
  Print("  via:      {}\n", reply->source() == "device"        ? "device login"
                            : reply->source() == "environment" ? "BACKEND_IM_TOKEN"
                                                               : "token");
  if (reply->expires_at_unix_ms() > 0) {
    Print("  token expires {}{}\n", FormatTime(reply->expires_at_unix_ms()),
          reply->can_refresh() ? " (renewed automatically)" : "");
  }
  return kExitOk;
}

int Logout(CommandContext& c) {
  auto was = c.ops().Logout(c.cancel());
  if (!was.ok()) return c.Failed(was.error(), "logout failed");
  if (c.json()) {
    PrintJson(nlohmann::json{{"wasLoggedIn", *was}});
  } else {
    Print("{}\n", *was ? "Logged out; the stored credentials are erased." : "Was not logged in.");
  }
  return kExitOk;
}

}  // namespace

void AddAuthCommand(CommandLine& cli) {
  cli.Add("auth")->require_subcommand(1);
  auto* login = cli.Add("auth login");
  bool& with_token = cli.Value<bool>();
  cli.Flag(login, "--with-token", with_token);
  cli.OnRun(login, [&with_token](CommandContext& c) { return Login(c, with_token); });
  cli.OnRun(cli.Add("auth status"), Status);
  auto* logout = cli.Add("auth logout");
  cli.OnRun(logout, Logout);
}

}  // namespace bim::ctl
