#pragma once
// The platform as the agent's core sees it: typed calls and a stream of typed stage messages,
// with no URL, header or frame in sight. PlatformClient (platform_client.h) is the one real
// implementation, the Backend.im API over HTTP and WebSocket; tests put an in-memory fake in its
// place (tests/support/fake_platform.h) that can drop, stall, reorder, refuse and rate-limit on
// command, in simulated time.
//
// Versions. kApiV1 is the seed's contract (docs/API_CONTRACTS.md): generate, deploy, status,
// verify and the deployment's WebSocket. What we added to it is optional, and each addition is
// found in the answers, never assumed: a `seq` on stage messages (then a stream can be resumed
// with `since`), the device login (a 404 from its endpoint means "not offered"), Idempotency-Key
// on deploy, Retry-After. A platform that implements only v1 is followed as well, with less
// (see DeploymentWatcher). A second version of the API would be a second implementation of this
// interface, chosen where the agent is put together (daemon/agent_core.h); nothing else changes.
//
// Errors use one mapping whatever the transport: 401 -> kUnauthenticated, 404 -> kNotFound,
// 429 -> kRateLimited, 5xx and unreachable -> kUnavailable, too slow -> kTimeout.
//
// Thread-safe; calls block. Tokens are passed in per call: AuthManager owns them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/contract.h"
#include "common/result.h"

namespace bim::daemon {

inline constexpr std::string_view kApiV1 = "v1";

// When the caller stops waiting, on the Clock's steady time. kNoDeadline: only the platform's
// own retry budget and each request's own timeout bound a call.
using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// One answer of the device flow's token endpoint: tokens, or an RFC 8628 error code.
using DevicePollResult = std::variant<contract::TokenResponse, contract::OAuthError>;

// What a stream's Next gives: EventStream's (stage messages, /ws) and LogStream's (runtime log
// messages, /ws/logs) are the same but for their message.
template <typename Message>
struct BasicStreamItem {
  enum class Kind {
    kMessage,  // message holds a message of the contract
    kSkipped,  // a frame outside the contract arrived; detail says what was wrong with it
    kClosed,   // the stream is over (and stays over); detail says why
    kTimeout,  // nothing within the time given to Next
  };
  Kind kind = Kind::kTimeout;
  Message message;
  std::string detail;
  // kClosed: this side cut the stream because the platform broke one of its limits (a flood of
  // pings, say); detail says which.
  bool cut = false;
};

// One WebSocket of the platform's, as typed messages: in the platform's order, possibly again
// after a reconnect (a replay), possibly none for a while. Read by one thread; Close may be
// called from any thread and wakes a blocked Next.
template <typename Message>
class BasicStream {
 public:
  virtual ~BasicStream() = default;
  virtual BasicStreamItem<Message> Next(std::chrono::milliseconds timeout) = 0;
  virtual void Close() = 0;
  // Ends the stream at once, reading nothing more (no close handshake): for a platform that
  // floods it.
  virtual void Cut() = 0;
};

// One deployment's stage messages (/ws).
using StreamItem = BasicStreamItem<contract::StageMessage>;
using EventStream = BasicStream<contract::StageMessage>;

// One deployment's runtime log (/ws/logs, an extension: docs/API_CONTRACTS.md §6.2): lines,
// skipped notes, the end.
using LogStreamItem = BasicStreamItem<contract::LogStreamMessage>;
using LogStream = BasicStream<contract::LogStreamMessage>;

// Which lines a logs page holds (GET /api/deployments/{id}/logs): the newest `tail`, or those
// after `after` (at most `limit`); since (Unix ms) and level only reduce what is sent.
struct LogQuery {
  std::optional<int64_t> tail;              // the newest N (1..1000); used when after is not set
  std::optional<int64_t> after;             // the lines after this seq
  std::optional<int64_t> limit;             // with after: at most this many (1..1000)
  std::optional<int64_t> since;             // Unix ms: lines at or after it only
  std::optional<contract::LogLevel> level;  // this level and above only
};

class Platform {
 public:
  virtual ~Platform() = default;

  // kApiV1 today.
  virtual std::string_view api_version() const = 0;
  // Where the platform is; deployments are recorded with it, and followed only by an agent that
  // talks to the same one.
  virtual const std::string& base_url() const = 0;
  // Why the agent cannot use this platform at all (e.g. a refused URL), with what to do; ok
  // when it can. Every call then fails at once with it, while local commands still work.
  virtual const bim::Status& url_problem() const = 0;

  // before_answer, when set, is called once the answer begins to arrive and before any of it is
  // held (a project can be tens of MiB); it may block, and an error from it ends the call with
  // that error. The agent takes its turn to hold a generate answer there (Agent::Generate).
  virtual Result<contract::GenerateResponse> Generate(
      const std::string& token, const std::string& prompt, Deadline deadline = kNoDeadline,
      const std::function<bim::Status()>& before_answer = {}) = 0;
  // The idempotency key is the same on every retry of one deploy: the platform makes at most
  // one deployment for it.
  virtual Result<contract::DeployResponse> Deploy(const std::string& token,
                                                  const contract::DeployRequest& request,
                                                  const std::string& idempotency_key,
                                                  Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::StatusResponse> Status(const std::string& token, const std::string& id,
                                                  Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::VerifyResponse> Verify(const std::string& token,
                                                  Deadline deadline = kNoDeadline) = 0;

  virtual Result<contract::DeviceCodeResponse> StartDeviceLogin(const std::string& client_id) = 0;
  virtual Result<DevicePollResult> PollDeviceLogin(const std::string& client_id,
                                                   const std::string& device_code) = 0;
  // An OAuth error (e.g. invalid_grant) comes back as kUnauthenticated.
  virtual Result<contract::TokenResponse> Refresh(const std::string& client_id,
                                                  const std::string& refresh_token) = 0;

  // ---- Environments, variables and promote: an extension (docs/API_CONTRACTS.md §6.1). A
  // platform without it answers each with kRejected, saying that it does not offer them (its
  // 404 carries none of contract::IsEnvironmentsNotFoundCode's codes). Values travel only in
  // SetVariable's request and in ListVariables' answer with values.
  virtual Result<contract::EnvironmentList> ListEnvironments(const std::string& token,
                                                             const std::string& project_id,
                                                             Deadline deadline = kNoDeadline) = 0;
  virtual bim::Status AddEnvironment(const std::string& token, const std::string& project_id,
                                     const std::string& name, Deadline deadline = kNoDeadline) = 0;
  virtual bim::Status RemoveEnvironment(const std::string& token, const std::string& project_id,
                                        const std::string& name,
                                        Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::VariableList> ListVariables(const std::string& token,
                                                       const std::string& project_id,
                                                       const std::string& environment,
                                                       bool with_values,
                                                       Deadline deadline = kNoDeadline) = 0;
  virtual bim::Status SetVariable(const std::string& token, const std::string& project_id,
                                  const std::string& environment, const std::string& key,
                                  const std::string& value, Deadline deadline = kNoDeadline) = 0;
  virtual bim::Status UnsetVariable(const std::string& token, const std::string& project_id,
                                    const std::string& environment, const std::string& key,
                                    Deadline deadline = kNoDeadline) = 0;
  // A new deployment of a complete one's files in environment, as deploy answers it. The key
  // works as Deploy's.
  virtual Result<contract::DeployResponse> Promote(const std::string& token,
                                                   const std::string& deployment_id,
                                                   const std::string& environment,
                                                   const std::string& idempotency_key,
                                                   Deadline deadline = kNoDeadline) = 0;

  // Opens the deployment's stream of stage messages. since > 0 asks for those after the
  // platform's seq `since` only; a platform without seq replays from the start, and the reader
  // drops what it has. keepalive: how often the connection is checked; a peer silent past it
  // ends the stream (kClosed), so a stalled connection is found.
  virtual Result<std::unique_ptr<EventStream>> OpenEventStream(
      const std::string& token, const std::string& deployment_id, int64_t since,
      std::chrono::milliseconds keepalive) = 0;

  // ---- Custom domains: an extension (docs/API_CONTRACTS.md §6.3). A platform without it
  // answers each with kRejected, saying that it does not offer custom domains (its 404 carries
  // none of contract::IsDomainsNotFoundCode's codes). A domain the project does not have is
  // kNotFound. VerifyDomain makes the platform look the records up now; GetDomain reads what it
  // found last.
  virtual Result<contract::Domain> AddDomain(const std::string& token,
                                             const std::string& project_id,
                                             const contract::AddDomainRequest& request,
                                             Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::DomainList> ListDomains(const std::string& token,
                                                   const std::string& project_id,
                                                   Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::Domain> GetDomain(const std::string& token,
                                             const std::string& project_id,
                                             const std::string& domain,
                                             Deadline deadline = kNoDeadline) = 0;
  virtual Result<contract::Domain> VerifyDomain(const std::string& token,
                                                const std::string& project_id,
                                                const std::string& domain,
                                                Deadline deadline = kNoDeadline) = 0;
  virtual bim::Status RemoveDomain(const std::string& token, const std::string& project_id,
                                   const std::string& domain, Deadline deadline = kNoDeadline) = 0;
  // ---- Runtime logs: an extension (docs/API_CONTRACTS.md §6.2). A platform without it answers
  // each with kRejected, saying that it does not offer app logs (its 404, over HTTP or at the
  // WebSocket's upgrade, carries none of contract::IsLogsNotFoundCode's codes); an unknown
  // deployment is kNotFound.
  virtual Result<contract::LogPage> Logs(const std::string& token, const std::string& deployment_id,
                                         const LogQuery& query,
                                         Deadline deadline = kNoDeadline) = 0;
  // Opens the deployment's log stream: the lines after seq `after` (0: from the start; the
  // platform's default, from the next line printed, is not asked for), then each new one.
  // keepalive as OpenEventStream's.
  virtual Result<std::unique_ptr<LogStream>> OpenLogStream(const std::string& token,
                                                           const std::string& deployment_id,
                                                           int64_t after,
                                                           std::chrono::milliseconds keepalive) = 0;
};

}  // namespace bim::daemon
