// PlatformClient's retries over a scripted HTTP client and a simulated clock: each answer may
// move the clock on, so a test can say "that took 35 s" without waiting for it.
#include "daemon/platform_client.h"

#include <doctest/doctest.h>

#include <deque>
#include <nlohmann/json.hpp>

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

// ---- The environments extension.

namespace {

// The calls as the agent makes them, through the interface (with its default deadline).
Platform& P(Rig& r) { return r.platform; }

HttpResponse Answer(long status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("environments: a 404 without the extension's codes means the platform lacks it") {
  Rig r;
  r.http.Add(Answer(404, R"({"error":"not_found","message":"no such endpoint"})"));
  auto none = P(r).ListEnvironments("t", "shop");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kRejected);
  CHECK(Contains(none.error().message, "does not offer environments"));
  CHECK(Contains(none.error().message, "GET /api/projects/shop/environments"));
  // A 404 that is not JSON at all (a plain web server) says the same.
  r.http.Add(Answer(404, "<html>Not Found</html>"));
  CHECK(P(r).UnsetVariable("t", "shop", "staging", "KEY").error().code == ErrorCode::kRejected);
  // The extension's own 404s are answers about what was asked.
  r.http.Add(Answer(404, R"({"error":"environment_not_found","message":"no environment qa"})"));
  auto missing = P(r).ListVariables("t", "shop", "qa", false);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(Contains(missing.error().message, "no environment qa"));
  CHECK(r.http.sent.back().url == "http://127.0.0.1:1/api/projects/shop/environments/qa/variables");
}

TEST_CASE("environments: the requests the extension describes, names percent-encoded") {
  Rig r;
  r.http.Add(Answer(200, R"({"projectId":"shop","environments":[{"name":"production",)"
                         R"("variables":2,"deploymentId":"d1","url":"https://x"}]})"));
  auto list = P(r).ListEnvironments("t", "shop");
  REQUIRE(list.ok());
  REQUIRE(list->environments.size() == 1);
  CHECK(list->environments[0].variables == 2);
  CHECK(list->environments[0].deployment_id == "d1");
  r.http.Add(Answer(200, R"({"projectId":"shop","environment":"staging","variables":[)"
                         R"({"key":"A","value":"1"},{"key":"B"}]})"));
  auto vars = P(r).ListVariables("t", "shop", "staging", true);
  REQUIRE(vars.ok());
  CHECK(r.http.sent.back().url ==
        "http://127.0.0.1:1/api/projects/shop/environments/staging/variables?values=true");
  CHECK(vars->variables[0].value == "1");
  CHECK_FALSE(vars->variables[1].value);
  r.http.Add(Answer(200, R"({"key":"A","environment":"staging"})"));
  REQUIRE(P(r).SetVariable("t", "shop", "staging", "A", "va\"lue").ok());
  CHECK(r.http.sent.back().method == "PUT");
  CHECK(r.http.sent.back().body == R"({"value":"va\"lue"})");
  r.http.Add(Answer(200, R"({"deploymentId":"d2","projectId":"shop","commitHash":"abc",)"
                         R"("status":"queued","environment":"production"})"));
  auto p = P(r).Promote("t", "d 1", "production", "key-9");
  REQUIRE(p.ok());
  CHECK(p->environment == "production");
  const HttpRequest& sent = r.http.sent.back();
  CHECK(sent.method == "POST");
  CHECK(sent.url == "http://127.0.0.1:1/api/deployments/d%201/promote");
  CHECK(sent.body == R"({"environment":"production"})");
  bool keyed = false;
  for (const auto& [name, value] : sent.headers)
    keyed = keyed || (name == "Idempotency-Key" && value == "key-9");
  CHECK(keyed);
}

TEST_CASE("a value the platform quotes back is hidden in the error, after retries too") {
  Rig r;
  const std::string secret = "pa55-Word-991";
  r.http.Add(Answer(503, R"({"error":"busy","message":"cannot store pa55-Word-991 now"})"));
  r.http.Add(Answer(400, R"({"error":"invalid_request","message":"pa55-Word-991 is too weak"})"));
  auto s = P(r).SetVariable("t", "shop", "staging", "PASSWORD", secret);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(Contains(s.error().message, secret));
  CHECK(Contains(s.error().message, "[value hidden] is too weak"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  r.http.Add(Answer(503, "pa55-Word-991"));
  auto busy = P(r).SetVariable("t", "shop", "staging", "PASSWORD", secret);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(Contains(busy.error().message, secret));
}

namespace {

// A domain as the platform answers it: one TXT record, before any lookup.
std::string DomainBody(const std::string& name) {
  return R"({"domain":")" + name +
         R"(","projectId":"shop","environment":"production","dns":"pending",)"
         R"("certificate":"pending","records":[{"type":"TXT","name":"_backend-im.)" +
         name + R"(","value":"backend-im-verify=t1","found":[]}]})";
}

}  // namespace

TEST_CASE("domains: a 404 without the extension's codes means the platform does not offer them") {
  Rig r;
  r.http.Add(Answer(404, R"({"error":"not_found","message":"no such endpoint"})"));
  auto none = P(r).ListDomains("t", "shop");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == ErrorCode::kRejected);
  CHECK(Contains(none.error().message, "does not offer custom domains"));
  CHECK(Contains(none.error().message, "GET /api/projects/shop/domains"));
  r.http.Add(Answer(404, "<html>Not Found</html>"));
  CHECK(P(r).RemoveDomain("t", "shop", "api.example.com").error().code == ErrorCode::kRejected);
  // An environments code is not a domains answer on an environments path, but it is one here:
  // the domain's environment is missing.
  r.http.Add(Answer(404, R"({"error":"environment_not_found","message":"no environment qa"})"));
  contract::AddDomainRequest add{"api.example.com", "qa"};
  auto no_env = P(r).AddDomain("t", "shop", add);
  REQUIRE_FALSE(no_env.ok());
  CHECK(no_env.error().code == ErrorCode::kNotFound);
  CHECK(Contains(no_env.error().message, "no environment qa"));
  r.http.Add(Answer(404, R"({"error":"domain_not_found","message":"no domain x.example.com"})"));
  auto missing = P(r).GetDomain("t", "shop", "x.example.com");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  // A 409 is the platform's refusal, passed on with its words.
  r.http.Add(Answer(409, R"({"error":"domain_taken","message":"another project has it"})"));
  auto taken = P(r).AddDomain("t", "shop", add);
  REQUIRE_FALSE(taken.ok());
  CHECK(Contains(taken.error().message, "another project has it"));
}

TEST_CASE("domains: the requests the extension describes, names percent-encoded in paths") {
  Rig r;
  r.http.Add(Answer(201, DomainBody("api.example.com")));
  auto added = P(r).AddDomain("t", "my shop", {"api.example.com", "staging"});
  REQUIRE(added.ok());
  CHECK(added->records.size() == 1);
  CHECK(added->records[0].type == "TXT");
  CHECK(r.http.sent.back().method == "POST");
  CHECK(r.http.sent.back().url == "http://127.0.0.1:1/api/projects/my%20shop/domains");
  CHECK(nlohmann::json::parse(r.http.sent.back().body) ==
        nlohmann::json{{"domain", "api.example.com"}, {"environment", "staging"}});

  r.http.Add(Answer(200, R"({"projectId":"shop","domains":[)" + DomainBody("a.example.com") + "," +
                             DomainBody("b.example.com") + "]}"));
  auto list = P(r).ListDomains("t", "shop");
  REQUIRE(list.ok());
  REQUIRE(list->domains.size() == 2);
  CHECK(list->domains[1].domain == "b.example.com");
  CHECK(r.http.sent.back().method == "GET");
  CHECK(r.http.sent.back().url == "http://127.0.0.1:1/api/projects/shop/domains");

  // Whatever a caller passes, a name cannot leave its path segment.
  r.http.Add(Answer(200, DomainBody("api.example.com")));
  REQUIRE(P(r).GetDomain("t", "shop", "a/b?c").ok());
  CHECK(r.http.sent.back().url == "http://127.0.0.1:1/api/projects/shop/domains/a%2Fb%3Fc");

  r.http.Add(Answer(200, DomainBody("api.example.com")));
  REQUIRE(P(r).VerifyDomain("t", "shop", "api.example.com").ok());
  CHECK(r.http.sent.back().method == "POST");
  CHECK(r.http.sent.back().url ==
        "http://127.0.0.1:1/api/projects/shop/domains/api.example.com/verify");

  r.http.Add(Answer(204, ""));
  REQUIRE(P(r).RemoveDomain("t", "shop", "api.example.com").ok());
  CHECK(r.http.sent.back().method == "DELETE");
  CHECK(r.http.sent.back().url == "http://127.0.0.1:1/api/projects/shop/domains/api.example.com");

  // An answer outside the contract is a protocol error, not a domain.
  r.http.Add(Answer(200, R"({"domain":"api.example.com"})"));
  auto bad = P(r).GetDomain("t", "shop", "api.example.com");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kProtocol);
}

// ---- runtime logs (docs/API_CONTRACTS.md §6.2) ----

namespace {

// A WebSocket connector that answers every upgrade with one error, and keeps the URLs asked for.
class RefusingConnector final : public ws::Connector {
 public:
  explicit RefusingConnector(Error answer) : answer_(std::move(answer)) {}
  Result<std::unique_ptr<ws::Connection>> Connect(const std::string& url,
                                                  const ws::ConnectOptions&) override {
    urls.push_back(url);
    return answer_;
  }
  std::vector<std::string> urls;

 private:
  Error answer_;
};

}  // namespace

TEST_CASE("logs: a page is asked for with the query's parameters and read back") {
  Rig r;
  r.http.Add(Answer(200, R"({"deploymentId":"d1","lines":[{"seq":7,"timestamp":5,"level":"error",
      "source":"app","text":"boom"}],"cursor":9,"first":2,"more":true})"));
  LogQuery q;
  q.after = 6;
  q.limit = 1;
  q.since = 1700000000000;
  q.level = contract::LogLevel::kWarning;
  auto page = r.platform.Logs("t", "d 1", q, kNoDeadline);
  REQUIRE_MESSAGE(page.ok(), (page.ok() ? "" : page.error().message));
  CHECK(page->cursor == 9);
  CHECK(page->first == 2);
  CHECK(page->more);
  REQUIRE(page->lines.size() == 1);
  CHECK(page->lines[0].level == contract::LogLevel::kError);
  REQUIRE(r.http.sent.size() == 1);
  CHECK(r.http.sent[0].method == "GET");
  CHECK(r.http.sent[0].url ==
        "http://127.0.0.1:1/api/deployments/d%201/logs?after=6&limit=1&since=1700000000000&"
        "level=warning");

  r.http.Add(Answer(200, R"({"deploymentId":"d1","lines":[],"cursor":0,"first":1,"more":false})"));
  LogQuery tail;
  tail.tail = 50;
  REQUIRE(r.platform.Logs("t", "d1", tail, kNoDeadline).ok());
  CHECK(r.http.sent[1].url == "http://127.0.0.1:1/api/deployments/d1/logs?tail=50");
}

TEST_CASE("logs: a 404 without deployment_not_found is a platform without app logs") {
  Rig r;
  r.http.Add(Answer(404, R"({"error":"not_found","message":"no route"})"));
  auto refused = r.platform.Logs("t", "d1", LogQuery{}, kNoDeadline);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kRejected);
  CHECK(Contains(refused.error().message, "does not offer app logs"));
  CHECK(Contains(refused.error().message, "backend-im status ID"));

  r.http.Add(Answer(404, "<html>nothing here</html>"));
  auto html = r.platform.Logs("t", "d1", LogQuery{}, kNoDeadline);
  REQUIRE_FALSE(html.ok());
  CHECK(html.error().code == ErrorCode::kRejected);

  r.http.Add(Answer(404, R"({"error":"deployment_not_found","message":"no such deployment"})"));
  auto unknown = r.platform.Logs("t", "d1", LogQuery{}, kNoDeadline);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kNotFound);
}

TEST_CASE(
    "logs: the stream's upgrade answered 404 says the same, unless the deployment is unknown") {
  FakeClock clock;
  ScriptedHttp http(clock);
  StdRandom random;
  StopSignal stop;
  RefusingConnector plain(Error(
      ErrorCode::kNotFound, "WebSocket handshake answered HTTP 404: {\"error\":\"not_found\"}"));
  PlatformClient platform("https://api.example.com/", http, plain, clock, random, stop);
  auto refused = platform.OpenLogStream("t", "d/1", 41, milliseconds(20000));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kRejected);
  CHECK(Contains(refused.error().message, "does not offer app logs"));
  REQUIRE(plain.urls.size() == 1);
  CHECK(plain.urls[0] == "wss://api.example.com/ws/logs?deploymentId=d%2F1&after=41");

  RefusingConnector unknown(
      Error(ErrorCode::kNotFound,
            "WebSocket handshake answered HTTP 404: {\"error\":\"deployment_not_found\"}"));
  PlatformClient platform2("https://api.example.com", http, unknown, clock, random, stop);
  auto missing = platform2.OpenLogStream("t", "d1", 0, milliseconds(20000));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(unknown.urls[0] == "wss://api.example.com/ws/logs?deploymentId=d1&after=0");
}
