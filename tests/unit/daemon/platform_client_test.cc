// PlatformClient's retries over a scripted HTTP client and a simulated clock: each answer may
// move the clock on, so a test can say "that took 35 s" without waiting for it.
#include "daemon/platform_client.h"

#include <doctest/doctest.h>

#include <deque>

#include "common/clock.h"
#include "common/random.h"
#include "common/stop_signal.h"

using namespace bim;
using namespace bim::daemon;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Answers from a script, in order, moving the clock on by each answer's `takes`.
class ScriptedHttp final : public HttpClient {
 public:
  struct Answer {
    Result<HttpResponse> response;
    milliseconds takes{0};
  };

  explicit ScriptedHttp(FakeClock& clock) : clock_(clock) {}

  void Add(Result<HttpResponse> response, milliseconds takes = milliseconds(0)) {
    script_.push_back(Answer{std::move(response), takes});
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    sent.push_back(request);
    REQUIRE_MESSAGE(!script_.empty(), "a request the script has no answer for");
    Answer a = std::move(script_.front());
    script_.pop_front();
    clock_.Advance(a.takes);
    return std::move(a.response);
  }

  std::vector<HttpRequest> sent;

 private:
  FakeClock& clock_;
  std::deque<Answer> script_;
};

HttpResponse Busy(long status, std::optional<int64_t> retry_after) {
  HttpResponse r;
  r.status = status;
  r.body = R"({"error":"rate_limited","message":"slow down"})";
  r.retry_after_seconds = retry_after;
  return r;
}

HttpResponse Verified() {
  HttpResponse r;
  r.status = 200;
  r.body = R"({"valid":true,"userId":"u","email":"e@example.com"})";
  return r;
}

struct Rig {
  FakeClock clock;
  ScriptedHttp http{clock};
  StdRandom random;
  StopSignal stop;
  std::unique_ptr<ws::Connector> connector = ws::MakeConnector({});
  PlatformClient platform{"http://127.0.0.1:1", http, *connector, clock, random, stop};
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Verify fails after one request with `code`, its message saying `says`; returns the error.
bim::Error VerifyGivesUp(Rig& r, ErrorCode code, const std::string& says) {
  auto v = r.platform.Verify("t");
  REQUIRE_FALSE(v.ok());
  CHECK(r.http.sent.size() == 1);
  CHECK(v.error().code == code);
  CHECK_MESSAGE(Contains(v.error().message, says), v.error().message);
  return v.error();
}

}  // namespace

TEST_CASE("a Retry-After of 60 s ends the call at once, saying when the platform wants a retry") {
  Rig r;
  r.http.Add(Busy(429, 60));
  auto started = std::chrono::steady_clock::now();
  bim::Error e = VerifyGivesUp(r, ErrorCode::kRateLimited, "the platform asks to retry in 60 s");
  CHECK(Contains(e.message, "slow down"));                         // the platform's own words stay
  CHECK(std::chrono::steady_clock::now() - started < seconds(1));  // and nothing waited for it
}

TEST_CASE("a Retry-After that would outlast what is left of the budget is not waited for") {
  Rig r;
  r.http.Add(Busy(503, 30), seconds(35));  // 35 s spent, 25 s of the budget left
  VerifyGivesUp(r, ErrorCode::kUnavailable, "the platform asks to retry in 30 s");
}

TEST_CASE("a Retry-After that fits in the budget is waited for, then the call is retried") {
  Rig r;
  r.http.Add(Busy(429, 1), seconds(50));  // 1 s more still fits in the 60 s budget
  r.http.Add(Verified());
  auto v = r.platform.Verify("t");
  REQUIRE_MESSAGE(v.ok(), v.error().message);
  CHECK(r.http.sent.size() == 2);
}

TEST_CASE("a Retry-After of 0 is waited as 1 s, not taken as a reason to hammer the platform") {
  Rig r;
  r.http.Add(Busy(503, 0));
  r.http.Add(Verified());
  auto started = r.clock.Steady();
  auto v = r.platform.Verify("t");
  REQUIRE(v.ok());
  CHECK(r.clock.Steady() - started >= seconds(1));  // waited on the clock, in simulated time
}

TEST_CASE("a request cut short by the caller's deadline is a platform timeout that says so") {
  Rig r;
  bim::Error curl_timeout(ErrorCode::kTimeout, "Operation timed out after 2000 milliseconds");
  r.http.Add(curl_timeout, seconds(2));
  auto v = r.platform.Verify("t", r.clock.Steady() + seconds(2));
  REQUIRE_FALSE(v.ok());
  REQUIRE(r.http.sent.size() == 1);
  CHECK(r.http.sent[0].timeout == seconds(2));  // not the request's own 30 s
  CHECK(v.error().code == ErrorCode::kTimeout);
  CHECK_MESSAGE(Contains(v.error().message, "the platform did not answer GET "), v.error().message);
  CHECK(Contains(v.error().message, "within 2 s"));
}

TEST_CASE("no retry is made that the caller's deadline would not wait for") {
  Rig r;
  r.http.Add(Busy(503, std::nullopt), milliseconds(1900));
  auto v = r.platform.Verify("t", r.clock.Steady() + seconds(2));
  REQUIRE_FALSE(v.ok());
  CHECK(r.http.sent.size() == 1);
  CHECK(v.error().code == ErrorCode::kUnavailable);  // the platform's own answer, 503
}
