// The matcher against git's own `git check-ignore`, on the same patterns and paths.
#include "common/ignore_rules.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <set>
#include <sstream>
#include <vector>

#include "tests/support/harness.h"

using bim::IgnoreRules;
using namespace bim::test;

namespace {

struct Corpus {
  const char* name;
  const char* gitignore;
};

// Paths created in each repository; a trailing '/' makes a folder.
const std::vector<std::string> kPaths = {
    "main.py",
    "app/",
    "app/models.py",
    "app/cache/",
    "app/cache/x.bin",
    "build/",
    "build/out.txt",
    "docs/",
    "docs/build/",
    "docs/build/index.html",
    "docs/notes.md",
    "a/",
    "a/b/",
    "a/b/c/",
    "a/b/c/deep.log",
    "a/x.log",
    "top.log",
    "logs/",
    "logs/keep.log",
    "logs/drop.log",
    ".env",
    ".env.example",
    "secret.pem",
    "notes/",
    "notes/todo.txt",
    "foo/",
    "foo/bar/",
    "foo/bar/baz.txt",
    "x/",
    "x/foo/",
    "x/foo/bar/",
    "x/foo/bar/baz.txt",
    "abc1.txt",
    "abcz.txt",
    "file[1].txt",
    "#hash.txt",
    "!bang.txt",
    "space .txt",
    "node_modules/",
    "node_modules/m/",
    "node_modules/m/i.js",
    "data.json",
    "deep/",
    "deep/er/",
    "deep/er/data.json",
};

const Corpus kCorpora[] = {
    {"globs", "*.log\n!logs/keep.log\n*.bin\n"},
    {"folders", "build/\ncache/\nnode_modules/\n"},
    {"anchored", "/build\n/docs/build/\nnotes/todo.txt\n"},
    {"double-star", "**/bar\na/**/deep.log\ndocs/**\n!docs/notes.md\n"},
    {"leading-double-star", "**/data.json\n**/foo/bar/baz.txt\n"},
    {"trailing-double-star", "a/**\n"},
    {"classes", "abc[0-9].txt\nfile\\[1\\].txt\n[!m]ain.py\n"},
    {"escapes", "\\#hash.txt\n\\!bang.txt\nspace\\ .txt\n# a comment\n\n"},
    {"negation-order", "*.txt\n!notes/todo.txt\nnotes/\n"},
    {"secrets", ".env*\n!.env.example\n*.pem\n"},
    {"question-mark", "ab?1.txt\n?ain.py\nlogs/d*\n"},
    {"dir-only-vs-file", "main.py/\nlogs\n"},
};

std::set<std::string> GitIgnored(const TempDir& repo, const std::vector<std::string>& paths) {
  std::string list;
  for (const auto& p : paths) list += p + "\n";
  WriteFile(repo / "paths.txt", list);
  auto r = Run({"/bin/sh", "-c",
                "cd '" + repo.path() + "' && git check-ignore --no-index --stdin < paths.txt"});
  std::set<std::string> out;
  std::stringstream ss(r.out);
  for (std::string line; std::getline(ss, line);) out.insert(line);
  return out;
}

}  // namespace

TEST_CASE("the ignore matcher agrees with git check-ignore on every corpus") {
  for (const auto& corpus : kCorpora) {
    TempDir repo;
    REQUIRE(Run({"git", "-C", repo.path(), "init", "-q"}).exit_code == 0);
    WriteFile(repo / ".gitignore", corpus.gitignore);
    std::vector<std::string> queried;
    for (const auto& p : kPaths) {
      if (p.back() == '/') {
        ::mkdir((repo / p).c_str(), 0755);
        queried.push_back(p.substr(0, p.size() - 1));
      } else {
        WriteFile(repo / p, "x");
        queried.push_back(p);
      }
    }
    auto git = GitIgnored(repo, queried);
    IgnoreRules rules;
    rules.Add(corpus.gitignore);
    for (size_t i = 0; i < kPaths.size(); ++i) {
      bool is_dir = kPaths[i].back() == '/';
      bool ours = rules.IsIgnored(queried[i], is_dir);
      CHECK_MESSAGE(ours == (git.count(queried[i]) > 0),
                    (std::string(corpus.name) + ": " + queried[i] +
                     " git=" + (git.count(queried[i]) ? "ignored" : "kept")));
    }
  }
}

TEST_CASE("glob basics") {
  // Each pattern with the paths it matches, then the paths it does not.
  struct Case {
    const char* pattern;
    std::vector<const char*> matched;
    std::vector<const char*> missed;
  };
  const Case cases[] = {
      {"*.py", {"main.py"}, {"app/main.py"}},
      {"**/main.py", {"app/x/main.py", "main.py"}, {}},
      {"a/**/b", {"a/b", "a/x/y/b"}, {}},
      {"a/**", {}, {"a"}},
      {"[a-c]?", {"bz"}, {}},
      {"[!a-c]?", {}, {"bz"}},
      {"[[:digit:]]x", {"7x"}, {}},
      {"[", {"["}, {"x"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.pattern);
    for (const char* path : c.matched) CHECK_MESSAGE(bim::GlobMatch(c.pattern, path), path);
    for (const char* path : c.missed) CHECK_FALSE_MESSAGE(bim::GlobMatch(c.pattern, path), path);
  }
}

TEST_CASE("patterns that make naive backtracking exponential are decided quickly") {
  // With plain backtracking this takes longer than the test's timeout; memoized it is instant.
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "*a";
  pattern += "*b";
  CHECK_FALSE(bim::GlobMatch(pattern, std::string(1000, 'a')));
  std::string deep;
  for (int i = 0; i < 30; ++i) deep += "**/x/";
  CHECK_FALSE(bim::GlobMatch(deep + "y", std::string(500, 'x')));
}
