#include "mock-api/runtime_logs.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "mock-api/log_classifier.h"

namespace bim::mock {
namespace {

using contract::LogLevel;
using contract::LogStreamMessage;

// How often a follower whose queue is full is looked at again.
constexpr auto kRoomPoll = std::chrono::milliseconds(20);

}  // namespace

void RuntimeLogs::Add(const std::string& deployment) { entries_.try_emplace(deployment); }

void RuntimeLogs::NoApp(const std::string& deployment, const std::string& reason) {
  auto it = entries_.find(deployment);
  if (it == entries_.end() || it->second.app_started || it->second.ended) return;
  End(it->second, reason);
  PumpAll(deployment, it->second);
}

void RuntimeLogs::OnOutput(AppOutput out, int64_t timestamp) {
  auto it = entries_.find(out.deployment);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  switch (out.kind) {
    case AppOutput::Kind::kStarted:
      e.app_started = true;
      e.book.Append(timestamp, LogLevel::kInfo, "platform", std::move(out.text));
      break;
    case AppOutput::Kind::kLines:
      for (auto& line : out.lines) {
        LineClass c = ClassifyLine(line, e.in_traceback);
        e.in_traceback = c.in_traceback;
        e.book.Append(timestamp, c.level, std::string(c.source), std::move(line));
      }
      break;
    case AppOutput::Kind::kEnded:
      e.in_traceback = false;
      // An app that ended by itself is a failure: a server is meant to run until stopped.
      e.book.Append(timestamp, out.stopped ? LogLevel::kInfo : LogLevel::kError, "platform",
                    std::move(out.text));
      End(e, out.reason);
      break;
  }
  PumpAll(out.deployment, e);
}

contract::LogPage RuntimeLogs::Page(const std::string& deployment, const LogQuery& query) const {
  contract::LogPage page;
  if (auto it = entries_.find(deployment); it != entries_.end()) page = it->second.book.Page(query);
  page.deployment_id = deployment;
  return page;
}

void RuntimeLogs::Follow(const std::shared_ptr<ws::WsSession>& session,
                         const std::string& deployment, std::optional<int64_t> after) {
  auto it = entries_.find(deployment);
  if (it == entries_.end()) {
    session->Close(1008, "unknown deployment");
    return;
  }
  Entry& e = it->second;
  Follower f;
  f.session = session;
  f.next =
      after ? std::min(*after, std::numeric_limits<int64_t>::max() - 1) + 1 : e.book.cursor() + 1;
  followed_[session->id()] = deployment;
  e.followers.push_back(std::move(f));
  PumpAll(deployment, e);
}

void RuntimeLogs::Unfollow(uint64_t session_id) {
  auto it = followed_.find(session_id);
  if (it == followed_.end()) return;
  auto entry = entries_.find(it->second);
  followed_.erase(it);
  if (entry == entries_.end()) return;
  auto& fs = entry->second.followers;
  fs.erase(std::remove_if(fs.begin(), fs.end(),
                          [&](const Follower& f) { return f.session->id() == session_id; }),
           fs.end());
}

void RuntimeLogs::DropAll() {
  for (auto& [id, e] : entries_) {
    for (auto& f : e.followers) f.session->Drop();
  }
}

size_t RuntimeLogs::Streams(const std::string& deployment) const {
  auto it = entries_.find(deployment);
  if (it == entries_.end()) return 0;
  return static_cast<size_t>(std::count_if(it->second.followers.begin(), it->second.followers.end(),
                                           [](const Follower& f) { return f.session->IsOpen(); }));
}

void RuntimeLogs::End(Entry& e, const std::string& reason) {
  if (e.ended) return;
  e.ended = true;
  e.end_reason = reason;
}

void RuntimeLogs::PumpAll(const std::string& deployment, Entry& e) {
  for (auto& f : e.followers) Pump(deployment, e, f);
  e.followers.erase(std::remove_if(e.followers.begin(), e.followers.end(),
                                   [&](const Follower& f) {
                                     bool gone = !f.session->IsOpen();
                                     if (gone) followed_.erase(f.session->id());
                                     return gone;
                                   }),
                    e.followers.end());
}

void RuntimeLogs::Pump(const std::string& deployment, Entry& e, Follower& f) {
  if (f.waiting) return;
  while (f.session->IsOpen()) {
    if (f.session->BufferedBytes() > kMaxQueuedBytes) return WaitForRoom(deployment, f);
    if (f.next < e.book.first()) {
      LogStreamMessage skipped;
      skipped.type = LogStreamMessage::Type::kSkipped;
      skipped.skipped = e.book.first() - f.next;
      skipped.next = e.book.first();
      f.session->Send(contract::ToJson(skipped));
      f.next = e.book.first();
      continue;
    }
    const contract::LogLine* line = e.book.At(f.next);
    if (!line) break;
    f.session->Send(contract::ToJson(*line));
    ++f.next;
  }
  if (e.ended && f.next > e.book.cursor() && f.session->IsOpen()) {
    LogStreamMessage end;
    end.type = LogStreamMessage::Type::kEnd;
    end.reason = e.end_reason;
    f.session->Send(contract::ToJson(end));
    f.session->Close(1000, "the app ended");
  }
}

void RuntimeLogs::WaitForRoom(const std::string& deployment, Follower& f) {
  f.waiting = true;
  server_.RunAfter(kRoomPoll, [this, deployment, id = f.session->id()] {
    auto it = entries_.find(deployment);
    if (it == entries_.end()) return;
    for (auto& follower : it->second.followers) {
      if (follower.session->id() == id) follower.waiting = false;
    }
    PumpAll(deployment, it->second);
  });
}

}  // namespace bim::mock
