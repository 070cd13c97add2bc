#pragma once
// The Backend.im API v1 (docs/API_CONTRACTS.md) over HTTP and WebSocket: the real Platform.
//
// Retries: connection errors, timeouts, 429, 502, 503 and 504 are retried with jittered
// exponential backoff, up to a total budget (60 s). A Retry-After is waited for (at least 1 s)
// when the wait fits in what is left of the budget; a longer one is not shortened, since the
// platform would only refuse again: the call ends at once with the platform's error and "the
// platform asks to retry in N s", so the person decides whether to wait. POST
// /api/deploy carries an Idempotency-Key, the same on every retry, so a retry after a lost
// response never makes a second deployment. Other statuses come back as Errors whose message
// is the platform's own (from its {"error","message"} body) when it sent one, cut to
// limits::kMaxPlatformMessageBytes. An answer over its size limit (limits::kMaxAnswerBytes;
// kMaxGenerateAnswerBytes for generate) or compressed is a kProtocol error, never retried.
//
// A call may carry the caller's Deadline (its gRPC deadline less a margin): retries and each
// request's own timeout then end by it, and a request cut short by it comes back as kTimeout,
// "the platform did not answer ... within N s", so the person hears that the platform was slow
// before their command's own deadline passes.
//
// A base URL that ValidateApiUrl refuses does not stop the agent: local commands (history,
// daemon status) still work, and every platform call fails at once with the reason, so the ctl
// can say it where the user looks rather than in the agent's log.
//
// The event stream is the deployment's WebSocket (/ws?deploymentId=ID[&since=N]) with the token
// in its Authorization header, pinged every keepalive; each frame is parsed here, so a frame
// outside the contract reaches the reader as StreamItem::kSkipped with the reason. The runtime
// log (/ws/logs?deploymentId=ID&after=N, an extension) goes over the same plumbing.
//
// Thread-safe; calls block. Tokens are passed in per call: AuthManager owns them.

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/contract.h"
#include "common/http_client.h"
#include "common/random.h"
#include "common/result.h"
#include "common/stop_signal.h"
#include "daemon/platform.h"
#include "ws/ws_client.h"

namespace bim::daemon {

struct RetryPolicy {
  int max_attempts = 6;
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{8000};
  std::chrono::milliseconds total_budget{60000};
};

class PlatformClient final : public Platform {
 public:
  // url_source says where base_url came from (e.g. "BACKEND_IM_API_URL"), for the message when
  // the URL is refused. clock times the retry budget and the waits between attempts, which end
  // early when stop is signalled.
  PlatformClient(std::string base_url, HttpClient& http, ws::Connector& connector,
                 const Clock& clock, Random& random, StopSignal& stop, RetryPolicy policy = {},
                 const std::string& url_source = "");

  std::string_view api_version() const override { return kApiV1; }
  const std::string& base_url() const override { return base_url_; }
  const bim::Status& url_problem() const override { return url_problem_; }

  Result<contract::GenerateResponse> Generate(
      const std::string& token, const std::string& prompt, Deadline deadline = kNoDeadline,
      const std::function<bim::Status()>& before_answer = {}) override;
  Result<contract::DeployResponse> Deploy(const std::string& token,
                                          const contract::DeployRequest& request,
                                          const std::string& idempotency_key,
                                          Deadline deadline = kNoDeadline) override;
  Result<contract::StatusResponse> Status(const std::string& token, const std::string& id,
                                          Deadline deadline = kNoDeadline) override;
  Result<contract::VerifyResponse> Verify(const std::string& token,
                                          Deadline deadline = kNoDeadline) override;

  Result<contract::DeviceCodeResponse> StartDeviceLogin(const std::string& client_id) override;
  Result<DevicePollResult> PollDeviceLogin(const std::string& client_id,
                                           const std::string& device_code) override;
  Result<contract::TokenResponse> Refresh(const std::string& client_id,
                                          const std::string& refresh_token) override;

  Result<contract::EnvironmentList> ListEnvironments(const std::string& token,
                                                     const std::string& project_id,
                                                     Deadline deadline) override;
  bim::Status AddEnvironment(const std::string& token, const std::string& project_id,
                             const std::string& name, Deadline deadline) override;
  bim::Status RemoveEnvironment(const std::string& token, const std::string& project_id,
                                const std::string& name, Deadline deadline) override;
  Result<contract::VariableList> ListVariables(const std::string& token,
                                               const std::string& project_id,
                                               const std::string& environment, bool with_values,
                                               Deadline deadline) override;
  bim::Status SetVariable(const std::string& token, const std::string& project_id,
                          const std::string& environment, const std::string& key,
                          const std::string& value, Deadline deadline) override;
  bim::Status UnsetVariable(const std::string& token, const std::string& project_id,
                            const std::string& environment, const std::string& key,
                            Deadline deadline) override;
  Result<contract::DeployResponse> Promote(const std::string& token,
                                           const std::string& deployment_id,
                                           const std::string& environment,
                                           const std::string& idempotency_key,
                                           Deadline deadline) override;
  Result<std::unique_ptr<EventStream>> OpenEventStream(
      const std::string& token, const std::string& deployment_id, int64_t since,
      std::chrono::milliseconds keepalive) override;
  Result<contract::LogPage> Logs(const std::string& token, const std::string& deployment_id,
                                 const LogQuery& query, Deadline deadline) override;
  Result<std::unique_ptr<LogStream>> OpenLogStream(const std::string& token,
                                                   const std::string& deployment_id, int64_t after,
                                                   std::chrono::milliseconds keepalive) override;

  Result<contract::Domain> AddDomain(const std::string& token, const std::string& project_id,
                                     const contract::AddDomainRequest& request,
                                     Deadline deadline) override;
  Result<contract::DomainList> ListDomains(const std::string& token, const std::string& project_id,
                                           Deadline deadline) override;
  Result<contract::Domain> GetDomain(const std::string& token, const std::string& project_id,
                                     const std::string& domain, Deadline deadline) override;
  Result<contract::Domain> VerifyDomain(const std::string& token, const std::string& project_id,
                                        const std::string& domain, Deadline deadline) override;
  bim::Status RemoveDomain(const std::string& token, const std::string& project_id,
                           const std::string& domain, Deadline deadline) override;

 private:
  // ws(s)://host/ws?deploymentId=ID[&since=N]
  std::string WebSocketUrl(const std::string& deployment_id, int64_t since) const;
  // The base URL with ws(s):// for http(s)://.
  std::string WebSocketBase() const;
  // A WebSocket of the platform's with the token, pinged every keepalive.
  Result<std::unique_ptr<ws::Connection>> ConnectWebSocket(const std::string& token,
                                                           const std::string& url,
                                                           std::chrono::milliseconds keepalive);
  // secret: a value the request carries (a variable's), hidden in every error and log line made
  // from the platform's answers, and wiped from the request's body before it is freed.
  Result<HttpResponse> Execute(HttpRequest request, Deadline deadline = kNoDeadline,
                               std::string_view secret = {});
  Error ErrorFromResponse(const HttpResponse& r, const std::string& what,
                          std::string_view secret = {}) const;
  // A call of the environments extension: its answer when the status is one of ok, else the
  // error, where a 404 without one of the extension's codes says the platform does not offer it.
  Result<HttpResponse> EnvironmentsCall(HttpRequest request, std::initializer_list<long> ok,
                                        Deadline deadline, std::string_view secret = {});
  // The same for the custom domains extension: a 404 without one of its codes (domain_not_found,
  // environment_not_found) says the platform does not offer custom domains.
  Result<HttpResponse> DomainsCall(HttpRequest request, std::initializer_list<long> ok,
                                   Deadline deadline);

  std::string base_url_;
  HttpClient& http_;
  ws::Connector& connector_;
  const Clock& clock_;
  Random& random_;
  StopSignal& stop_;
  RetryPolicy policy_;
  bim::Status url_problem_;
};

// Checks an API URL before anything connects: http(s) only, and plain http only to a loopback
// host (localhost, 127.0.0.0/8, [::1]), decided from the URL text alone.
Status ValidateApiUrl(const std::string& url);

}  // namespace bim::daemon
