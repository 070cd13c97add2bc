#!/usr/bin/env bash
# Builds everything with sanitizers (default address,undefined; or e.g. `thread`) into
# build-<name>/ and runs the test suite. Every process the tests start (mock, agent, ctl)
# is instrumented and writes any report to a log folder; a report fails the run even when the
# process that wrote it (a detached agent, say) had nobody to check its exit code.
# Extra arguments go to ctest. ASan+UBSan run every test. TSan runs every test but those
# labelled grpc (they run gRPC, the agent and ctl or the service in process, whose hand-offs
# happen inside Debian's uninstrumented libgrpc, invisible to TSan and so reported as races); the
# agent's concurrency is covered under TSan by the in-process tests labelled concurrency. CI runs
# both. docs/SECURITY.md says more.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sanitizers="${1:-address,undefined}"
shift || true
name="$(echo "$sanitizers" | tr ',' '-')"
build="$root/build-$name"
"$root/scripts/install-deps.sh"
# -Og -g1, not RelWithDebInfo's -O2 -g: instrumented websocketpp and gRPC code is so large that
# -O2 -g spent 221 s on ws_client.cc alone and pushed the build past 35 minutes on 2 cores;
# -Og -g1 took 62 s on that file and still gives reports with function names and lines.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Og -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-Og -g1 -DNDEBUG" \
  -DBACKEND_IM_SANITIZE="$sanitizers" > /dev/null
start=$SECONDS
cmake --build "$build" --parallel "$(nproc)"
echo "sanitize: build took $((SECONDS - start)) s"

reports="$(mktemp -d /tmp/backend-im-sanitizer.XXXXXX)"
export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan:ignore_noninstrumented_modules=1:suppressions=$root/tests/sanitizer/tsan.supp"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizer/lsan.supp:print_suppressions=0"
cd "$build"
status=0
args=("$@")
if [ ${#args[@]} -eq 0 ] && [ "$sanitizers" = thread ]; then args=(-LE grpc); fi
start=$SECONDS
ctest --output-on-failure --no-tests=error --timeout 600 "${args[@]}" || status=$?
echo "sanitize: tests took $((SECONDS - start)) s"
if compgen -G "$reports/*" > /dev/null; then
  echo "sanitize: reports were written:"
  for f in "$reports"/*; do echo "---- $f"; head -60 "$f"; done
  status=1
fi
rm -rf "$reports"
[ $status -eq 0 ] && echo "sanitize ($sanitizers): every test passed and no process reported anything"
exit $status
