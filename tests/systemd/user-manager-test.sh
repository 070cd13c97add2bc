#!/usr/bin/env bash
# Runs the installed user unit, verbatim, under a real `systemd --user` manager and drives the
# ctl through it: start (Type=notify), login + generate + deploy --watch against the mock, the
# modes of the agent's files, kill -9 and the restart, the unit started beside an auto-started
# agent, and a clean stop. CI has no systemd as PID 1, so the script builds what logind would:
# a throw-away user, a delegated cgroup, and a private mount namespace whose /run looks like a
# booted host's. Uses the installed programs (/usr/bin, /usr/lib/systemd/user); package-test.sh
# calls it right after `dpkg -i`. Needs root: without it, skips (fails under CI=true).
# Prints `systemd-user: ok|FAIL - ...` per check, then `N passed, M failed`; exits 1 on a failure.
set -euo pipefail
tag=systemd-user
unit=/usr/lib/systemd/user/backend-imd.service
manager_bin=/usr/lib/systemd/systemd

if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = true ]; then echo "$tag: FAIL - needs root (CI=true)"; exit 1; fi
  echo "$tag: skipped - needs root (it creates a user, a mount namespace and cgroups)"
  exit 0
fi
for f in "$manager_bin" "$unit" /usr/bin/backend-im /usr/bin/backend-imd /usr/bin/backend-im-mock; do
  [ -e "$f" ] || { echo "$tag: FAIL - $f is not installed"; exit 1; }
done
for c in jq setpriv unshare nsenter useradd userdel mountpoint timeout; do
  command -v "$c" > /dev/null || { echo "$tag: FAIL - needs $c"; exit 1; }
done

# The manager needs a cgroup of its own, delegated to the user, in each hierarchy systemd uses:
# cgroup2 alone (unified), or cgroup2 plus name=systemd v1 (hybrid, as on the CI machines).
hierarchies=()
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  hierarchies=(/sys/fs/cgroup)
  layout=unified
else
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    mountpoint -q "$h" && hierarchies+=("$h")
  done
  layout="hybrid/legacy: ${hierarchies[*]:-none}"
fi
[ ${#hierarchies[@]} -gt 0 ] || { echo "$tag: FAIL - no cgroup2 or name=systemd hierarchy"; exit 1; }

user="bimsd$$"
uid=""
manager_pid=""
mock_pid=""
created_cgroups=()
work="$(mktemp -d /tmp/backend-im-sd.XXXXXX)"

# Everything this script started runs as the throw-away user, so "that user's processes" is
# exactly what to end; each is killed by its pid.
# user_procs: "PID NAME" of each live process whose real or effective uid is the user's. Zombies
# are dead already (PID 1 reaps them). Read from /proc: CI images may not have procps.
user_procs() {
  local d key v1 v2 name state
  for d in /proc/[0-9]*; do
    name="" state=""
    while IFS=$'\t' read -r key v1 v2 _; do
      case "$key" in
        Name:) name="$v1" ;;
        State:) state="$v1" ;;
        Uid:)
          [ "$v1" = "$uid" ] || [ "$v2" = "$uid" ] || break
          case "$state" in Z* | X*) ;; *) echo "${d#/proc/} $name" ;; esac
          break
          ;;
      esac
    done 2> /dev/null < "$d/status" || continue
  done
}
user_pids() { user_procs | while read -r pid _; do echo "$pid"; done; }
cleanup() {
  local rc=$? pids i
  trap - EXIT INT TERM
  set +e
  if [ -n "$manager_pid" ] && kill -0 "$manager_pid" 2> /dev/null; then
    kill -TERM "$manager_pid"  # the manager stops its units (SIGTERM to the agent), then exits
    for i in $(seq 100); do kill -0 "$manager_pid" 2> /dev/null || break; sleep 0.1; done
  fi
  [ -n "$mock_pid" ] && { kill -KILL "$mock_pid"; wait "$mock_pid"; } 2> /dev/null
  if [ -n "$uid" ]; then
    for i in $(seq 50); do
      pids="$(user_pids)"
      [ -z "$pids" ] && break
      # shellcheck disable=SC2086
      kill -KILL $pids 2> /dev/null
      sleep 0.1
    done
    [ -z "$(user_pids)" ] || { echo "$tag: processes of $user left behind:"; user_procs; rc=1; }
  fi
  { wait; } 2> /dev/null  # reap, quietly: bash reports killed jobs when it reaps them
  # Deepest first: the manager made app.slice, init.scope and one cgroup per unit below ours.
  for ((i = ${#created_cgroups[@]} - 1; i >= 0; i--)); do
    [ -d "${created_cgroups[$i]}" ] && find "${created_cgroups[$i]}" -depth -type d -exec rmdir {} \; 2> /dev/null
  done
  if [ -n "$uid" ]; then
    rm -rf "/run/user/$uid"
    # PrivateTmp= of a user unit leaves nothing behind, but make sure.
    find /tmp /var/tmp -maxdepth 1 -user "$uid" -exec rm -rf {} + 2> /dev/null
    userdel -r "$user" > /dev/null 2>&1 || userdel -rf "$user" > /dev/null 2>&1
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

useradd -m -s /bin/bash "$user"
uid="$(id -u "$user")"
gid="$(id -g "$user")"
home="$(getent passwd "$user" | cut -d: -f6)"
run="/run/user/$uid"
state="$home/.local/state/backend-im"
agent_log="$home/agent.log"
# What pam_systemd gives user@UID.service on a real host, and what a login shell has.
user_env=(HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash LANG=C.UTF-8
          PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$run"
          DBUS_SESSION_BUS_ADDRESS="unix:path=$run/bus")

rm -rf "$run"
install -d -m 0700 -o "$uid" -g "$gid" "$run"
cg="user.slice/user-$uid.slice/user@$uid.service"
procs=""
for h in "${hierarchies[@]}"; do
  for d in "$h/user.slice" "$h/user.slice/user-$uid.slice" "$h/$cg"; do
    [ -d "$d" ] || { mkdir "$d"; created_cgroups+=("$d"); }
  done
  chown -R "$uid:$gid" "$h/$cg"  # Delegate=yes: the manager writes cgroup.procs and makes children
  procs+=" $h/$cg/cgroup.procs"
done

# The user's files, written before the manager starts so it loads them at once. No journald
# here, so a drop-in sends the agent's stdout/stderr to a file; nothing else of the unit changes.
install -d -m 0700 -o "$uid" -g "$gid" "$home/.config" "$home/.config/backend-im" \
  "$home/.config/systemd" "$home/.config/systemd/user" "$home/.config/systemd/user/backend-imd.service.d"
cat > "$home/.config/systemd/user/backend-imd.service.d/log.conf" << EOF
[Service]
StandardOutput=append:$agent_log
StandardError=append:$agent_log
EOF
chown "$uid:$gid" "$home/.config/systemd/user/backend-imd.service.d/log.conf"

# The mock platform, as the user, on loopback; the agent finds it through its config file.
setpriv --reuid "$uid" --regid "$gid" --init-groups env -i "${user_env[@]}" \
  /usr/bin/backend-im-mock --port 0 --port-file "$home/mock.port" --auto-approve-after 2 \
  --device-interval 1 --stage-delay-ms 200 > "$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do [ -s "$home/mock.port" ] && break; sleep 0.1; done
[ -s "$home/mock.port" ] || { echo "$tag: FAIL - the mock did not start"; cat "$work/mock.log"; exit 1; }
api_url="http://127.0.0.1:$(cat "$home/mock.port")"
echo "api_url = $api_url" > "$home/.config/backend-im/config"
chown "$uid:$gid" "$home/.config/backend-im/config"

# The manager, in a mount namespace where /run is a mount point (as the tmpfs on a real host:
# ProtectSystem= and friends re-mount below it, and a plain directory would leave the unit an
# empty /run without the notify socket), /run/systemd/system says "booted with systemd", and
# /run/systemd/unit-root is where the manager builds the unit's namespace. It moves itself into
# the delegated cgroup while still root, then becomes the user.
# shellcheck disable=SC2016  # the inner script expands its own variables
CG_PROCS="$procs" unshare --mount --propagation private -- bash -c '
  set -e
  mount --bind /run /run
  mount -t tmpfs -o mode=0755 tmpfs /run/systemd
  mkdir /run/systemd/system /run/systemd/unit-root
  for p in $CG_PROCS; do echo $$ > "$p"; done
  exec "$@"' manager setpriv --reuid "$uid" --regid "$gid" --init-groups \
  env -i "${user_env[@]}" "$manager_bin" --user > "$work/manager.log" 2>&1 &
manager_pid=$!
# (The manager closes its stderr once up and has no journald to log to: manager.log holds only
# what it says before that, e.g. why it would not start.)

# as_user SECONDS [NAME=VALUE...] COMMAND...: as the user, in the manager's mount namespace (as
# a login on that host would be), from $HOME, for at most SECONDS.
as_user() {
  local t="$1"
  shift
  timeout -k 2 "$t" nsenter --mount="/proc/$manager_pid/ns/mnt" -- setpriv --reuid "$uid" \
    --regid "$gid" --init-groups env -i -C "$home" "${user_env[@]}" "$@"
}
sctl() { as_user 20 systemctl --user --no-pager "$@"; }  # over $XDG_RUNTIME_DIR/systemd/private
# The ctl for a user whose agent must be the unit's: no auto-start.
ctl() { as_user 30 BACKEND_IM_NO_AUTOSTART=1 backend-im "$@"; }
# The ctl as it is by default: starts an agent on demand.
ctl_autostart() { as_user 30 backend-im "$@"; }
prop() { sctl show backend-imd -p "$1" --value 2> /dev/null || echo "?"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds; 1 when time runs out.
wait_for() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
unit_is() { [ "$(prop ActiveState)/$(prop SubState)" = "$1" ]; }
unit_stopped() { case "$(prop ActiveState)" in inactive | failed) return 0 ;; esac; return 1; }
# Live agents only: an on-demand agent is nobody's child once started, so when it exits it may
# stay a zombie until PID 1 reaps it (slowly, where PID 1 is not an init).
agent_pids() { user_procs | while read -r pid name; do [ "$name" != backend-imd ] || echo "$pid"; done; }
no_agents() { [ -z "$(agent_pids)" ]; }

manager_up() {
  kill -0 "$manager_pid" 2> /dev/null || return 2
  case "$(sctl is-system-running 2> /dev/null)" in running | degraded) return 0 ;; esac
  return 1
}
if ! wait_for 20 manager_up; then
  echo "$tag: FAIL - the user manager did not come up"
  sed 's/^/    /' "$work/manager.log"
  exit 1
fi

passed=0
failed=0
reason=""
indent() { sed 's/^/    /'; }
diagnose() {
  echo "    --- systemctl --user status backend-imd"
  sctl status backend-imd 2>&1 | indent | indent || true
  echo "    --- systemctl --user show backend-imd"
  sctl show backend-imd -p ActiveState,SubState,Result,NRestarts,MainPID,StatusText,ExecMainCode,ExecMainStatus 2>&1 | indent | indent || true
  echo "    --- backend-imd processes of $user (pid, cgroup)"
  for p in $(agent_pids); do
    echo "        $p $(grep -m1 '^0::' "/proc/$p/cgroup" 2> /dev/null | cut -c4-)"
  done
  echo "    --- the unit's agent log ($agent_log), last 10 lines"
  tail -n 10 "$agent_log" 2> /dev/null | indent | indent || true
  if [ -s "$state/agent.log" ]; then
    echo "    --- the auto-started agent's log ($state/agent.log), last 10 lines"
    tail -n 10 "$state/agent.log" | indent | indent
  fi
}
# check WHAT FUNCTION: runs FUNCTION (which sets $reason when it returns non-zero). Every call
# above is bounded; past 75 s (a run takes ~25 s) the rest is not started, so it stays < 2 min.
run_deadline=$((SECONDS + 75))
check() {
  local what="$1"
  shift
  reason=""
  if [ "$SECONDS" -gt "$run_deadline" ]; then
    echo "$tag: FAIL - $what: not run, out of time"
    failed=$((failed + 1))
  elif "$@"; then
    echo "$tag: ok - $what"
    passed=$((passed + 1))
  else
    echo "$tag: FAIL - $what${reason:+: $reason}"
    failed=$((failed + 1))
    diagnose || true
  fi
}

echo "$tag: $("$manager_bin" --version | head -n1); manager Version=$(sctl show -p Version --value); kernel $(uname -r); PID 1 $(cat /proc/1/comm); cgroups $layout"
echo "$tag: user $user (uid $uid), unit $unit (sha256 $(sha256sum < "$unit" | cut -c1-16)), mock at $api_url"

# `enable`, as README says, also keeps the unit loaded once stopped: otherwise the manager drops
# it and `show` would report a fresh unit's ExecMainStatus= after a stop.
loaded_verbatim() {
  local frag dropins out
  out="$(sctl enable backend-imd 2>&1)" || { reason="systemctl --user enable exited $?: $out"; return 1; }
  [ "$(prop UnitFileState)" = enabled ] || { reason="UnitFileState=$(prop UnitFileState)"; return 1; }
  frag="$(prop FragmentPath)"
  dropins="$(prop DropInPaths)"
  [ "$frag" = "$unit" ] || { reason="FragmentPath=$frag"; return 1; }
  [ "$dropins" = "$home/.config/systemd/user/backend-imd.service.d/log.conf" ] || {
    reason="DropInPaths=$dropins"; return 1; }
}
check "the manager loads the installed unit, with only the log drop-in, and enables it" loaded_verbatim

# 1. Type=notify: start returns once the agent sent READY=1, i.e. once its socket accepts.
s1_start() {
  local out status
  out="$(sctl start backend-imd 2>&1)" || { reason="systemctl --user start exited $?: $out"; return 1; }
  unit_is active/running || { reason="unit is $(prop ActiveState)/$(prop SubState) after start"; return 1; }
  # The agent is the manager's: in the unit's cgroup.
  grep -q "/backend-imd.service\$" "/proc/$(prop MainPID)/cgroup" ||
    { reason="MainPID $(prop MainPID) is not in backend-imd.service's cgroup"; return 1; }
  status="$(ctl daemon status --json 2>&1)" || { reason="daemon status --json exited $?: $status"; return 1; }
  echo "    daemon status --json: $status"
  jq -e --arg pid "$(prop MainPID)" --arg url "$api_url" --arg sock "$run/backend-im/agent.sock" \
    --arg state "$state" '.running and .systemd and (.autostarted | not) and (.pid | tostring) == $pid
      and .apiUrl == $url and .socket == $sock and .stateDir == $state' <<< "$status" > /dev/null ||
    { reason="daemon status does not report the unit's agent (MainPID $(prop MainPID), systemd, $api_url, $run/backend-im/agent.sock, $state)"; return 1; }
}
check "systemctl --user start backend-imd: active, daemon status reports the systemd-managed agent" s1_start

# 2. The real flow through the unit's agent.
deployment_id=""
s2_flow() {
  local out url hist
  out="$(ctl auth login 2>&1)" || { reason="auth login exited $?: $out"; return 1; }
  echo "    $(tail -n1 <<< "$out")"
  out="$(ctl generate "REST API for users" -o "$home/users-api" 2>&1)" ||
    { reason="generate exited $?: $out"; return 1; }
  out="$(ctl deploy -d "$home/users-api" --watch 2>&1)" || { reason="deploy --watch exited $?: $out"; return 1; }
  url="$(sed -n 's/.*Deployed: \(http[^ ]*\).*/\1/p' <<< "$out" | tail -n1)"
  [ -n "$url" ] || { reason="deploy --watch printed no URL: $out"; return 1; }
  hist="$(ctl history --json 2>&1)" || { reason="history --json exited $?: $hist"; return 1; }
  deployment_id="$(jq -r --arg url "$url" '[.[] | select(.url == $url and .status == "complete")][0].deploymentId // empty' <<< "$hist")"
  [ -n "$deployment_id" ] || { reason="history has no complete deployment at $url: $hist"; return 1; }
  echo "    deployed $deployment_id to $url"
}
check "auth login, generate, deploy --watch to the URL, history lists it" s2_flow

# 3. What the agent made under the unit's UMask= and sandbox: private to the user.
mode_is() {  # mode_is PATH MODE TYPE
  local got
  got="$(stat -c '%a %u %F' "$1" 2>&1)" || { reason="$got"; return 1; }
  [ "$got" = "$2 $uid $3" ] || { reason="$1 is \"$got\", want \"$2 $uid $3\""; return 1; }
}
s3_modes() {
  local f got
  mode_is "$state" 700 directory || return 1
  mode_is "$state/agent.db" 600 "regular file" || return 1
  mode_is "$state/agent.lock" 600 "regular file" || return 1
  mode_is "$run/backend-im" 700 directory || return 1
  # A socket's mode bits do not gate connect() everywhere; the folder does, so check both.
  got="$(stat -c '%u %F' "$run/backend-im/agent.sock" 2>&1)"
  [ "$got" = "$uid socket" ] || { reason="$run/backend-im/agent.sock is \"$got\""; return 1; }
  for f in "$state"/* "$run/backend-im/agent.sock"; do
    [ $((0$(stat -c %a "$f") & 077)) -eq 0 ] || { reason="$f is mode $(stat -c %a "$f")"; return 1; }
  done
  echo "    $(stat -c '%a %U %n' "$state" "$state"/* "$run/backend-im" "$run/backend-im/agent.sock" | paste -sd' ')"
}
check "state folder, database, lock and socket are the user's and private (0700/0600)" s3_modes

# 4. Restart=on-failure, RestartSec=2s: a killed agent comes back with its history.
killed_pid=""
restarted() {
  local p
  p="$(prop MainPID)"
  [ "$p" != 0 ] && [ "$p" != "$killed_pid" ] && unit_is active/running
}
s4_restart() {
  local old n0 hist
  unit_is active/running || { reason="unit is $(prop ActiveState)/$(prop SubState) before the kill"; return 1; }
  old="$(prop MainPID)"
  n0="$(prop NRestarts)"
  killed_pid="$old"
  kill -KILL "$old"
  wait_for 15 restarted || { reason="no new active agent within 15 s of kill -9 $old"; return 1; }
  [ "$(prop NRestarts)" -gt "$n0" ] || { reason="NRestarts stayed $n0"; return 1; }
  hist="$(ctl history --json 2>&1)" || { reason="history --json exited $?: $hist"; return 1; }
  [ -n "$deployment_id" ] || { reason="no deployment from scenario 2 to look for"; return 1; }
  jq -e --arg id "$deployment_id" 'any(.[]; .deploymentId == $id)' <<< "$hist" > /dev/null ||
    { reason="history lost $deployment_id: $hist"; return 1; }
  echo "    killed $old; MainPID now $(prop MainPID), NRestarts $n0 -> $(prop NRestarts)"
}
check "kill -9 of the agent: systemd restarts it, history still has the deployment" s4_restart

# 5. A user who ran the ctl before enabling the unit: an agent it started on demand is running
# when the unit starts. One agent must come out of it, the unit's, without a restart loop.
s5_beside() {
  local out auto_pid n0 n1 start_rc=0 pids status count most=0 samples=""
  sctl stop backend-imd > /dev/null 2>&1
  wait_for 15 unit_stopped || { reason="unit did not stop: $(prop ActiveState)"; return 1; }
  sctl reset-failed backend-imd > /dev/null 2>&1  # a fresh start limit for this scenario
  out="$(ctl_autostart history --json 2>&1)" || { reason="auto-starting history exited $?: $out"; return 1; }
  status="$(ctl daemon status --json 2>&1)" || { reason="daemon status exited $?: $status"; return 1; }
  jq -e '.autostarted and (.systemd | not)' <<< "$status" > /dev/null ||
    { reason="the ctl did not auto-start an agent: $status"; return 1; }
  auto_pid="$(jq -r .pid <<< "$status")"
  out="$(sctl start backend-imd 2>&1)" || start_rc=$?
  # Over 8 s: NRestarts must stay put, and there must never be two agents.
  n0="$(prop NRestarts)"
  for _ in $(seq 16); do
    sleep 0.5
    count="$(agent_pids | wc -l)"
    [ "$count" -le "$most" ] || most="$count"
    samples+="$count"
  done
  n1="$(prop NRestarts)"
  pids="$(agent_pids | paste -sd' ')"
  echo "    auto-started pid $auto_pid; start exited $start_rc; over 8 s NRestarts $n0 -> $n1, at most $most backend-imd (every 0.5 s: $samples); now: ${pids:-none}"
  [ "$start_rc" -eq 0 ] || { reason="systemctl --user start exited $start_rc: $out"; return 1; }
  [ "$n1" = "$n0" ] || { reason="NRestarts climbed $n0 -> $n1: a restart loop"; return 1; }
  [ "$most" -le 1 ] || { reason="$most backend-imd processes at once"; return 1; }
  case " $pids " in *" $auto_pid "*) reason="the auto-started agent $auto_pid still runs"; return 1 ;; esac
  unit_is active/running || { reason="unit is $(prop ActiveState)/$(prop SubState)"; return 1; }
  status="$(ctl daemon status --json 2>&1)" || { reason="daemon status exited $?: $status"; return 1; }
  jq -e --arg pid "$(prop MainPID)" '.systemd and (.pid | tostring) == $pid' <<< "$status" > /dev/null ||
    { reason="daemon status does not report the unit's agent (MainPID $(prop MainPID)): $status"; return 1; }
}
check "unit started beside an auto-started agent: one agent, the unit's, no restart loop" s5_beside

# 6. Stop: SIGTERM, STOPPING=1, exit 0, well within TimeoutStopSec=15s. Start from a unit that is
# the only agent, whatever scenario 5 left.
s6_stop() {
  local t0 ms out rc=0 left p main_pid
  if ! unit_is active/running || [ "$(agent_pids)" != "$(prop MainPID)" ]; then
    echo "    (resetting: unit $(prop ActiveState)/$(prop SubState), agents: $(agent_pids | tr '\n' ' '))"
    sctl stop backend-imd > /dev/null 2>&1
    ctl daemon stop > /dev/null 2>&1
    for p in $(agent_pids); do kill -TERM "$p"; done
    wait_for 10 no_agents || for p in $(agent_pids); do kill -KILL "$p"; done
    sctl reset-failed backend-imd > /dev/null 2>&1
    sctl start backend-imd > /dev/null 2>&1
    unit_is active/running || { reason="the unit could not be started to stop it: $(prop ActiveState)/$(prop SubState)"; return 1; }
  fi
  main_pid="$(prop MainPID)"
  t0="$(now_ms)"
  out="$(sctl stop backend-imd 2>&1)" || rc=$?
  ms=$(($(now_ms) - t0))
  echo "    stopped $main_pid in $ms ms; $(sctl show backend-imd -p ActiveState,Result,ExecMainPID,ExecMainCode,ExecMainStatus 2>&1 | paste -sd' ')"
  [ "$rc" -eq 0 ] || { reason="systemctl --user stop exited $rc: $out"; return 1; }
  [ "$ms" -lt 5000 ] || { reason="stop took $ms ms"; return 1; }
  unit_is inactive/dead || { reason="unit is $(prop ActiveState)/$(prop SubState) after stop"; return 1; }
  [ "$(prop Result)" = success ] || { reason="Result=$(prop Result)"; return 1; }
  [ "$(prop ExecMainPID)" = "$main_pid" ] || { reason="ExecMainPID=$(prop ExecMainPID), not $main_pid"; return 1; }
  [ "$(prop ExecMainCode)/$(prop ExecMainStatus)" = 1/0 ] ||
    { reason="main process ended with code $(prop ExecMainCode) status $(prop ExecMainStatus), want exited 0"; return 1; }
  left="$(agent_pids | tr '\n' ' ')"
  [ -z "$left" ] || { reason="backend-imd still running: $left"; return 1; }
}
check "systemctl --user stop backend-imd: quick, inactive, exit 0, no agent left" s6_stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
