// The JSON-RPC framing of the MCP server: lines and their budget, whole messages, ids in flight,
// and the Connection's checks and batches, in memory and on pipes.
#include "ctl/mcp/jsonrpc.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ctl/mcp/connection.h"
#include "tests/unit/ctl/mcp/mcp_test_util.h"

using namespace bim::ctl;
using namespace bim::ctl::mcp_test;

namespace {

struct Split {
  std::vector<std::string> lines;
  int too_long = 0;
};

void Feed(mcp::LineSplitter& s, std::string_view bytes, Split& out) {
  s.Feed(
      bytes, [&](std::string_view line) { out.lines.emplace_back(line); }, [&] { ++out.too_long; });
}

// Records what a Connection hands on, and answers requests with their method.
class RecordingHandler : public mcp::Handler {
 public:
  mcp::Outcome HandleRequest(const json& id, const std::string& method, const json& params,
                             bool in_batch) override {
    requests.push_back({{"id", id}, {"method", method}, {"params", params}, {"batch", in_batch}});
    if (method == "later") {  // as the server does: the id is in flight until answered
      const std::string key = mcp::RequestsInFlight::Key(id);
      in_flight->Add(key, std::make_shared<bim::ctl::CancelToken>());
      return mcp::Outcome{
          std::nullopt,
          mcp::Deferred{key,
                        [this, id, key]() -> std::optional<json> {
                          in_flight_while_running.push_back(in_flight->Contains(key));
                          return mcp::ResultResponse(id, "done later");
                        }},
          {}};
    }
    return mcp::Reply(mcp::ResultResponse(id, method));
  }
  void HandleNotification(const std::string& method, const json& params) override {
    notifications.push_back({{"method", method}, {"params", params}});
  }
  bool HandleResponse(const json& response) override {
    responses.push_back(response);
    return true;
  }
  std::optional<std::string> BatchRefusal() const override { return refusal; }

  std::vector<json> requests, notifications, responses;
  std::optional<std::string> refusal;
  mcp::RequestsInFlight* in_flight = nullptr;
  std::vector<bool> in_flight_while_running;  // written by the worker, read after WaitIdle
};

struct ConnectionRig {
  explicit ConnectionRig(size_t max_line = mcp::kMaxLineBytes) {
    REQUIRE(::pipe(in) == 0);
    handler.in_flight = &in_flight;
    connection =
        std::make_unique<mcp::Connection>(in[0], writer, handler, workers, in_flight, max_line);
  }
  ~ConnectionRig() {
    workers.WaitIdle();
    for (int fd : in) {
      if (fd >= 0) ::close(fd);
    }
  }
  void Line(const std::string& line) { connection->HandleLine(line); }

  std::shared_ptr<Lines> lines = std::make_shared<Lines>();
  MemoryOutput out{lines};
  mcp::MessageWriter writer{out, nullptr};
  RecordingHandler handler;
  bim::WorkerThreads workers;
  mcp::RequestsInFlight in_flight;
  int in[2] = {-1, -1};
  std::unique_ptr<mcp::Connection> connection;
};

class FailingOutput : public mcp::Output {
 public:
  bool Write(std::string_view bytes) override {
    written += std::string(bytes);
    return writes_left-- > 0;
  }
  std::string written;
  int writes_left = 1;
};

}  // namespace

TEST_CASE("LineSplitter cuts lines at newlines, across reads, and keeps a line without one") {
  mcp::LineSplitter s(100);
  Split out;
  Feed(s, "{\"a\":1}\n{\"b\"", out);
  CHECK(out.lines == std::vector<std::string>{"{\"a\":1}"});
  Feed(s, ":2}\r\n\n tail", out);
  CHECK(out.lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}\r", ""});
  CHECK(s.Finish() == " tail");
  CHECK(out.too_long == 0);
}

TEST_CASE("LineSplitter drops a line over its budget whole, reports it once, and goes on") {
  mcp::LineSplitter s(8);
  Split out;
  Feed(s, "12345678", out);  // at the budget: kept
  CHECK(out.too_long == 0);
  Feed(s, "\n123456789", out);  // one byte over, before its newline
  CHECK(out.lines == std::vector<std::string>{"12345678"});
  CHECK(out.too_long == 1);
  Feed(s, "0123456789abc", out);  // the same line grows on: not reported again
  CHECK(out.too_long == 1);
  CHECK_FALSE(s.Finish().has_value());  // the rest of a dropped line is no last line
  Feed(s, "xyz\nok\n", out);
  CHECK(out.lines == std::vector<std::string>{"12345678", "ok"});
}

TEST_CASE("LineSplitter's last line is nothing when only blanks follow the last newline") {
  mcp::LineSplitter s(100);
  Split out;
  Feed(s, "a\n \t\r", out);
  CHECK_FALSE(s.Finish().has_value());
}

TEST_CASE("NestingDepth counts brackets outside strings and stops past its limit") {
  CHECK(mcp::NestingDepth(R"({"a":[1,{"b":2}]})", 64) == 3);
  CHECK(mcp::NestingDepth(R"({"a":"[[[[{{{{"})", 64) == 1);
  CHECK(mcp::NestingDepth(R"({"a":"\"[[["})", 64) == 1);
  CHECK(mcp::NestingDepth(std::string(1000000, '['), 64) == 65);
  CHECK(mcp::NestingDepth("]]][", 64) == 1);
}

TEST_CASE("MessageWriter writes one line per message, and runs before_write first") {
  auto lines = std::make_shared<Lines>();
  MemoryOutput out(lines);
  mcp::MessageWriter writer(out, nullptr);
  bool ran = false;
  json message{{"a", "x\ny"}};
  writer.Send(&message, [&] {
    ran = true;
    CHECK(lines->pending() == 0);  // before anything of the message is out
  });
  CHECK(ran);
  writer.Send(nullptr, nullptr);  // nothing to send: nothing written
  CHECK(lines->NextLine(0ms) == R"({"a":"x\ny"})");
  CHECK(lines->pending() == 0);
}

TEST_CASE("MessageWriter stops writing after a failed write and says so once") {
  FailingOutput out;
  int closed = 0;
  mcp::MessageWriter writer(out, [&] { ++closed; });
  writer.Send(json{{"n", 1}});
  CHECK_FALSE(writer.closed());
  writer.Send(json{{"n", 2}});  // fails
  CHECK(writer.closed());
  writer.Send(json{{"n", 3}});  // never attempted
  CHECK(closed == 1);
  CHECK(out.written == "{\"n\":1}\n{\"n\":2}\n");
}

TEST_CASE("RequestsInFlight keeps one token per id and cancels them all") {
  mcp::RequestsInFlight in_flight;
  auto a = std::make_shared<bim::ctl::CancelToken>();
  auto b = std::make_shared<bim::ctl::CancelToken>();
  CHECK(in_flight.Add(mcp::RequestsInFlight::Key(1), a));
  CHECK_FALSE(in_flight.Add(mcp::RequestsInFlight::Key(1), b));
  CHECK(in_flight.Add(mcp::RequestsInFlight::Key("1"), b));  // a string id is another id
  CHECK(in_flight.size() == 2);
  CHECK(in_flight.Find("1") == a);
  CHECK(in_flight.Find("\"1\"") == b);
  in_flight.Remove({"1"});
  CHECK(in_flight.Find("1") == nullptr);
  in_flight.CancelAll();
  CHECK(b->cancelled());
  CHECK_FALSE(a->cancelled());
}

TEST_CASE("Connection answers what is not a JSON-RPC 2.0 request itself") {
  ConnectionRig rig;
  rig.Line("[1,");
  json r = rig.lines->Next();
  CHECK(ErrorCode(r) == -32700);
  CHECK(r["id"].is_null());
  rig.Line(std::string(65, '[') + std::string(65, ']'));
  CHECK(rig.lines->Next()["error"]["message"] ==
        "parse error: the message nests deeper than 64 levels");
  rig.Line("42");
  CHECK(ErrorCode(rig.lines->Next()) == -32600);
  rig.Line(R"({"jsonrpc":"1.0","id":3,"method":"x"})");
  r = rig.lines->Next();
  CHECK(ErrorCode(r) == -32600);
  CHECK(r["id"] == 3);
  rig.Line(R"({"jsonrpc":"2.0","id":4,"method":7})");
  CHECK(rig.lines->Next()["error"]["message"] == "invalid request: \"method\" must be a string");
  rig.Line(R"({"jsonrpc":"2.0","id":4.5,"method":"x"})");
  r = rig.lines->Next();
  CHECK(ErrorCode(r) == -32600);
  CHECK(r["id"].is_null());
  rig.Line(R"({"jsonrpc":"2.0","id":5})");
  CHECK(rig.lines->Next()["error"]["message"] == "invalid request: no \"method\"");
  CHECK(rig.handler.requests.empty());
  rig.Line("   ");  // a blank line is no message
  CHECK(rig.lines->pending() == 0);
}

TEST_CASE("Connection hands requests, notifications and responses to its handler") {
  ConnectionRig rig;
  rig.Line(R"( {"jsonrpc":"2.0","id":"a","method":"m","params":null} )");
  CHECK(rig.lines->Next() == mcp::ResultResponse("a", "m"));
  REQUIRE(rig.handler.requests.size() == 1);
  CHECK(rig.handler.requests[0]["params"] == json::object());
  rig.Line(R"({"jsonrpc":"2.0","method":"note","params":[1]})");
  REQUIRE(rig.handler.notifications.size() == 1);
  CHECK(rig.handler.notifications[0]["params"] == json::array({1}));
  rig.Line(R"({"jsonrpc":"2.0","id":"bim-1","result":{}})");
  CHECK(rig.handler.responses.size() == 1);
  CHECK(rig.lines->pending() == 0);
}

TEST_CASE("Connection refuses a request under the id of one in flight, before its handler") {
  ConnectionRig rig;
  REQUIRE(
      rig.in_flight.Add(mcp::RequestsInFlight::Key(7), std::make_shared<bim::ctl::CancelToken>()));
  rig.Line(R"({"jsonrpc":"2.0","id":7,"method":"m"})");
  json r = rig.lines->Next();
  CHECK(ErrorCode(r) == -32600);
  CHECK(r["error"]["message"] == "invalid request: id 7 is already used by a call in flight");
  CHECK(rig.handler.requests.empty());
}

TEST_CASE("Connection sends a deferred answer from a worker, with its id in flight until then") {
  ConnectionRig rig;
  rig.Line(R"({"jsonrpc":"2.0","id":9,"method":"later"})");
  CHECK(rig.lines->Next() == mcp::ResultResponse(9, "done later"));
  rig.workers.WaitIdle();
  CHECK(rig.handler.in_flight_while_running == std::vector<bool>{true});
  CHECK_FALSE(rig.in_flight.Contains("9"));
}

TEST_CASE("Connection answers a batch with one array, and refuses empty or unwanted ones") {
  ConnectionRig rig;
  rig.Line("[]");
  CHECK(rig.lines->Next()["error"]["message"] == "invalid request: an empty batch");
  rig.Line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"n"},)"
           R"({"jsonrpc":"2.0","id":2,"method":"later"},{"jsonrpc":"2.0","id":3,"method":"b"}])");
  json r = rig.lines->Next();
  CHECK(r == json::array({mcp::ResultResponse(1, "a"), mcp::ResultResponse(3, "b"),
                          mcp::ResultResponse(2, "done later")}));
  CHECK(rig.handler.requests[0]["batch"] == true);
  rig.workers.WaitIdle();
  rig.handler.refusal = "no batches here";
  rig.Line(R"([{"jsonrpc":"2.0","id":4,"method":"a"}])");
  r = rig.lines->Next();
  CHECK(ErrorCode(r) == -32600);
  CHECK(r["error"]["message"] == "no batches here");
  CHECK(r["id"].is_null());
}

TEST_CASE("Connection::Serve drops a line that outgrows the budget with -32700, then goes on") {
  ConnectionRig rig(/*max_line=*/64);
  bool ended = false;
  std::thread serving([&] { ended = rig.connection->Serve(); });
  // The budget holds what waits for its newline: 100 bytes without one are too many.
  std::string head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + std::string(100, 'x');
  REQUIRE(::write(rig.in[1], head.data(), head.size()) == static_cast<ssize_t>(head.size()));
  json r = rig.lines->Next();
  CHECK(r["error"]["message"] == "parse error: a message longer than 64 bytes was dropped");
  CHECK(r["id"].is_null());
  std::string rest = "xx\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ok\"}";
  REQUIRE(::write(rig.in[1], rest.data(), rest.size()) == static_cast<ssize_t>(rest.size()));
  ::close(rig.in[1]);
  rig.in[1] = -1;
  serving.join();
  CHECK(ended);  // the input ended
  // The dropped line's tail is no message; the last line, without its newline, is served.
  CHECK(rig.lines->Next() == mcp::ResultResponse(2, "ok"));
  CHECK(rig.handler.requests.size() == 1);
}

TEST_CASE("Connection::Serve returns on Stop(), not as an end of input") {
  ConnectionRig rig;
  rig.connection->Stop();
  CHECK_FALSE(rig.connection->Serve());
}

TEST_CASE("an exception while handling a message is -32603 with its id, and serving goes on") {
  ServerHarness h;
  h.Initialize("2025-06-18");
  h.tools.throw_on_list = true;
  json r = h.Request(Req(5, "tools/list"));
  CHECK(ErrorCode(r) == -32603);
  CHECK(r["id"] == 5);
  CHECK(r["error"]["message"] == "internal error: the tool list broke");
  CHECK(h.Request(Req(6, "ping"))["result"] == json::object());
}

TEST_CASE("the server goes on after a line that is not JSON, and after one nested too deep") {
  ServerHarness h;
  h.SendRaw("not json\n");
  json r = h.Next();
  CHECK(r["error"]["message"] ==
        "parse error: the line is not valid JSON (send one JSON-RPC message per line, UTF-8)");
  // 64 levels is within the budget, 65 is not.
  json params = json::object();
  for (int i = 0; i < 62; ++i) params = json{{"x", params}};
  CHECK(mcp::NestingDepth(Req(1, "ping", params).dump(), 100) == 64);
  CHECK(h.Request(Req(1, "ping", params))["result"] == json::object());
  params = json{{"x", params}};
  CHECK(ErrorCode(h.Request(Req(2, "ping", params))) == -32700);
  CHECK(h.Request(Req(3, "ping"))["id"] == 3);
}

TEST_CASE("batches: served under 2025-03-26, refused before initialize and under 2025-06-18") {
  // The error message a batch of one ping gets, after initializing with `era` when there is one.
  auto refusal = [](const char* era) {
    ServerHarness h;
    if (era) h.Initialize(era);
    h.SendRaw(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])"
              "\n");
    return h.Next()["error"]["message"];
  };
  SUBCASE("before initialize") {
    CHECK(refusal(nullptr) ==
          "invalid request: initialize must not be part of a batch; send it on a line of its "
          "own");
  }
  SUBCASE("2025-06-18 dropped them") {
    CHECK(refusal("2025-06-18") ==
          "invalid request: JSON-RPC batches are not part of MCP 2025-06-18; send one message "
          "per line");
  }
  SUBCASE("2025-03-26: a tool call's answer joins the array, initialize is refused in it") {
    ServerHarness h;
    h.Initialize("2025-03-26");
    json batch = json::array({Req(1, "ping"),
                              Req(2, "tools/call", {{"name", "echo"}, {"arguments", {{"x", 1}}}}),
                              Req(3, "initialize", {{"protocolVersion", "2025-03-26"}})});
    json r = h.Request(batch);
    REQUIRE(r.is_array());
    REQUIRE(r.size() == 3);
    CHECK(r[0]["id"] == 1);
    CHECK(r[1]["error"]["message"] == "invalid request: initialize must not be part of a batch");
    CHECK(r[2]["id"] == 2);
    CHECK(r[2]["result"]["content"][0]["text"] == R"({"echo":{"x":1}})");
  }
  SUBCASE("an empty batch, in any era") {
    ServerHarness h;
    h.Initialize("2024-11-05");
    CHECK(h.Request(json::array())["error"]["message"] == "invalid request: an empty batch");
  }
}
