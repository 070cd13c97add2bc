#!/usr/bin/env bash
# Checks a backend-imd user unit with systemd-analyze: `verify` and `security --offline=yes`.
# verify exits 0 on unknown keys and bad values and only prints warnings, so any output on stderr
# fails the check. Pass --man=no while the man pages are not installed.
#   check-unit.sh UNIT_FILE [--man=no]
set -euo pipefail
unit="$1"
man_flag="${2:-}"
command -v systemd-analyze >/dev/null || { echo "check-unit: systemd-analyze not found" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -m 700 "$work/run"
export XDG_RUNTIME_DIR="$work/run"  # the user manager's lookups need one
# Point ExecStart at a program that exists here, so verify checks the unit and not the install.
agent="$(command -v backend-imd || true)"
[ -n "${BACKEND_IMD:-}" ] && agent="$BACKEND_IMD"
sed "s|^ExecStart=.*|ExecStart=${agent:-/bin/true}|" "$unit" > "$work/backend-imd.service"

systemd-analyze verify --user $man_flag "$work/backend-imd.service" 2> "$work/verify.err" || {
  cat "$work/verify.err" >&2; echo "check-unit: verify failed" >&2; exit 1; }
if [ -s "$work/verify.err" ]; then
  cat "$work/verify.err" >&2; echo "check-unit: verify printed warnings" >&2; exit 1
fi
systemd-analyze security --user --offline=yes --no-pager "$work/backend-imd.service" \
  > "$work/security.out" 2> "$work/security.err" || true
# security also looks up Documentation= man pages; with --man=no those lookups are expected to fail.
if [ -n "$man_flag" ]; then
  grep -v "Command 'man " "$work/security.err" > "$work/security.rest" || true
else
  cp "$work/security.err" "$work/security.rest"
fi
if [ -s "$work/security.rest" ]; then
  cat "$work/security.rest" >&2; echo "check-unit: security printed errors" >&2; exit 1
fi
level="$(grep -o 'Overall exposure level for backend-imd.service: [0-9.]* [A-Z]*' "$work/security.out")"
echo "check-unit: verify clean; $level"
score="$(echo "$level" | awk '{print $(NF-1)}')"
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || { echo "check-unit: exposure $score is above 2.5" >&2; exit 1; }
