#pragma once
// backend-im-mock's platform: routes every HTTP request and WebSocket upgrade of
// docs/API_CONTRACTS.md to the AuthServer and the DeploymentRunner, and applies the HTTP
// fault flags (--fault-*, --delay-ms, --drop-deploy-response-first) and the request log.
//
// Ownership: holds references to the server, options, clock and random sources, which must
// outlive it. Threading: registers its handlers on the server, so all of it runs on the
// server's io thread; construct it before server.Run().

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "mock-api/auth_server.h"
#include "mock-api/contract_breaks.h"
#include "mock-api/deployment_runner.h"
#include "mock-api/domains.h"
#include "mock-api/idempotency_cache.h"
#include "mock-api/mock_options.h"
#include "mock-api/shiftable_clock.h"
#include "ws/http_ws_server.h"

namespace bim::mock {

class MockPlatform {
 public:
  // ids: deployment and project ids, tokens; faults: --fault-rate (seeded with --seed).
  // test_clock: the clock POST /mock/clock/advance moves (--test-clock), or null.
  MockPlatform(ws::HttpWsServer& server, const MockOptions& options, const Clock& clock,
               Random& ids, Random& faults, ShiftableClock* test_clock = nullptr);

  // The address it listens on, for URLs in answers to requests that carry no Host header.
  void SetListenAddress(const std::string& host, int port);

 private:
  struct Reply {
    ws::HttpResponse response;
    bool drop = false;  // close the connection instead of answering
    // When set, the answer comes later: it is called with the function that sends it.
    std::function<void(std::function<void(ws::HttpResponse)>)> later = {};
  };

  void OnHttp(const ws::HttpRequest& req, std::shared_ptr<ws::HttpResponder> responder);
  Reply Handle(const ws::HttpRequest& req);
  Reply Generate(const ws::HttpRequest& req);
  Reply Deploy(const ws::HttpRequest& req);
  // POST /api/deployments/{source}/promote (an extension).
  Reply Promote(const ws::HttpRequest& req, const std::string& source);
  // 200 with the body create() makes; for an Idempotency-Key seen before, the body made then
  // when the request's fingerprint is the same, and 422 when it is not.
  Reply Idempotent(const ws::HttpRequest& req, const std::string& fingerprint,
                   const std::function<std::string()>& create);
  Reply StatusOf(const std::string& id);
  // GET /api/deployments/{id}/logs (an extension).
  Reply Logs(const ws::HttpRequest& req, const std::string& id);
  std::optional<ws::HttpResponse> ValidateUpgrade(const ws::HttpRequest& req);
  // Whether --delay-ms applies to a request for path (--delay-path).
  bool Delayed(const std::string& path) const;
  // Whether this request for path gets an injected failure (--fault-first, --fault-rate,
  // --fault-path).
  bool InjectFault(const std::string& path);
  bool InOutage() const;
  ws::HttpResponse FaultResponse() const;
  std::string BaseUrl(const ws::HttpRequest& req, const char* scheme) const;
  void LogRequest(const std::string& method, const std::string& path, const std::string& outcome,
                  std::chrono::steady_clock::time_point start) const;

  ws::HttpWsServer& server_;
  const MockOptions& options_;
  const Clock& clock_;
  ShiftableClock* test_clock_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Random& faults_;
  ContractBreaks breaks_;
  AuthServer auth_;
  Environments environments_;  // before runner_, which keeps a reference
  DeploymentRunner runner_;
  Domains domains_;  // after environments_, which it reads
  IdempotencyCache idempotency_;
  std::string listen_address_ = "127.0.0.1:8080";
  int faultable_requests_ = 0;
  int deploy_responses_ = 0;
};

}  // namespace bim::mock
