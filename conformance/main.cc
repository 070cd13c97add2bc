// backend-im-contract-test: checks a Backend.im platform against docs/API_CONTRACTS.md.
// Parses flags, logs in if asked, runs the suite, prints the report. Exit codes: 0 no contract
// violation, 1 at least one check failed, 2 usage error or the platform could not be used
// (unreachable, token refused, device login failed).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <iostream>

#include "common/clock.h"
#include "common/random.h"
#include "common/version.h"
#include "conformance/checks.h"
#include "conformance/context.h"
#include "conformance/curl_transport.h"
#include "conformance/device_login.h"
#include "conformance/retrying_transport.h"
#include "conformance/suite.h"
#include "ws/ws_client.h"

namespace {

using bim::conformance::SuiteOptions;

constexpr int kUsageError = 2;

void Say(const std::string& line) {
  std::fprintf(stderr, "backend-im-contract-test: %s\n", line.c_str());
}

// conformance-YYYYMMDD-HHMMSS (UTC): a projectId a person recognises, valid as part of a
// Kubernetes name.
std::string RunLabel(const bim::Clock& clock) {
  std::time_t t = std::chrono::system_clock::to_time_t(clock.Now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "conformance-%Y%m%d-%H%M%S", &tm);
  return buf;
}

int Run(int argc, char** argv) {
  SuiteOptions o;
  bool device_login = false;
  bool json = false;
  bool list = false;
  int64_t poll_ms = 1000;
  int64_t deploy_timeout_s = 600;

  CLI::App app{
      "backend-im-contract-test: checks a Backend.im platform against the API contract of\n"
      "docs/API_CONTRACTS.md and reports each check as pass, fail (a contract violation),\n"
      "not-supported (an optional extension is missing) or skipped, with evidence.\n"
      "It creates at most a handful of deployments, all with projectId conformance-<time>, and\n"
      "deletes none; it removes only the environment it made. --read-only changes nothing.\n"
      "Exit codes: 0 no violation, 1 a check failed, 2 usage error or platform unusable.",
      "backend-im-contract-test"};
  app.set_version_flag("--version", std::string(bim::kVersion));
  app.add_option("--api", o.api_url, "Base URL of the platform, e.g. https://api.backend.im");
  auto* token = app.add_option("--token", o.token,
                               "Bearer token to use (default: $BACKEND_IM_TOKEN). Without a token "
                               "or --device-login, checks that need one are skipped");
  app.add_flag("--device-login", device_login,
               "Log in with the device flow first: prints a URL and a code on stderr, waits for "
               "approval")
      ->excludes(token);
  app.add_flag("--json", json, "Print the report as one JSON document on stdout");
  app.add_flag("--read-only", o.read_only,
               "Run only the checks that create nothing: no deployment, no generate");
  app.add_option("--client-id", o.client_id, "client_id of the device flow")->capture_default_str();
  app.add_option("--poll-interval-ms", poll_ms, "Time between two status polls while watching")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  app.add_option("--deploy-timeout", deploy_timeout_s,
                 "Seconds to wait for the sample deployment to end")
      ->check(CLI::Range(1, 7200))
      ->capture_default_str();
  app.add_option("--ca-file", o.ca_file, "Extra CA bundle for https and wss")
      ->check(CLI::ExistingFile);
  app.add_option("--check", o.only,
                 "Run only checks whose id starts with this (repeatable), e.g. --check ws.");
  app.add_flag("--list", list, "List the checks and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsageError;
  }

  if (list) {
    for (const auto& c : bim::conformance::AllChecks()) {
      std::printf("%-32s %s%s\n", c.id.c_str(), c.description.c_str(),
                  c.creates ? " [creates]" : "");
    }
    return 0;
  }
  while (!o.api_url.empty() && o.api_url.back() == '/') o.api_url.pop_back();
  if (o.api_url.rfind("http://", 0) != 0 && o.api_url.rfind("https://", 0) != 0) {
    Say("--api must be an http:// or https:// URL, e.g. --api https://api.backend.im");
    return kUsageError;
  }
  if (o.token.empty() && !device_login) {
    if (const char* env = std::getenv("BACKEND_IM_TOKEN")) o.token = env;
  }
  o.poll_interval = std::chrono::milliseconds(poll_ms);
  o.deploy_timeout = std::chrono::seconds(deploy_timeout_s);

  bim::conformance::CurlTransport::GlobalInit();
  bim::conformance::CurlTransport curl(o.ca_file);
  bim::conformance::RealSleeper sleeper;
  bim::RealClock clock;
  bim::StdRandom random;
  o.label = RunLabel(clock);

  std::optional<bim::contract::TokenResponse> login;
  if (device_login) {
    bim::conformance::RetryingTransport retrying(curl, sleeper, o.max_attempts, o.max_retry_wait);
    bim::conformance::DeviceLogin flow(retrying, clock, sleeper, o.api_url, o.client_id, std::cerr);
    auto tokens = flow.Run();
    if (!tokens.ok()) {
      Say("device login failed: " + tokens.error().message);
      return kUsageError;
    }
    o.token = tokens->access_token;
    login = std::move(tokens).value();
  }

  auto connector = bim::ws::MakeConnector(bim::ws::TlsOptions{o.ca_file});
  bim::conformance::Context ctx(o, curl, *connector, clock, sleeper, random);
  ctx.SetProgress(Say);
  if (login) ctx.SetLoginTokens(*login);

  // Reachable at all, and the token accepted? Neither is a contract question.
  auto pre =
      ctx.Get("/api/auth/verify",
              ctx.has_token() ? bim::conformance::Auth::kToken : bim::conformance::Auth::kNone,
              "preflight");
  if (pre.answer.status == 0) {
    Say(pre.answer.error);  // "cannot reach <url>: <why>"
    return kUsageError;
  }
  if (ctx.has_token() && pre.answer.status == 401) {
    Say("the platform refused the token (GET /api/auth/verify answered 401); get a new one or use "
        "--device-login");
    return kUsageError;
  }

  Say(std::string(o.read_only ? "read-only run" : "full run") + " against " + o.api_url +
      (o.read_only ? "" : "; anything created is labelled " + o.label));
  auto report = bim::conformance::Suite(bim::conformance::AllChecks()).Run(ctx);
  std::string out = json ? report.Json() : report.Text();
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return report.ExitCode();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backend-im-contract-test: internal error: %s\n", e.what());
    return kUsageError;
  }
}
