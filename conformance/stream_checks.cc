// ws.*, status.*, deploy.completes and the stream extensions: the sample deployment watched to
// its end over one WebSocket and by polling at the same time (Context::Watch). Order rules
// (docs/API_CONTRACTS.md §5.1): a deployment only moves forward, may skip statuses, and ends at
// complete or failed; nothing comes after the end.

#include <algorithm>

#include "conformance/check_helpers.h"
#include "conformance/checks.h"
#include "conformance/contract_shapes.h"

namespace bim::conformance {
namespace {

using nlohmann::json;

std::vector<json> Parsed(const std::vector<std::string>& frames) {
  std::vector<json> out;
  for (const auto& f : frames) out.push_back(json::parse(f, nullptr, /*allow_exceptions=*/false));
  return out;
}

std::vector<json> PollBodies(const Observation& o) {
  std::vector<json> out;
  for (const auto& p : o.polls) out.push_back(p.Json());
  return out;
}

std::string Sequence(const std::vector<json>& bodies) {
  std::vector<std::string> names;
  for (const auto& j : bodies) {
    std::string name = StatusName(j);
    names.push_back(name.empty() ? "?" : name);
  }
  return Join(names, " -> ");
}

Evidence FrameEvidence(const Observation& o, size_t i) {
  return {"WS " + o.ws_path, 101, EvidenceBody(o.frames[i]), "message " + std::to_string(i + 1)};
}

Evidence PollEvidence(const Observation& o, size_t i) {
  return o.polls[i].ToEvidence("poll " + std::to_string(i + 1));
}

std::string CloseText(const Observation& o) {
  if (o.closed_by_suite) return "left open; closed by the suite";
  if (!o.close_code) return "still open at the deadline";
  std::string text = "closed " + std::to_string(*o.close_code);
  if (!o.close_reason.empty()) text += " (" + o.close_reason + ")";
  return text;
}

Evidence StreamEvidence(const Observation& o) {
  return {"WS " + o.ws_path, o.ws_connected ? 101 : o.ws_refused_status,
          o.ws_connected ? std::to_string(o.frames.size()) + " messages" : EvidenceBody(o.ws_error),
          o.ws_connected ? CloseText(o) : "upgrade refused"};
}

// Runs judge with the observation and the deployment, or skips without a deployment.
template <typename Judge>
CheckResult Observed(Context& ctx, Judge judge) {
  const Observation* o = ctx.Watch();
  if (!o) return NoDeployment(ctx);
  return judge(*o, *ctx.Deployment());
}

// Like Observed, but also skips when the WebSocket never connected (ws.connect fails then).
template <typename Judge>
CheckResult Streamed(Context& ctx, Judge judge) {
  return Observed(ctx, [&](const Observation& o, const CreatedDeployment& d) {
    if (!o.ws_connected) {
      return Skipped("no WebSocket to judge (see ws.connect)", {StreamEvidence(o)});
    }
    return judge(o, d);
  });
}

// Pass when every body names the deploymentId, projectId and commitHash of the deploy answer
// (id_field holds the deploymentId); otherwise fail, naming each that differs. what(i) names body
// i, e.g. "message 3"; item says what one body is, e.g. "message", for the pass detail.
template <typename Name>
CheckResult IdsMatch(const std::vector<json>& bodies, const char* id_field,
                     const CreatedDeployment& d, Name what, std::vector<Evidence> evidence,
                     const std::string& item) {
  std::vector<std::pair<const char*, std::optional<std::string>>> expected = {
      {id_field, d.id},
      {"projectId", StringField(d.answer, "projectId")},
      {"commitHash", StringField(d.answer, "commitHash")},
  };
  std::vector<std::string> problems;
  for (size_t i = 0; i < bodies.size(); ++i) {
    for (const auto& [field, want] : expected) {
      auto got = StringField(bodies[i], field);
      if (!want || !got || *got == *want) continue;
      problems.push_back(what(i) + ": " + field + " " + Quoted(*got) +
                         " differs from the deploy answer's " + Quoted(*want));
    }
  }
  return FromProblems(
      problems, std::move(evidence),
      "every " + item + " names the deployment, project and commit of the deploy answer");
}

// Problems with the order of statuses. strict: each status at most once (the WebSocket);
// otherwise a status may repeat (polling sees the same one several times).
template <typename Name>
std::vector<std::string> OrderProblems(const std::vector<json>& bodies, bool strict, Name what) {
  std::vector<std::string> problems;
  int prev_rank = -1;
  std::string prev_name;
  size_t prev_i = 0;
  std::optional<size_t> terminal;
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto stage = StageOf(bodies[i]);
    if (!stage) continue;  // the shape checks name unknown or missing statuses
    std::string name(contract::StageName(*stage));
    if (terminal) {
      if (strict || name != prev_name) {
        problems.push_back(what(i) + " (" + Quoted(name) + ") came after the terminal status " +
                           Quoted(prev_name) + " (" + what(*terminal) + ")");
      }
      continue;
    }
    int rank = contract::StageRank(*stage);
    if (rank < prev_rank) {
      problems.push_back("status went backwards: " + Quoted(name) + " (" + what(i) +
                         ") came after " + Quoted(prev_name) + " (" + what(prev_i) + ")");
    } else if (rank == prev_rank && strict) {
      problems.push_back("status " + Quoted(name) + " repeated (" + what(prev_i) + " and " +
                         what(i) + ")");
    }
    if (rank >= prev_rank) {
      prev_rank = rank;
      prev_name = name;
      prev_i = i;
    }
    if (contract::IsTerminal(*stage)) terminal = i;
  }
  return problems;
}

auto MessageName = [](size_t i) { return "message " + std::to_string(i + 1); };
auto PollName = [](size_t i) { return "poll " + std::to_string(i + 1); };

// Evidence: the first and the last of count items.
template <typename Make>
std::vector<Evidence> Sampled(size_t count, Make make) {
  std::vector<Evidence> out;
  if (count > 0) out.push_back(make(0));
  if (count > 1) out.push_back(make(count - 1));
  return out;
}

// The first and the last WebSocket message; the first and the last poll.
std::vector<Evidence> SampledFrames(const Observation& o) {
  return Sampled(o.frames.size(), [&](size_t i) { return FrameEvidence(o, i); });
}

std::vector<Evidence> SampledPolls(const Observation& o) {
  return Sampled(o.polls.size(), [&](size_t i) { return PollEvidence(o, i); });
}

CheckResult WsConnect(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment&) {
    if (o.ws_connected) return Pass("", {StreamEvidence(o)});
    return Fail(
        "the upgrade of " + o.ws_path + " with the run's token was refused" +
            (o.ws_refused_status ? " with " + std::to_string(o.ws_refused_status) : std::string()) +
            ": " + o.ws_error,
        {StreamEvidence(o)});
  });
}

CheckResult WsMessageShape(Context& ctx) {
  return Streamed(ctx, [](const Observation& o, const CreatedDeployment&) {
    if (o.frames.empty()) {
      return FromProblems({"the WebSocket ended (" + CloseText(o) + ") without a message"},
                          {StreamEvidence(o)});
    }
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    for (size_t i = 0; i < o.frames.size(); ++i) {
      auto found = shapes::StageMessage().CheckBody(o.frames[i]);
      if (found.empty()) continue;
      std::string status = StatusName(json::parse(o.frames[i], nullptr, false));
      for (const auto& p : found) {
        problems.push_back(MessageName(i) + (status.empty() ? "" : " (status " + status + ")") +
                           ": " + p);
      }
      if (evidence.size() < 4) evidence.push_back(FrameEvidence(o, i));
    }
    if (evidence.empty()) evidence = SampledFrames(o);
    return FromProblems(problems, evidence,
                        std::to_string(o.frames.size()) +
                            " messages, each with the contract's "
                            "fields");
  });
}

CheckResult WsIdsMatch(Context& ctx) {
  return Streamed(ctx, [](const Observation& o, const CreatedDeployment& d) {
    return IdsMatch(Parsed(o.frames), "deploymentId", d, MessageName, SampledFrames(o), "message");
  });
}

CheckResult WsStatusOrder(Context& ctx) {
  return Streamed(ctx, [](const Observation& o, const CreatedDeployment&) {
    auto bodies = Parsed(o.frames);
    auto problems = OrderProblems(bodies, /*strict=*/true, MessageName);
    Evidence e = StreamEvidence(o);
    e.note = "statuses: " + Sequence(bodies) + "; " + e.note;
    return FromProblems(problems, {e}, Sequence(bodies));
  });
}

CheckResult WsTerminal(Context& ctx) {
  return Streamed(ctx, [](const Observation& o, const CreatedDeployment&) {
    auto bodies = Parsed(o.frames);
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (!IsTerminalBody(bodies[i])) continue;
      std::vector<Evidence> evidence = {FrameEvidence(o, i)};
      if (StatusName(bodies[i]) == "failed") {
        return FromProblems({}, evidence, "ended failed (see deploy.completes)");
      }
      auto url = StringField(bodies[i], "url");
      if (!url || !contract::CheckUrlToOpen(*url, "deployment URL").ok()) {
        return FromProblems({MessageName(i) + " (complete) has no https \"url\" with a host (" +
                             (url ? contract::CheckUrlToOpen(*url, "deployment URL").error().message
                                  : "fields: " + FieldNames(bodies[i])) +
                             ")"},
                            evidence);
      }
      return FromProblems({}, evidence, "complete, url " + Quoted(*url));
    }
    std::string why = o.timed_out
                          ? "no terminal status within the deploy timeout"
                          : "the stream ended (" + CloseText(o) + ") before a terminal status";
    return FromProblems({why}, {StreamEvidence(o)});
  });
}

CheckResult WsCloseAfterTerminal(Context& ctx) {
  return Streamed(ctx, [&ctx](const Observation& o, const CreatedDeployment&) {
    auto bodies = Parsed(o.frames);
    if (bodies.empty() || !IsTerminalBody(bodies.back())) {
      return Skipped("the stream had no terminal message (see ws.terminal)");
    }
    if (o.close_code == 1000) {
      return Pass("closed 1000 after " + StatusName(bodies.back()), {StreamEvidence(o)});
    }
    if (o.closed_by_suite) {
      return NotSupported("the server left the WebSocket open " +
                              std::to_string(ctx.options().close_grace.count()) +
                              " ms after the terminal message; clients close it themselves",
                          {StreamEvidence(o)});
    }
    return NotSupported(
        "the server ended the WebSocket with " + CloseText(o) + ", not a 1000 close",
        {StreamEvidence(o)});
  });
}

CheckResult DeployCompletes(Context& ctx) {
  return Observed(ctx, [&ctx](const Observation& o, const CreatedDeployment&) {
    auto final_body = FinalBody(o);
    std::vector<Evidence> evidence = {StreamEvidence(o)};
    if (!o.polls.empty()) evidence.push_back(PollEvidence(o, o.polls.size() - 1));
    if (!final_body) {
      return FromProblems({"no terminal status within " +
                           std::to_string(ctx.options().deploy_timeout.count() / 1000) +
                           " s, neither on the WebSocket nor by polling"},
                          evidence);
    }
    if (StatusName(*final_body) == "complete") return FromProblems({}, evidence, "complete");
    auto logs = LogsOf(*final_body);
    return FromProblems({"the sample FastAPI app's deployment ended failed" +
                         (logs.empty() ? std::string() : ": " + logs.back())},
                        evidence);
  });
}

CheckResult Seq(Context& ctx) {
  return Streamed(ctx, [](const Observation& o, const CreatedDeployment&) {
    auto bodies = Parsed(o.frames);
    if (bodies.empty()) return Skipped("no messages (see ws.message_shape)");
    std::vector<std::optional<int64_t>> seqs;
    for (const auto& j : bodies) seqs.push_back(IntField(j, "seq"));
    auto evidence = SampledFrames(o);
    if (std::none_of(seqs.begin(), seqs.end(), [](const auto& s) { return s.has_value(); })) {
      return NotSupported("messages carry no seq; clients de-duplicate by status", evidence);
    }
    std::vector<std::string> problems;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (!seqs[i]) {
        problems.push_back(MessageName(i) + " has no integer seq while others do");
      } else if (i == 0 && *seqs[i] < 1) {
        problems.push_back(MessageName(i) + " has seq " + std::to_string(*seqs[i]) +
                           ", expected 1 or more");
      } else if (i > 0 && seqs[i - 1] && *seqs[i] != *seqs[i - 1] + 1) {
        problems.push_back("seq went from " + std::to_string(*seqs[i - 1]) + " (" +
                           MessageName(i - 1) + ") to " + std::to_string(*seqs[i]) + " (" +
                           MessageName(i) + "), expected " + std::to_string(*seqs[i - 1] + 1));
      }
    }
    return ExtensionFromProblems(problems, evidence,
                                 "seq " + std::to_string(seqs.front().value_or(0)) + ".." +
                                     std::to_string(seqs.back().value_or(0)));
  });
}

CheckResult Since(Context& ctx) {
  return Streamed(ctx, [&ctx](const Observation& o, const CreatedDeployment& d) {
    auto bodies = Parsed(o.frames);
    std::vector<int64_t> seqs;
    for (const auto& j : bodies) {
      if (auto s = IntField(j, "seq")) seqs.push_back(*s);
    }
    if (seqs.empty()) return NotSupported("needs seq, and messages carry none (see ext.seq)");
    const int64_t last = seqs.back();
    if (last < 2) return Skipped("needs at least two messages with seq");
    const int64_t since = last / 2;
    std::string path = ctx.WsPath(d.id, since);
    WsAttempt a = ctx.OpenWs(ctx.WsUrl(d.id, since), Auth::kToken);
    if (!a.connection) {
      return ExtensionFromProblems({"the upgrade of " + path + " was refused: " + a.error},
                                   {{"WS " + path, a.refused_status, EvidenceBody(a.error), ""}});
    }
    std::vector<int64_t> got;
    std::vector<Evidence> evidence;
    std::string end = "no close within 3 s of the last message";
    for (int i = 0; i < 1000; ++i) {
      ws::Event e = a.connection->Receive(
          std::max(ctx.options().close_grace, std::chrono::milliseconds(3000)));
      if (e.kind == ws::EventKind::kMessage) {
        auto s = IntField(json::parse(e.payload, nullptr, false), "seq");
        got.push_back(s.value_or(-1));
        if (evidence.size() < 3)
          evidence.push_back({"WS " + path, 101, EvidenceBody(e.payload),
                              "message " + std::to_string(got.size())});
        continue;
      }
      if (e.kind == ws::EventKind::kClosed) end = "closed " + std::to_string(e.close_code);
      break;
    }
    a.connection->Close();
    std::vector<int64_t> want;
    for (int64_t s = since + 1; s <= last; ++s) want.push_back(s);
    std::vector<std::string> shown;
    for (auto s : got) shown.push_back(s < 0 ? "none" : std::to_string(s));
    evidence.push_back({"WS " + path, 101, std::to_string(got.size()) + " messages", end});
    std::string summary =
        "since=" + std::to_string(since) + " replayed seq [" + Join(shown, ", ") + "]";
    if (!got.empty() && got.front() >= 0 && got.front() <= since) {
      // seq without since is one extension without the other, as a platform may well have.
      return NotSupported(
          summary + ": the platform sends seq but ignores since (expected only seq > " +
              std::to_string(since) + "); clients drop the replayed messages by their seq",
          evidence);
    }
    if (got != want) {
      return ExtensionFromProblems({summary + ", expected [" + std::to_string(since + 1) + ".." +
                                    std::to_string(last) + "]"},
                                   evidence);
    }
    return Pass(summary, evidence);
  });
}

CheckResult WsAuth(Context& ctx) {
  return Observed(ctx, [&ctx](const Observation&, const CreatedDeployment& d) {
    WsAttempt a = ctx.OpenWs(ctx.WsUrl(d.id), Auth::kNone);
    Evidence e{"WS " + ctx.WsPath(d.id) + " [no Authorization]",
               a.connection ? 101 : a.refused_status, EvidenceBody(a.error), ""};
    if (a.connection) {
      a.connection->Close();
      return NotSupported("the platform streams a deployment to a connection without a token", {e});
    }
    if (a.refused_status == 401) return Pass("refused with 401", {e});
    // The seed says nothing of authentication on /ws, so another refusal is the platform's own.
    return NotSupported(
        "the upgrade without a token was refused with " +
            (a.refused_status ? std::to_string(a.refused_status) : std::string("no HTTP status")) +
            ", not the extension's 401: " + a.error,
        {e});
  });
}

CheckResult StatusShape(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment&) {
    if (o.polls.empty()) return Fail("the run never polled the status");
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    for (size_t i = 0; i < o.polls.size(); ++i) {
      const Exchange& p = o.polls[i];
      std::vector<std::string> found;
      if (p.answer.status != 200) {
        found.push_back("answered " + std::to_string(p.answer.status) + ", expected 200");
      } else {
        found = shapes::StatusAnswer().CheckBody(p.answer.body);
      }
      for (const auto& f : found) problems.push_back(PollName(i) + ": " + f);
      if (!found.empty() && evidence.size() < 4) evidence.push_back(PollEvidence(o, i));
    }
    if (evidence.empty()) {
      evidence = SampledPolls(o);
    }
    return FromProblems(problems, evidence,
                        std::to_string(o.polls.size()) + " polls, each with the contract's fields");
  });
}

CheckResult StatusIdsMatch(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment& d) {
    return IdsMatch(PollBodies(o), "id", d, PollName, SampledPolls(o), "poll");
  });
}

CheckResult StatusOrder(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment&) {
    auto bodies = PollBodies(o);
    auto problems = OrderProblems(bodies, /*strict=*/false, PollName);
    if (!o.timed_out && (bodies.empty() || !IsTerminalBody(bodies.back()))) {
      problems.push_back("polling stopped without a terminal status (the last polls failed)");
    }
    auto evidence = SampledPolls(o);
    if (!evidence.empty()) evidence.back().note += "; statuses polled: " + Sequence(bodies);
    return FromProblems(problems, evidence, Sequence(bodies));
  });
}

CheckResult StatusFinal(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment&) {
    if (o.polls.empty() || !IsTerminalBody(o.polls.back().Json())) {
      return Skipped("polling showed no terminal status (see status.order)");
    }
    const json last = o.polls.back().Json();
    std::vector<Evidence> evidence = {PollEvidence(o, o.polls.size() - 1)};
    std::vector<std::string> problems;
    const std::string status = StatusName(last);
    auto bodies = Parsed(o.frames);
    std::optional<json> ws_final;
    std::vector<std::string> ws_logs;
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto lines = LogsOf(bodies[i]);
      ws_logs.insert(ws_logs.end(), lines.begin(), lines.end());
      if (IsTerminalBody(bodies[i]) && !ws_final) {
        ws_final = bodies[i];
        evidence.push_back(FrameEvidence(o, i));
      }
    }
    if (ws_final && StatusName(*ws_final) != status) {
      problems.push_back("the last poll says " + Quoted(status) + ", the WebSocket ended " +
                         Quoted(StatusName(*ws_final)));
    }
    auto url = StringField(last, "url");
    if (status == "complete") {
      if (!url || !contract::CheckUrlToOpen(*url, "deployment URL").ok()) {
        problems.push_back("the complete status has no https \"url\" with a host (" +
                           (url ? contract::CheckUrlToOpen(*url, "deployment URL").error().message
                                : "fields: " + FieldNames(last)) +
                           ")");
      } else if (ws_final && StringField(*ws_final, "url") &&
                 *StringField(*ws_final, "url") != *url) {
        problems.push_back("the status url " + Quoted(*url) + " differs from the WebSocket's " +
                           Quoted(*StringField(*ws_final, "url")));
      }
    }
    // Every line the stream sent must be among the status's logs, in the same order.
    auto logs = LogsOf(last);
    size_t at = 0;
    for (const auto& line : ws_logs) {
      auto it = std::find(logs.begin() + static_cast<std::ptrdiff_t>(at), logs.end(), line);
      if (it == logs.end()) {
        problems.push_back("the status logs lack the WebSocket's line " + Quoted(line) +
                           " (or have it out of order)");
        break;
      }
      at = static_cast<size_t>(it - logs.begin()) + 1;
    }
    return FromProblems(problems, evidence,
                        Quoted(status) + " with " + std::to_string(logs.size()) +
                            " log lines, agreeing with the WebSocket");
  });
}

CheckResult StatusSeq(Context& ctx) {
  return Observed(ctx, [](const Observation& o, const CreatedDeployment&) {
    auto bodies = PollBodies(o);
    std::vector<std::pair<size_t, int64_t>> seqs;
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (auto s = IntField(bodies[i], "seq")) seqs.emplace_back(i, *s);
    }
    auto evidence = SampledPolls(o);
    if (seqs.empty()) {
      return NotSupported("status answers carry no seq", evidence);
    }
    std::vector<std::string> problems;
    for (size_t k = 1; k < seqs.size(); ++k) {
      if (seqs[k].second < seqs[k - 1].second) {
        problems.push_back("seq went down from " + std::to_string(seqs[k - 1].second) + " (" +
                           PollName(seqs[k - 1].first) + ") to " + std::to_string(seqs[k].second) +
                           " (" + PollName(seqs[k].first) + ")");
      }
    }
    std::optional<int64_t> ws_last;
    for (const auto& j : Parsed(o.frames)) {
      if (auto s = IntField(j, "seq")) ws_last = *s;
    }
    bool terminal = !bodies.empty() && IsTerminalBody(bodies.back());
    if (terminal && ws_last && seqs.back().first == bodies.size() - 1 &&
        seqs.back().second != *ws_last) {
      problems.push_back("the last poll says seq " + std::to_string(seqs.back().second) +
                         ", the newest WebSocket message has seq " + std::to_string(*ws_last));
    }
    return ExtensionFromProblems(problems, evidence,
                                 "the last poll's seq is " + std::to_string(seqs.back().second));
  });
}

}  // namespace

std::vector<Check> StreamChecks() {
  return {
      Creates("ws.connect",
              "The WebSocket /ws?deploymentId= of the sample deployment accepts the "
              "run's token",
              WsConnect),
      Creates("ws.message_shape",
              "Every WebSocket message is JSON with deploymentId, projectId, "
              "commitHash, status, logs (url, seq optional)",
              WsMessageShape),
      Creates("ws.ids_match",
              "Every message names the deploymentId, projectId and commitHash of the "
              "deploy answer",
              WsIdsMatch),
      Creates("ws.status_order",
              "WebSocket statuses only move forward (jumps allowed), never "
              "repeat, and nothing follows complete or failed",
              WsStatusOrder),
      Creates("ws.terminal",
              "The stream reaches complete (with an https url) or failed before it "
              "ends",
              WsTerminal),
      Creates("ws.close_after_terminal",
              "Extension: the server closes the WebSocket with 1000 after "
              "the terminal message",
              WsCloseAfterTerminal),
      Creates("deploy.completes",
              "The sample FastAPI app's deployment ends complete within the "
              "deploy timeout",
              DeployCompletes),
      Creates("status.shape",
              "Every GET /api/status/{id} answer has id, projectId, commitHash, "
              "status, logs (url, seq optional)",
              StatusShape),
      Creates("status.ids_match",
              "Every status answer names the deployment, project and commit of "
              "the deploy answer",
              StatusIdsMatch),
      Creates("status.order",
              "Polled statuses never go backwards and polling reaches a terminal "
              "status",
              StatusOrder),
      Creates("status.final",
              "The final status agrees with the WebSocket: same terminal status, the "
              "url once complete, every streamed log line in order",
              StatusFinal),
      Creates("ext.seq", "Extension: messages carry seq 1, 2, 3... one per message", Seq),
      Creates("ext.since",
              "Extension: /ws?deploymentId=&since=N replays exactly the messages with "
              "seq > N",
              Since),
      Creates("ext.status_seq", "Extension: status answers carry the seq of the newest message",
              StatusSeq),
      Creates("ext.ws_auth", "Extension: the WebSocket upgrade without a token is refused with 401",
              WsAuth),
  };
}

}  // namespace bim::conformance
