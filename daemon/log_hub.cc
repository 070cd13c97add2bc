#include "daemon/log_hub.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/backoff.h"
#include "common/limits.h"
#include "common/log.h"

namespace bim::daemon {

namespace {

// The longest line the contract allows; a platform's longer one is cut, so the ring's memory has
// a bound.
constexpr size_t kMaxLineBytes = 2000;
// Earlier lines are read in pages of this many.
constexpr int64_t kHistoryPage = 500;

LogItem Skipped(int64_t count) {
  LogItem item;
  item.kind = LogItem::Kind::kSkipped;
  item.skipped = count;
  return item;
}

// The errors after which opening the stream again cannot help.
bool Final(const Error& e) {
  return e.code == ErrorCode::kRejected || e.code == ErrorCode::kNotFound ||
         e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kPermissionDenied;
}

}  // namespace

bool LogFilter::Matches(const contract::LogLine& line) const {
  if (level && line.level < *level) return false;
  if (since && line.timestamp < *since) return false;
  return grep.empty() || line.text.find(grep) != std::string::npos;
}

struct LogHub::Channel {
  explicit Channel(std::string deployment_id, int64_t after)
      : id(std::move(deployment_id)), from(after), floor(after), newest(after) {}
  const std::string id;
  // All guarded by the hub's mu_.
  const int64_t from;  // the upstream began after this seq; earlier lines come from pages
  std::deque<Entry> ring;
  int64_t floor;   // every seq up to this one is gone from the ring (or was never in it)
  int64_t newest;  // the newest seq taken in
  bool ended = false;
  std::string end_reason;
  std::optional<Error> failed;  // the upstream cannot be had
  std::string notice;
  size_t followers = 0;
  bool closing = false;
  LogStream* stream = nullptr;  // the one the thread reads, if any
  StopSignal stop;              // ends the thread's backoff waits
  std::thread thread;
  bool done = false;  // the thread has returned
};

struct LogFollower::State {
  std::shared_ptr<LogHub::Channel> channel;
  // All guarded by the hub's mu_.
  int64_t cursor = 0;
  LogFilter filter;
  std::deque<LogItem> pending;  // given before the ring: the first items, earlier pages
  std::string notice_sent;
  bool cancelled = false;
  bool fetching = false;  // a page of earlier lines is being read (without the lock)
};

LogHub::LogHub(LogHubDeps deps) : deps_(deps) {}

LogHub::~LogHub() { Shutdown(); }

std::unique_ptr<LogFollower> LogHub::Follow(const std::string& deployment_id, int64_t after,
                                            LogFilter filter, std::vector<LogItem> first) {
  JoinRetired(false);
  auto state = std::make_shared<LogFollower::State>();
  state->cursor = std::max<int64_t>(after, 0);
  state->filter = std::move(filter);
  for (auto& item : first) state->pending.push_back(std::move(item));
  {
    std::lock_guard lock(mu_);
    auto& ch = channels_[deployment_id];
    if (!ch) {
      ch = std::make_shared<Channel>(deployment_id, state->cursor);
      if (shut_down_) {
        ch->closing = true;
      } else {
        // Started under the lock, so Leave and Shutdown see it; it waits for the lock first.
        ch->thread = std::thread([this, c = ch] {
          Run(c);
          std::lock_guard done_lock(mu_);
          c->done = true;
        });
      }
    }
    ++ch->followers;
    ++followers_;
    state->channel = ch;
    if (shut_down_) channels_.erase(deployment_id);
  }
  return std::unique_ptr<LogFollower>(new LogFollower(*this, std::move(state)));
}

void LogHub::Leave(const std::shared_ptr<Channel>& ch) {
  std::lock_guard lock(mu_);
  --followers_;
  if (--ch->followers > 0) return;
  ch->closing = true;
  ch->stop.Stop();
  if (ch->stream) ch->stream->Close();
  auto it = channels_.find(ch->id);
  if (it != channels_.end() && it->second == ch) channels_.erase(it);
  if (ch->thread.joinable()) retired_.push_back(ch);
  changed_.notify_all();
}

void LogHub::JoinRetired(bool all) {
  std::vector<std::shared_ptr<Channel>> joining;
  {
    std::lock_guard lock(mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (all || (*it)->done) {
        joining.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& ch : joining) ch->thread.join();
}

void LogHub::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    for (auto& [id, ch] : channels_) {
      ch->closing = true;
      ch->stop.Stop();
      if (ch->stream) ch->stream->Close();
      if (ch->thread.joinable()) retired_.push_back(ch);
    }
    channels_.clear();
    changed_.notify_all();
  }
  JoinRetired(true);
}

size_t LogHub::Upstreams() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto& [id, ch] : channels_) n += ch->stream != nullptr;
  return n;
}

size_t LogHub::Followers() {
  std::lock_guard lock(mu_);
  return followers_;
}

int64_t LogHub::NewestSeqForTest(const std::string& deployment_id) {
  std::lock_guard lock(mu_);
  auto it = channels_.find(deployment_id);
  return it == channels_.end() ? 0 : it->second->newest;
}

void LogHub::SetNoticeLocked(Channel& ch, const std::string& notice) {
  if (ch.notice == notice) return;
  ch.notice = notice;
  if (notice.empty()) {
    log::Info("deployment {}: app log stream restored", ch.id);
  } else {
    log::Warn("deployment {}: {}", ch.id, notice);
  }
  changed_.notify_all();
}

void LogHub::TakeLocked(Channel& ch, contract::LogStreamMessage m) {
  using Type = contract::LogStreamMessage::Type;
  Entry e;
  switch (m.type) {
    case Type::kEnd:
      ch.ended = true;
      ch.end_reason = std::move(m.reason);
      changed_.notify_all();
      return;
    case Type::kSkipped: {
      int64_t last = m.next - 1;
      if (m.skipped <= 0 || last <= ch.newest) return;  // nothing missed past what we have
      e.is_line = false;
      e.first = std::max(m.next - m.skipped, ch.newest + 1);
      e.last = last;
      break;
    }
    case Type::kLine:
      // A replay after a reconnect: what was taken in already.
      if (m.line.seq <= ch.newest) return;
      m.line.text.resize(limits::Utf8CutPoint(m.line.text, kMaxLineBytes));
      e.first = e.last = m.line.seq;
      e.line = std::move(m.line);
      break;
  }
  ch.newest = e.last;
  ch.ring.push_back(std::move(e));
  while (ch.ring.size() > deps_.ring_lines) {
    ch.floor = ch.ring.front().last;
    ch.ring.pop_front();
  }
  changed_.notify_all();
}

void LogHub::Run(const std::shared_ptr<Channel>& ch) {
  Backoff backoff(std::chrono::milliseconds(500), deps_.max_backoff, deps_.random, 1.7);
  for (;;) {
    int64_t after;
    {
      std::lock_guard lock(mu_);
      if (ch->closing || ch->ended) return;
      after = ch->newest;
    }
    auto opened = deps_.auth.Call<std::unique_ptr<LogStream>>([&](const std::string& token) {
      return deps_.platform.OpenLogStream(token, ch->id, after, deps_.keepalive);
    });
    if (!opened.ok()) {
      std::lock_guard lock(mu_);
      if (Final(opened.error())) {
        ch->failed = opened.error();
        changed_.notify_all();
        return;
      }
      SetNoticeLocked(
          *ch, "cannot open the platform's log stream (" + opened.error().message + "); retrying");
    } else {
      std::unique_ptr<LogStream> stream = std::move(*opened);
      {
        std::lock_guard lock(mu_);
        ch->stream = stream.get();
        if (ch->closing) stream->Close();  // a Leave that came before the stream was set
      }
      std::string why;
      uint64_t junk = 0;
      for (;;) {
        LogStreamItem item = stream->Next(std::chrono::minutes(1));
        if (item.kind == LogStreamItem::Kind::kTimeout) continue;
        if (item.kind == LogStreamItem::Kind::kClosed) {
          why = item.detail;
          break;
        }
        if (item.kind == LogStreamItem::Kind::kSkipped) {
          if (junk++ == 0) {
            log::Warn("deployment {}: skipped a log frame outside the contract: {}", ch->id,
                      item.detail);
          }
          continue;
        }
        std::lock_guard lock(mu_);
        SetNoticeLocked(*ch, "");
        backoff.Reset();
        TakeLocked(*ch, std::move(item.message));
        if (ch->ended) break;
      }
      if (junk > 1) {
        log::Warn("deployment {}: skipped {} log frames outside the contract", ch->id, junk);
      }
      std::lock_guard lock(mu_);
      ch->stream = nullptr;
      if (ch->closing || ch->ended) return;
      SetNoticeLocked(*ch, fmt::format("the platform's log stream ended ({}); reconnecting after "
                                       "line {}",
                                       why, ch->newest));
    }
    if (!deps_.clock.SleepFor(ch->stop, backoff.Next())) return;
  }
}

LogFollower::LogFollower(LogHub& hub, std::shared_ptr<State> state)
    : hub_(hub), state_(std::move(state)) {}

LogFollower::~LogFollower() { hub_.Leave(state_->channel); }

void LogFollower::Cancel() {
  std::lock_guard lock(hub_.mu_);
  state_->cancelled = true;
  hub_.changed_.notify_all();
}

int64_t LogFollower::cursor() {
  std::lock_guard lock(hub_.mu_);
  return state_->cursor;
}

Result<LogItem> LogFollower::Next() {
  for (;;) {
    auto item = Take(true);
    if (!item.ok()) return item.error();
    if (*item) return std::move(**item);
  }
}

Result<std::optional<LogItem>> LogFollower::TryNext() { return Take(false); }

Result<std::optional<LogItem>> LogFollower::Take(bool wait) {
  State& s = *state_;
  LogHub::Channel& ch = *s.channel;
  std::unique_lock lock(hub_.mu_);
  for (;;) {
    if (s.cancelled) return Error(ErrorCode::kCancelled, "cancelled");
    if (!s.pending.empty()) {
      LogItem item = std::move(s.pending.front());
      s.pending.pop_front();
      if (item.kind == LogItem::Kind::kLine && !s.filter.Matches(item.line)) continue;
      return std::optional<LogItem>(std::move(item));
    }
    if (hub_.shut_down_) return Error(ErrorCode::kUnavailable, "the agent is stopping");
    if (ch.notice != s.notice_sent) {
      s.notice_sent = ch.notice;
      LogItem item;
      item.kind = LogItem::Kind::kNotice;
      item.text = ch.notice;
      return std::optional<LogItem>(std::move(item));
    }
    if (ch.failed) return *ch.failed;
    if (s.cursor < ch.from) {
      // Lines from before the upstream began: the platform's pages, read without the lock.
      int64_t after = s.cursor;
      int64_t until = ch.from;
      LogQuery q;
      q.after = after;
      q.limit = std::min(kHistoryPage, until - after);
      q.since = s.filter.since;
      q.level = s.filter.level;
      lock.unlock();
      auto page = hub_.deps_.auth.Call<contract::LogPage>(
          [&](const std::string& token) { return hub_.deps_.platform.Logs(token, ch.id, q); });
      lock.lock();
      if (!page.ok()) {
        if (Final(page.error())) return page.error();
        LogItem note;
        note.kind = LogItem::Kind::kNotice;
        note.text = "cannot read the earlier lines (" + page.error().message + ")";
        s.pending.push_back(std::move(note));
        s.pending.push_back(Skipped(until - after));
        s.cursor = until;
        continue;
      }
      if (page->first > after + 1) {
        int64_t gone_until = std::min(page->first - 1, until);
        s.pending.push_back(Skipped(gone_until - after));
        s.cursor = gone_until;
      }
      bool cut = false;
      for (auto& l : page->lines) {
        if (l.seq <= s.cursor) continue;
        if (l.seq > until) {
          cut = true;
          break;
        }
        l.text.resize(limits::Utf8CutPoint(l.text, kMaxLineBytes));
        s.cursor = l.seq;
        LogItem item;
        item.line = std::move(l);
        s.pending.push_back(std::move(item));
      }
      if (cut || !page->more || page->lines.empty()) s.cursor = until;
      continue;
    }
    if (s.cursor < ch.floor) {
      // Fell behind the ring: what went out of it is not queued for anyone.
      int64_t missed = ch.floor - s.cursor;
      s.cursor = ch.floor;
      return std::optional<LogItem>(Skipped(missed));
    }
    auto it = std::upper_bound(ch.ring.begin(), ch.ring.end(), s.cursor,
                               [](int64_t c, const LogHub::Entry& e) { return c < e.last; });
    if (it != ch.ring.end()) {
      if (it->first > s.cursor + 1) {
        int64_t missed = it->first - s.cursor - 1;
        s.cursor = it->first - 1;
        return std::optional<LogItem>(Skipped(missed));
      }
      if (!it->is_line) {
        int64_t missed = it->last - s.cursor;
        s.cursor = it->last;
        return std::optional<LogItem>(Skipped(missed));
      }
      s.cursor = it->last;
      if (!s.filter.Matches(it->line)) continue;
      LogItem item;
      item.line = it->line;
      return std::optional<LogItem>(std::move(item));
    }
    if (ch.ended) {
      LogItem item;
      item.kind = LogItem::Kind::kEnd;
      item.text = ch.end_reason;
      return std::optional<LogItem>(std::move(item));
    }
    if (!wait) return std::optional<LogItem>();
    hub_.changed_.wait(lock);
  }
}

}  // namespace bim::daemon
