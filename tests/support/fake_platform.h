#pragma once
// An in-memory Backend.im platform for unit tests of the agent's core, in simulated time.
//
// A deployment moves through the success path (or up to a failing stage) one stage per
// stage_time of the FakeClock. Nothing here waits in real time: a stream that has nothing to
// send yet moves the clock to the next stage (or to the next fault) and sends that, so a
// deployment, a 30 s outage or a 10-minute stall runs in microseconds, while the agent's own
// waits (backoff, poll intervals) move the same clock through FakeClock::SleepFor.
//
// Faults, on command and thread-safe: an outage window (every call unreachable, open streams
// dropped), the next N calls answered 429 or 503, streams dropped after N messages, stalled
// streams (silent until the keepalive gives up), reordered messages, frames outside the
// contract, revoked access tokens (401) and refused refreshes. It counts what the agent asked,
// so a test can say "one refresh", "the stream was resumed from seq 3".
//
// With Options::seed_only it is a platform that implements only the seed's contract: no seq,
// no resume (a stream replays from the start), no device login, no environments, no app logs.
//
// Runtime logs (docs/API_CONTRACTS.md §6.2): each deployment's lines are what the test appends
// (AppendLog); a log stream sends those after its `after`, then waits, in real time but only
// until a line is appended, the log ends or the stream is dropped (DropLogStreams), so nothing
// a test asserts depends on how long it waits.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "daemon/platform.h"

namespace bim::test {

class FakePlatform final : public daemon::Platform {
 public:
  struct Options {
    std::chrono::milliseconds stage_time{1000};
    bool seed_only = false;
    // Deployments fail at this stage (the stages before it pass); nullopt: they complete.
    std::optional<contract::Stage> fail_at;
    std::chrono::seconds token_ttl{3600};
  };

  explicit FakePlatform(FakeClock& clock) : FakePlatform(clock, Options{}) {}
  FakePlatform(FakeClock& clock, Options options);
  ~FakePlatform() override;

  // ---- Faults.
  // From `after` on the clock's steady time from now, for `length`: nothing answers.
  void ScheduleOutage(std::chrono::milliseconds after, std::chrono::milliseconds length);
  // The next n calls (REST or stream opens) are answered with this HTTP status (429 or 503).
  void FailNext(int n, int http_status);
  // The next `streams` streams opened (0: every one) close after sending this many messages
  // (0: never), as the platform's connection would drop.
  void DropStreamsAfter(int messages, int streams = 1);
  // The next n stream opens are refused (503) while the REST calls answer, as when the
  // platform's WebSocket endpoint is down on its own.
  void RefuseStreams(int n);
  // Streams send nothing; a connection that silent is given up by the keepalive.
  void StallStreams(bool stalled);
  // A stream that has two messages to send sends the newer one first.
  void ReorderStreams(bool reorder);
  // Each message is preceded by this many frames outside the contract (0: none), all at the
  // message's time: a flood when there are many.
  void SendJunkFrames(int per_message);
  // Every access token issued so far is refused from now on (401), as after a revocation.
  void RevokeAccessTokens();
  // Refresh tokens are refused (invalid_grant).
  void RefuseRefresh(bool refuse);

  // ---- Tokens.
  // A long-lived access token, as `auth login --with-token` would give.
  void AddToken(const std::string& token);
  // Runs the device flow's approval as the user would in the browser: the next poll succeeds.
  void ApproveDeviceLogin();

  // ---- What the agent asked.
  int deploy_calls() const;
  int deployments() const;
  int status_calls() const;
  int stream_opens() const;
  // Frames outside the contract handed to the agent, over every stream.
  int junk_frames_sent() const;
  int refreshes() const;
  // The `since` of every stream opened, in order.
  std::vector<int64_t> stream_since() const;
  // The newest access token issued by a refresh or a login ("" when none).
  std::string newest_access_token() const;

  // ---- daemon::Platform
  std::string_view api_version() const override { return daemon::kApiV1; }
  const std::string& base_url() const override { return base_url_; }
  const bim::Status& url_problem() const override { return url_problem_; }
  Result<contract::GenerateResponse> Generate(
      const std::string& token, const std::string& prompt,
      daemon::Deadline deadline = daemon::kNoDeadline,
      const std::function<bim::Status()>& before_answer = {}) override;
  Result<contract::DeployResponse> Deploy(const std::string& token,
                                          const contract::DeployRequest& request,
                                          const std::string& idempotency_key,
                                          daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::StatusResponse> Status(const std::string& token, const std::string& id,
                                          daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::VerifyResponse> Verify(const std::string& token,
                                          daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::DeviceCodeResponse> StartDeviceLogin(const std::string& client_id) override;
  Result<daemon::DevicePollResult> PollDeviceLogin(const std::string& client_id,
                                                   const std::string& device_code) override;
  Result<contract::TokenResponse> Refresh(const std::string& client_id,
                                          const std::string& refresh_token) override;
  Result<std::unique_ptr<daemon::EventStream>> OpenEventStream(
      const std::string& token, const std::string& deployment_id, int64_t since,
      std::chrono::milliseconds keepalive) override;

  Result<contract::EnvironmentList> ListEnvironments(
      const std::string& token, const std::string& project_id,
      daemon::Deadline deadline = daemon::kNoDeadline) override;
  bim::Status AddEnvironment(const std::string& token, const std::string& project_id,
                             const std::string& name,
                             daemon::Deadline deadline = daemon::kNoDeadline) override;
  bim::Status RemoveEnvironment(const std::string& token, const std::string& project_id,
                                const std::string& name,
                                daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::VariableList> ListVariables(
      const std::string& token, const std::string& project_id, const std::string& environment,
      bool with_values, daemon::Deadline deadline = daemon::kNoDeadline) override;
  bim::Status SetVariable(const std::string& token, const std::string& project_id,
                          const std::string& environment, const std::string& key,
                          const std::string& value,
                          daemon::Deadline deadline = daemon::kNoDeadline) override;
  bim::Status UnsetVariable(const std::string& token, const std::string& project_id,
                            const std::string& environment, const std::string& key,
                            daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::DeployResponse> Promote(
      const std::string& token, const std::string& deployment_id, const std::string& environment,
      const std::string& idempotency_key, daemon::Deadline deadline = daemon::kNoDeadline) override;

  // ---- Environments (not with seed_only: every call is refused as not offered).
  // A variable's value as the platform holds it; nullopt when it has none.
  std::optional<std::string> VariableValue(const std::string& project,
                                           const std::string& environment,
                                           const std::string& key) const;
  // The platform's refusals of a SetVariable quote the value they were sent, as a careless or
  // hostile platform's might: the agent must not pass it on.
  void EchoValuesInErrors(bool echo);
  // Answers to ?values=true withhold the values (the key without "value").
  void WithholdValues(bool withhold);
  int promote_calls() const;

  // ---- Custom domains (not with seed_only: every call is refused as not offered). A domain
  // asks for two records, TXT _backend-im.{domain} and A {domain} (127.0.0.1), and answers the
  // states a test gives it: pending/pending until then.
  Result<contract::Domain> AddDomain(const std::string& token, const std::string& project_id,
                                     const contract::AddDomainRequest& request,
                                     daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::DomainList> ListDomains(
      const std::string& token, const std::string& project_id,
      daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::Domain> GetDomain(const std::string& token, const std::string& project_id,
                                     const std::string& domain,
                                     daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<contract::Domain> VerifyDomain(const std::string& token, const std::string& project_id,
                                        const std::string& domain,
                                        daemon::Deadline deadline = daemon::kNoDeadline) override;
  bim::Status RemoveDomain(const std::string& token, const std::string& project_id,
                           const std::string& domain,
                           daemon::Deadline deadline = daemon::kNoDeadline) override;
  // From `after` on the clock's steady time from now, domain answers these states (the records'
  // found/ok follow dns: valid finds every value, invalid finds another address for the A
  // record, pending finds nothing). Later schedules win once their time comes.
  void ScheduleDomainState(const std::string& domain, std::chrono::milliseconds after,
                           contract::DnsState dns, contract::CertificateState certificate,
                           const std::string& detail = "");
  // The steady ms of every GetDomain and VerifyDomain of domain, in order, answered or not (an
  // outage, a scripted failure).
  std::vector<int64_t> DomainChecks(const std::string& domain) const;
  int verify_domain_calls() const;
  Result<contract::LogPage> Logs(const std::string& token, const std::string& deployment_id,
                                 const daemon::LogQuery& query,
                                 daemon::Deadline deadline = daemon::kNoDeadline) override;
  Result<std::unique_ptr<daemon::LogStream>> OpenLogStream(
      const std::string& token, const std::string& deployment_id, int64_t after,
      std::chrono::milliseconds keepalive) override;

  // ---- Runtime logs (not with seed_only: every call is refused as not offered).
  // Appends a line to the deployment's log (the next seq, the clock's wall time); returns its seq.
  int64_t AppendLog(const std::string& deployment_id, contract::LogLevel level,
                    const std::string& text, const std::string& source = "app");
  // The deployment's app ended: streams send what is left, then end with reason.
  void EndLog(const std::string& deployment_id, const std::string& reason);
  // The platform keeps only the newest n lines of each deployment from now on.
  void KeepLogLines(size_t n);
  // Every log stream open now closes, as when the connection drops.
  void DropLogStreams();
  // A stream opened after seq A sends from A - n + 1 on: lines the reader has already, as a
  // platform that replays a little on resume.
  void ReplayOnResume(int64_t n);
  // How many log streams were opened, and are open now; each one's `after`, in order.
  int log_stream_opens() const;
  int open_log_streams() const;
  std::vector<int64_t> log_stream_after() const;
  // The queries of every Logs call, in order.
  std::vector<daemon::LogQuery> log_queries() const;

  // The messages a deployment has reached by now, oldest first (for assertions).
  std::vector<contract::StageMessage> Reached(const std::string& deployment_id) const;

 private:
  class Stream;
  class LogStreamImpl;
  struct AppLog {
    std::vector<contract::LogLine> lines;  // oldest first; only those still kept
    int64_t next_seq = 1;
    bool ended = false;
    std::string end_reason;
  };
  // Locked: the deployment's log, or the platform's error for a call about it.
  Result<AppLog*> AppLogLocked(const std::string& deployment_id, const std::string& what);
  struct Deployment {
    std::string id;
    std::string project_id;
    std::string commit_hash;
    int64_t created_ms = 0;  // steady
    std::string environment;
  };
  // Locked: what a deploy (or promote) of d answers now.
  contract::DeployResponse DeployAnswerLocked(const Deployment& d) const;
  // Locked: a project's environments (production and staging at first), or not offered.
  Result<std::map<std::string, std::map<std::string, std::string>>*> EnvironmentsLocked(
      const std::string& project);
  struct Token {
    int64_t expires_ms = 0;  // steady; 0: never
  };

  int64_t NowMs() const;
  // Locked: the stages of d in order (success path or up to the failure).
  std::vector<contract::Stage> PathLocked() const;
  contract::StageMessage MessageLocked(const Deployment& d, size_t index) const;
  // How many of d's messages exist at time ms.
  size_t ReachedLocked(const Deployment& d, int64_t ms) const;
  int64_t StageTimeLocked(const Deployment& d, size_t index) const;
  bool DownLocked(int64_t ms) const;
  // The error of a call at this moment (outage, scripted failure, bad token), or ok.
  bim::Status GateLocked(const std::string& token, const std::string& what);
  contract::TokenResponse IssueLocked();
  // A member guarded by mu_, written or read under it.
  template <typename T>
  void Set(T& member, T value) {
    std::lock_guard lock(mu_);
    member = value;
  }
  template <typename T>
  T Get(const T& member) const {
    std::lock_guard lock(mu_);
    return member;
  }

  FakeClock& clock_;
  const Options options_;
  const std::string base_url_ = "https://fake.backend.im";
  const bim::Status url_problem_;

  mutable std::mutex mu_;
  std::map<std::string, Deployment> deployments_;       // guarded by mu_
  std::map<std::string, std::string> by_key_;           // idempotency key -> id; guarded by mu_
  std::map<std::string, Token> access_;                 // guarded by mu_
  std::set<std::string> refresh_;                       // guarded by mu_
  int64_t outage_from_ms_ = -1, outage_until_ms_ = -1;  // guarded by mu_
  int fail_next_ = 0, fail_status_ = 0;                 // guarded by mu_
  int drop_after_ = 0, drop_streams_ = 0;               // guarded by mu_
  int refuse_streams_ = 0;                              // guarded by mu_
  bool stalled_ = false, reorder_ = false, refuse_refresh_ = false;
  int junk_per_message_ = 0, junk_sent_ = 0;  // guarded by mu_
  bool device_approved_ = false;              // guarded by mu_
  int next_id_ = 1, next_token_ = 1;
  int deploy_calls_ = 0, status_calls_ = 0, stream_opens_ = 0, refreshes_ = 0;
  std::vector<int64_t> stream_since_;  // guarded by mu_
  // project -> environment -> variables; guarded by mu_
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> environments_;
  bool echo_values_ = false, withhold_values_ = false;  // guarded by mu_
  int promote_calls_ = 0;                               // guarded by mu_
  std::string newest_access_;                           // guarded by mu_
  struct FakeDomain {
    contract::Domain domain;
    // (steady ms, dns, certificate, detail), in the order given.
    struct State {
      int64_t from_ms = 0;
      contract::DnsState dns = contract::DnsState::kPending;
      contract::CertificateState certificate = contract::CertificateState::kPending;
      std::string detail;
    };
    std::vector<State> states;
  };
  // Locked: the domain as it answers now, or domain_not_found.
  Result<contract::Domain> DomainNowLocked(const std::string& project, const std::string& domain,
                                           bool verify);
  std::map<std::string, FakeDomain> domains_;                        // by name; guarded by mu_
  std::map<std::string, std::vector<int64_t>> domain_checks_;        // guarded by mu_
  std::map<std::string, std::vector<FakeDomain::State>> scheduled_;  // guarded by mu_
  int verify_domain_calls_ = 0;                                      // guarded by mu_
  std::map<std::string, AppLog> logs_;                               // guarded by mu_
  std::condition_variable logs_changed_;  // with mu_: a line, an end, a drop
  size_t keep_lines_ = 10000;             // guarded by mu_
  int64_t replay_on_resume_ = 0;          // guarded by mu_
  int log_generation_ = 0;    // guarded by mu_: DropLogStreams counts up; streams compare
  int log_stream_opens_ = 0;  // guarded by mu_
  int open_log_streams_ = 0;  // guarded by mu_
  std::vector<int64_t> log_stream_after_;      // guarded by mu_
  std::vector<daemon::LogQuery> log_queries_;  // guarded by mu_
};

}  // namespace bim::test
