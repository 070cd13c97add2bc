#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian 12 machine: installs the dependencies, builds, starts
# the mock platform (backend-im-mock) on a free local port, and runs the real flow through the
# agent and the ctl: device-flow login, generate, deploy --watch, URL. The mock runs what is
# deployed (--run-apps: Debian's Python and uvicorn, loopback only), so the demo ends by calling
# the deployed API with curl. It builds only the three programs it runs; the test command builds
# the rest.
# Everything lives in a temporary HOME that is removed at the end; nothing of yours is touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
BUILD_TARGETS="backend-im backend-imd backend-im-mock" "$root/scripts/build.sh"
bin="${BUILD_DIR:-$root/build}/bin"

demo_home="$(mktemp -d /tmp/backend-im-demo.XXXXXX)"
mkdir -m 700 "$demo_home/run"
export HOME="$demo_home" XDG_RUNTIME_DIR="$demo_home/run" XDG_STATE_HOME="$demo_home/state" \
       XDG_CONFIG_HOME="$demo_home/config"
unset BACKEND_IM_TOKEN BACKEND_IM_SOCKET BACKEND_IM_NO_AUTOSTART

cleanup() {
  "$bin/backend-im" daemon stop >/dev/null 2>&1 || true
  [ -n "${mock_pid:-}" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
  rm -rf "$demo_home"
}
trap cleanup EXIT

# The mock approves a device login on its second poll, as if you clicked "Approve".
"$bin/backend-im-mock" --port 0 --port-file "$demo_home/port" --stage-delay-ms 700 \
  --auto-approve-after 2 --device-interval 1 --run-apps --apps-dir "$demo_home/apps" \
  2>"$demo_home/mock.log" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$demo_home/port" ] && break; sleep 0.05; done
export BACKEND_IM_API_URL="http://127.0.0.1:$(cat "$demo_home/port")"
echo "== mock platform at $BACKEND_IM_API_URL"

cd "$demo_home"
echo "== backend-im auth login"
"$bin/backend-im" auth login
echo "== backend-im generate \"REST API for users and orders\" -o shop-api"
"$bin/backend-im" generate "REST API for users and orders" -o shop-api
echo "== (editing shop-api/main.py locally)"
printf '\n# edited locally before deploying\n' >> shop-api/main.py
echo "== backend-im deploy --watch"
cd shop-api
"$bin/backend-im" deploy --watch
echo "== backend-im history"
"$bin/backend-im" history
url="$("$bin/backend-im" history --json | jq -r '.[0].url')"
echo "== curl -X POST $url/users/ (create a user)"
curl -sS --fail-with-body -X POST "$url/users/" -H 'Content-Type: application/json' \
  -d '{"name": "Ada Lovelace", "email": "ada@example.com"}'
echo
echo "== curl $url/users/ (list them)"
curl -sS --fail-with-body "$url/users/"
echo
