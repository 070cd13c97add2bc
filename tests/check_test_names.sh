#!/usr/bin/env bash
# doctest_discover_tests cuts a test name at ';', and a cut name matches no test case, so CTest
# would run nothing under it and report a pass. Fail on any such name, including names that
# clang-format wrapped into several string literals over several lines.
set -euo pipefail
bad="$(find "$(dirname "$0")" -name '*.cc' -print0 | xargs -0 perl -0777 -ne '
  while (/TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)/g) {
    my $name = $1;
    print "$ARGV: $name\n" if $name =~ /;/;
  }' || true)"
if [ -n "$bad" ]; then
  echo "test names with ';' (CTest would run nothing for them):"
  echo "$bad"
  exit 1
fi
echo "check_test_names: no test name contains ';'"
