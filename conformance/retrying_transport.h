#pragma once
// An HttpTransport that retries what the contract says a client retries: 429, 502, 503 and 504
// (docs/API_CONTRACTS.md §2), up to max_attempts, waiting Retry-After when the answer gives
// delay-seconds (clamped to max_wait) and a doubling backoff from 500 ms when it does not.
// Network errors are not retried: a POST that got no answer may have been acted on, and the
// suite reports what it saw rather than guessing.
//
// SendAll returns every answer, so the suite can judge the 429s and 503s it was given, not only
// the answer it finally used. Holds references to the inner transport and the sleeper, which
// must outlive it. One thread.

#include <chrono>
#include <vector>

#include "conformance/http_transport.h"
#include "conformance/sleeper.h"

namespace bim::conformance {

class RetryingTransport final : public HttpTransport {
 public:
  RetryingTransport(HttpTransport& inner, Sleeper& sleeper, int max_attempts,
                    std::chrono::milliseconds max_wait)
      : inner_(inner), sleeper_(sleeper), max_attempts_(max_attempts), max_wait_(max_wait) {}

  // Every answer in order; the last one is final. Never empty.
  std::vector<HttpAnswer> SendAll(const HttpCall& call);
  HttpAnswer Send(const HttpCall& call) override { return SendAll(call).back(); }

  // How long to wait before attempt number `attempt` + 1 after answer a.
  static std::chrono::milliseconds WaitAfter(const HttpAnswer& a, int attempt,
                                             std::chrono::milliseconds cap);

 private:
  HttpTransport& inner_;
  Sleeper& sleeper_;
  int max_attempts_;
  std::chrono::milliseconds max_wait_;
};

}  // namespace bim::conformance
