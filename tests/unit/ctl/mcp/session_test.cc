// The MCP session's lifecycle and its two eras, through an in-process server.
#include "ctl/mcp/session.h"

#include <doctest/doctest.h>

#include "tests/unit/ctl/mcp/mcp_test_util.h"

using namespace bim::ctl;
using namespace bim::ctl::mcp_test;

TEST_CASE("NegotiateVersion keeps a version it speaks and answers any other with 2025-11-25") {
  for (const char* v : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    CHECK(mcp::NegotiateVersion(v) == v);
  }
  CHECK(mcp::NegotiateVersion("2026-07-28") == "2025-11-25");  // not an initialize version
  CHECK(mcp::NegotiateVersion("1999-01-01") == "2025-11-25");
  CHECK(mcp::NegotiateVersion("") == "2025-11-25");
}

TEST_CASE("initialize answers each version with what it has: title, tasks, instructions") {
  SUBCASE("2025-11-25") {
    ServerHarness h;
    json r = h.Initialize("2025-11-25")["result"];
    CHECK(r["protocolVersion"] == "2025-11-25");
    CHECK(r["serverInfo"] == json{{"name", "bim-test"}, {"title", "Test"}, {"version", "1.2.3"}});
    CHECK(r["capabilities"]["tasks"]["requests"]["tools"].contains("call"));
    CHECK(r["instructions"] == "use it");
  }
  SUBCASE("2024-11-05") {
    ServerHarness h;
    json r = h.Initialize("2024-11-05")["result"];
    CHECK(r["protocolVersion"] == "2024-11-05");
    CHECK(r["serverInfo"] == json{{"name", "bim-test"}, {"version", "1.2.3"}});
    CHECK(r["capabilities"] == json{{"tools", {{"listChanged", false}}}});
  }
  SUBCASE("an unknown version") {
    ServerHarness h;
    CHECK(h.Initialize("2030-01-01")["result"]["protocolVersion"] == "2025-11-25");
  }
}

TEST_CASE("initialize is answered once, and one without protocolVersion leaves it to come") {
  ServerHarness h;
  json r = h.Request(Req(1, "initialize", {{"capabilities", json::object()}}));
  CHECK(ErrorCode(r) == -32602);
  CHECK(ErrorCode(h.Request(Req(2, "tools/list"))) == -32002);  // still not initialized
  CHECK(h.Initialize("2025-06-18")["result"]["protocolVersion"] == "2025-06-18");
  r = h.Request(Req(3, "initialize", {{"protocolVersion", "2025-03-26"}}));
  CHECK(ErrorCode(r) == -32600);
  CHECK(r["error"]["message"] == "invalid request: already initialized (initialize is sent once)");
  // The first answer stands: 2025-06-18's tools carry no execution, 2025-11-25's would.
  json tools = h.Request(Req(4, "tools/list"))["result"]["tools"];
  CHECK_FALSE(tools[2].contains("execution"));
}

TEST_CASE("before initialize only ping is served, and unknown methods are -32601 in any case") {
  ServerHarness h;
  CHECK(h.Request(Req(1, "ping"))["result"] == json::object());
  json r = h.Request(Req(2, "tools/call", {{"name", "echo"}}));
  CHECK(ErrorCode(r) == -32002);
  CHECK(r["error"]["message"] == "the server is not initialized: send \"initialize\" first");
  CHECK(ErrorCode(h.Request(Req(3, "resources/list"))) == -32601);
  // With no version yet there are no tasks either.
  CHECK(ErrorCode(h.Request(Req(4, "tasks/list"))) == -32601);
}

TEST_CASE("legacy tools/call needs a name, a known tool, object arguments and object params") {
  ServerHarness h;
  h.Initialize("2025-06-18");
  CHECK(h.Request(Req(1, "tools/call", json::object()))["error"]["message"] ==
        "invalid params: tools/call needs params.name, the tool's name");
  CHECK(h.Request(Req(2, "tools/call", {{"name", "nope"}}))["error"]["message"] ==
        "unknown tool: nope (tools/list names the tools)");
  CHECK(ErrorCode(h.Request(Req(3, "tools/call", {{"name", "echo"}, {"arguments", 1}}))) == -32602);
  CHECK(ErrorCode(h.Request(Req(4, "tools/list", json::array()))) == -32602);
  json r = h.Request(Req(5, "tools/call", {{"name", "echo"}, {"arguments", {{"a", 1}}}}));
  CHECK(r["result"]["structuredContent"] == json{{"echo", {{"a", 1}}}});
  CHECK(r["result"]["isError"] == false);
  CHECK_FALSE(r["result"].contains("resultType"));
}

TEST_CASE("the tool result's shape follows the version: no structuredContent before 2025-06-18") {
  ServerHarness h;
  h.Initialize("2025-03-26");
  json r = h.Request(Req(1, "tools/call", {{"name", "echo"}}))["result"];
  CHECK_FALSE(r.contains("structuredContent"));
  CHECK(r["content"][0]["text"] == R"({"echo":{}})");
  r = h.Request(Req(2, "tools/call", {{"name", "fail"}}))["result"];
  CHECK(r == json{{"content", {{{"type", "text"}, {"text", "it failed"}}}}, {"isError", true}});
}

TEST_CASE("unknown notifications are ignored, and the server answers the next request") {
  ServerHarness h;
  h.Send({{"jsonrpc", "2.0"}, {"method", "notifications/roots/list_changed"}});
  h.Send({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"x", 1}}}});
  CHECK(h.Request(Req(1, "ping"))["id"] == 1);
}

TEST_CASE("2026-07-28: server/discover needs no initialize and describes both eras") {
  ServerHarness h;
  json r = h.Request(Req(1, "server/discover", Modern()))["result"];
  CHECK(r["supportedVersions"] ==
        json::array({"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
  CHECK(r["resultType"] == "complete");
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"] ==
        json{{"name", "bim-test"}, {"title", "Test"}, {"version", "1.2.3"}});
  CHECK(r["capabilities"]["extensions"].contains("io.modelcontextprotocol/tasks"));
  CHECK(r["ttlMs"] == mcp::Session::kDiscoverTtlMs);
  CHECK(r["instructions"] == "use it");
}

TEST_CASE("2026-07-28: _meta must name the version, a version served, and capabilities") {
  ServerHarness h;
  json r = h.Request(Req(1, "server/discover"));
  CHECK(ErrorCode(r) == -32602);
  CHECK(r["error"]["message"] ==
        "invalid params: server/discover needs "
        "params._meta[\"io.modelcontextprotocol/protocolVersion\"], a string such as "
        "\"2026-07-28\"");
  json params = Modern();
  params["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2025-06-18";
  r = h.Request(Req(2, "tools/list", params));
  CHECK(ErrorCode(r) == -32022);
  CHECK(r["error"]["data"] ==
        json{{"supported", json::array({"2026-07-28"})}, {"requested", "2025-06-18"}});
  params = Modern();
  params["_meta"].erase("io.modelcontextprotocol/clientCapabilities");
  r = h.Request(Req(3, "tools/list", params));
  CHECK(ErrorCode(r) == -32602);
  CHECK(r["error"]["message"] ==
        "invalid params: tools/list needs "
        "params._meta[\"io.modelcontextprotocol/clientCapabilities\"], an object ({} for none)");
  CHECK(ErrorCode(h.Request(Req(4, "server/discover", json::array()))) == -32602);
}

TEST_CASE("2026-07-28: the legacy-only methods are -32601, tasks without the extension -32021") {
  ServerHarness h;
  CHECK(ErrorCode(h.Request(Req(1, "ping", Modern()))) == -32601);
  CHECK(ErrorCode(h.Request(Req(2, "tasks/list", Modern({}, TasksExtension())))) == -32601);
  CHECK(ErrorCode(h.Request(Req(3, "tasks/result", Modern({}, TasksExtension())))) == -32601);
  json r = h.Request(Req(4, "tasks/get", Modern({{"taskId", "x"}})));
  CHECK(ErrorCode(r) == -32021);
  CHECK(r["error"]["data"] ==
        json{{"requiredCapabilities",
              {{"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}}}});
  // With the extension the same request reaches the task store.
  r = h.Request(Req(5, "tasks/get", Modern({{"taskId", "x"}}, TasksExtension())));
  CHECK(ErrorCode(r) == -32602);
}

TEST_CASE("a 2026-07-28 request is served on its own, whatever the session negotiated") {
  ServerHarness h;
  h.Initialize("2025-03-26");
  json modern = h.Request(Req(1, "tools/list", Modern()))["result"];
  CHECK(modern["resultType"] == "complete");
  CHECK(modern["cacheScope"] == "public");
  json legacy = h.Request(Req(2, "tools/list"))["result"];
  CHECK(legacy == json{{"tools", h.tools.ListTools("2025-03-26")}});
  json r = h.Request(Req(3, "tools/call", Modern({{"name", "echo"}})))["result"];
  CHECK(r["resultType"] == "complete");
  CHECK(r["structuredContent"] == json{{"echo", json::object()}});
  CHECK(h.tools.calls().back().version == "2026-07-28");
}
