#!/usr/bin/env bash
# Builds and runs the benchmarks of docs/PERFORMANCE.md from a clean checkout, prints a table
# and writes JSON (bench/results/latest.json unless --json PATH is given).
#
#   scripts/bench.sh [--quick] [--json PATH] [--only ctl|upload|history|fanout|idle ...]
#
# BUILD_DIR (default build-bench) is the build folder. The machines are shared: before it
# measures, it waits (up to BENCH_LOAD_WAIT seconds, default 300) for the 1-minute load average
# to fall below BENCH_MAX_LOAD (default 2.5), then runs anyway and the report shows the load.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
max_load="${BENCH_MAX_LOAD:-2.5}"
load_wait="${BENCH_LOAD_WAIT:-300}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBACKEND_IM_BUILD_TESTS=ON -DBACKEND_IM_BUILD_BENCH=ON >/dev/null
ninja -C "$build" backend-im-bench

args=("$@")
has_json=0
for a in "$@"; do [[ "$a" == "--json" || "$a" == --json=* ]] && has_json=1; done
if [[ $has_json == 0 ]]; then args+=(--json "$root/bench/results/latest.json"); fi

waited=0
while :; do
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l < m) }'; then break; fi
  if (( waited >= load_wait )); then
    echo "bench.sh: load average still $load after ${waited}s; measuring anyway" >&2
    break
  fi
  echo "bench.sh: load average $load >= $max_load; waiting" >&2
  sleep 15
  waited=$((waited + 15))
done

exec "$build/bin/backend-im-bench" "${args[@]}"
