#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the dependencies, builds, and runs
# every test with CTest. Fails when a test fails or when no test ran.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
# The MCP interop test's client, the official MCP SDK from the npm registry; reinstalled when
# package-lock.json changes. Without it that test is skipped, or fails when CI=true.
interop="$root/tests/mcp-interop"
if command -v npm >/dev/null && \
    [ ! "$interop/node_modules/.package-lock.json" -nt "$interop/package-lock.json" ]; then
  npm ci --prefix "$interop" --no-audit --no-fund ||
    echo "test.sh: npm ci failed; the MCP interop test cannot run" >&2
fi
build="${BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure --no-tests=error --timeout 300 "$@"
