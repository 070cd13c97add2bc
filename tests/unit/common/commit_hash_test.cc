// Expected values were computed independently with Python's hashlib over the same bytes.
#include "common/commit_hash.h"

#include <doctest/doctest.h>

using bim::CommitHash;
using bim::Sha256Hex;

TEST_CASE("sha256 of the empty string matches the published vector") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("commit hash hashes path then content for each file in byte-wise path order") {
  bim::contract::FileMap files{{"main.py", "print(1)\n"},
                               {"app/models.py", "x = 1\n"},
                               {"README", "hi"},
                               {"B.txt", "b"}};
  CHECK(CommitHash(files) == "9d103497b20c");
}

TEST_CASE("commit hash orders non-ASCII paths by their bytes, not as signed chars") {
  // 'é' is 0xC3 0xA9 in UTF-8: above '~' (0x7E) byte-wise, below it if char were signed.
  bim::contract::FileMap files{{"z\xC3\xA9.py", "1"}, {"z~.py", "2"}};
  CHECK(CommitHash(files) == "ecfb18e912a4");  // "67c77a3f417d" in the wrong order
}

TEST_CASE("commit hash is 12 lower-case hex digits and changes with any byte") {
  bim::contract::FileMap a{{"main.py", "x"}};
  bim::contract::FileMap b{{"main.py", "y"}};
  CHECK(CommitHash(a).size() == 12);
  CHECK(CommitHash(a).find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(CommitHash(a) != CommitHash(b));
}
