// log::Redact: what stands after a credential's name never reaches a log line; log::Write:
// every record is one line with nothing in it that can drive a terminal.
#include "common/log.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using bim::log::Redact;

TEST_CASE("Redact hides bearer tokens, JSON and form credentials, in any case") {
  CHECK(Redact("Authorization: Bearer abc.DEF-123_~+/=") == "Authorization: Bearer [redacted]");
  CHECK(Redact("authorization: bearer\txyz") == "authorization: bearer\t[redacted]");
  CHECK(Redact(R"({"access_token":"eyJ.a.b","token_type":"Bearer"})") ==
        R"({"access_token":"[redacted]","token_type":"Bearer"})");
  CHECK(Redact("grant_type=refresh_token&refresh_token=r-1.2&client_id=cli") ==
        "grant_type=refresh_token&refresh_token=[redacted]&client_id=cli");
  CHECK(Redact("DEVICE_CODE: dc_42 and Refresh_Token = q") ==
        "DEVICE_CODE: [redacted] and Refresh_Token = [redacted]");
  CHECK(Redact("a Bearer t1, then access_token=t2") ==
        "a Bearer [redacted], then access_token=[redacted]");
}

TEST_CASE("Redact leaves text without a credential value alone") {
  for (const char* s : {"", "deployment d-1 is building", "Bearer", "Bearer ", "access_token",
                        "access_token=", "bearers of news", "access_token: \"\""}) {
    CHECK(Redact(s) == s);
  }
  // A name followed by separators and a value is redacted even mid-sentence; that errs on the
  // safe side.
  CHECK(Redact("no refresh_token stored") == "no refresh_token [redacted]");
}

namespace {

// What log::Write puts on stderr for one message.
std::string WrittenLine(std::string_view message) {
  std::FILE* tmp = std::tmpfile();
  REQUIRE(tmp != nullptr);
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  bim::log::Write(bim::log::Level::kError, message);
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::rewind(tmp);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

}  // namespace

TEST_CASE("Write makes one line of every record and escapes what could drive a terminal") {
  std::string line = WrittenLine(
      "skipped \"\x1b]0;owned\x07\x1b[2J\rfake\nerror forged record\xc2\x9b\xff\" Bearer t0k");
  REQUIRE(!line.empty());
  CHECK(line.find('\n') == line.size() - 1);
  for (char c : line.substr(0, line.size() - 1)) {
    CHECK(static_cast<unsigned char>(c) >= 0x20);
    CHECK(c != 0x7f);
  }
  CHECK(line.find("\\x1b]0;owned\\x07\\x1b[2J\\rfake\\nerror forged record\\u009b\\xff") !=
        std::string::npos);
  CHECK(line.find("Bearer [redacted]") != std::string::npos);
  CHECK(line.find("t0k") == std::string::npos);
}
