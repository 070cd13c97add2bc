#include "common/path_policy.h"

#include <doctest/doctest.h>

#include <string>

using bim::CheckRelativePath;

TEST_CASE("unsafe relative paths are refused, each with a reason") {
  struct Case {
    std::string path;
    const char* why;
  };
  const Case cases[] = {
      {"../x", "\"..\""},
      {"/abs", "absolute"},
      {"a/../../b", "\"..\""},
      {"a\\b", "backslash"},
      {std::string("a\0b", 3), "NUL"},
      {"", "empty"},
      {std::string(4097, 'a'), "longer"},
      {"a//b", "empty segment"},
      {"./a", "\".\""},
      {"a/", "empty segment"},
      {"a\nb", "control"},
      {"\xff.py", "UTF-8"},
      {".git/hooks/pre-commit", ".git"},
      {"sub/.GIT/config", ".GIT"},
      {".backend-im/project.json", ".backend-im"},
      {std::string(256, 'x') + "/y", "segment longer"},
  };
  for (const auto& c : cases) {
    auto s = CheckRelativePath(c.path);
    REQUIRE_FALSE_MESSAGE(s.ok(), c.path.substr(0, 40));
    CHECK_MESSAGE(s.error().message.find(c.why) != std::string::npos, s.error().message);
  }
}

TEST_CASE("ordinary project paths pass") {
  for (const char* p : {"main.py", "app/models.py", "app/routers/user.py", ".gitignore",
                        "docs/r\xC3\xA9sum\xC3\xA9.md", "a..b", "..a", "x.git"}) {
    CHECK_MESSAGE(CheckRelativePath(p).ok(), p);
  }
}

TEST_CASE("UTF-8 validation rejects overlongs, surrogates and truncation") {
  CHECK(bim::IsValidUtf8("plain"));
  CHECK(bim::IsValidUtf8("\xE2\x82\xAC"));
  CHECK(bim::IsValidUtf8("\xF0\x9F\x98\x80"));
  CHECK_FALSE(bim::IsValidUtf8("\xC0\xAF"));
  CHECK_FALSE(bim::IsValidUtf8("\xED\xA0\x80"));
  CHECK_FALSE(bim::IsValidUtf8("\xE2\x82"));
  CHECK_FALSE(bim::IsValidUtf8("\xF4\x90\x80\x80"));
}
