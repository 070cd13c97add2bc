#include "ctl/dotenv.h"

#include <fmt/format.h>

#include <map>

#include "common/contract.h"

namespace bim::ctl {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A bare value, as python-dotenv reads one: up to the first blank followed by '#', trailing
// blanks dropped.
std::string BareValue(std::string_view part) {
  for (size_t i = 1; i < part.size(); ++i) {
    if (part[i] != '#' || !IsBlank(part[i - 1])) continue;
    part = part.substr(0, i - 1);
    break;
  }
  while (!part.empty() && (IsBlank(part.back()) || part.back() == '\v' || part.back() == '\f')) {
    part.remove_suffix(1);
  }
  return std::string(part);
}

// Whether value, written bare, reads back as it is.
bool BareReadsBack(std::string_view value) {
  if (value.empty() || value.find_first_of("\r\n") != std::string_view::npos) return false;
  if (value.front() == '\'' || value.front() == '"' || IsBlank(value.front())) return false;
  return BareValue(value) == value;
}

// What an escape in a double-quoted value stands for; 0 when it is none.
char DoubleQuoteEscape(char c) {
  switch (c) {
    case '\\':
    case '\'':
    case '"':
      return c;
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    default:
      return 0;
  }
}

}  // namespace

Result<std::string> DotenvLine(std::string_view key, std::string_view value) {
  std::string line = std::string(key) + "=";
  if (value.find_first_of("'\\\r\n") == std::string_view::npos) {
    line += "'" + std::string(value) + "'\n";
    return line;
  }
  // python-dotenv cannot read a quoted value that ends in a backslash: its escaped form runs
  // into the closing quote.
  if (value.back() != '\\') {
    line += '"';
    for (char c : value) {
      switch (c) {
        case '\\':
          line += "\\\\";
          break;
        case '"':
          line += "\\\"";
          break;
        case '\n':
          line += "\\n";
          break;
        case '\r':
          line += "\\r";
          break;
        default:
          line += c;
      }
    }
    line += "\"\n";
    return line;
  }
  if (BareReadsBack(value)) return line + std::string(value) + "\n";
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("the value of {} ends with a backslash and holds a line break, a quote "
                           "first or blanks at an end: dotenv cannot write it so that it reads "
                           "back the same",
                           key));
}

bool HasExpansion(std::string_view value) { return value.find("${") != std::string_view::npos; }

Result<std::vector<DotenvEntry>> ParseDotenv(std::string_view input) {
  // Line ends as Python's universal newlines read them: \r\n and \r are \n.
  std::string text;
  text.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] != '\r') {
      text += input[i];
    } else {
      text += '\n';
      if (i + 1 < input.size() && input[i + 1] == '\n') ++i;
    }
  }
  std::vector<DotenvEntry> entries;
  std::map<std::string, size_t> at;  // key -> its place in entries
  const size_t n = text.size();
  size_t pos = 0;
  int line = 1;
  auto bad = [](int where, const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("line {}: {}", where, why));
  };
  auto skip_blanks = [&] {
    while (pos < n && IsBlank(text[pos])) ++pos;
  };
  auto skip_comment = [&] {
    if (pos < n && text[pos] == '#') pos = std::min(text.find('\n', pos), n);
  };
  while (pos < n) {
    const int first_line = line;
    skip_blanks();
    skip_comment();
    if (pos >= n) break;
    if (text[pos] == '\n') {
      ++pos;
      ++line;
      continue;
    }
    if (text.compare(pos, 6, "export") == 0 && pos + 6 < n && IsBlank(text[pos + 6])) {
      pos += 6;
      skip_blanks();
    }
    const size_t key_start = pos;
    while (pos < n && text[pos] != '=' && text[pos] != '\n' && text[pos] != '#' &&
           !IsBlank(text[pos])) {
      ++pos;
    }
    // A key that is not a name is not shown: the line may be a value that lost its key.
    const std::string key = text.substr(key_start, pos - key_start);
    if (!contract::ValidateVariableKey(key).ok()) {
      return bad(first_line,
                 "not KEY=VALUE with a variable name (a letter or '_', then letters, digits and "
                 "'_', at most 128)");
    }
    skip_blanks();
    if (pos >= n || text[pos] != '=') return bad(first_line, key + " has no '=' and value");
    ++pos;
    skip_blanks();
    std::string value;
    if (pos < n && (text[pos] == '\'' || text[pos] == '"')) {
      const char quote = text[pos++];
      bool closed = false;
      while (pos < n) {
        const char c = text[pos];
        if (c == quote) {
          ++pos;
          closed = true;
          break;
        }
        if (c == '\\' && pos + 1 < n) {
          const char next = text[pos + 1];
          const char escaped =
              quote == '\'' ? (next == '\\' || next == '\'' ? next : 0) : DoubleQuoteEscape(next);
          if (escaped) {
            value += escaped;
            pos += 2;
            continue;
          }
        }
        if (c == '\n') ++line;
        value += c;
        ++pos;
      }
      if (!closed)
        return bad(first_line, "the quote that opens the value of " + key + " is never closed");
      skip_blanks();
      skip_comment();
      if (pos < n && text[pos] != '\n') {
        return bad(line, "text after the closing quote of the value of " + key);
      }
    } else {
      const size_t end = std::min(text.find('\n', pos), n);
      value = BareValue(std::string_view(text).substr(pos, end - pos));
      pos = end;
    }
    if (value.empty()) {
      return bad(first_line, key +
                                 " has an empty value; leave the line out (env unset removes a "
                                 "variable)");
    }
    if (auto [it, added] = at.emplace(key, entries.size()); added) {
      entries.push_back({key, std::move(value)});
    } else {
      entries[it->second].value = std::move(value);
    }
    if (pos < n) {  // the line's end
      ++pos;
      ++line;
    }
  }
  return entries;
}

}  // namespace bim::ctl
