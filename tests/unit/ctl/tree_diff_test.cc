// The pure diff of two trees (ctl/tree_diff.h), checked against what `diff -u` writes.
#include "ctl/tree_diff.h"

#include <doctest/doctest.h>

using namespace bim;
using namespace bim::ctl;

TEST_CASE("a changed line gives diff -u's hunk, with three lines of context") {
  std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  std::string b = "1\n2\n3\n4\nX\n6\n7\n8\n9\n10\n";
  // What GNU diff -u prints for the same two files.
  CHECK(UnifiedHunks(a, b) == "@@ -2,8 +2,9 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n 9\n+10\n");
  CHECK(UnifiedHunks(a, a).empty());
}

TEST_CASE("an empty side and a missing last line break are written as diff -u writes them") {
  CHECK(UnifiedHunks("", "a\nb\n") == "@@ -0,0 +1,2 @@\n+a\n+b\n");
  CHECK(UnifiedHunks("a\n", "") == "@@ -1 +0,0 @@\n-a\n");
  CHECK(UnifiedHunks("a\n", "a") == "@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
}

TEST_CASE("two trees: added, removed and changed files in path order, same files left out") {
  contract::FileMap from{{"main.py", "print(1)\n"}, {"old.py", "x\n"}, {"same.txt", "s\n"}};
  contract::FileMap to{{"main.py", "print(2)\n"}, {"new.py", "y\n"}, {"same.txt", "s\n"}};
  TreeDiff d = DiffTrees(from, to, "dep-1", "dep-2");
  REQUIRE(d.changes.size() == 3);
  CHECK_FALSE(d.same());
  CHECK(d.changes[0].path == "main.py");
  CHECK(d.changes[0].kind == FileChange::Kind::kChanged);
  CHECK(d.changes[0].unified ==
        "--- dep-1/main.py\n+++ dep-2/main.py\n@@ -1 +1 @@\n-print(1)\n+print(2)\n");
  CHECK(d.changes[1].path == "new.py");
  CHECK(d.changes[1].kind == FileChange::Kind::kAdded);
  CHECK(d.changes[1].unified == "--- /dev/null\n+++ dep-2/new.py\n@@ -0,0 +1 @@\n+y\n");
  CHECK(d.changes[2].path == "old.py");
  CHECK(d.changes[2].kind == FileChange::Kind::kRemoved);
  CHECK(std::string(ChangeName(d.changes[2].kind)) == "removed");
  CHECK(d.Unified() == d.changes[0].unified + d.changes[1].unified + d.changes[2].unified);
  CHECK(DiffTrees(from, from, "a", "b").same());
}

TEST_CASE("binary files only say that they differ") {
  contract::FileMap from{{"logo.png", std::string("\x89PNG\0\x01", 6)}};
  contract::FileMap to{{"logo.png", std::string("\x89PNG\0\x02", 6)}};
  TreeDiff d = DiffTrees(from, to, "dep-1", "folder");
  REQUIRE(d.changes.size() == 1);
  CHECK(d.changes[0].binary);
  CHECK(d.changes[0].unified == "Binary files dep-1/logo.png and folder/logo.png differ\n");
  CHECK(LooksBinary(std::string("\xff\xfe", 2)));
  CHECK_FALSE(LooksBinary("héllo\n"));
}
