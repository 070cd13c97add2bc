#include "conformance/retrying_transport.h"

#include <algorithm>
#include <charconv>

namespace bim::conformance {
namespace {

bool Retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace

std::chrono::milliseconds RetryingTransport::WaitAfter(const HttpAnswer& a, int attempt,
                                                       std::chrono::milliseconds cap) {
  std::string v = a.Header("retry-after");
  long long seconds = -1;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  // An HTTP-date Retry-After would need the server's clock to agree with ours; back off instead.
  bool delay_seconds =
      !v.empty() && ec == std::errc() && ptr == v.data() + v.size() && seconds >= 0;
  std::chrono::milliseconds wait =
      delay_seconds ? std::chrono::milliseconds(std::min<long long>(seconds, 86400) * 1000)
                    : std::chrono::milliseconds(500LL << std::clamp(attempt - 1, 0, 6));
  return std::min(wait, cap);
}

std::vector<HttpAnswer> RetryingTransport::SendAll(const HttpCall& call) {
  std::vector<HttpAnswer> answers;
  for (int attempt = 1;; ++attempt) {
    answers.push_back(inner_.Send(call));
    const HttpAnswer& a = answers.back();
    if (!Retryable(a.status) || attempt >= max_attempts_) return answers;
    sleeper_.SleepFor(WaitAfter(a, attempt, max_wait_));
  }
}

}  // namespace bim::conformance
