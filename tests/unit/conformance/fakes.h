#pragma once
// Fakes for the conformance suite's seams: a scripted HTTP platform, a WebSocket connector that
// refuses every upgrade with a chosen status, and a sleeper that only moves a FakeClock.

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "conformance/context.h"
#include "conformance/http_transport.h"
#include "conformance/sleeper.h"
#include "ws/ws_client.h"

namespace bim::conformance::test {

inline const std::string kApi = "http://platform.test";

inline HttpAnswer Answer(long status, std::string body,
                         std::map<std::string, std::string> headers = {}) {
  HttpAnswer a;
  a.status = status;
  a.body = std::move(body);
  a.headers = std::move(headers);
  return a;
}

// Routes by method and path prefix (relative to kApi); the first match answers. Unrouted
// requests get 404 with the contract's error body. Every call is recorded.
class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpAnswer(const HttpCall&)>;

  void On(std::string method, std::string path_prefix, Handler handler) {
    routes_.push_back({std::move(method), std::move(path_prefix), std::move(handler)});
  }
  void On(std::string method, std::string path_prefix, HttpAnswer answer) {
    On(std::move(method), std::move(path_prefix), [answer](const HttpCall&) { return answer; });
  }

  HttpAnswer Send(const HttpCall& call) override {
    calls.push_back(call);
    std::string path = call.url.substr(kApi.size());
    for (const auto& r : routes_) {
      if (r.method == call.method && path.rfind(r.prefix, 0) == 0) return r.handler(call);
    }
    return Answer(404, R"({"error":"not_found","message":"no route in the fake"})");
  }

  static std::string Header(const HttpCall& call, const std::string& name) {
    for (const auto& [n, v] : call.headers) {
      if (n == name) return v;
    }
    return "";
  }

  std::vector<HttpCall> calls;

 private:
  struct Route {
    std::string method;
    std::string prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
};

class RefusingConnector final : public ws::Connector {
 public:
  explicit RefusingConnector(int status = 404) : status_(status) {}
  Result<std::unique_ptr<ws::Connection>> Connect(const std::string& url,
                                                  const ws::ConnectOptions&) override {
    urls.push_back(url);
    return Error(ErrorCode::kUnavailable,
                 "WebSocket handshake answered HTTP " + std::to_string(status_));
  }
  std::vector<std::string> urls;

 private:
  int status_;
};

class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
  void SleepFor(std::chrono::milliseconds d) override {
    sleeps.push_back(d);
    clock_.Advance(d);
  }
  std::vector<std::chrono::milliseconds> sleeps;

 private:
  FakeClock& clock_;
};

// A Context over the fakes, for checks run without processes or sockets.
struct FakeWorld {
  FakeTransport http;
  RefusingConnector ws;
  FakeClock clock;
  FakeSleeper sleeper{clock};
  StdRandom random{7};

  Context MakeContext(SuiteOptions o = {}) {
    if (o.api_url.empty()) o.api_url = kApi;
    return Context(o, http, ws, clock, sleeper, random);
  }
};

}  // namespace bim::conformance::test
