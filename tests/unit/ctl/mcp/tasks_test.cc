// The task store of the MCP server, on its own in simulated time, and tasks through the server.
#include "ctl/mcp/tasks.h"

#include <doctest/doctest.h>

#include <future>

#include "ctl/output.h"
#include "tests/unit/ctl/mcp/mcp_test_util.h"

using namespace bim::ctl;
using namespace bim::ctl::mcp_test;

namespace {

mcp::RequestContext LegacyCtx() { return {false, "2025-11-25", json::object()}; }
mcp::RequestContext ModernCtx() { return {true, "2026-07-28", TasksExtension()}; }

struct Store {
  bim::FakeClock clock{kStartMs};
  McpServerInfo info{"bim-test", "Test", "1.2.3", ""};
  mcp::RequestsInFlight in_flight;
  mcp::TaskStore tasks{clock, info, in_flight};
  std::shared_ptr<CancelToken> token = std::make_shared<CancelToken>();

  std::string Create(bool modern, json task_params = json::object()) {
    std::string id;
    tasks.Create("slow", task_params, token, modern, id);
    return id;
  }
  json Call(const std::string& method, json params, const mcp::RequestContext& ctx, int id = 1) {
    mcp::Outcome o = tasks.Handle(id, method, params, ctx);
    REQUIRE(o.response.has_value());
    CHECK_FALSE(o.deferred.has_value());
    return *o.response;
  }
  json Get(const std::string& task_id, const mcp::RequestContext& ctx) {
    return Call("tasks/get", {{"taskId", task_id}}, ctx);
  }
  // Runs the task's tool to its end with result.
  void Finish(const std::string& task_id, McpToolResult result, const std::string& version) {
    tasks.Run(task_id, version, [&](const mcp::TaskStore::StageReporter&) { return result; });
  }
};

McpToolResult Structured(json j) {
  McpToolResult r;
  r.structured = std::move(j);
  return r;
}

McpToolResult Error(const std::string& message) {
  McpToolResult r;
  r.is_error = true;
  r.message = message;
  return r;
}

}  // namespace

TEST_CASE("Create answers in the call's era, with the ttl asked for, within 1 s and 24 h") {
  Store s;
  std::string id;
  json legacy = s.tasks.Create("slow", {{"ttl", 5000}}, s.token, false, id);
  CHECK(id.size() == 32);
  CHECK(legacy == json{{"task",
                        {{"taskId", id},
                         {"status", "working"},
                         {"statusMessage", "slow started"},
                         {"createdAt", FormatIso(kStartMs)},
                         {"lastUpdatedAt", FormatIso(kStartMs)},
                         {"ttl", 5000},
                         {"pollInterval", mcp::kTaskPollIntervalMs}}}});
  std::string other;
  json modern = s.tasks.Create("slow", json::object(), s.token, true, other);
  CHECK(other != id);
  CHECK(modern["resultType"] == "task");
  CHECK(modern["ttlMs"] == mcp::kDefaultTaskTtlMs);
  CHECK(modern["pollIntervalMs"] == mcp::kTaskPollIntervalMs);
  CHECK(modern["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "bim-test");
  CHECK(s.tasks.Create("slow", {{"ttl", 1}}, s.token, false, id)["task"]["ttl"] == 1000);
  CHECK(s.tasks.Create("slow", {{"ttl", 1LL << 40}}, s.token, false, id)["task"]["ttl"] ==
        mcp::kMaxTaskTtlMs);
  CHECK(s.tasks.running() == 4);
}

TEST_CASE("a task shows its tool's stages, then ends failed on an error result (2025-11-25)") {
  Store s;
  std::string id = s.Create(false);
  s.tasks.Run(id, "2025-11-25", [&](const mcp::TaskStore::StageReporter& stage) {
    s.clock.Advance(std::chrono::milliseconds(1500));
    stage("uploading");
    json task = s.Get(id, LegacyCtx())["result"];
    CHECK(task["status"] == "working");
    CHECK(task["statusMessage"] == "uploading");
    CHECK(task["lastUpdatedAt"] == FormatIso(kStartMs + 1500));
    CHECK(s.tasks.running() == 1);
    return Error("it failed");
  });
  CHECK(s.tasks.running() == 0);
  json task = s.Get(id, LegacyCtx())["result"];
  CHECK(task["status"] == "failed");
  CHECK(task["statusMessage"] == "it failed");
  json result = s.Call("tasks/result", {{"taskId", id}}, LegacyCtx())["result"];
  CHECK(result["isError"] == true);
  CHECK(result["_meta"]["io.modelcontextprotocol/related-task"] == json{{"taskId", id}});
}

TEST_CASE("under 2026-07-28 an error result completes the task, and tasks/get carries it") {
  Store s;
  std::string id = s.Create(true);
  s.Finish(id, Error("it failed"), "2026-07-28");
  json task = s.Get(id, ModernCtx())["result"];
  CHECK(task["status"] == "completed");
  CHECK(task["resultType"] == "complete");
  CHECK(task["result"]["isError"] == true);
  CHECK(task["result"]["resultType"] == "complete");
}

TEST_CASE("tasks/result waits on a worker for the task's end, with its id in flight") {
  Store s;
  std::string id = s.Create(false);
  mcp::Outcome o = s.tasks.Handle(8, "tasks/result", {{"taskId", id}}, LegacyCtx());
  CHECK_FALSE(o.response.has_value());
  REQUIRE(o.deferred.has_value());
  CHECK(o.deferred->key == "8");
  CHECK(s.in_flight.Contains("8"));
  auto answer = std::async(std::launch::async, o.deferred->run);
  s.Finish(id, Structured({{"n", 1}}), "2025-11-25");
  std::optional<json> r = answer.get();
  REQUIRE(r.has_value());
  CHECK((*r)["id"] == 8);
  CHECK((*r)["result"]["structuredContent"] == json{{"n", 1}});
  CHECK((*r)["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
}

TEST_CASE("a tasks/result whose request is cancelled stops waiting and answers nothing") {
  Store s;
  std::string id = s.Create(false);
  mcp::Outcome o = s.tasks.Handle(8, "tasks/result", {{"taskId", id}}, LegacyCtx());
  REQUIRE(o.deferred.has_value());
  CHECK(ErrorCode(s.Call("tasks/result", {{"taskId", id}}, LegacyCtx(), 8)) == -32600);
  s.in_flight.Find("8")->Cancel();
  s.tasks.Wake();
  CHECK_FALSE(o.deferred->run().has_value());
  CHECK(s.Get(id, LegacyCtx())["result"]["status"] == "working");
}

TEST_CASE("tasks/cancel cancels the tool's token once, and 2026-07-28 acknowledges any cancel") {
  Store s;
  std::string id = s.Create(false);
  json r = s.Call("tasks/cancel", {{"taskId", id}}, LegacyCtx())["result"];
  CHECK(r["status"] == "cancelled");
  CHECK(s.token->cancelled());
  r = s.Call("tasks/cancel", {{"taskId", id}}, LegacyCtx());
  CHECK(ErrorCode(r) == -32602);
  CHECK(r["error"]["message"] ==
        "cannot cancel task " + id + ": already in terminal status 'cancelled'");
  s.Finish(id, Structured({{"n", 1}}), "2025-11-25");  // the tool returns after all
  r = s.Call("tasks/result", {{"taskId", id}}, LegacyCtx())["result"];
  CHECK(r["isError"] == true);
  CHECK(r["content"][0]["text"].get<std::string>().rfind("The task was cancelled", 0) == 0);

  std::string modern = s.Create(true);
  json ack = s.Call("tasks/cancel", {{"taskId", modern}}, ModernCtx())["result"];
  CHECK(ack == mcp::ModernResult(json::object(), s.info));
  CHECK(s.Call("tasks/cancel", {{"taskId", modern}}, ModernCtx())["result"] == ack);
}

TEST_CASE("an ended task is kept until its ttl has passed, a running one is never dropped") {
  Store s;
  std::string ended = s.Create(false, {{"ttl", 5000}});
  std::string running = s.Create(false, {{"ttl", 1000}});
  s.clock.Advance(std::chrono::milliseconds(3000));
  s.Finish(ended, Structured(json::object()), "2025-11-25");
  s.clock.Advance(std::chrono::milliseconds(4999));
  CHECK(s.Get(ended, LegacyCtx())["result"]["status"] == "completed");
  s.clock.Advance(std::chrono::milliseconds(1));
  json r = s.Get(ended, LegacyCtx());
  CHECK(ErrorCode(r) == -32602);
  CHECK(r["error"]["message"] == "unknown task: " + ended +
                                     " (a task is forgotten once its ttl has passed after it "
                                     "ended)");
  s.clock.Advance(std::chrono::hours(48));
  CHECK(s.Get(running, LegacyCtx())["result"]["status"] == "working");
  // A cancel ends it: from then on its ttl runs.
  s.Call("tasks/cancel", {{"taskId", running}}, LegacyCtx());
  s.clock.Advance(std::chrono::milliseconds(1000));
  CHECK(ErrorCode(s.Get(running, LegacyCtx())) == -32602);
}

TEST_CASE("each era sees only its own tasks, and tasks/list lists the 2025-11-25 ones") {
  Store s;
  std::string legacy = s.Create(false);
  std::string modern = s.Create(true);
  json list = s.Call("tasks/list", json::object(), LegacyCtx())["result"]["tasks"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["taskId"] == legacy);
  CHECK(ErrorCode(s.Get(modern, LegacyCtx())) == -32602);
  CHECK(ErrorCode(s.Get(legacy, ModernCtx())) == -32602);
  CHECK(s.Get(modern, ModernCtx())["result"]["taskId"] == modern);
}

TEST_CASE("task requests: params an object with a taskId, and each era's own methods") {
  Store s;
  std::string id = s.Create(false);
  CHECK(s.Call("tasks/get", json::array(), LegacyCtx())["error"]["message"] ==
        "invalid params: must be an object");
  CHECK(s.Call("tasks/get", {{"task", {{"ttl", 1}}}}, LegacyCtx())["error"]["message"] ==
        "invalid params: tasks/get needs params.taskId");
  json r = s.Call("tasks/update", {{"taskId", id}}, LegacyCtx());
  CHECK(ErrorCode(r) == -32601);
  CHECK(r["error"]["message"] ==
        "method not found: tasks/update (under 2025-11-25 the task methods are tasks/get, "
        "tasks/result, tasks/cancel and tasks/list)");
  CHECK(ErrorCode(s.Call("tasks/get", {{"taskId", id}}, {true, "2026-07-28", {}})) == -32021);
  std::string modern = s.Create(true);
  CHECK(s.Call("tasks/update", {{"taskId", modern}}, ModernCtx())["result"]["resultType"] ==
        "complete");
}

TEST_CASE("CancelAll cancels the tasks still running, not those that ended") {
  Store s;
  auto ended_token = std::make_shared<CancelToken>();
  std::string ended;
  s.tasks.Create("slow", json::object(), ended_token, false, ended);
  s.Finish(ended, Structured(json::object()), "2025-11-25");
  s.Create(false);
  s.tasks.CancelAll();
  CHECK(s.token->cancelled());
  CHECK_FALSE(ended_token->cancelled());
}

TEST_CASE("through the server: a 2025-11-25 task runs its tool, shows its stage, and answers") {
  ServerHarness h;
  h.Initialize("2025-11-25");
  json r = h.Request(Req(1, "tools/call", {{"name", "slow"}, {"task", {{"ttl", 60000}}}}));
  std::string id = r["result"]["task"]["taskId"];
  CHECK(r["result"]["task"]["ttl"] == 60000);
  REQUIRE(h.tools.WaitForWaiting(1));
  CHECK(h.tools.calls().back().as_task);
  CHECK(h.Request(Req(2, "tasks/get", {{"taskId", id}}))["result"]["statusMessage"] == "stage one");
  h.Send(Req(3, "tasks/result", {{"taskId", id}}));
  h.tools.Release();
  r = h.Next();
  CHECK(r["id"] == 3);
  CHECK(r["result"]["structuredContent"] == json{{"slow", "done"}});
  CHECK(h.Request(Req(4, "tasks/get", {{"taskId", id}}))["result"]["status"] == "completed");
}

TEST_CASE("through the server: which calls run as tasks, by era") {
  ServerHarness h;
  h.Initialize("2025-11-25");
  json r = h.Request(Req(1, "tools/call", {{"name", "echo"}, {"task", json::object()}}));
  CHECK(ErrorCode(r) == -32601);
  CHECK(r["error"]["message"] ==
        "the tool echo cannot run as a task (its execution.taskSupport is forbidden); call it "
        "without params.task");
  CHECK(ErrorCode(h.Request(Req(2, "tools/call", {{"name", "slow"}, {"task", 1}}))) == -32602);
  // 2026-07-28: the server decides, for a client with the extension and a tool that can.
  r = h.Request(Req(3, "tools/call", Modern({{"name", "slow"}}, TasksExtension())));
  CHECK(r["result"]["resultType"] == "task");
  CHECK(h.Request(Req(4, "tools/call",
                      Modern({{"name", "echo"}}, TasksExtension())))["result"]["resultType"] ==
        "complete");
  h.tools.Release();
  r = h.Request(Req(5, "tools/call", Modern({{"name", "slow"}})));  // no extension: a plain call
  CHECK(r["result"]["structuredContent"] == json{{"slow", "done"}});
}

TEST_CASE("through the server: kMaxCallsInFlight calls and tasks at once, then -32000") {
  ServerHarness h;
  h.Initialize("2025-11-25");
  for (size_t i = 0; i < McpServer::kMaxCallsInFlight / 2; ++i) {
    h.Request(Req(static_cast<int>(i), "tools/call", {{"name", "slow"}, {"task", json::object()}}));
    h.Send(Req(static_cast<int>(1000 + i), "tools/call", {{"name", "slow"}}));
  }
  REQUIRE(h.tools.WaitForWaiting(static_cast<int>(McpServer::kMaxCallsInFlight)));
  json r = h.Request(Req(100, "tools/call", {{"name", "slow"}, {"task", json::object()}}));
  CHECK(r["error"]["message"] ==
        "server busy: 32 tool calls and tasks are already running; wait for one to finish");
  r = h.Request(Req(101, "tools/call", {{"name", "echo"}}));
  CHECK(ErrorCode(r) == -32000);
  CHECK(r["error"]["message"] ==
        "server busy: 32 tool calls are already running; wait for one to finish");
  h.tools.Release();
}

TEST_CASE("through the server: a cancelled call gets no response at all") {
  ServerHarness h;
  h.Initialize("2025-06-18");
  h.Send(Req(7, "tools/call", {{"name", "slow"}, {"_meta", {{"progressToken", "p"}}}}));
  json progress = h.Next();
  CHECK(progress["method"] == "notifications/progress");
  CHECK(progress["params"] ==
        json{{"progressToken", "p"}, {"progress", 1}, {"message", "stage one"}});
  REQUIRE(h.tools.WaitForWaiting(1));
  CHECK(ErrorCode(h.Request(Req(7, "ping"))) == -32600);  // its id is in flight
  h.Send({{"jsonrpc", "2.0"},
          {"method", "notifications/cancelled"},
          {"params", {{"requestId", 7}, {"reason", "enough"}}}});
  REQUIRE(h.tools.WaitForWaiting(0));  // the cancel reached the tool
  CHECK(h.Request(Req(8, "ping"))["id"] == 8);
  CHECK(h.Finish() == 0);
  CHECK(h.lines->pending() == 0);
}
