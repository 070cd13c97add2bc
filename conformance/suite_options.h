#pragma once
// What one run of the conformance suite is told: where the platform is, how to authenticate,
// how careful to be, and how long to wait. Filled in by main from the command line; read-only
// afterwards.

#include <chrono>
#include <string>
#include <vector>

namespace bim::conformance {

struct SuiteOptions {
  std::string api_url;  // http(s)://host[:port][/prefix], without a trailing slash
  std::string token;    // bearer token; empty: the checks that need one are skipped
  bool read_only = false;
  std::string client_id = "backend-im-cli";  // the device flow's client_id
  // projectId of everything the run creates, so a person can tell it from real work.
  std::string label = "conformance";
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds deploy_timeout{600000};
  std::chrono::milliseconds request_timeout{30000};
  // The most deployments one run may create; a check that would need another is skipped.
  int max_deployments = 7;
  // Attempts per request on 429, 502, 503 and 504, waiting Retry-After (clamped) in between.
  int max_attempts = 4;
  std::chrono::milliseconds max_retry_wait{30000};
  // Time a WebSocket may stay open after its terminal message before the suite closes it.
  std::chrono::milliseconds close_grace{5000};
  std::string ca_file;            // extra CA bundle for https and wss; empty: the system's
  std::vector<std::string> only;  // run only checks whose id starts with one of these
};

}  // namespace bim::conformance
