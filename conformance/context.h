#pragma once
// Everything the checks share during one run: the platform's address and token, HTTP with
// retries, WebSocket connections, and the things several checks look at but only one run may
// make — the one sample deployment, its observation (WebSocket and polling side by side), the
// generate answer, a device code, an Idempotency-Key replay. Each of those is made lazily, the
// first time a check asks, so any subset of checks (--check) still works.
//
// Safety: every deployment the run creates is labelled with options().label as its projectId,
// counted, and capped at options().max_deployments. The run deletes only what it made and
// nothing else: the environment of the environments checks (with its variable) and the domain
// of the domains checks, which CleanUp removes at the end if no check did.
//
// Ownership: holds references to the transport, connector, clock, sleeper and random source,
// which must outlive it. Threading: one thread, the suite's.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/contract.h"
#include "common/random.h"
#include "conformance/check.h"
#include "conformance/http_transport.h"
#include "conformance/retrying_transport.h"
#include "conformance/sleeper.h"
#include "conformance/suite_options.h"
#include "ws/ws_client.h"

namespace bim::conformance {

// Which Authorization header a request carries.
enum class Auth { kToken, kNone, kInvalid };

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request and the answer it finally got (after any retries).
struct Exchange {
  std::string method;
  std::string path;     // relative to the API URL, query included
  std::string variant;  // how it differs from a plain request, e.g. "no Authorization"
  HttpAnswer answer;
  int attempts = 1;

  // The body parsed; a discarded value when it is not JSON.
  nlohmann::json Json() const;
  // "POST /api/deploy [no Authorization]"
  std::string Line() const;
  Evidence ToEvidence(std::string note = "") const;
};

// The run's sample deployment: POST /api/deploy with an Idempotency-Key, and its answer.
struct CreatedDeployment {
  contract::FileMap files;
  std::string request_body;
  std::string idempotency_key;
  Exchange exchange;
  nlohmann::json answer;  // the body, parsed (discarded when not JSON)
  std::string id;         // its deploymentId; empty when the answer named none
};

// The sample deployment watched to its end over one WebSocket and by polling at once.
struct Observation {
  std::string ws_path;  // /ws?deploymentId=...
  bool ws_connected = false;
  long ws_refused_status = 0;  // the HTTP status of a refused upgrade, 0 when none
  std::string ws_error;        // why it did not connect
  std::vector<std::string> frames;
  std::optional<int> close_code;  // the server's close code; unset when the suite closed it
  std::string close_reason;
  bool closed_by_suite = false;  // it stayed open past close_grace after the terminal message
  std::vector<Exchange> polls;   // GET /api/status/{id}, in order
  bool timed_out = false;        // deploy_timeout passed before both ended
};

// The environment the run makes in its project for the environments checks.
struct MadeEnvironment {
  std::string name;   // a new one: conformance- and 8 hex digits
  Exchange exchange;  // the POST that asked for it
  bool made = false;  // the platform answered 2xx: it exists until removed
  bool removed = false;
};

// The domain the run adds to its project for the domains checks.
struct MadeDomain {
  std::string name;   // a new one: 8 hex digits, the run's label, then example.com
  Exchange exchange;  // the POST that asked for it
  bool made = false;  // the platform answered 2xx: it exists until removed
  bool removed = false;
};

// A WebSocket upgrade's outcome.
struct WsAttempt {
  std::unique_ptr<ws::Connection> connection;  // set when the upgrade succeeded
  long refused_status = 0;                     // the HTTP status of a refusal, when known
  std::string error;
};

class Context {
 public:
  Context(SuiteOptions options, HttpTransport& http, ws::Connector& connector, const Clock& clock,
          Sleeper& sleeper, Random& random);

  const SuiteOptions& options() const { return options_; }
  bool has_token() const { return !options_.token.empty(); }
  const Clock& clock() const { return clock_; }
  Sleeper& sleeper() { return sleeper_; }
  std::string NewId();  // a random UUID

  // HTTP relative to the API URL. Retries 429, 502, 503 and 504 up to max_attempts, waiting
  // Retry-After when given (clamped to max_retry_wait) or a short backoff when not. Every
  // answer, the retried ones too, is kept in history() for the checks that look at all of them.
  Exchange Get(const std::string& path, Auth auth = Auth::kToken, std::string variant = "");
  Exchange PostJson(const std::string& path, std::string body, Auth auth = Auth::kToken,
                    Headers extra = {}, std::string variant = "");
  Exchange PostForm(const std::string& path, std::string body, std::string variant = "");
  Exchange PutJson(const std::string& path, std::string body, std::string variant = "");
  Exchange Delete(const std::string& path, std::string variant = "");
  const std::vector<Exchange>& history() const { return history_; }

  // ws(s)://.../ws?deploymentId=ID[&since=N], from the API URL the way the agent makes it.
  std::string WsUrl(const std::string& deployment_id, std::optional<int64_t> since = {}) const;
  // The same URL relative to the API, for evidence.
  std::string WsPath(const std::string& deployment_id, std::optional<int64_t> since = {}) const;
  // The WebSocket URL of any path relative to the API (e.g. /ws/logs?deploymentId=ID).
  std::string WsUrlOf(const std::string& path) const;
  WsAttempt OpenWs(const std::string& url, Auth auth);

  // Whether another deployment may be created, and the record of those that were.
  bool MayCreateDeployment() const;
  void NoteDeployment(const std::string& id);
  const std::vector<std::string>& created_deployments() const { return created_; }

  // The sample deployment, requested on first use; nullptr when it was not requested
  // (why() says: --read-only, no token, the cap). Its id is empty when the platform made none.
  const CreatedDeployment* Deployment();
  // Its observation, made on first use; nullptr without a deployment.
  const Observation* Watch();
  // POST /api/generate with a labelled prompt, on first use.
  const Exchange& GenerateAnswer();
  // POST /oauth/device/code with the configured client_id, on first use.
  const Exchange& DeviceCodeAnswer();
  // The sample deploy sent again, same body and Idempotency-Key; nullptr without a
  // deployment or when the deployment cap forbids it.
  const Exchange* IdempotentReplay();
  // GET /api/projects/{label}/environments, on first use.
  const Exchange& EnvironmentsAnswer();
  // The run's environment, asked for on first use; nullptr when it was not (why() says:
  // --read-only, no token).
  const MadeEnvironment* Environment();
  // A check removed the run's environment.
  void NoteEnvironmentRemoved();
  // /api/projects/{label}/environments[/{name}], the name percent-encoded.
  std::string EnvironmentsPath(const std::string& name = "") const;
  // GET /api/projects/{label}/domains, on first use.
  const Exchange& DomainsAnswer();
  // The run's domain, asked for on first use; nullptr when it was not (why() says).
  const MadeDomain* Domain();
  // A check removed the run's domain.
  void NoteDomainRemoved();
  // /api/projects/{label}/domains[/{name}], the name percent-encoded.
  std::string DomainsPath(const std::string& name = "") const;
  // Removes what the run made and no check removed (the environment, the domain). The suite
  // calls it after the last check.
  void CleanUp();
  // GET /api/deployments/{a new id}/logs, on first use: whether the platform has runtime logs.
  const Exchange& LogsProbeAnswer();
  // Why Deployment(), IdempotentReplay(), Environment() or Domain() gave nullptr.
  const std::string& why() const { return why_; }

  // Progress lines for a person (the suite prints them to stderr); no-op by default.
  void SetProgress(std::function<void(const std::string&)> progress) {
    progress_ = std::move(progress);
  }
  void Progress(const std::string& line) const {
    if (progress_) progress_(line);
  }

  // GET with another bearer token than the run's (a refreshed one, say).
  Exchange GetWithBearer(const std::string& path, const std::string& token, std::string variant);

  // Tokens from --device-login, for the refresh-token check.
  void SetLoginTokens(contract::TokenResponse tokens) { login_tokens_ = std::move(tokens); }
  const std::optional<contract::TokenResponse>& login_tokens() const { return login_tokens_; }

 private:
  Exchange Send(std::string method, const std::string& path, std::string body,
                std::string content_type, Headers headers, std::string variant);
  // The Authorization header for auth, if any.
  Headers AuthHeaders(Auth auth);

  SuiteOptions options_;
  RetryingTransport http_;
  ws::Connector& connector_;
  const Clock& clock_;
  Sleeper& sleeper_;
  Random& random_;
  std::vector<Exchange> history_;
  std::vector<std::string> created_;
  std::string why_;
  bool deployment_tried_ = false;
  std::optional<CreatedDeployment> deployment_;
  std::optional<Observation> observation_;
  std::optional<Exchange> generate_;
  std::optional<Exchange> device_code_;
  bool replay_tried_ = false;
  std::optional<Exchange> replay_;
  std::optional<contract::TokenResponse> login_tokens_;
  std::optional<Exchange> environments_;
  bool environment_tried_ = false;
  std::optional<MadeEnvironment> environment_;
  std::optional<Exchange> domains_;
  bool domain_tried_ = false;
  std::optional<MadeDomain> domain_;
  std::optional<Exchange> logs_probe_;
  std::function<void(const std::string&)> progress_;
};

}  // namespace bim::conformance
