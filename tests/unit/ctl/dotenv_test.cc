// Dotenv text (ctl/dotenv.h): what `env pull` writes reads back the same, as python-dotenv reads
// it (the expected lines below were read back with python-dotenv 1.2), and what `env import`
// takes; and the terminal input of `env set` (ctl/terminal_input.h) on a pseudo-terminal.
#include "ctl/dotenv.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <future>

#include "ctl/terminal_input.h"

using namespace bim;
using bim::ctl::DotenvEntry;

namespace {

std::string Line(const std::string& key, const std::string& value) {
  auto line = ctl::DotenvLine(key, value);
  REQUIRE(line.ok());
  return *line;
}

std::vector<DotenvEntry> Parsed(const std::string& text) {
  auto entries = ctl::ParseDotenv(text);
  REQUIRE_MESSAGE(entries.ok(), entries.error().message);
  return *entries;
}

std::string ParseError(const std::string& text) {
  auto entries = ctl::ParseDotenv(text);
  REQUIRE_FALSE(entries.ok());
  return entries.error().message;
}

}  // namespace

TEST_CASE("dotenv: each value is quoted the way python-dotenv reads it back") {
  CHECK(Line("A", "plain value") == "A='plain value'\n");
  CHECK(Line("B", "it's") == "B=\"it's\"\n");
  CHECK(Line("C", "line1\nline2") == "C=\"line1\\nline2\"\n");
  CHECK(Line("D", "say \"hi\" \\o/") == "D=\"say \\\"hi\\\" \\\\o/\"\n");
  CHECK(Line("E", "cr\rlf") == "E=\"cr\\rlf\"\n");
  CHECK(Line("F", "tab\tx #not a comment") == "F='tab\tx #not a comment'\n");
  // python-dotenv cannot read a quoted value that ends with a backslash; bare it can.
  CHECK(Line("G", "C:\\dir\\") == "G=C:\\dir\\\n");
  auto unwritable = ctl::DotenvLine("H", "two\nlines\\");
  REQUIRE_FALSE(unwritable.ok());
  CHECK(unwritable.error().message.find("the value of H") != std::string::npos);
  CHECK(unwritable.error().message.find("lines") == std::string::npos);
}

TEST_CASE("dotenv: what pull writes, import reads back exactly") {
  const std::vector<DotenvEntry> values = {{"PLAIN", "postgres://u:p@h/db"},
                                           {"QUOTE", "it's \"quoted\""},
                                           {"LINES", "-----BEGIN-----\nabc\r\n-----END-----\n"},
                                           {"BACKSLASH", "a\\nb\\"},
                                           {"HASH", "x #y"},
                                           {"UNICODE", "grüße ☃"},
                                           {"DOLLAR", "${HOME}"}};
  std::string text;
  for (const auto& v : values) text += Line(v.key, v.value);
  auto back = Parsed(text);
  REQUIRE(back.size() == values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    CAPTURE(values[i].key);
    CHECK(back[i].key == values[i].key);
    CHECK(back[i].value == values[i].value);
  }
  CHECK(ctl::HasExpansion("${HOME}"));
  CHECK_FALSE(ctl::HasExpansion("$HOME"));
}

TEST_CASE("dotenv: import reads comments, export, quotes, bare values and line breaks in quotes") {
  auto e = Parsed(
      "# a comment\n"
      "\n"
      "export A=1\n"
      "  B = 'two words'  # trailing comment\n"
      "C=bare value # comment\n"
      "D=\"multi\n"
      "line\"\n"
      "E='a\\'b'\r\n"
      "F=\"tab\\there\"\n"
      "A=last wins\n");
  REQUIRE(e.size() == 6);
  CHECK(e[0].key == "A");
  CHECK(e[0].value == "last wins");
  CHECK(e[1].value == "two words");
  CHECK(e[2].value == "bare value");
  CHECK(e[3].value == "multi\nline");
  CHECK(e[4].value == "a'b");
  CHECK(e[5].value == "tab\there");
}

TEST_CASE("dotenv: a bad line is named by its number, never shown") {
  CHECK(ParseError("A=1\nsecret-value-without-key\n") ==
        "line 2: not KEY=VALUE with a variable name (a letter or '_', then letters, digits and "
        "'_', at most 128)");
  CHECK(ParseError("A=1\n\nB\n") == "line 3: B has no '=' and value");
  CHECK(ParseError("A=\"open\nB=2\n") ==
        "line 1: the quote that opens the value of A is never closed");
  CHECK(ParseError("A='x' trailing-secret\n") ==
        "line 1: text after the closing quote of the value of A");
  CHECK(ParseError("A=1\nEMPTY=\n") ==
        "line 2: EMPTY has an empty value; leave the line out (env unset removes a variable)");
  CHECK(ParseError("9LIVES=1\n").rfind("line 1: not KEY=VALUE", 0) == 0);
}

TEST_CASE("terminal input: a value typed on a terminal is read without echo") {
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  auto value =
      std::async(std::launch::async, [slave] { return ctl::ReadSecret(slave, "Value: ", 100); });
  // The prompt shows once echo is off; what is typed after it must not come back.
  std::string shown;
  char buf[256];
  while (shown.find("Value: ") == std::string::npos) {
    pollfd p{master, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10000) == 1);
    ssize_t n = ::read(master, buf, sizeof buf);
    REQUIRE(n > 0);
    shown.append(buf, static_cast<size_t>(n));
  }
  REQUIRE(::write(master, "s3cr3t-typed\n", 13) == 13);
  auto got = value.get();
  REQUIRE(got.ok());
  CHECK(*got == "s3cr3t-typed");
  ::fcntl(master, F_SETFL, O_NONBLOCK);
  for (ssize_t n; (n = ::read(master, buf, sizeof buf)) > 0;)
    shown.append(buf, static_cast<size_t>(n));
  CHECK(shown.find("s3cr3t") == std::string::npos);
  CHECK(ctl::IsTerminal(slave));
  ::close(master);
  ::close(slave);
}
