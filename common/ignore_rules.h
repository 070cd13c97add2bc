#pragma once
// gitignore-syntax rules for what `deploy` leaves out (.backendimignore in the project root).
//
// Semantics follow git's documentation of gitignore, and tests check them against
// `git check-ignore` on a corpus: blank lines and `#` comments are skipped; `\#`, `\!` and `\ `
// escape; trailing unescaped spaces are dropped; `!` re-includes; a trailing `/` matches folders
// only; a pattern with a `/` at its start or middle is anchored at the root, otherwise it
// matches a name at any depth; `*`, `?` and `[...]` never match `/`; `**/`, `/**` and `/**/`
// span folders. The last rule that matches decides; nothing below an excluded folder can be
// re-included (git does not look inside it, and neither does deploy).
//
// Pure string matching, no I/O. Immutable after construction, so safe to share across threads.

#include <string>
#include <string_view>
#include <vector>

namespace bim {

class IgnoreRules {
 public:
  // Longer lines are skipped: no real pattern is this long, and matching costs
  // O(pattern x path).
  static constexpr size_t kMaxRuleBytes = 4096;

  // Adds the rules in text (one per line), after those already added.
  void Add(std::string_view text);

  // The decision for path itself (no parents): +1 excluded, -1 re-included, 0 no rule matched.
  int Decide(std::string_view path, bool is_dir) const;
  // Whether path is excluded, by its own rules or an excluded parent folder.
  bool IsIgnored(std::string_view path, bool is_dir) const;

  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string pattern;  // without the leading '!', leading '/' and trailing '/'
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the whole path, not just the last name
  };
  std::vector<Rule> rules_;
};

// gitignore's glob match with path semantics: * ? [..] stop at '/', ** spans folders.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace bim
