// log::Redact: what stands after a credential's name never reaches a log line; log::Write:
// every record is one line with nothing in it that can drive a terminal, a record repeated is
// counted, not written again, and a log file of ours rotates at its size.
#include "common/log.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

namespace {

// Points stderr at a file for the life of the object; the file's path is path().
class StderrToFile {
 public:
  StderrToFile() {
    char tmpl[] = "/tmp/bim-log-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/agent.log";
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrToFile() {
    bim::log::RotateStderrFile(path_, 0);  // rotation off again, while stderr is still the file
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::remove(path_.c_str());
    std::remove((path_ + ".1").c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  int saved_ = -1;
};

std::string Contents(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

long Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

}  // namespace

TEST_CASE("the same record again and again is written once, then counted in one line") {
  StderrToFile err;
  for (int i = 0; i < 1000; ++i) bim::log::Write(bim::log::Level::kWarn, "the same warning");
  bim::log::Write(bim::log::Level::kWarn, "something else");
  std::string text = Contents(err.path());
  CHECK(Lines(text) == 3);
  CHECK(text.find("the same warning") != std::string::npos);
  CHECK(text.find("(the previous message came 999 more times)") != std::string::npos);
  CHECK(text.find("something else") != std::string::npos);
  // Another level is another record.
  bim::log::Write(bim::log::Level::kError, "something else");
  CHECK(Lines(Contents(err.path())) == 4);
}

TEST_CASE("stderr that is the log file rotates at its size: the two files stay under twice it") {
  StderrToFile err;
  REQUIRE(bim::log::RotateStderrFile(err.path(), 4096));
  for (int i = 0; i < 500; ++i) {
    bim::log::Write(bim::log::Level::kInfo, "record " + std::to_string(i) + std::string(60, '.'));
  }
  std::string now = Contents(err.path());
  std::string before = Contents(err.path() + ".1");
  CHECK(now.size() <= 4096);
  CHECK(before.size() <= 4096);
  CHECK(!before.empty());
  // The newest record is in the current file, whole; the file rotated out ends with whole lines.
  CHECK(now.find("record 499") != std::string::npos);
  CHECK(before.back() == '\n');
  struct stat st {};
  REQUIRE(::stat(err.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE(
    "rotation is refused when stderr is not the file named, and a full file rotates at once") {
  StderrToFile err;
  CHECK_FALSE(bim::log::RotateStderrFile(err.path() + ".other", 4096));
  std::string big(10000, 'x');
  REQUIRE(::write(STDERR_FILENO, big.data(), big.size()) == static_cast<ssize_t>(big.size()));
  REQUIRE(bim::log::RotateStderrFile(err.path(), 4096));
  CHECK(Contents(err.path()).empty());
  CHECK(Contents(err.path() + ".1").size() == big.size());
}
