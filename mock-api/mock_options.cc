#include "mock-api/mock_options.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/dns_resolver.h"
#include "common/version.h"

namespace bim::mock {
namespace {

// The check of --fault-path and --delay-path.
std::string CheckPathPrefix(const std::string& v) {
  return !v.empty() && v[0] == '/' ? std::string() : "a path prefix starts with /";
}

// An integer option within [lo, hi], its default shown in --help.
void Ranged(CLI::App& app, const char* name, int& value, const std::string& help, int lo, int hi) {
  app.add_option(name, value, help)->check(CLI::Range(lo, hi))->capture_default_str();
}

}  // namespace

int ParseMockOptions(int argc, char** argv, MockOptions& o) {
  CLI::App app{
      "backend-im-mock: an in-memory Backend.im platform for development and tests.\n"
      "Implements the API in docs/API_CONTRACTS.md (the seed's contract plus this project's\n"
      "documented extensions) and can inject faults. Binds 127.0.0.1 unless told otherwise.",
      "backend-im-mock"};
  app.set_version_flag("--version", std::string(bim::kVersion));

  app.add_option("--host", o.host, "Address to listen on")->capture_default_str();
  Ranged(app, "--port", o.port, "Port to listen on; 0 picks any free port", 0, 65535);
  app.add_option("--port-file", o.port_file,
                 "Write the bound port to this file (atomically, via rename) once listening");
  app.add_option("--token", o.tokens,
                 "A bearer token accepted forever on /api/* and /ws (repeatable)");
  Ranged(app, "--stage-delay-ms", o.stage_delay_ms, "Milliseconds between two deployment stages", 0,
         3600000);
  Ranged(app, "--token-ttl", o.token_ttl_s,
         "Lifetime in seconds of access tokens issued by /oauth/token and "
         "/api/auth/callback",
         1, 365 * 86400);
  Ranged(app, "--auto-approve-after", o.auto_approve_after,
         "Device flow: approve a device code on its Nth token poll (0 = only "
         "POST /oauth/device/approve approves)",
         0, 1000000);
  Ranged(app, "--device-interval", o.device_interval_s,
         "Device flow: polling interval in seconds returned by /oauth/device/code; "
         "polls faster than this get slow_down (0 = no limit)",
         0, 3600);
  Ranged(app, "--device-code-ttl", o.device_code_ttl_s,
         "Device flow: seconds until a device code expires (expired_token)", 1, 86400);
  app.add_option("--oauth-client-id", o.oauth_client_id,
                 "The only client_id the OAuth endpoints accept")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the random source behind --fault-rate")
      ->capture_default_str();
  app.add_flag("--log-requests,!--no-log-requests", o.log_requests,
               "Log one line per request to stderr: method, path, status, milliseconds "
               "(never tokens or headers; of query strings only a WebSocket's deploymentId "
               "and since); on by default");
  app.add_flag("--log-sends", o.log_sends,
               "Log one line per emitted stage message to stderr: \"sent <deploymentId> "
               "seq=<n> status=<stage> unix_us=<microseconds since the epoch>\", for the latency "
               "benchmark (bench/fanout_bench.cc)");

  app.add_option("--ws-drop-after", o.ws_drop_after,
                 "Fault: cut each WebSocket (no close frame; the client sees 1006) after N "
                 "messages were sent on it")
      ->check(CLI::Range(0, 1000000));
  Ranged(app, "--ws-drop-times", o.ws_drop_times,
         "Fault: --ws-drop-after applies to the first K WebSocket connections only "
         "(0 = every connection)",
         0, 1000000);
  app.add_option("--ws-malformed-after", o.ws_malformed_after,
                 "Fault: after N messages on a WebSocket, send one frame that is not JSON, then "
                 "carry on")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--fault-status", o.fault_status,
                 "Fault: the status of injected failures, 429 or 503")
      ->check(CLI::IsMember({429, 503}))
      ->capture_default_str();
  app.add_option("--fault-rate", o.fault_rate,
                 "Fault: share (0..1) of /api/* and /oauth/* requests answered --fault-status "
                 "(random, see --seed)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--fault-first", o.fault_first,
                 "Fault: answer the first N /api/* and /oauth/* requests with --fault-status")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--fault-path", o.fault_paths,
                 "With --fault-first or --fault-rate: only requests for paths that start with "
                 "PREFIX (repeatable) count and fail, e.g. /api/deploy")
      ->type_name("PREFIX")
      ->check(CheckPathPrefix);
  Ranged(app, "--retry-after", o.retry_after_s,
         "Retry-After header (seconds) on injected 429/503 responses", 0, 86400);
  app.add_option("--delay-ms", o.delay_ms, "Fault: delay every HTTP response by N ms")
      ->check(CLI::Range(0, 600000));
  app.add_option("--delay-path", o.delay_paths,
                 "With --delay-ms: delay only responses to paths that start with PREFIX "
                 "(repeatable), e.g. /api/deploy or /oauth/token")
      ->type_name("PREFIX")
      ->check(CheckPathPrefix);
  app.add_option("--drop-deploy-response-first", o.drop_deploy_response_first,
                 "Fault: for the first N successful POST /api/deploy, create (or replay) the "
                 "deployment, then close the connection without a response")
      ->check(CLI::Range(0, 1000000));
  std::string outage;
  app.add_option("--outage", outage,
                 "Fault: START_MS:DURATION_MS after start, answer every /api, /oauth and /ws "
                 "request 503 (with Retry-After) and drop open WebSockets, then recover")
      ->check([](const std::string& v) {
        int a = 0, b = 0;
        char extra = 0;
        return std::sscanf(v.c_str(), "%d:%d%c", &a, &b, &extra) == 2 && a >= 0 && b > 0
                   ? std::string()
                   : std::string("expected START_MS:DURATION_MS, e.g. 1000:30000");
      });
  app.add_flag("--test-clock", o.test_clock,
               "For tests: POST /mock/clock/advance?ms=N moves the mock's clock forward by N ms "
               "(token and device-code lifetimes, Idempotency-Key ageing), so nothing has to "
               "wait for a lifetime to pass; off by default");
  app.add_flag("--seed-only", o.seed_only,
               "Implement only the seed's contract: no seq, ?since ignored, Idempotency-Key "
               "ignored, /oauth/* and /device are 404, no projectId in /api/generate's response, "
               "error codes of its own (400 is bad_request)");
  std::string fail_at;
  app.add_option("--fail-at", fail_at,
                 "Fault: every deployment fails at this stage (queued, committing, "
                 "creating_namespace, creating_pvc, building, deploying, health_check)");
  app.add_flag("--run-apps", o.run_apps,
               "Run what is deployed: keep the uploaded files, check that the Python compiles "
               "and requirements.txt is met, start the app with uvicorn, ask GET /health (else /) "
               "and serve it at http://127.0.0.1:PORT, one address per project (loopback only). "
               "Off: every stage is a timer");
  app.add_option("--apps-dir", o.apps_dir,
                 "With --run-apps: where each deployment's folder goes (default: a new temporary "
                 "folder, removed at exit)");
  app.add_option("--app-python", o.app_python,
                 "With --run-apps: the Python that checks and runs the apps (it needs uvicorn "
                 "and what requirements.txt names)")
      ->capture_default_str();
  Ranged(app, "--app-health-timeout", o.app_health_timeout_s,
         "With --run-apps: seconds an app has to answer its health check", 1, 3600);
  Ranged(app, "--app-memory-mb", o.app_memory_mb,
         "With --run-apps: each app's address-space limit in MiB", 64, 1 << 20);
  app.add_option("--dns-server", o.dns_server,
                 "Custom domains: the DNS server their records are looked up with, HOST:PORT "
                 "(an IPv4 address, or an IPv6 one in brackets: [::1]:5353); default: the "
                 "servers of /etc/resolv.conf")
      ->type_name("HOST:PORT")
      ->check([](const std::string& v) {
        auto r = dns::MakeResolver(v);
        return r.ok() ? std::string() : r.error().message;
      });
  app.add_option("--ingress-ip", o.ingress_ip,
                 "Custom domains: the address a domain's A record (AAAA for an IPv6 address) "
                 "must point at")
      ->type_name("ADDR")
      ->check([](const std::string& v) {
        unsigned char buf[16];
        return inet_pton(AF_INET, v.c_str(), buf) == 1 || inet_pton(AF_INET6, v.c_str(), buf) == 1
                   ? std::string()
                   : std::string("not an IPv4 or IPv6 address");
      })
      ->capture_default_str();
  Ranged(app, "--domain-check-ms", o.domain_check_ms,
         "Custom domains: look the records of a domain that is not valid up again this often", 10,
         86400000);
  Ranged(app, "--cert-delay-ms", o.cert_delay_ms,
         "Custom domains: milliseconds from a domain's DNS first being valid to its certificate "
         "being issued",
         0, 86400000);
  app.add_option("--cert-fail-domain", o.cert_fail_domains,
                 "Fault: the certificate of this domain fails once its DNS is valid "
                 "(repeatable, or a comma-separated list)")
      ->type_name("DOMAIN")
      ->delimiter(',')
      ->check([](const std::string& v) {
        auto valid = contract::ValidateDomainName(contract::NormalizeDomain(v));
        return valid.ok() ? std::string() : valid.error().message;
      });
  std::vector<std::string> breaks;
  app.add_option("--break", breaks,
                 "Break the contract on purpose, to test backend-im-contract-test (repeatable): "
                 "rename-field (commitHash is sent as commit_hash in deploy answers, status "
                 "answers and WebSocket messages), status-order (health_check comes before "
                 "deploying), commit-hash (the commit hash is computed over the files in "
                 "reverse path order)")
      ->check(CLI::IsMember({"rename-field", "status-order", "commit-hash"}));
  app.add_option("--ws-cat", o.ws_cat_url,
                 "Helper mode, no server: connect to this WebSocket URL (sending the first "
                 "--token as a bearer token), print each message on its own line, exit 0 after "
                 "a normal close");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (const auto& b : breaks) {
    if (b == "rename-field") o.break_rename_field = true;
    if (b == "status-order") o.break_status_order = true;
    if (b == "commit-hash") o.break_commit_hash = true;
  }
  if (!fail_at.empty()) {
    auto stage = contract::ParseStage(fail_at);
    if (!stage || contract::IsTerminal(*stage)) {
      std::fprintf(stderr,
                   "--fail-at: \"%s\" is not a deployment stage that can fail; use one of "
                   "queued, committing, creating_namespace, creating_pvc, building, deploying, "
                   "health_check\n",
                   fail_at.c_str());
      return 2;
    }
    o.fail_at = stage;
  }
  for (auto& d : o.cert_fail_domains) d = contract::NormalizeDomain(d);
  if (!outage.empty()) {
    std::sscanf(outage.c_str(), "%d:%d", &o.outage_start_ms, &o.outage_duration_ms);
  }
  return -1;
}

}  // namespace bim::mock
