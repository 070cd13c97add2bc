#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (into build-fuzz/) and runs each for FUZZ_SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/. Fails on any crash, leak or timeout.
# New inputs go to a scratch copy of the corpus; the repository's corpus is not changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
"$root/scripts/install-deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBACKEND_IM_FUZZ=ON -DBACKEND_IM_BUILD_TESTS=OFF
fi
cmake --build "$build" --target fuzzers --parallel "$(nproc)"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
status=0
for target in fuzz_path_policy fuzz_ignore_rules fuzz_stage_message fuzz_responses fuzz_config \
              fuzz_terminal_text; do
  mkdir -p "$scratch/$target"
  cp "$root/tests/fuzz/corpus/$target/"* "$scratch/$target/"
  echo "== $target for ${seconds}s"
  if "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$scratch/$target-" "$scratch/$target" \
       > "$scratch/$target.log" 2>&1; then
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$target.log" | tail -2
  else
    status=1
    tail -40 "$scratch/$target.log"
    echo "fuzz: $target FAILED (artifacts above)"
  fi
done
[ $status -eq 0 ] && echo "fuzz: all targets ran ${seconds}s without a crash, leak or timeout"
exit $status
