#pragma once
// backend-im-mock's command line: what the mock platform does and which faults it injects.
// Parsed once in main and then read-only, so any thread may read it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/contract.h"

namespace bim::mock {

struct MockOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port
  std::string port_file;            // the bound port is written here (atomically)
  std::vector<std::string> tokens;  // static bearer tokens, valid forever
  int stage_delay_ms = 1000;
  int token_ttl_s = 3600;      // device-flow and callback access tokens
  int auto_approve_after = 0;  // approve a device code on its Nth poll; 0 = never
  int device_interval_s = 5;
  int device_code_ttl_s = 600;
  std::string oauth_client_id = "backend-im-cli";
  uint64_t seed = 1;  // fault RNG
  bool log_requests = true;
  // Benchmarks: log "sent <id> seq=<n> status=<stage> unix_us=<t>" each time a stage message
  // is emitted, so a watcher's receive time can be compared with the send time.
  bool log_sends = false;

  // Faults.
  int ws_drop_after = -1;       // -1: off
  int ws_drop_times = 1;        // 0: every connection
  int ws_malformed_after = -1;  // -1: off
  int fault_status = 503;
  double fault_rate = 0.0;
  int fault_first = 0;
  int retry_after_s = 1;
  int delay_ms = 0;
  // With delay_ms: only responses to paths that start with one of these are delayed; empty: all.
  std::vector<std::string> delay_paths;
  // With fault_first and fault_rate: only requests for paths that start with one of these count
  // and fail; empty: every /api and /oauth request.
  std::vector<std::string> fault_paths;
  int drop_deploy_response_first = 0;
  // An outage window after start: every /api, /oauth and /ws request is answered 503 with
  // Retry-After, and open WebSockets are dropped when it begins. -1: none.
  int outage_start_ms = -1;
  int outage_duration_ms = 0;
  bool seed_only = false;
  // Tests: POST /mock/clock/advance?ms=N moves the mock's time on (ShiftableClock).
  bool test_clock = false;
  std::optional<contract::Stage> fail_at;

  // --run-apps: committing, building, deploying, health_check and complete do their real work
  // on this machine (AppSupervisor); off: every stage is a timer.
  bool run_apps = false;
  std::string apps_dir;  // the apps' folders; empty: a new temporary folder
  std::string app_python = "/usr/bin/python3";
  int app_health_timeout_s = 20;
  int app_memory_mb = 2048;

  // Custom domains (docs/API_CONTRACTS.md §6.3).
  std::string dns_server;  // HOST:PORT the records are looked up with; empty: the system's
  std::string ingress_ip = "127.0.0.1";        // what a domain's A (or AAAA) record must hold
  int domain_check_ms = 30000;                 // re-check a domain that is not valid this often
  int cert_delay_ms = 2000;                    // dns first valid -> certificate issued
  std::vector<std::string> cert_fail_domains;  // normalized: their certificate fails

  // Deliberate contract breaks (--break), so backend-im-contract-test can be shown to catch
  // them. Off by default; see ContractBreaks.
  bool break_rename_field = false;  // commitHash is sent as commit_hash
  bool break_status_order = false;  // health_check is streamed before deploying
  bool break_commit_hash = false;   // the commit hash is computed in reverse path order

  // Helper mode: print the messages of one WebSocket and exit.
  std::string ws_cat_url;
};

// Parses argv into out. Returns -1 to go on, or the exit code when the program should end
// now (--help, --version, a bad flag: CLI11 has printed why).
int ParseMockOptions(int argc, char** argv, MockOptions& out);

}  // namespace bim::mock
