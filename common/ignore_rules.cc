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

// Matching by recursion with memoization on (pattern index, text index): every state is
// decided once, so a pattern like "*a*a*a*a*b" costs O(|pattern| x |text|), not exponential time.
class Matcher {
 public:
  Matcher(std::string_view p, std::string_view t)
      : p_(p), t_(t), memo_((p.size() + 1) * (t.size() + 1), kUnknown) {}

  bool Run() { return At(0, 0); }

 private:
  static constexpr signed char kUnknown = -1;

  bool At(size_t pi, size_t ti) {
    signed char& m = memo_[pi * (t_.size() + 1) + ti];
    if (m == kUnknown) m = Compute(pi, ti) ? 1 : 0;
    return m == 1;
  }

  bool Compute(size_t pi, size_t ti) {
    if (pi == p_.size()) return ti == t_.size();
    char c = p_[pi];
    if (c == '*') {
      bool double_star = pi + 1 < p_.size() && p_[pi + 1] == '*';
      bool after_slash = pi == 0 || p_[pi - 1] == '/';
      if (double_star && after_slash && (pi + 2 == p_.size() || p_[pi + 2] == '/')) {
        if (pi + 2 == p_.size()) return true;  // trailing "**": everything that is left
        // "**/" matches zero or more whole folders.
        if (At(pi + 3, ti)) return true;
        for (size_t i = ti; i < t_.size(); ++i) {
          if (t_[i] == '/' && At(pi + 3, i + 1)) return true;
        }
        return false;
      }
      size_t next = pi;
      while (next < p_.size() && p_[next] == '*') ++next;
      for (size_t i = ti; i <= t_.size(); ++i) {
        if (At(next, i)) return true;
        if (i < t_.size() && t_[i] == '/') return false;  // a single star stops at '/'
      }
      return false;
    }
    if (ti == t_.size()) return false;
    char tc = t_[ti];
    if (c == '?') return tc != '/' && At(pi + 1, ti + 1);
    if (c == '[') {
      size_t consumed = 0;
      bool matched = false;
      if (MatchClass(p_.substr(pi + 1), tc, consumed, matched)) {
        return tc != '/' && matched && At(pi + 1 + consumed, ti + 1);
      }
      return tc == '[' && At(pi + 1, ti + 1);  // a malformed class is a literal '['
    }
    if (c == '\\' && pi + 1 < p_.size()) return tc == p_[pi + 1] && At(pi + 2, ti + 1);
    return c == tc && At(pi + 1, ti + 1);
  }

  std::string_view p_;
  std::string_view t_;
  std::vector<signed char> memo_;
};

std::string_view BaseName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return Matcher(pattern, text).Run();
}

void IgnoreRules::Add(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#' || line.size() > kMaxRuleBytes) continue;
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
