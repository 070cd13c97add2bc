#include "common/ignore_rules.h"

#include <cctype>
#include <cstring>

namespace bim {
namespace {

// Matches a bracket expression at p (just after '['); sets `consumed` to its length including
// the closing ']'. Returns false when the class is malformed (then '[' is taken literally).
bool MatchClass(std::string_view p, char c, size_t& consumed, bool& matched) {
  size_t i = 0;
  bool negate = false;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (i < p.size()) {
    char ch = p[i];
    if (ch == ']' && !first) {
      consumed = i + 1;
      matched = hit != negate;
      return true;
    }
    first = false;
    if (ch == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      size_t end = p.find(":]", i + 2);
      if (end != std::string_view::npos) {
        std::string name(p.substr(i + 2, end - i - 2));
        auto u = static_cast<unsigned char>(c);
        bool in = (name == "alnum" && std::isalnum(u)) || (name == "alpha" && std::isalpha(u)) ||
                  (name == "blank" && (c == ' ' || c == '\t')) ||
                  (name == "cntrl" && std::iscntrl(u)) || (name == "digit" && std::isdigit(u)) ||
                  (name == "graph" && std::isgraph(u)) || (name == "lower" && std::islower(u)) ||
                  (name == "print" && std::isprint(u)) || (name == "punct" && std::ispunct(u)) ||
                  (name == "space" && std::isspace(u)) || (name == "upper" && std::isupper(u)) ||
                  (name == "xdigit" && std::isxdigit(u));
        hit = hit || in;
        i = end + 2;
        continue;
      }
    }
    if (ch == '\\' && i + 1 < p.size()) {
      ++i;
      ch = p[i];
    }
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      char hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) hi = p[i + 3];
      auto uc = static_cast<unsigned char>(c);
      if (uc >= static_cast<unsigned char>(ch) && uc <= static_cast<unsigned char>(hi)) hit = true;
      i += (p[i + 2] == '\\') ? 4 : 3;
      continue;
    }
    if (c == ch) hit = true;
    ++i;
  }
  return false;
}

bool Match(std::string_view p, std::string_view t, bool at_start) {
  while (!p.empty()) {
    char c = p[0];
    if (c == '*') {
      bool double_star = p.size() >= 2 && p[1] == '*';
      bool delimited_before = at_start;
      if (double_star && delimited_before && (p.size() == 2 || p[2] == '/')) {
        if (p.size() == 2) return true;  // trailing "**": everything that is left
        std::string_view rest = p.substr(3);
        // "**/" matches zero or more whole folders.
        if (Match(rest, t, true)) return true;
        for (size_t i = 0; i < t.size(); ++i) {
          if (t[i] == '/' && Match(rest, t.substr(i + 1), true)) return true;
        }
        return false;
      }
      while (!p.empty() && p[0] == '*') p.remove_prefix(1);
      if (p.empty()) return t.find('/') == std::string_view::npos;
      for (size_t i = 0; i <= t.size(); ++i) {
        if (Match(p, t.substr(i), false)) return true;
        if (i < t.size() && t[i] == '/') return false;
      }
      return false;
    }
    if (t.empty()) return false;
    if (c == '?') {
      if (t[0] == '/') return false;
    } else if (c == '[') {
      size_t consumed = 0;
      bool matched = false;
      if (t[0] != '/' && MatchClass(p.substr(1), t[0], consumed, matched)) {
        if (!matched) return false;
        p.remove_prefix(consumed + 1);
        at_start = false;
        t.remove_prefix(1);
        continue;
      }
      if (t[0] == '/' ) return false;
      if (t[0] != '[') return false;
    } else if (c == '\\' && p.size() >= 2) {
      if (t[0] != p[1]) return false;
      p.remove_prefix(1);
    } else if (c != t[0]) {
      return false;
    }
    at_start = (t[0] == '/');
    p.remove_prefix(1);
    t.remove_prefix(1);
  }
  return t.empty();
}

std::string_view BaseName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) { return Match(pattern, text, true); }

void IgnoreRules::Add(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    // Trailing spaces go unless escaped with a backslash.
    while (!line.empty() && line.back() == ' ') {
      size_t bs = 0;
      for (size_t i = line.size() - 1; i > 0 && line[i - 1] == '\\'; --i) ++bs;
      if (bs % 2 == 1) break;
      line.pop_back();
    }
    if (line.empty()) continue;
    Rule r;
    if (line[0] == '!') {
      r.negate = true;
      line.erase(0, 1);
    } else if (line.size() >= 2 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    r.anchored = line.find('/') != std::string::npos;
    if (line[0] == '/') line.erase(0, 1);
    if (line.empty()) continue;
    r.pattern = std::move(line);
    rules_.push_back(std::move(r));
  }
}

int IgnoreRules::Decide(std::string_view path, bool is_dir) const {
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    bool hit = it->anchored ? GlobMatch(it->pattern, path) : GlobMatch(it->pattern, BaseName(path));
    if (hit) return it->negate ? -1 : 1;
  }
  return 0;
}

bool IgnoreRules::IsIgnored(std::string_view path, bool is_dir) const {
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '/' && Decide(path.substr(0, i), true) > 0) return true;
  }
  return Decide(path, is_dir) > 0;
}

}  // namespace bim
