#pragma once
// LogBook: one deployment's runtime logs (docs/API_CONTRACTS.md §6.2) as the embedded platform
// keeps them: lines numbered 1, 2, 3... (a seq is never reused), the newest kMaxLines of them,
// each cut to kMaxTextBytes. It answers the pages of GET /api/deployments/{id}/logs, and hands a
// follower of /ws/logs the line with a given seq.
//
// Also here: the query of that endpoint, read and checked (ParseLogQuery).
//
// Threading: none of its own; its owner (RuntimeLogs) uses it from one thread.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "common/contract.h"
#include "common/result.h"

namespace bim::mock {

// ?tail=N[&since=MS][&level=L] or ?after=SEQ[&limit=N][&since=MS][&level=L].
struct LogQuery {
  std::optional<int64_t> after;  // set: lines after this seq, oldest first, at most limit
  int64_t count = 100;           // tail (default 100) or, with after, limit (default 500)
  std::optional<int64_t> since;  // Unix ms: only lines read at or after it
  contract::LogLevel level = contract::LogLevel::kDebug;  // only lines at this level or above
};

// The most a page may ask for (tail, limit); more is refused rather than cut, so a client
// learns the bound instead of silently getting less than it asked for.
inline constexpr int64_t kMaxLogPageLines = 1000;

// Reads the query of GET /api/deployments/{id}/logs; kInvalidArgument, saying which parameter
// and what it takes, for a value outside the contract (not a non-negative integer, tail or limit
// over kMaxLogPageLines, an unknown level, tail and after together, limit without after).
// Parameters it does not know are ignored.
Result<LogQuery> ParseLogQuery(const std::map<std::string, std::string>& query);

class LogBook {
 public:
  static constexpr size_t kMaxLines = 10000;
  static constexpr size_t kMaxTextBytes = 2000;

  explicit LogBook(size_t max_lines = kMaxLines) : max_lines_(max_lines) {}

  // Adds a line with the next seq. Text longer than kMaxTextBytes is cut (at a UTF-8 character
  // boundary); bytes that are not UTF-8 become '?'. The oldest line goes when the book is full.
  const contract::LogLine& Append(int64_t timestamp, contract::LogLevel level, std::string source,
                                  std::string text);

  // The seq of the newest line (0: none yet), and of the oldest kept (cursor() + 1: none).
  int64_t cursor() const { return next_seq_ - 1; }
  int64_t first() const { return lines_.empty() ? next_seq_ : lines_.front().seq; }

  // The line with this seq, or null when it is not kept (gone, or not printed yet).
  const contract::LogLine* At(int64_t seq) const;

  // A page for query; its deploymentId is left to the caller.
  contract::LogPage Page(const LogQuery& query) const;

 private:
  size_t max_lines_;
  int64_t next_seq_ = 1;
  std::deque<contract::LogLine> lines_;  // seqs first() .. cursor(), in order
};

}  // namespace bim::mock
