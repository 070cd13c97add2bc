// ext.logs*: runtime logs (docs/API_CONTRACTS.md §6.2), an extension. One GET of the logs of a
// deployment that does not exist tells whether the platform has it (Context::LogsProbeAnswer): a
// 404 with the extension's code (contract::IsLogsNotFoundCode) says it has; any other 404 says it
// has not, and every check here is then not-supported. The other checks read the sample
// deployment's logs, by page and over /ws/logs, once it ended; they create nothing else.

#include <algorithm>
#include <chrono>

#include "common/contract.h"
#include "conformance/check_helpers.h"
#include "conformance/checks.h"

namespace bim::conformance {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// How long the stream check reads: until the stream ends, nothing came for kQuiet (the app is
// quiet), kReadFor passed, or kMostMessages came.
constexpr auto kQuiet = 2s;
constexpr auto kReadFor = 10s;
constexpr size_t kMostMessages = 2000;

enum class Presence { kPresent, kAbsent, kUnclear };

Presence PresenceOf(const Exchange& probe) {
  if (probe.answer.status != 404) return Presence::kUnclear;
  return IsForeignNotFound(probe, contract::IsLogsNotFoundCode) ? Presence::kAbsent
                                                                : Presence::kPresent;
}

CheckResult Absent(const Exchange& probe) {
  return ExtensionAbsent(probe,
                         "runtime logs (an extension); clients show the deployment's stage logs "
                         "from GET /api/status/{id} instead");
}

// Runs judge(deployment id) when the platform has the extension and the sample deployment ended;
// otherwise not-supported or skipped, saying why.
template <typename Judge>
CheckResult WithSampleLogs(Context& ctx, Judge judge) {
  const Exchange& probe = ctx.LogsProbeAnswer();
  switch (PresenceOf(probe)) {
    case Presence::kPresent:
      break;
    case Presence::kAbsent:
      return Absent(probe);
    case Presence::kUnclear:
      return Skipped(
          "needs the runtime logs extension, and the logs of an unknown deployment are not its "
          "404 (see ext.logs)",
          {probe.ToEvidence()});
  }
  const Observation* o = ctx.Watch();
  if (!o) return NoDeployment(ctx);
  const CreatedDeployment& d = *ctx.Deployment();
  if (d.id.empty()) return NoDeployment(ctx);
  return judge(d.id);
}

std::string LogsPath(const std::string& id, const std::string& query) {
  return "/api/deployments/" + contract::PercentEncode(id) + "/logs" + query;
}

// What is wrong with a line (of a page or the stream) that the parser let through.
void LineProblems(const contract::LogLine& l, const std::string& where,
                  std::vector<std::string>& problems) {
  if (l.source != "app" && l.source != "access" && l.source != "platform") {
    problems.push_back(where + ": line " + std::to_string(l.seq) + " has source " +
                       Quoted(l.source) + ", not app, access or platform");
  }
  if (l.text.find('\n') != std::string::npos) {
    problems.push_back(where + ": line " + std::to_string(l.seq) + " holds a newline");
  }
  if (l.text.size() > 2000) {
    problems.push_back(where + ": line " + std::to_string(l.seq) + " is " +
                       std::to_string(l.text.size()) + " bytes, over 2000");
  }
}

// A page answer checked against the contract: problems are added, the page returned when it is
// one.
std::optional<contract::LogPage> CheckPage(const Exchange& ex, std::vector<std::string>& problems) {
  if (ex.answer.status != 200) {
    problems.push_back(Answered(ex) + ", expected 200 with a page of lines");
    return std::nullopt;
  }
  json j = ex.Json();
  for (const char* key : {"cursor", "first"}) {
    if (!IntField(j, key)) {
      problems.push_back(ex.Line() + ": the page has no integer " + Quoted(key) +
                         " (fields: " + FieldNames(j) + ")");
    }
  }
  auto page = contract::ParseLogPage(ex.answer.body);
  if (!page.ok()) {
    problems.push_back(ex.Line() + ": " + page.error().message);
    return std::nullopt;
  }
  const std::string where = ex.Line();
  if (page->first < 1 || page->first > page->cursor + 1) {
    problems.push_back(where + ": first " + std::to_string(page->first) +
                       " is not between 1 and cursor + 1 (cursor " + std::to_string(page->cursor) +
                       ")");
  }
  int64_t previous = 0;
  for (const auto& l : page->lines) {
    if (l.seq <= previous) {
      problems.push_back(where + ": line " + std::to_string(l.seq) + " comes after line " +
                         std::to_string(previous) + ": seqs must rise, oldest first");
    }
    if (l.seq > page->cursor || l.seq < page->first) {
      problems.push_back(where + ": line " + std::to_string(l.seq) + " is outside first " +
                         std::to_string(page->first) + " .. cursor " +
                         std::to_string(page->cursor));
    }
    LineProblems(l, where, problems);
    previous = l.seq;
  }
  return std::move(page).value();
}

std::string SeqRange(const std::vector<contract::LogLine>& lines) {
  if (lines.empty()) return "no lines";
  return std::to_string(lines.size()) + " line" + (lines.size() == 1 ? "" : "s") + " (seq " +
         std::to_string(lines.front().seq) + ".." + std::to_string(lines.back().seq) + ")";
}

CheckResult Unknown(Context& ctx) {
  const Exchange& probe = ctx.LogsProbeAnswer();
  std::vector<Evidence> evidence = {probe.ToEvidence()};
  switch (PresenceOf(probe)) {
    case Presence::kAbsent:
      return Absent(probe);
    case Presence::kUnclear:
      return ExtensionFromProblems({Answered(probe) + ", expected 404 deployment_not_found"},
                                   evidence);
    case Presence::kPresent:
      break;
  }
  // Its stream refuses the same deployment with 404 too.
  const std::string path = "/ws/logs?deploymentId=" + contract::PercentEncode(ctx.NewId());
  WsAttempt a = ctx.OpenWs(ctx.WsUrlOf(path), Auth::kToken);
  evidence.push_back({"WS " + path + " [unknown id]", a.connection ? 101 : a.refused_status,
                      EvidenceBody(a.error), ""});
  std::vector<std::string> problems;
  if (a.connection) {
    a.connection->Close();
    problems.push_back("the /ws/logs upgrade for an unknown deployment was accepted, expected 404");
  } else if (a.refused_status != 404) {
    problems.push_back(
        "the /ws/logs upgrade for an unknown deployment was refused with " +
        (a.refused_status ? std::to_string(a.refused_status) : "no HTTP status (" + a.error + ")") +
        ", expected 404");
  }
  return ExtensionFromProblems(
      problems, evidence,
      "404 deployment_not_found for the logs of an unknown deployment, by page and by stream");
}

CheckResult Pages(Context& ctx) {
  return WithSampleLogs(ctx, [&](const std::string& id) {
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    auto get = [&](const std::string& query, std::string variant) {
      Exchange ex = ctx.Get(LogsPath(id, query), Auth::kToken, std::move(variant));
      evidence.push_back(ex.ToEvidence());
      return ex;
    };
    CheckPage(get("?tail=100", "the newest lines"), problems);
    auto all = CheckPage(get("?after=0&limit=1000", "from the oldest line kept"), problems);
    std::string detail;
    if (all) {
      detail = SeqRange(all->lines) + ", cursor " + std::to_string(all->cursor) + ", first " +
               std::to_string(all->first);
      // On from the cursor: nothing it already gave comes again.
      Exchange on = get("?after=" + std::to_string(all->cursor), "on from the cursor");
      if (auto next = CheckPage(on, problems)) {
        for (const auto& l : next->lines) {
          if (l.seq <= all->cursor) {
            problems.push_back(on.Line() + " repeats line " + std::to_string(l.seq));
            break;
          }
        }
      }
      // after=SEQ&limit=1 gives the line after SEQ, and says there is more.
      if (all->lines.size() >= 2) {
        const auto& a = all->lines[0];
        const auto& b = all->lines[1];
        Exchange one = get("?after=" + std::to_string(a.seq) + "&limit=1", "one line");
        if (auto page = CheckPage(one, problems)) {
          if (page->lines.size() != 1 || page->lines[0].seq != b.seq) {
            problems.push_back(one.Line() + " gave " + SeqRange(page->lines) + ", expected line " +
                               std::to_string(b.seq) + " alone");
          } else if (!page->more) {
            problems.push_back(one.Line() + " says no more, though line " +
                               std::to_string(all->lines.back().seq) + " is there");
          }
        }
      }
    }
    Exchange bad = get("?tail=not-a-number", "tail not a number");
    auto code = StringField(bad.Json(), "error");
    if (bad.answer.status != 400 || code != "invalid_request") {
      problems.push_back(Answered(bad) + (code ? " (error " + Quoted(*code) + ")" : std::string()) +
                         ", expected 400 invalid_request");
    }
    return ExtensionFromProblems(problems, evidence, detail);
  });
}

CheckResult Stream(Context& ctx) {
  return WithSampleLogs(ctx, [&](const std::string& id) {
    const std::string path = "/ws/logs?deploymentId=" + contract::PercentEncode(id) + "&after=0";
    WsAttempt a = ctx.OpenWs(ctx.WsUrlOf(path), Auth::kToken);
    if (!a.connection) {
      return ExtensionFromProblems(
          {"the upgrade was refused with " +
           (a.refused_status ? std::to_string(a.refused_status) : "no HTTP status") + ": " +
           a.error},
          {{"WS " + path, a.refused_status, EvidenceBody(a.error), "upgrade refused"}});
    }
    std::vector<std::string> problems;
    std::vector<Evidence> evidence;
    std::vector<contract::LogLine> lines;
    std::optional<contract::LogStreamMessage> end;
    std::optional<ws::Event> closed;
    int64_t last = 0;  // the seq the stream is at
    size_t count = 0;
    const auto deadline = ctx.clock().Steady() + kReadFor;
    while (count < kMostMessages && !closed) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ctx.clock().Steady());
      if (left.count() <= 0) break;
      ws::Event e = a.connection->Receive(std::min<std::chrono::milliseconds>(left, kQuiet));
      if (e.kind == ws::EventKind::kTimeout) break;
      if (e.kind == ws::EventKind::kClosed) {
        closed = e;
        break;
      }
      ++count;
      const std::string where = "message " + std::to_string(count);
      auto m = contract::ParseLogStreamMessage(e.payload);
      // The first message and any after the end are shown; the end is shown below.
      if (end || (count == 1 && !(m.ok() && m->type == contract::LogStreamMessage::Type::kEnd))) {
        evidence.push_back({"WS " + path, 101, EvidenceBody(e.payload), where});
      }
      if (end) {
        problems.push_back(where + " came after the end");
        continue;
      }
      if (!m.ok()) {
        problems.push_back(where + ": " + m.error().message);
        continue;
      }
      switch (m->type) {
        case contract::LogStreamMessage::Type::kLine:
          if (m->line.seq <= last) {
            problems.push_back(where + ": line " + std::to_string(m->line.seq) +
                               " does not come after " + std::to_string(last));
          }
          LineProblems(m->line, where, problems);
          last = m->line.seq;
          lines.push_back(m->line);
          break;
        case contract::LogStreamMessage::Type::kSkipped:
          if (m->skipped <= 0 || m->next <= last) {
            problems.push_back(where + ": a skipped message with count " +
                               std::to_string(m->skipped) + " and next " + std::to_string(m->next) +
                               " after line " + std::to_string(last));
          }
          last = m->next - 1;
          break;
        case contract::LogStreamMessage::Type::kEnd:
          end = *m;
          evidence.push_back({"WS " + path, 101, EvidenceBody(e.payload), where + ": the end"});
          // After the end the platform closes: wait for that a little.
          closed = a.connection->Receive(kQuiet);
          if (closed->kind == ws::EventKind::kMessage) {
            problems.push_back("a message came after the end");
            closed.reset();
          } else if (closed->kind == ws::EventKind::kTimeout) {
            problems.push_back("the stream stayed open after its end");
            closed.reset();
          }
          break;
      }
    }
    if (!closed) {
      a.connection->Close();
    } else {
      if (!end) {
        problems.push_back("the stream closed (" + std::to_string(closed->close_code) +
                           ") without an end message");
      } else if (closed->close_code != 1000) {
        problems.push_back("the stream closed " + std::to_string(closed->close_code) +
                           " after its end, expected 1000");
      }
    }
    if (lines.empty() && !end && problems.empty()) {
      problems.push_back(
          "sent neither a line nor an end within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kQuiet).count()) +
          " s of the upgrade, though after=0 asks for every line kept");
    }
    std::string detail = SeqRange(lines);
    detail += end ? ", then the end (" + Quoted(end->reason) + ") and a close"
                  : "; still open (the app runs), closed by the suite";
    evidence.insert(evidence.begin(),
                    Evidence{"WS " + path, 101, std::to_string(count) + " messages", detail});
    return ExtensionFromProblems(problems, evidence, detail);
  });
}

}  // namespace

std::vector<Check> LogChecks() {
  return {
      NeedsToken("ext.logs",
                 "Extension: GET /api/deployments/{id}/logs and the /ws/logs upgrade of a "
                 "deployment that does not exist answer 404 deployment_not_found",
                 Unknown),
      Creates("ext.logs_page",
              "Extension: the sample deployment's logs page as the contract says (lines oldest "
              "first within first..cursor, after=cursor repeats nothing, limit cuts with more, "
              "400 invalid_request for a bad tail)",
              Pages),
      Creates("ext.logs_stream",
              "Extension: /ws/logs?deploymentId=&after=0 of the sample deployment upgrades and "
              "sends lines with rising seq, or its end and a close (1000)",
              Stream),
  };
}

}  // namespace bim::conformance
