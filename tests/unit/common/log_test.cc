// log::Redact: what stands after a credential's name never reaches a log line.
#include "common/log.h"

#include <doctest/doctest.h>

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
