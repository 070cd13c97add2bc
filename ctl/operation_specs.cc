#include "ctl/operation_specs.h"

#include <cstdio>
#include <cstdlib>

#include "ctl/json_schema.h"
#include "ctl/models.h"

namespace bim::ctl {
namespace {

using nlohmann::json;
using namespace schema;

// One block an operation, in the order `backend-im --help` lists the commands, then the tools
// that only MCP has: its arguments, the shapes of what it prints with --json and of what its
// tool returns (the models', ctl/models.h, with what a front end adds), then its entry.

// schema with the nextStep that every tool's result but list_deployments' has.
json Stepped(json schema) {
  return WithFields(std::move(schema), {Str("nextStep", "What to do next")});
}

// A command whose --json lines have these shapes.
template <SchemaFn... shapes>
constexpr SchemaFn kLines[] = {shapes...};

// An entry, built one field at a time: Command("deploy").Tool("deploy", "Deploy a project
// folder").Summary(...), each setter named as the field it sets.
class Entry {
 public:
  constexpr explicit Entry(OperationSpec spec) : spec_(spec) {}
  constexpr operator OperationSpec() const { return spec_; }  // NOLINT(google-explicit-constructor)

  constexpr Entry Tool(std::string_view name, std::string_view title) const {
    return With(&OperationSpec::tool, name).With(&OperationSpec::title, title);
  }
  constexpr Entry Summary(std::string_view s) const { return With(&OperationSpec::summary, s); }
  constexpr Entry CliMore(std::string_view s) const { return With(&OperationSpec::cli_more, s); }
  constexpr Entry ToolMore(std::string_view s) const { return With(&OperationSpec::tool_more, s); }
  constexpr Entry Args(std::span<const ArgSpec> a) const { return With(&OperationSpec::args, a); }
  constexpr Entry Model(SchemaFn f) const { return With(&OperationSpec::model, f); }
  constexpr Entry JsonLines(std::span<const SchemaFn> l) const {
    return With(&OperationSpec::json_lines, l);
  }
  constexpr Entry ToolOutput(SchemaFn f) const { return With(&OperationSpec::tool_output, f); }

 private:
  template <typename T, typename V>
  constexpr Entry With(T OperationSpec::*field, V value) const {
    OperationSpec s = spec_;
    s.*field = value;
    return Entry(s);
  }
  OperationSpec spec_;
};

// A command (that MCP may offer too, through .Tool), or a tool that only MCP has.
constexpr Entry Command(std::string_view cli) { return Entry(OperationSpec{.cli = cli}); }
constexpr Entry McpTool(std::string_view name, std::string_view title) {
  return Entry(OperationSpec{}).Tool(name, title);
}

// ---- auth -------------------------------------------------------------------------------------

constexpr OperationSpec kAuth =
    Command("auth").Summary("Log in to Backend.im, check or end the login");

constexpr ArgSpec kLoginArgs[] = {{"--with-token", "", "Read an access token from standard input"}};
constexpr OperationSpec kLogin =
    Command("auth login")
        .Summary(
            "Log in with the device flow (open a URL, enter a code), or --with-token to read "
            "a token from standard input")
        .Args(kLoginArgs)
        // The device flow: the page and the code, then the login; --with-token: the login.
        .JsonLines(kLines<LoginCodeModelSchema, AuthModelSchema>);

constexpr OperationSpec kAuthStatus =
    Command("auth status")
        .Tool("auth_status", "Login status")
        .Summary(
            "Show whether the user is logged in to Backend.im, as whom, and to which platform, "
            "checking the stored login with the platform")
        .CliMore("(exit 3 when nobody is)")
        .ToolMore("Call it before generate or deploy when unsure.")
        .Model(AuthModelSchema);

json LogoutLine() { return Object({Bool("wasLoggedIn", "Whether someone was logged in before")}); }
constexpr OperationSpec kLogout =
    Command("auth logout").Summary("Erase the stored credentials").Model(LogoutLine);

// ---- generate ---------------------------------------------------------------------------------

constexpr ArgSpec kGenerateArgs[] = {
    {"prompt", "prompt",
     "What the backend should do, in plain words, e.g. \"REST API for users and orders with "
     "SQLite\""},
    {"-o,--output", "directory",
     "The folder to write the project into; created if missing, but its parent folder must "
     "exist",
     "(default: a name made from the prompt)"},
    {"-e,--editor", "",
     "Open the folder in this editor afterwards (no name: $VISUAL, then $EDITOR)"},
    {"--force",
     "force",
     "Overwrite local files whose content differs from the generated ones",
     {},
     "Default false"},
};
json GenerateLine() {
  return WithFields(GenerateModelSchema(),
                    {OptStr("editor", "With --editor: the editor that was opened, or why not")});
}
constexpr OperationSpec kGenerate =
    Command("generate")
        .Tool("generate", "Generate a FastAPI backend")
        .Summary(
            "Generate a FastAPI (Python) backend from a plain-language description and write "
            "its files into a local folder")
        .ToolMore(
            "Returns the files written. Nothing is written outside the folder, and a local "
            "file with different content is never overwritten unless force is true (then "
            "nothing is written and the conflicts are listed). Next: read or adapt the "
            "files, then call deploy with the same directory. Needs a login (see "
            "auth_status).")
        .Args(kGenerateArgs)
        .JsonLines(kLines<GenerateLine>)
        .Model(GenerateModelSchema);

// ---- deploy -----------------------------------------------------------------------------------

constexpr ArgSpec kDeployArgs[] = {
    {"-d,--dir", "directory", "The project folder to upload", "(default: the current folder)",
     "It must exist, e.g. the one given to generate"},
    {"-w,--watch", "", "Follow the deployment until it completes or fails"},
    {"--project", "projectId",
     "The project to deploy to. Default: the one generate or an earlier deploy remembered in "
     "the folder (.backend-im/project.json), else a new project"},
    {"--dry-run", "",
     "List what would be uploaded, and what changed since the project's last deployment; "
     "uploads nothing"},
    {"--env", "environment", "The environment to deploy to",
     "(default: the platform's, production)",
     "Default: the platform's, production. list_environments lists them"},
};
json DeployOutput() {
  // As a task, deploy ends the way wait_for_deployment does.
  return Stepped(WithFields(
      DeployModelSchema(),
      {OptBool("timedOut", "As a task only: true when the wait ended before the deployment did")}));
}
constexpr OperationSpec kDeploy =
    Command("deploy")
        .Tool("deploy", "Deploy a project folder")
        .Summary("Upload a local project folder to Backend.im and start a deployment")
        .ToolMore(
            "Returns at once with deploymentId, projectId and commitHash while the platform builds "
            "and deploys it, which takes a minute or more. Next: call wait_for_deployment with the "
            "deploymentId to follow it to its URL. As a task (protocol 2025-11-25 and later), it "
            "lasts until the deployment is complete or failed and ends with its URL and logs; "
            "cancelling the task stops the waiting, never the deployment. Hidden files, .git, "
            "node_modules, caches, virtualenvs and secrets (.env*, *.pem, *.key) are never "
            "uploaded. Deploying again replaces the project's previous deployment. Needs a login "
            "(see auth_status).")
        .Args(kDeployArgs)
        // The deployment; with --watch, then each event; with --dry-run, what it would upload.
        .JsonLines(kLines<DeployModelSchema, EventModelSchema, DryRunModelSchema>)
        .ToolOutput(DeployOutput);

// ---- watch, status ----------------------------------------------------------------------------

constexpr ArgSpec kDeploymentId{"id", "deploymentId",
                                "The deployment's id, as deploy or rollback returned it",
                                "(history lists them)", "(list_deployments lists them)"};

constexpr ArgSpec kWaitArgs[] = {
    kDeploymentId,
    {"",
     "timeoutSeconds",
     "How long to wait at most, in seconds (1 to 900, default 50)",
     {},
     "Keep it below your client's request timeout"},
};
json WaitOutput() {
  return Stepped(WithFields(DeploymentModelSchema(),
                            {Bool("timedOut", "True when timeoutSeconds passed first")}));
}
constexpr OperationSpec kWatch =
    Command("watch")
        .Tool("wait_for_deployment", "Wait for a deployment")
        .Summary("Follow a deployment's stages until it is complete or failed")
        .CliMore("(live; Ctrl-C detaches, the deployment goes on)")
        .ToolMore(
            "Returns its status, URL and logs then, or once timeoutSeconds pass. Sends a "
            "progress notification for each stage when the request carries a "
            "progressToken. If it returns with timedOut true, call it again. Cancelling "
            "this request stops the waiting, never the deployment.")
        .Args(kWaitArgs)
        .JsonLines(kLines<EventModelSchema>)
        .ToolOutput(WaitOutput);

constexpr ArgSpec kStatusArgs[] = {kDeploymentId};
constexpr OperationSpec kStatus =
    Command("status")
        .Tool("deployment_status", "Deployment status")
        .Summary("Show a deployment's current status, URL and logs, without waiting")
        .Args(kStatusArgs)
        .Model(DeploymentModelSchema);

// ---- history ----------------------------------------------------------------------------------

constexpr ArgSpec kHistoryArgs[] = {
    {"--project", "projectId", "Only the deployments of this project"},
    {"--env", "environment", "Only the deployments to this environment"},
    {"--limit", "limit", "How many at most", "(1-1000, default 20)", "(1 to 100, default 20)"},
};
json HistoryLine() { return Array(DeploymentModelSchema(), "Newest first"); }
json ListOutput() { return Object({Field("deployments", HistoryLine())}); }
constexpr OperationSpec kHistory =
    Command("history")
        .Tool("list_deployments", "List deployments")
        .Summary(
            "List past deployments made from this computer, newest first, with their status "
            "and URL")
        .Args(kHistoryArgs)
        .Model(HistoryLine)
        .ToolOutput(ListOutput);

// ---- logs: runtime logs, an extension of the platform's ------------------------------------

constexpr ArgSpec kLogsArgs[] = {
    {"deployment", "deploymentId", "The deployment whose app's lines to show",
     "(default: the project's, see -d and --project)", "(list_deployments lists them)"},
    {"-d,--dir", "", "A project folder: its remembered project's deployment",
     "(default: the current folder)"},
    {"--project", "projectId",
     "A project: the newest deployment of its environment that completed, else its newest"},
    {"--env", "environment", "With a project: the environment", "(default: production)",
     "Default production"},
    {"--since", "since",
     "Only lines from this long ago on: 30s, 15m, 2h, 1d, or a Unix time in ms"},
    {"--level", "level", "Only lines at this level and above: debug, info, warning or error"},
    {"--grep", "grep", "Only lines whose text holds this text (plain, case-sensitive)"},
    {"-n,--lines", "", "How many of the newest lines", "(1-1000, default 100; with -f, 0 to 1000)"},
    {"-f,--follow", "",
     "Then print each new line as the app prints it, until Ctrl-C or the app's output ends"},
    {"", "maxLines", "How many lines at most, in all (1 to 500, default 100)"},
    {"", "maxBytes", "How many bytes of text at most, in all (1024 to 65536, default 16384)"},
};
json LogsOutput() { return Stepped(LogsReportModelSchema()); }
constexpr OperationSpec kLogs =
    Command("logs")
        .Tool("get_logs", "Get a deployment's app logs")
        .Summary(
            "Show what a deployment's app printed while it ran (its output, its requests, its "
            "errors), newest lines last; not the deployment's stages, which status shows")
        .CliMore(
            "Lines are TIME LEVEL SOURCE TEXT; with --json one object each, then \"skipped\" "
            "when lines were lost and \"end\" when the app's output ended. Exit 130 on Ctrl-C "
            "with -f; 5 on a platform without app logs (status shows the deployment's own)")
        .ToolMore(
            "Read-only. Capped by maxLines and maxBytes: cut is true (and the text says so) when "
            "lines were left out. For a deployment that failed, the same call also returns "
            "failure (the stage it failed at and the platform's logs from there: build or "
            "health-check errors) and errors (the app's last error lines, e.g. the end of a "
            "Python traceback). Give deploymentId, or projectId "
            "(and environment) for its newest complete deployment.")
        .Args(kLogsArgs)
        .JsonLines(kLines<LogLineModelSchema, LogSkippedModelSchema, LogEndModelSchema>)
        .ToolOutput(LogsOutput);

// ---- rollback, restore, diff: the files the agent keeps ---------------------------------------

constexpr ArgSpec kRollbackArgs[] = {
    {"-d,--dir", "directory",
     "A project folder: its remembered project (.backend-im/project.json) is rolled back",
     "(default: the current folder)"},
    {"--project", "projectId", "The project to roll back", "(default: the folder's)"},
    {"--to",
     "toDeploymentId",
     "Roll back to exactly this deployment",
     {},
     "(list_deployments lists them)"},
    {"-w,--watch", "", "Follow the new deployment until it completes or fails"},
    {"--env", "environment",
     "Roll back this environment of the project: to its newest complete deployment whose files "
     "differ from those it serves, deployed to it again"},
};
constexpr OperationSpec kRollback =
    Command("rollback")
        .Tool("rollback", "Roll a project back")
        .Summary(
            "Deploy the files of an earlier deployment of a project again, as a new "
            "deployment: by default those of the newest complete deployment whose files "
            "differ from the current one")
        .ToolMore(
            "With toDeploymentId, exactly that deployment's. The agent keeps the files of "
            "recent deployments (list_deployments shows restorable); the new deployment's "
            "commitHash equals the earlier one's. Returns at once; next: call "
            "wait_for_deployment with the deploymentId. Give directory, projectId or "
            "toDeploymentId. Needs a login (see auth_status).")
        .Args(kRollbackArgs)
        // The deployment; with --watch, then each event.
        .Model(DeploymentModelSchema)
        .JsonLines(kLines<DeploymentModelSchema, EventModelSchema>);

constexpr ArgSpec kRestoreArgs[] = {
    {"deployment", "deploymentId", "The deployment whose files to write",
     "(history shows which can be restored)", "(list_deployments lists them)"},
    {"-o,--output", "directory",
     "The folder to write the files into; created if missing, but its parent folder must "
     "exist"},
    {"--force",
     "force",
     "Overwrite local files whose content differs from the deployment's",
     {},
     "Default false"},
};
constexpr OperationSpec kRestore =
    Command("restore")
        .Tool("restore", "Restore a deployment's files")
        .Summary(
            "Write the exact files of an earlier deployment into a local folder, with the "
            "same safe writing as generate")
        .ToolMore(
            "Nothing is written outside the folder, and a local file with different "
            "content is never overwritten unless force is true (then nothing is written "
            "and the conflicts are listed). The agent keeps the files of recent "
            "deployments (list_deployments shows restorable). Next: read or change them, "
            "then deploy the folder.")
        .Args(kRestoreArgs)
        .Model(RestoreModelSchema);

constexpr ArgSpec kDiffArgs[] = {
    {"from", "deploymentId", "The deployment to compare from",
     "(default: the folder's last deployment)",
     "Default: the last deployment of directory's project"},
    {"to", "", "Another deployment id, or a folder", "(default: the project folder)"},
    {"", "otherDeploymentId", "Compare with this deployment instead of a folder"},
    {"-d,--dir", "directory", "The project folder to compare with, as deploy would upload it",
     "(default: the current folder)"},
};
constexpr OperationSpec kDiff =
    Command("diff")
        .Tool("diff", "Diff deployments or a folder")
        .Summary(
            "Show a unified diff (as diff -u) between the files of a deployment and a local "
            "project folder, or between two deployments")
        .CliMore(
            "With no deployment: the project folder against its last deployment. Exit 0 "
            "when they are the same, 1 when they differ")
        .ToolMore(
            "With only directory: the folder against its project's last deployment, i.e. "
            "what the next deploy would change. The agent keeps the files of recent "
            "deployments (list_deployments shows restorable).")
        .Args(kDiffArgs)
        .Model(DiffModelSchema);

// ---- environments, variables, promote: an extension of the platform's ------------------------

// How the environment commands and tools name their project.
constexpr ArgSpec kProjectDir{"-d,--dir", "",
                              "A project folder: its remembered project "
                              "(.backend-im/project.json) is the one meant",
                              "(default: the current folder)"};
constexpr ArgSpec kProjectId{"--project", "projectId", "The project", "(default: the folder's)",
                             "Its id: the projectId that deploy and list_deployments return"};
// The same argument for a command that MCP does not offer.
constexpr ArgSpec CliOnly(ArgSpec a) {
  a.tool = {};
  a.tool_more = {};
  return a;
}
constexpr std::string_view kNotOffered =
    "On a platform without environments, exit 5 with the agent's words";

constexpr ArgSpec kEnvironmentsArgs[] = {kProjectDir, kProjectId};
constexpr ArgSpec kEnvironmentsCliArgs[] = {kProjectDir, CliOnly(kProjectId)};
constexpr OperationSpec kEnvironments =
    Command("environments")
        .Summary(
            "List a project's environments and what each serves (as environments ls), or add or "
            "remove one")
        .CliMore("(exit 5 on a platform without environments)")
        .Args(kEnvironmentsCliArgs)
        .Model(EnvironmentsModelSchema);
constexpr OperationSpec kEnvironmentsLs =
    Command("environments ls")
        .Tool("list_environments", "List environments")
        .Summary(
            "List a project's environments (production, staging, ...) and what each serves now: "
            "how many variables it has, its deployment and URL")
        .CliMore(kNotOffered)
        .ToolMore(
            "Next: list_variables for one environment's variable names, or deploy with an "
            "environment.")
        .Args(kEnvironmentsArgs)
        .Model(EnvironmentsModelSchema);

constexpr ArgSpec kEnvironmentName{"name", "",
                                   "The environment's name: 1 to 32 of a-z, 0-9 and "
                                   "'-', starting with a letter"};
constexpr ArgSpec kEnvironmentsAddArgs[] = {kEnvironmentName, kProjectDir, CliOnly(kProjectId)};
constexpr OperationSpec kEnvironmentsAdd =
    Command("environments add")
        .Summary("Add an environment to a project, with no variables and no deployment yet")
        .CliMore(kNotOffered)
        .Args(kEnvironmentsAddArgs)
        .Model(ChangeModelSchema);

constexpr ArgSpec kEnvironmentsRmArgs[] = {
    kEnvironmentName,
    kProjectDir,
    CliOnly(kProjectId),
    {"--yes", "", "Remove it without asking (required when standard input is not a terminal)"}};
constexpr OperationSpec kEnvironmentsRm =
    Command("environments rm")
        .Summary("Remove an environment from a project, with its variables")
        .CliMore(
            "Asks first on a terminal. Without a terminal and without --yes, exit 2 and nothing "
            "is removed. On a platform without environments, exit 5")
        .Args(kEnvironmentsRmArgs)
        .Model(ChangeModelSchema);

constexpr OperationSpec kEnv = Command("env").Summary(
    "List, set, unset, pull and import the variables of a project's environments (a value is "
    "never taken from the command line)");

// The environment a variable command acts on: required, so production is never a silent
// default for a secret.
constexpr ArgSpec kEnvRequired{"--env", "environment", "The environment (production, staging, ...)",
                               "(required)", "list_environments lists them"};
json VariableNamesOutput() {
  return Stepped(Object({Str("projectId", "The project"), Str("environment", "The environment"),
                         ArrayOf("variables", Object({Str("key", "The variable's name")}),
                                 "Its variables' names, by name; never their values")}));
}
constexpr ArgSpec kEnvLsArgs[] = {
    {"--env", "environment", "The environment (production, staging, ...)", "(default: every one)",
     "list_environments lists them"},
    kProjectDir,
    kProjectId,
    {"--show-values", "",
     "Show the values too (they are fetched only then); without it they are masked"},
};
constexpr OperationSpec kEnvLs =
    Command("env ls")
        .Tool("list_variables", "List variable names")
        .Summary("List the names of the variables of a project's environment")
        .CliMore(
            "Without --env, every environment's (--json: one line each). On a platform without "
            "environments, exit 5")
        .ToolMore(
            "Values are never returned. To change one, call set_variable (the user is asked to "
            "confirm when the client can ask).")
        .Args(kEnvLsArgs)
        .Model(VariablesModelSchema)
        .ToolOutput(VariableNamesOutput);

constexpr ArgSpec kVariableKey{"key", "key",
                               "The variable's name: a letter or '_', then letters, digits and "
                               "'_', at most 128"};
constexpr ArgSpec kEnvSetArgs[] = {
    kVariableKey,
    kEnvRequired,
    kProjectDir,
    kProjectId,
    {"", "value",
     "The value, 1 to 32768 bytes of text; it is sent to the platform and never shown in a "
     "result, an error or a log"},
};
constexpr OperationSpec kEnvSet =
    Command("env set")
        .Tool("set_variable", "Set a variable")
        .Summary("Set a variable of a project's environment, replacing its value if it has one")
        .CliMore(
            "The value is read from standard input only: typed without echo on a terminal, else "
            "all of it without one trailing newline. Never an argument, where ps and the shell's "
            "history would see it. An empty value is refused (env unset removes a variable). On "
            "a platform without environments, exit 5")
        .ToolMore(
            "The result names the key and the environment, never the value. A deployment gets "
            "the variables its environment has when it is deployed: deploy again (or promote) "
            "for the app to see the change.")
        .Args(kEnvSetArgs)
        .Model(ChangeModelSchema);

constexpr ArgSpec kEnvUnsetArgs[] = {kVariableKey, kEnvRequired, kProjectDir, kProjectId};
constexpr OperationSpec kEnvUnset =
    Command("env unset")
        .Tool("unset_variable", "Remove a variable")
        .Summary("Remove a variable from a project's environment")
        .CliMore("Exit 7 when it has no such variable, 5 on a platform without environments")
        .ToolMore("A running deployment keeps it until the environment is deployed again.")
        .Args(kEnvUnsetArgs)
        .Model(ChangeModelSchema);

constexpr ArgSpec kEnvPullArgs[] = {
    {"file", "", "The dotenv file to write",
     "(default: .env.NAME in the project folder, which deploy leaves out)"},
    CliOnly(kEnvRequired),
    kProjectDir,
    CliOnly(kProjectId),
    {"--force", "", "Replace the file if it exists"},
};
constexpr OperationSpec kEnvPull =
    Command("env pull")
        .Summary(
            "Write an environment's variables, with their values, into a dotenv file that only "
            "you can read (mode 0600)")
        .CliMore(
            "Quoted so python-dotenv reads each value back as it was. Refuses an existing file "
            "without --force (exit 6), a file deploy would upload (exit 2), and any value the "
            "platform withheld (exit 5, nothing written)")
        .Args(kEnvPullArgs)
        .Model(VariableFileModelSchema);

constexpr ArgSpec kEnvImportArgs[] = {
    {"file", "",
     "The dotenv file to read: KEY=VALUE lines, # comments, optional export and quotes"},
    CliOnly(kEnvRequired),
    kProjectDir,
    CliOnly(kProjectId),
};
constexpr OperationSpec kEnvImport =
    Command("env import")
        .Summary(
            "Set an environment's variables from a dotenv file; prints the keys, never a value")
        .CliMore(
            "A line it cannot read is exit 2, naming the line, and nothing is set. On a platform "
            "without environments, exit 5")
        .Args(kEnvImportArgs)
        .Model(VariableFileModelSchema);

constexpr ArgSpec kPromoteArgs[] = {
    {"deployment", "deploymentId", "The complete deployment whose files to start",
     "(history lists them)", "(list_deployments lists them)"},
    {"--to", "environment", "The environment to start them in", "(required)",
     "list_environments lists them"},
    {"-w,--watch", "", "Follow the new deployment until it completes or fails"},
};
json PromoteOutput() {
  return Stepped(WithFields(
      DeploymentModelSchema(),
      {OptBool("timedOut", "As a task only: true when the wait ended before the deployment did")}));
}
constexpr OperationSpec kPromote =
    Command("promote")
        .Tool("promote", "Promote a deployment")
        .Summary(
            "Start the files of a complete deployment in another environment, as a new "
            "deployment, with no upload")
        .CliMore("(exit 5 on a platform without environments)")
        .ToolMore(
            "The new deployment's promotedOf names the one promoted; it gets the variables of "
            "its new environment. Returns at once; next: call wait_for_deployment with the "
            "deploymentId. As a task, it lasts until the deployment is complete or failed. The "
            "user is asked to confirm first when the client can ask. Needs a login (see "
            "auth_status).")
        .Args(kPromoteArgs)
        // The deployment; with --watch, then each event.
        .JsonLines(kLines<DeploymentModelSchema, EventModelSchema>)
        .ToolOutput(PromoteOutput);

// ---- custom domains: an extension of the platform's -----------------------------------------

constexpr std::string_view kDomainsNotOffered =
    "On a platform without custom domains, exit 5 with the agent's words";
constexpr ArgSpec kDomainName{"domain", "",
                              "The domain, e.g. api.example.com (case and a trailing dot do not "
                              "matter)"};
constexpr ArgSpec kDomainEnv{"--env", "environment", "The environment it serves",
                             "(default: production)", "list_environments lists them"};
constexpr ArgSpec kDomainsLsEnv{"--env", "environment", "Only the domains of this environment",
                                "(default: every one)"};

constexpr ArgSpec kDomainsCliArgs[] = {kProjectDir, CliOnly(kProjectId), CliOnly(kDomainsLsEnv)};
constexpr OperationSpec kDomains =
    Command("domains")
        .Summary(
            "List a project's custom domains and their DNS and certificate states (as domains "
            "ls), or add, verify or remove one")
        .CliMore("(exit 5 on a platform without custom domains)")
        .Args(kDomainsCliArgs)
        .Model(DomainsModelSchema);

constexpr ArgSpec kDomainsLsArgs[] = {kProjectDir, CliOnly(kProjectId), CliOnly(kDomainsLsEnv)};
constexpr OperationSpec kDomainsLs =
    Command("domains ls")
        .Summary(
            "List a project's custom domains: the environment each serves, whether the platform "
            "found its DNS records (dns) and its TLS certificate's state")
        .CliMore(kDomainsNotOffered)
        .Args(kDomainsLsArgs)
        .Model(DomainsModelSchema);

constexpr ArgSpec kDomainsAddArgs[] = {kDomainName, kProjectDir, CliOnly(kProjectId),
                                       CliOnly(kDomainEnv)};
constexpr OperationSpec kDomainsAdd =
    Command("domains add")
        .Summary(
            "Add a custom domain to a project's environment and print the DNS records to create "
            "for it; the agent then checks its certificate in the background and shows a "
            "desktop notice when it is issued or fails")
        .CliMore(
            "Exit 7 when the project has no such environment, 5 when the platform refuses the "
            "domain (taken, too many) or does not offer custom domains")
        .Args(kDomainsAddArgs)
        .Model(DomainModelSchema);

constexpr ArgSpec kDomainsVerifyArgs[] = {kDomainName, kProjectDir, CliOnly(kProjectId)};
constexpr OperationSpec kDomainsVerify =
    Command("domains verify")
        .Summary(
            "Make the platform look the domain's DNS records up now, look them up here too, and "
            "show for each record what was asked for and what each lookup found")
        .CliMore(
            "Exit 0 when the platform found every record (dns valid), 1 when not yet (each "
            "missing or wrong record is named, with what to create), 7 when the project has no "
            "such domain, 5 on a platform without custom domains")
        .Args(kDomainsVerifyArgs)
        .Model(DomainVerifyModelSchema);

constexpr ArgSpec kDomainsRmArgs[] = {
    kDomainName,
    kProjectDir,
    CliOnly(kProjectId),
    {"--yes", "", "Remove it without asking (required when standard input is not a terminal)"}};
constexpr OperationSpec kDomainsRm =
    Command("domains rm")
        .Summary("Remove a custom domain from a project; the agent stops checking it")
        .CliMore(
            "Asks first on a terminal. Without a terminal and without --yes, exit 2 and nothing "
            "is removed. Exit 7 when the project has no such domain, 5 on a platform without "
            "custom domains")
        .Args(kDomainsRmArgs)
        .Model(DomainChangeModelSchema);

// ---- dev ----------------------------------------------------------------------------------------

// Only on the command line: a dev server lives longer than a tool call (README, "MCP").
constexpr ArgSpec kDevArgs[] = {
    {"-d,--dir", "", "The project folder to run", "(default: the current folder)"},
    {"--port", "", "The port on 127.0.0.1 to serve on", "(default: 8000)"},
    {"--env", "",
     "Give the app this environment's variables (fetched with their values, in its process "
     "environment only; no file is written)"},
    {"--project", "", "The project whose environment --env names", "(default: the folder's)"},
};
constexpr OperationSpec kDev =
    Command("dev")
        .Summary(
            "Run the project on this machine with reload: uvicorn main:app on 127.0.0.1, "
            "restarted when a .py file changes, health-checked as the platform does; Ctrl-C "
            "stops it and all it started")
        .CliMore(
            "Python: the project's .venv when it has one, else python3 on PATH or "
            "/usr/bin/python3, whichever has uvicorn. Exit 0 when stopped with Ctrl-C, 1 when "
            "it could not start or stopped by itself, 2 without main.py")
        .Args(kDevArgs);

// ---- daemon, version, mcp ---------------------------------------------------------------------

constexpr OperationSpec kDaemon =
    Command("daemon").Summary("Inspect or stop the background agent (backend-imd)");

json AgentLine() {
  return Object({Bool("running", "True: an agent answered"), Int("pid", "The agent's process"),
                 Str("version", "The agent's version"),
                 Str("ctlVersion", "This backend-im's version"),
                 Int("uptimeSeconds", "Since the agent started"),
                 Str("apiUrl", "The Backend.im platform the agent uses"),
                 OptStr("apiUrlProblem", "Why that platform cannot be used, when it cannot"),
                 Bool("loggedIn", "Whether someone is logged in"),
                 StrArray("watchedDeployments", "The deployments whose streams it follows"),
                 Int("watchers", "How many Watch streams are open"),
                 Bool("systemd", "Whether systemd manages it"),
                 Bool("autostarted", "Whether a backend-im started it"),
                 Str("socket", "Its Unix socket"), Str("stateDir", "Its state folder")});
}
json NoAgentLine() {
  return Object(
      {Bool("running", "False: no agent is running"), Str("socket", "Where one would listen")});
}
constexpr OperationSpec kDaemonStatus =
    Command("daemon status")
        .Summary("Show the agent's pid, version, uptime, platform, login and watches")
        // An agent that answered, or none.
        .JsonLines(kLines<AgentLine, NoAgentLine>);

constexpr OperationSpec kDaemonStop = Command("daemon stop").Summary("Stop the agent cleanly");

json VersionLine() {
  return Object({Str("version", "This backend-im's version"),
                 OptStr("agentVersion", "The running agent's, when one answers")});
}
constexpr OperationSpec kVersion =
    Command("version")
        .Summary("Print the versions of backend-im and of the running agent")
        .Model(VersionLine);

constexpr OperationSpec kMcp = Command("mcp").Summary(
    "Serve the Model Context Protocol on stdin/stdout, for AI coding tools (Claude "
    "Code, Cursor, ...): generate, deploy and follow deployments through this agent "
    "and login");

constexpr ArgSpec kMcpConfigArgs[] = {
    {"--client", "", "claude, cursor or generic", "(default: all three)"}};
constexpr OperationSpec kMcpConfig =
    Command("mcp config")
        .Summary("Print what registers `backend-im mcp` with an AI coding tool")
        .Args(kMcpConfigArgs);

// ---- the device login, as MCP's two steps -----------------------------------------------------

json LoginStartOutput() {
  return Stepped(WithFields(LoginCodeModelSchema(),
                            {Str("loginId", "Pass this to auth_login_check"),
                             Int("intervalSeconds", "How often the platform may be asked")}));
}
constexpr OperationSpec kLoginStart =
    McpTool("auth_login_start", "Start a login")
        .Summary("Start a browser login to Backend.im for the user (device flow, step 1)")
        .ToolMore(
            "Returns a URL and a one-time code: show both to the user and ask them to open "
            "the URL and approve; only the user can approve. Then call auth_login_check "
            "with the loginId.")
        .ToolOutput(LoginStartOutput);

constexpr ArgSpec kLoginCheckArgs[] = {
    {"", "loginId", "The loginId that auth_login_start returned"},
    {"", "waitSeconds", "Wait up to this long for the user to finish (0 to 50, default 5)"},
};
constexpr OperationSpec kLoginCheck =
    McpTool("auth_login_check", "Check a login")
        .Summary("Check a login started with auth_login_start (device flow, step 2)")
        .ToolMore(
            "state is pending (the user has not approved yet: call again), approved "
            "(logged in), denied, expired or failed (start again with auth_login_start if "
            "the user wants).")
        .Args(kLoginCheckArgs)
        .Model(LoginCheckModelSchema);

constexpr OperationSpec kSpecs[] = {
    kAuth,           kLogin,           kAuthStatus,     kLogout,    kGenerate,
    kDeploy,         kWatch,           kStatus,         kHistory,   kLogs,
    kRollback,       kRestore,         kDiff,           kPromote,   kEnvironments,
    kEnvironmentsLs, kEnvironmentsAdd, kEnvironmentsRm, kEnv,       kEnvLs,
    kEnvSet,         kEnvUnset,        kEnvPull,        kEnvImport, kDomains,
    kDomainsLs,      kDomainsAdd,      kDomainsVerify,  kDomainsRm, kDev,
    kDaemon,         kDaemonStatus,    kDaemonStop,     kVersion,   kMcp,
    kMcpConfig,      kLoginStart,      kLoginCheck};

[[noreturn]] void NoSuch(const char* what, std::string_view name) {
  std::fprintf(stderr, "backend-im: the operation catalog has no %s \"%.*s\"\n", what,
               static_cast<int>(name.size()), name.data());
  std::abort();
}

// text, then more: "(...)" after a space, a sentence after a period.
std::string Join(std::string_view text, std::string_view more) {
  std::string out(text);
  if (more.empty()) return out;
  out += more.front() == '(' ? " " : ". ";
  out += more;
  return out;
}

std::string Sentence(std::string s) {
  if (!s.empty() && s.back() != '.') s += '.';
  return s;
}

}  // namespace

const ArgSpec& OperationSpec::Arg(std::string_view name) const {
  for (const ArgSpec& a : args) {
    if (!name.empty() && (a.cli == name || a.tool == name)) return a;
  }
  NoSuch("argument", name);
}

std::span<const OperationSpec> OperationSpecs() { return kSpecs; }

const OperationSpec& CliSpec(std::string_view command) {
  for (const OperationSpec& op : kSpecs) {
    if (!command.empty() && op.cli == command) return op;
  }
  NoSuch("command", command);
}

const OperationSpec& ToolSpec(std::string_view tool) {
  for (const OperationSpec& op : kSpecs) {
    if (!tool.empty() && op.tool == tool) return op;
  }
  NoSuch("tool", tool);
}

std::vector<json> JsonLineSchemas(const OperationSpec& op) {
  std::vector<json> out;
  for (SchemaFn line : op.json_lines) out.push_back(line());
  if (out.empty() && op.model) out.push_back(op.model());
  return out;
}

json ToolOutputSchema(const OperationSpec& op) {
  return op.tool_output ? op.tool_output() : Stepped(op.model());
}

std::string CliHelp(const OperationSpec& op) { return Join(op.summary, op.cli_more); }
std::string CliHelp(const ArgSpec& arg) { return Join(arg.text, arg.cli_more); }
std::string ToolDescription(const OperationSpec& op) {
  return Sentence(Join(op.summary, op.tool_more));
}
std::string ToolDescription(const ArgSpec& arg) { return Sentence(Join(arg.text, arg.tool_more)); }

}  // namespace bim::ctl
