// backend-im mcp: a Model Context Protocol server on stdin/stdout for AI coding tools, and
// backend-im mcp config: the snippet that registers it.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/version.h"
#include "ctl/commands/command.h"
#include "ctl/interrupt.h"
#include "ctl/mcp/server.h"
#include "ctl/mcp/tools.h"
#include "ctl/output.h"

namespace bim::ctl {
namespace {

using nlohmann::json;

constexpr const char* kInstructions =
    "backend-im generates FastAPI backends from a prompt and deploys them to Backend.im, using "
    "the user's own login and history on this computer. Usual flow: auth_status (if not "
    "logged in: auth_login_start, show the user the URL and code, then auth_login_check), "
    "generate into a folder, read or adapt the files, deploy that folder, then "
    "wait_for_deployment until it is complete and give the user the URL. Tool errors say "
    "what to do next.";

// The settings that decide which agent and platform the server uses; copied into the snippet
// so an assistant's server finds the same ones. The state folder decides which agent (its lock
// file records the agent's socket), so XDG_STATE_HOME goes along when set; XDG_RUNTIME_DIR does
// not need to, and hosts built on the MCP SDKs pass only HOME, LOGNAME, PATH, SHELL, TERM and
// USER. BACKEND_IM_TOKEN never is copied: it is a secret.
const std::vector<const char*> kCopiedSettings = {"BACKEND_IM_API_URL", "BACKEND_IM_CA_FILE",
                                                  "BACKEND_IM_SOCKET",  "BACKEND_IM_NO_AUTOSTART",
                                                  "XDG_STATE_HOME",     "XDG_CONFIG_HOME"};

// BACKEND_IM_MCP_EXIT_GRACE_MS: how long calls in flight may still finish after the input ends.
// The default suits an assistant that closes the pipe to stop the server; a script piped into
// `backend-im mcp` that ends with a wait_for_deployment wants up to that wait's 900 s. Nullopt
// (after saying why on stderr) when the value is not a whole number from 0 to 900000.
constexpr const char* kExitGraceVariable = "BACKEND_IM_MCP_EXIT_GRACE_MS";
constexpr long long kMaxExitGraceMs = 900000;

std::optional<std::chrono::milliseconds> ExitGrace() {
  const char* v = std::getenv(kExitGraceVariable);
  if (!v || !*v) return std::chrono::milliseconds(McpServer::kShutdownGrace);
  char* end = nullptr;
  errno = 0;
  long long ms = std::strtoll(v, &end, 10);
  if (errno != 0 || *end != '\0' || !std::isdigit(static_cast<unsigned char>(*v)) || ms < 0 ||
      ms > kMaxExitGraceMs) {
    std::fprintf(stderr,
                 "backend-im mcp: %s=%s is not a whole number of milliseconds from 0 to %lld\n",
                 kExitGraceVariable, v, kMaxExitGraceMs);
    return std::nullopt;
  }
  return std::chrono::milliseconds(ms);
}

std::string SelfPath() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "backend-im";
  return std::string(self, static_cast<size_t>(n));
}

std::vector<std::pair<std::string, std::string>> Settings() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* name : kCopiedSettings) {
    const char* v = std::getenv(name);
    if (v && *v) out.emplace_back(name, v);
  }
  return out;
}

std::string ShellQuote(const std::string& s) {
  bool plain = !s.empty() && s.find_first_not_of(
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789/._-=:+,@%") == std::string::npos;
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ClaudeSnippet(const std::string& bin) {
  std::string line = "claude mcp add backend-im";
  for (const auto& [k, v] : Settings()) line += " --env " + ShellQuote(k + "=" + v);
  return line + " -- " + ShellQuote(bin) + " mcp\n";
}

std::string JsonSnippet(const std::string& bin, bool with_type) {
  json server{{"command", bin}, {"args", {"mcp"}}};
  if (with_type) server = json{{"type", "stdio"}, {"command", bin}, {"args", {"mcp"}}};
  json env = json::object();
  for (const auto& [k, v] : Settings()) env[k] = v;
  if (!env.empty()) server["env"] = env;
  return Dump(json{{"mcpServers", {{"backend-im", server}}}}, 2) + "\n";
}

int PrintConfig(const std::string& client) {
  std::string bin = SelfPath();
  std::string out;
  if (client == "claude") {
    out = ClaudeSnippet(bin);
  } else if (client == "cursor") {
    out = JsonSnippet(bin, /*with_type=*/false);
  } else if (client == "generic") {
    out = JsonSnippet(bin, /*with_type=*/true);
  } else {
    out = "# Claude Code: run once (add --scope user to use it in every project)\n" +
          ClaudeSnippet(bin) +
          "\n# Cursor: merge into ~/.cursor/mcp.json (or .cursor/mcp.json in a project)\n" +
          JsonSnippet(bin, false) +
          "\n# Any other MCP client, e.g. a project's .mcp.json: a stdio server\n" +
          JsonSnippet(bin, true);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunServer(AgentApi& agent) {
  auto grace = ExitGrace();
  if (!grace) return kExitUsage;
  // A client that goes away must end the server through EOF or a failed write, not SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  // stdout is the protocol's alone: the server keeps a copy of it and fd 1 goes to stderr, so
  // a stray print from any library can never corrupt the stream.
  int out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (out < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::fprintf(stderr, "backend-im mcp: cannot set up standard output\n");
    return kExitLocalFiles;
  }
  if (const char* level = std::getenv("BACKEND_IM_LOG_LEVEL")) {
    if (auto l = log::ParseLevel(level)) log::SetLevel(*l);
  }
  char cwd[PATH_MAX];
  std::string dir = ::getcwd(cwd, sizeof cwd) ? cwd : "/";

  McpTools tools(agent, dir);
  auto server = std::make_shared<McpServer>(
      tools, STDIN_FILENO, out, McpServerInfo{"backend-im", "Backend.im", kVersion, kInstructions},
      *grace);
  // Ctrl-C or SIGTERM (the spec's way to end a stdio server) stops it cleanly.
  std::weak_ptr<McpServer> weak = server;
  interrupt::SetHandler([weak] {
    if (auto s = weak.lock()) s->Stop();
  });
  log::Info("mcp: serving on stdin/stdout (agent socket {})", agent.socket_path());
  if (::isatty(STDIN_FILENO)) {
    std::fprintf(stderr,
                 "backend-im mcp speaks the Model Context Protocol on stdin/stdout and is meant "
                 "to be started by an AI coding tool; `backend-im mcp config` shows how to "
                 "register it. Ctrl-C ends it.\n");
  }
  int rc = server->Run();
  interrupt::SetHandler(nullptr);
  agent.Finish();
  ::close(out);
  return rc;
}

}  // namespace

void AddMcpCommand(CommandLine& cli) {
  auto* mcp = cli.Add("mcp");
  auto* config = cli.Add("mcp config");
  auto& client = cli.Value<std::string>();
  cli.Option(config, "--client", client)->check(CLI::IsMember({"claude", "cursor", "generic"}));
  config->callback([&client, &cli] { cli.exit_code() = PrintConfig(client); });
  mcp->callback([config, &cli] {
    if (config->parsed()) return;
    cli.exit_code() = RunServer(cli.agent());
  });
}

}  // namespace bim::ctl
