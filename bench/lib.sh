# bench/lib.sh — shared by bench/run.sh and the section scripts (sourced, not run).
# Records go to $BENCH_TMP/records.jsonl, one JSON object per line; bench/report.mjs turns
# them into bench/results/latest.json and the markdown table.
# shellcheck shell=bash

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[bench %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
now_us() { echo $(($(date +%s%N) / 1000)); }

# --- clean-up stack: every section registers how to undo what it creates -----------------
# Run in reverse order by run.sh's EXIT trap, even after a failure or Ctrl-C.
CLEANUPS=()
on_exit() { CLEANUPS+=("$*"); }
run_cleanups() {
  local i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUPS[i]}" || warn "clean-up step failed: ${CLEANUPS[i]}"
    unset 'CLEANUPS[i]'
  done
}

# --- records ----------------------------------------------------------------------------
# record SECTION CASE RUNTIME UNIT key=value... (numbers stay numbers; status/note/... strings)
record() {
  local section=$1 case=$2 runtime=$3 unit=$4
  shift 4
  local args=(--arg section "$section" --arg case "$case" --arg runtime "$runtime" --arg unit "$unit")
  local filter='{section:$section, case:$case, runtime:$runtime, unit:$unit}' kv k v i=0
  for kv in "$@"; do
    k=${kv%%=*} v=${kv#*=} i=$((i + 1))
    if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ || $v == true || $v == false || $v == null || $v == '['* || $v == '{'* ]]; then
      args+=(--argjson "v$i" "$v")
    else
      args+=(--arg "v$i" "$v")
    fi
    filter+=" + {\"$k\": \$v$i}"
  done
  jq -nc "${args[@]}" "$filter" >>"$BENCH_TMP/records.jsonl"
}

# A case that could not be measured: status pending|skipped|failed and why.
record_status() { # SECTION CASE RUNTIME UNIT STATUS NOTE
  record "$1" "$2" "$3" "$4" "status=$5" "note=$6"
}

# --- timing with hyperfine ---------------------------------------------------------------
# hf SECTION CASE RUNTIME [hyperfine options...] -- COMMAND
# COMMAND is one string run without a shell (hyperfine -N): compound cycles are `bash FILE`.
# Records median/min/max/mean/stddev in ms. On failure records status=failed with the last
# line of the command's error output.
hf() {
  local section=$1 case=$2 runtime=$3
  shift 3
  local opts=()
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  local cmd=$1 json errf
  json=$BENCH_TMP/hf-$RANDOM$RANDOM.json
  errf=$BENCH_TMP/hf-err.log
  log "  $section / $case / $runtime: $cmd"
  [[ " ${opts[*]} " == *" --runs "* ]] || opts+=(--runs "$RUNS")
  if hyperfine -N --style none --warmup "$WARMUP" "${opts[@]}" \
    --export-json "$json" -n "$runtime $case" "$cmd" >"$errf.out" 2>"$errf"; then
    local r
    r=$(jq -c '.results[0] | {median: (.median*1000), min: (.min*1000), max: (.max*1000), mean: (.mean*1000), stddev: ((.stddev // 0)*1000), runs: (.times|length)}' "$json")
    record "$section" "$case" "$runtime" ms "status=ok" \
      "median=$(jq '.median' <<<"$r")" "min=$(jq '.min' <<<"$r")" "max=$(jq '.max' <<<"$r")" \
      "mean=$(jq '.mean' <<<"$r")" "stddev=$(jq '.stddev' <<<"$r")" "runs=$(jq '.runs' <<<"$r")" \
      "command=$cmd"
    log "    median $(jq -r '.median|.*10|round/10' <<<"$r") ms (min $(jq -r '.min|.*10|round/10' <<<"$r"), max $(jq -r '.max|.*10|round/10' <<<"$r"))"
  else
    # hyperfine hides the command's own output: run it once more to catch its error message
    local why rc=0
    bash -c "$cmd" >/dev/null 2>"$errf.cmd" || rc=$?
    why=$(grep -v '^\s*$' "$errf.cmd" | tail -n 2 | tr '\n' ' ' | cut -c1-300 || true)
    why="exit $rc${why:+: $why} ($(grep -o 'non-zero exit code: [0-9]*' "$errf" | head -n 1 || true) in the timed runs)"
    warn "    failed: $why"
    record_status "$section" "$case" "$runtime" ms failed "$why"
  fi
  rm -f "$json"
}

# Stats over a list of numbers on stdin: {"median":..,"min":..,"max":..,"mean":..,"n":..}
stats() {
  jq -sc 'sort as $s | ($s|length) as $n |
    if $n == 0 then {n: 0} else
    {median: (if $n % 2 == 1 then $s[($n-1)/2] else ($s[$n/2-1] + $s[$n/2]) / 2 end),
     min: $s[0], max: $s[-1], mean: (add / $n), n: $n} end'
}

# --- the host ----------------------------------------------------------------------------
# The host's own IPv4 address on the default route's interface (traffic to it stays on this
# machine); empty if there is none.
host_addr() {
  local dev
  dev=$(ip -4 route show default 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}')
  [[ -n $dev ]] || return 0
  ip -4 -o addr show dev "$dev" scope global | awk '{split($4,a,"/"); print a[1]; exit}'
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }

# Wait until an HTTP URL answers (up to $2 seconds, default 10).
wait_http() {
  local url=$1 deadline=$(($(date +%s) + ${2:-10}))
  until curl -sf -o /dev/null --max-time 1 "$url"; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.01
  done
}

# Memory of a set of PIDs: sum of Pss and Rss (kB) from /proc/PID/smaps_rollup.
mem_of_pids() { # PID... -> "pss_kb rss_kb count"
  local p pss=0 rss=0 n=0 a b
  for p in "$@"; do
    [[ -r /proc/$p/smaps_rollup ]] || continue
    read -r a b < <(awk '/^Pss:/ {p=$2} /^Rss:/ {r=$2} END {print p+0, r+0}' "/proc/$p/smaps_rollup")
    pss=$((pss + a)) rss=$((rss + b)) n=$((n + 1))
  done
  echo "$pss $rss $n"
}

# The host-side processes that keep one container going, found from the container's PID 1
# (any runtime): walk up the parent chain to the top supervisor (a process whose parent is
# PID 1 or a daemon), then take that supervisor's subtree minus the processes inside the
# container's PID namespace. minid: `sh shim.sh` + `unshare`; docker: containerd-shim
# (+ docker-proxy, counted separately); podman: conmon.
HOST_PIDNS=$(readlink /proc/self/ns/pid)
supervisor_pids() { # CONTAINER_PID1 [daemon-name-regex]
  local pid=$1 daemons=${2:-'^(dockerd|containerd|podman|systemd|process_api)$'} top="" pp comm
  local cur=$pid
  while :; do
    pp=$(awk '{print $4}' "/proc/$cur/stat" 2>/dev/null) || break
    [[ -n $pp && $pp != 0 ]] || break
    if [[ $pp == 1 ]]; then top=$cur; break; fi
    comm=$(<"/proc/$pp/comm")
    if [[ $comm =~ $daemons ]]; then top=$cur; break; fi
    cur=$pp
  done
  [[ -n $top ]] || return 0
  local queue=("$top") out=() p c
  while ((${#queue[@]})); do
    p=${queue[0]} queue=("${queue[@]:1}")
    [[ $(readlink "/proc/$p/ns/pid" 2>/dev/null) == "$HOST_PIDNS" ]] || continue
    out+=("$p")
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do queue+=("$c"); done
  done
  echo "${out[@]}"
}

# --- leftovers: what the bench left on the host -----------------------------------------------
# The host is shared (other people's containers and tests come and go meanwhile), so a snapshot
# lists only objects that are recognisably the bench's:
#   links       mbbr0, mbv<id> (floor), mbminid0 and the veths on it (minid's private network),
#               docker0/podman0 and the veths on them (peers the bench started)
#   netns       mb-<id> (floor); minid-<id12> whose eth0 is in minid's private subnet
#   iptables    lines naming MBENCH/mbench:, mbbr0, mbminid0 or a bench subnet, DOCKER/docker0,
#               NETAVARK/podman0 (minid's shared MINID-* chains themselves are not counted)
#   mounts      under the bench temp dir;  processes mentioning the bench temp dir
# shellcheck disable=SC2120 # called with and without the argument
our_subnets() { # [all|minid]: the floor's and minid's private subnets, as regex-ready prefixes
  [[ ${1:-all} == minid || -z ${FLOOR_NET:-} ]] || echo "${FLOOR_NET//./\\.}\\."
  local f
  for f in "${MINID_ROOT:-/nonexistent}"/networks/*.json; do
    [[ -f $f ]] || continue
    jq -r '.subnet' "$f" | awk -F'[./]' '{ if ($5 >= 24) printf "%s\\.%s\\.%s\\.\n", $1, $2, $3; else if ($5 >= 16) printf "%s\\.%s\\.\n", $1, $2; else printf "%s\\.\n", $1 }'
  done
}
snapshot() {
  local re subnets ns l
  subnets=$(our_subnets | paste -sd'|' -)
  re="MBENCH|mbench:|mbbr0|mbminid0|mbdock0|DOCKER|docker0|NETAVARK|podman0${subnets:+|$subnets}"
  {
    echo "## links"
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(mbbr0|mbv[0-9a-f]{6}|mbminid0|mbdock0|docker0|podman0)$' || true
    for l in mbminid0 mbdock0 docker0 podman0; do
      [[ -d /sys/class/net/$l/brif ]] && ls "/sys/class/net/$l/brif" | sed "s/\$/ (on $l)/"
    done
    echo "## netns"
    for ns in $(ip netns list | awk '{print $1}'); do
      case $ns in
        mb-*) echo "$ns" ;;
        minid-*) [[ -n $subnets ]] && ip -n "$ns" -4 -o addr show 2>/dev/null | grep -qE " ($subnets)" && echo "$ns" ;;
      esac
    done
    echo "## iptables"
    iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' | grep -E "$re" | grep -vE '^:MINID-' || true
    echo "## mounts"
    awk -v d="${BENCH_TMP:-/nonexistent}" 'index($5, d) == 1 || index($0, d) > 0 {print $5}' /proc/self/mountinfo
    echo "## procs"
    local p cl
    for p in /proc/[0-9]*; do
      cl=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
      [[ $cl == *"${BENCH_TMP:-/nonexistent}"* ]] || continue
      [[ $cl == *snapshot* || $cl == *bench/run.sh* ]] && continue
      echo "${cl:0:160}"
    done
  } 2>/dev/null | sort >"$1"
}

# diff_snapshots BEFORE AFTER -> prints added lines (what was left behind), one per line
diff_snapshots() {
  diff "$1" "$2" | sed -n 's/^> //p' | grep -v '^## ' || true
}
