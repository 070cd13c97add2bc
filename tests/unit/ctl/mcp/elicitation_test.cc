// Elicitation in both eras: the elicitation/create round trip (URL mode from 2025-11-25, and
// forms that ask to confirm from 2025-06-18) and the 2026-07-28 input-required rounds, on their
// own and through the server.
#include "ctl/mcp/elicitation.h"

#include <doctest/doctest.h>

#include <future>

#include "tests/unit/ctl/mcp/mcp_test_util.h"

using namespace bim::ctl;
using namespace bim::ctl::mcp_test;
using Answer = McpToolCall::UrlAnswer;

namespace {

struct Rig {
  std::shared_ptr<Lines> lines = std::make_shared<Lines>();
  MemoryOutput out{lines};
  mcp::MessageWriter writer{out, nullptr};
  bim::FakeClock clock{kStartMs};
  McpServerInfo info{"bim-test", "Test", "1.2.3", ""};
  mcp::RequestsInFlight in_flight;
  mcp::TaskStore tasks{clock, info, in_flight};
  mcp::Elicitation elicitation{writer, tasks};
  CancelToken cancel;
  std::string elicitation_id;

  std::future<Answer> Open(const std::string& task_id = "") {
    return std::async(std::launch::async, [this, task_id] {
      return elicitation.Open("https://example.test/a", "Approve", task_id, cancel, elicitation_id);
    });
  }
  bool Respond(const std::string& id, json body) {
    body["jsonrpc"] = "2.0";
    body["id"] = id;
    return elicitation.TakeResponse(body);
  }
};

McpToolResult NeedsInput(json requests, json state) {
  McpToolResult r;
  r.input_requests = std::move(requests);
  r.input_state = std::move(state);
  return r;
}

}  // namespace

TEST_CASE("Open sends elicitation/create in URL mode and returns the client's answer") {
  Rig rig;
  auto answer = rig.Open();
  json request = rig.lines->Next();
  CHECK(request["method"] == "elicitation/create");
  CHECK(request["id"] == "bim-1");
  json params = request["params"];
  CHECK(params["mode"] == "url");
  CHECK(params["url"] == "https://example.test/a");
  CHECK(params["message"] == "Approve");
  CHECK(params["elicitationId"].get<std::string>().size() == 32);
  CHECK_FALSE(params.contains("_meta"));
  CHECK(rig.Respond("bim-1", {{"result", {{"action", "accept"}}}}));
  CHECK(answer.get() == Answer::kAccept);
  CHECK(rig.elicitation_id == params["elicitationId"]);

  const std::pair<json, Answer> others[] = {
      {{{"result", {{"action", "decline"}}}}, Answer::kDecline},
      {{{"result", {{"action", "cancel"}}}}, Answer::kCancel},
      {{{"result", {{"action", "maybe"}}}}, Answer::kFailed},
      {{{"error", {{"code", -1}, {"message", "no browser"}}}}, Answer::kFailed},
  };
  int n = 2;
  for (const auto& [response, expected] : others) {
    auto next = rig.Open();
    std::string id = "bim-" + std::to_string(n++);
    CHECK(rig.lines->Next()["id"] == id);
    CHECK(rig.Respond(id, response));
    CHECK(next.get() == expected);
  }
}

TEST_CASE("TakeResponse takes only the first response to a request of ours still waiting") {
  Rig rig;
  CHECK_FALSE(rig.Respond("bim-1", {{"result", json::object()}}));  // nothing sent yet
  auto answer = rig.Open();
  rig.lines->Next();
  CHECK_FALSE(rig.Respond("bim-2", {{"result", json::object()}}));
  CHECK_FALSE(rig.elicitation.TakeResponse({{"jsonrpc", "2.0"}, {"result", json::object()}}));
  CHECK(rig.Respond("bim-1", {{"result", {{"action", "decline"}}}}));
  CHECK_FALSE(rig.Respond("bim-1", {{"result", {{"action", "accept"}}}}));
  CHECK(answer.get() == Answer::kDecline);
  CHECK_FALSE(rig.Respond("bim-1", {{"result", {{"action", "accept"}}}}));
}

TEST_CASE("a cancel while the client has the page ends the wait and tells the client") {
  Rig rig;
  auto answer = rig.Open();
  rig.lines->Next();
  rig.cancel.Cancel();
  CHECK(answer.get() == Answer::kCancel);
  json note = rig.lines->Next();
  CHECK(note ==
        json{{"jsonrpc", "2.0"},
             {"method", "notifications/cancelled"},
             {"params", {{"requestId", "bim-1"}, {"reason", "the tool call was cancelled"}}}});
}

TEST_CASE("for a task, the request names it and the task shows input_required meanwhile") {
  Rig rig;
  std::string task_id;
  rig.tasks.Create("login", json::object(), std::make_shared<CancelToken>(), false, task_id);
  auto get = [&] {
    mcp::Outcome o = rig.tasks.Handle(1, "tasks/get", {{"taskId", task_id}},
                                      {false, "2025-11-25", json::object()});
    return (*o.response)["result"];
  };
  auto answer = rig.Open(task_id);
  json request = rig.lines->Next();
  CHECK(request["params"]["_meta"]["io.modelcontextprotocol/related-task"] ==
        json{{"taskId", task_id}});
  CHECK(get()["status"] == "input_required");
  CHECK(get()["statusMessage"] == "Approve");
  CHECK(rig.Respond("bim-1", {{"result", {{"action", "accept"}}}}));
  CHECK(answer.get() == Answer::kAccept);
  CHECK(get()["status"] == "working");
  CHECK(get()["statusMessage"] == "waiting for the login to be approved");
}

TEST_CASE("Completed tells the client the page's flow is done") {
  Rig rig;
  rig.elicitation.Completed("e1");
  CHECK(rig.lines->Next() == json{{"jsonrpc", "2.0"},
                                  {"method", "notifications/elicitation/complete"},
                                  {"params", {{"elicitationId", "e1"}}}});
}

TEST_CASE("a requestState is usable once, by the same tool with the same arguments") {
  bim::FakeClock clock{kStartMs};
  McpServerInfo info{"bim-test", "Test", "1.2.3", ""};
  mcp::InputRounds rounds(clock, info);
  json requests{{"login", {{"method", "elicitation/create"}}}};
  json r = rounds.InputRequired("login", {{"a", 1}}, NeedsInput(requests, {{"step", 1}}));
  CHECK(r["resultType"] == "input_required");
  CHECK(r["inputRequests"] == requests);
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == "1.2.3");
  json state = r["requestState"];
  CHECK(state.get<std::string>().size() == 32);
  CHECK_FALSE(rounds.Take(state, "echo", {{"a", 1}}).has_value());
  CHECK_FALSE(rounds.Take(state, "login", {{"a", 2}}).has_value());
  CHECK_FALSE(rounds.Take(json(7), "login", {{"a", 1}}).has_value());
  auto taken = rounds.Take(state, "login", {{"a", 1}});  // the mismatches did not use it up
  REQUIRE(taken.has_value());
  CHECK(*taken == json{{"step", 1}});
  CHECK_FALSE(rounds.Take(state, "login", {{"a", 1}}).has_value());
  // A tool that only needs to be called again asks for nothing.
  r = rounds.InputRequired("login", json::object(), NeedsInput(json::object(), nullptr));
  CHECK_FALSE(r.contains("inputRequests"));
}

TEST_CASE("a requestState expires kInputRoundTtlMs after it was given") {
  bim::FakeClock clock{kStartMs};
  McpServerInfo info;
  mcp::InputRounds rounds(clock, info);
  json a = rounds.InputRequired("t", {}, NeedsInput({}, 1))["requestState"];
  json b = rounds.InputRequired("t", {}, NeedsInput({}, 2))["requestState"];
  clock.Advance(std::chrono::milliseconds(mcp::kInputRoundTtlMs));
  CHECK(rounds.Take(a, "t", {}) == json(1));  // at its expiry still valid
  clock.Advance(std::chrono::milliseconds(1));
  CHECK_FALSE(rounds.Take(b, "t", {}).has_value());
}

TEST_CASE("kMaxInputRounds rounds are kept: the one closest to expiring makes room") {
  bim::FakeClock clock{kStartMs};
  McpServerInfo info;
  mcp::InputRounds rounds(clock, info);
  std::vector<json> states;
  for (size_t i = 0; i <= mcp::kMaxInputRounds; ++i) {
    states.push_back(rounds.InputRequired("t", {}, NeedsInput({}, i))["requestState"]);
    clock.Advance(std::chrono::milliseconds(1));
  }
  CHECK_FALSE(rounds.Take(states[0], "t", {}).has_value());
  CHECK(rounds.Take(states[1], "t", {}) == json(1));
  CHECK(rounds.Take(states.back(), "t", {}) == json(mcp::kMaxInputRounds));
}

TEST_CASE("through the server: a 2026-07-28 input-required round and its one answer") {
  ServerHarness h;
  json caps{{"elicitation", {{"url", json::object()}}}};
  json first = h.Request(Req(1, "tools/call", Modern({{"name", "login"}}, caps)))["result"];
  CHECK(first["resultType"] == "input_required");
  CHECK(h.tools.calls().back().can_request_url);
  json again = Modern({{"name", "login"},
                       {"requestState", first["requestState"]},
                       {"inputResponses", {{"login", {{"action", "accept"}}}}}},
                      caps);
  json r = h.Request(Req(2, "tools/call", again))["result"];
  CHECK(r["resultType"] == "complete");
  CHECK(r["structuredContent"] ==
        json{{"state", {{"step", 1}}}, {"responses", {{"login", {{"action", "accept"}}}}}});
  r = h.Request(Req(3, "tools/call", again));
  CHECK(ErrorCode(r) == -32602);
  CHECK(r["error"]["message"] ==
        "invalid params: requestState is not one this server gave for this call, or it was used "
        "or has expired; call the tool again without requestState and inputResponses");
}

TEST_CASE("through the server: a 2025-11-25 elicitation/create round trip for a tool call") {
  ServerHarness h;
  h.Initialize("2025-11-25", {{"elicitation", {{"url", json::object()}}}});
  h.Send(Req(5, "tools/call", {{"name", "login"}}));
  json request = h.Next();
  CHECK(request["method"] == "elicitation/create");
  CHECK(request["id"] == "bim-1");
  h.Send({{"jsonrpc", "2.0"}, {"id", "bim-1"}, {"result", {{"action", "accept"}}}});
  json done = h.Next();
  CHECK(done["method"] == "notifications/elicitation/complete");
  CHECK(done["params"]["elicitationId"] == request["params"]["elicitationId"]);
  json r = h.Next();
  CHECK(r["id"] == 5);
  CHECK(r["result"]["structuredContent"] == json{{"answer", static_cast<int>(Answer::kAccept)}});
}

TEST_CASE("through the server: without elicitation.url the tool gets no way to the person") {
  ServerHarness h;
  h.Initialize("2025-11-25");
  json r = h.Request(Req(1, "tools/call", {{"name", "login"}}))["result"];
  CHECK_FALSE(h.tools.calls().back().can_open_url);
  CHECK_FALSE(h.tools.calls().back().can_request_url);
  // The fake throws then: a tool that throws is an error result, and the server goes on.
  CHECK(r == json{{"content",
                   {{{"type", "text"},
                     {"text", "internal error in backend-im: no way to reach the person"}}}},
                  {"isError", true}});
  CHECK(h.Request(Req(2, "ping"))["id"] == 2);
}

TEST_CASE("capabilities: form elicitation is elicitation.form, or an elicitation with no mode") {
  CHECK(mcp::DeclaresFormElicitation({{"elicitation", json::object()}}));
  CHECK(mcp::DeclaresFormElicitation({{"elicitation", {{"form", json::object()}}}}));
  CHECK(mcp::DeclaresFormElicitation(
      {{"elicitation", {{"form", json::object()}, {"url", json::object()}}}}));
  CHECK_FALSE(mcp::DeclaresFormElicitation({{"elicitation", {{"url", json::object()}}}}));
  CHECK_FALSE(mcp::DeclaresFormElicitation(json::object()));
  CHECK_FALSE(mcp::DeclaresFormElicitation({{"elicitation", true}}));
}

TEST_CASE("a confirmation is accepted only with confirm true") {
  using Confirm = McpToolCall::ConfirmAnswer;
  CHECK(mcp::ConfirmAnswerOf({{"action", "accept"}, {"content", {{"confirm", true}}}}) ==
        Confirm::kConfirmed);
  CHECK(mcp::ConfirmAnswerOf({{"action", "accept"}, {"content", {{"confirm", false}}}}) ==
        Confirm::kRefused);
  CHECK(mcp::ConfirmAnswerOf({{"action", "accept"}, {"content", {{"confirm", "yes"}}}}) ==
        Confirm::kRefused);
  CHECK(mcp::ConfirmAnswerOf({{"action", "accept"}}) == Confirm::kRefused);
  CHECK(mcp::ConfirmAnswerOf({{"action", "decline"}}) == Confirm::kRefused);
  CHECK(mcp::ConfirmAnswerOf({{"action", "cancel"}}) == Confirm::kRefused);
  CHECK(mcp::ConfirmAnswerOf(json()) == Confirm::kRefused);
}

TEST_CASE("Confirm sends a form with one boolean and returns the person's answer") {
  Rig rig;
  using Confirm = McpToolCall::ConfirmAnswer;
  auto answer = std::async(std::launch::async, [&rig] {
    return rig.elicitation.Confirm("Set API_KEY in staging?", "2025-11-25", "", rig.cancel);
  });
  json request = rig.lines->Next();
  CHECK(request["method"] == "elicitation/create");
  CHECK(request["params"]["mode"] == "form");
  CHECK(request["params"]["message"] == "Set API_KEY in staging?");
  const json& schema = request["params"]["requestedSchema"];
  CHECK(schema["type"] == "object");
  CHECK(schema["properties"]["confirm"]["type"] == "boolean");
  CHECK(schema["required"] == json::array({"confirm"}));
  CHECK(rig.Respond(request["id"],
                    {{"result", {{"action", "accept"}, {"content", {{"confirm", true}}}}}}));
  CHECK(answer.get() == Confirm::kConfirmed);

  // 2025-06-18 has forms only, and no mode to name.
  auto older = std::async(std::launch::async, [&rig] {
    return rig.elicitation.Confirm("Go?", "2025-06-18", "", rig.cancel);
  });
  request = rig.lines->Next();
  CHECK_FALSE(request["params"].contains("mode"));
  CHECK(rig.Respond(request["id"], {{"result", {{"action", "decline"}}}}));
  CHECK(older.get() == Confirm::kRefused);

  auto failed = std::async(std::launch::async, [&rig] {
    return rig.elicitation.Confirm("Go?", "2025-11-25", "", rig.cancel);
  });
  request = rig.lines->Next();
  CHECK(rig.Respond(request["id"], {{"error", {{"code", -1}, {"message", "no forms"}}}}));
  CHECK(failed.get() == Confirm::kFailed);
}

TEST_CASE("through the server: a form-elicitation client is asked to confirm, others are not") {
  SUBCASE("2025-11-25 with elicitation.form") {
    ServerHarness h;
    h.Initialize("2025-11-25", {{"elicitation", {{"form", json::object()}}}});
    h.Send(Req(1, "tools/call", {{"name", "confirm"}}));
    json request = h.Next();
    CHECK(request["method"] == "elicitation/create");
    CHECK(request["params"]["mode"] == "form");
    CHECK(request["params"]["message"] == "Go ahead?");
    h.Send({{"jsonrpc", "2.0"},
            {"id", request["id"]},
            {"result", {{"action", "accept"}, {"content", {{"confirm", true}}}}}});
    json r = h.Next();
    CHECK(r["id"] == 1);
    CHECK(r["result"]["structuredContent"] ==
          json{{"answer", static_cast<int>(McpToolCall::ConfirmAnswer::kConfirmed)}});
    CHECK_FALSE(h.tools.calls().back().can_open_url);
  }
  SUBCASE("2025-06-18 with an empty elicitation: forms, without a mode") {
    ServerHarness h;
    h.Initialize("2025-06-18", {{"elicitation", json::object()}});
    h.Send(Req(1, "tools/call", {{"name", "confirm"}}));
    json request = h.Next();
    CHECK_FALSE(request["params"].contains("mode"));
    h.Send({{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", {{"action", "cancel"}}}});
    CHECK(h.Next()["result"]["structuredContent"] ==
          json{{"answer", static_cast<int>(McpToolCall::ConfirmAnswer::kRefused)}});
  }
  SUBCASE("URL mode only, or no elicitation: the tool is not given a way to ask") {
    ServerHarness h;
    h.Initialize("2025-11-25", {{"elicitation", {{"url", json::object()}}}});
    json r = h.Request(Req(1, "tools/call", {{"name", "confirm"}}));
    CHECK(r["result"]["structuredContent"] == json{{"asked", false}});
    CHECK_FALSE(h.tools.calls().back().can_confirm);
  }
  SUBCASE("2026-07-28 with elicitation.form: an input-required round") {
    ServerHarness h;
    json caps{{"elicitation", {{"form", json::object()}}}};
    json first = h.Request(Req(1, "tools/call", Modern({{"name", "confirm"}}, caps)))["result"];
    CHECK(first["resultType"] == "input_required");
    CHECK(h.tools.calls().back().can_request_form);
    CHECK_FALSE(h.tools.calls().back().can_confirm);
  }
}
