#include "mock-api/log_book.h"

#include <algorithm>
#include <charconv>

#include "common/limits.h"

namespace bim::mock {
namespace {

using contract::LogLevel;

// The length of the valid UTF-8 sequence at s[i], or 0 when there is none.
size_t Utf8Length(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xC2 && c <= 0xDF   ? 2
             : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  unsigned char second = byte(i + 1);
  if ((c == 0xE0 && second < 0xA0) || (c == 0xED && second > 0x9F) ||
      (c == 0xF0 && second < 0x90) || (c == 0xF4 && second > 0x8F)) {
    return 0;
  }
  return n;
}

std::string ValidUtf8(std::string text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Length(text, i);
    if (n == 0) {
      text[i++] = '?';
    } else {
      i += n;
    }
  }
  return text;
}

Result<int64_t> NonNegative(const std::map<std::string, std::string>& query, const char* name,
                            const char* what) {
  const std::string& s = query.at(name);
  int64_t v = -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(name) + " must be a non-negative integer (" + what + ")");
  }
  return v;
}

bool Matches(const contract::LogLine& line, const LogQuery& q) {
  return line.level >= q.level && (!q.since || line.timestamp >= *q.since);
}

}  // namespace

Result<LogQuery> ParseLogQuery(const std::map<std::string, std::string>& query) {
  LogQuery q;
  auto has = [&](const char* name) { return query.count(name) > 0; };
  if (has("tail") && has("after")) {
    return Error(ErrorCode::kInvalidArgument,
                 "tail and after do not go together: tail=N for the newest lines, after=SEQ "
                 "(with limit=N) to read on from a cursor");
  }
  if (has("limit") && !has("after")) {
    return Error(ErrorCode::kInvalidArgument,
                 "limit goes with after=SEQ; for the newest lines use tail=N");
  }
  if (has("after")) {
    auto after = NonNegative(query, "after", "a seq; 0 reads from the oldest line kept");
    if (!after.ok()) return after.error();
    q.after = *after;
    q.count = 500;
  }
  for (const char* name : {"tail", "limit"}) {
    if (!has(name)) continue;
    auto n = NonNegative(query, name, "a number of lines, at most 1000");
    if (!n.ok()) return n.error();
    if (*n > kMaxLogPageLines) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string(name) + " is at most 1000 lines: page on with after=cursor");
    }
    q.count = *n;
  }
  if (has("since")) {
    auto since = NonNegative(query, "since", "Unix time in milliseconds");
    if (!since.ok()) return since.error();
    q.since = *since;
  }
  if (has("level")) {
    auto level = contract::ParseLogLevel(query.at("level"));
    if (!level) {
      return Error(ErrorCode::kInvalidArgument,
                   "level must be one of debug, info, warning, error (the lowest level shown)");
    }
    q.level = *level;
  }
  return q;
}

const contract::LogLine& LogBook::Append(int64_t timestamp, LogLevel level, std::string source,
                                         std::string text) {
  text = ValidUtf8(std::move(text));
  text.resize(limits::Utf8CutPoint(text, kMaxTextBytes));
  if (lines_.size() >= max_lines_) lines_.pop_front();
  lines_.push_back(
      contract::LogLine{next_seq_++, timestamp, level, std::move(source), std::move(text)});
  return lines_.back();
}

const contract::LogLine* LogBook::At(int64_t seq) const {
  if (lines_.empty() || seq < first() || seq > cursor()) return nullptr;
  return &lines_[static_cast<size_t>(seq - first())];
}

contract::LogPage LogBook::Page(const LogQuery& q) const {
  contract::LogPage page;
  page.cursor = cursor();
  page.first = first();
  const auto count = static_cast<size_t>(q.count);
  if (!q.after) {
    for (auto it = lines_.rbegin(); it != lines_.rend() && page.lines.size() < count; ++it) {
      if (Matches(*it, q)) page.lines.push_back(*it);
    }
    std::reverse(page.lines.begin(), page.lines.end());
    return page;
  }
  size_t from = *q.after < first() ? 0 : static_cast<size_t>(*q.after - first() + 1);
  for (size_t i = from; i < lines_.size(); ++i) {
    if (!Matches(lines_[i], q)) continue;
    if (page.lines.size() == count) {
      page.more = true;
      break;
    }
    page.lines.push_back(lines_[i]);
  }
  return page;
}

}  // namespace bim::mock
