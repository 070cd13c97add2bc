#!/usr/bin/env bash
# doctest_discover_tests cuts a test name at ';', and a cut name matches no test case, so CTest
# would run nothing under it and report a pass. Fail on any such name.
set -euo pipefail
bad="$(grep -rn --include='*.cc' 'TEST_CASE("[^"]*;' "$(dirname "$0")" || true)"
if [ -n "$bad" ]; then
  echo "test names with ';' (CTest would run nothing for them):"
  echo "$bad"
  exit 1
fi
echo "check_test_names: no test name contains ';'"
