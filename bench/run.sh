#!/usr/bin/env bash
# bench/run.sh — minid's benchmarks against a plain-shell floor and (PEERS=1) docker and podman.
#
#   bash bench/run.sh [all|startup|latency|throughput|memory|scale|pull|dns]...   (default: all)
#
# Prints a markdown table; writes bench/results/latest.json (and latest.md). Sections not run
# this time keep their previous figures in latest.json (each section carries its own date).
# Environment:
#   QUICK=1         fewer runs (3 instead of 10), one 2 s iperf3 run per path (not 8 × 3 s),
#                   20 containers for scale (not 100)
#   PEERS=1         also docker (Debian's docker.io, a dockerd started and stopped here) and
#                   podman; installs them with apt-get if missing
#   RUNS, WARMUP, IPERF_SECONDS, IPERF_ROUNDS, SCALE_N   override the counts
#   LAT_ROUNDS, LAT_PAIR_RUNS   rounds (6; QUICK: 2) and runs per round (5; QUICK: 3) of the
#                               paired floor-batch / minid `bridge -p` measurement
#   PULL_ROUNDS, PULL_WARM      rounds of cold pulls (5; QUICK: 2) and warm pulls after each
#                               cold one (3; QUICK: 2) in the pull section
#   DNS_QUERIES, DNS_SCALE_N   queries per latency case (3000; QUICK: 1000) and containers for
#                               the DNS server's RSS (100; QUICK: 20) in the dns section
#   DOCKER_ISOLATED=1|0   (PEERS=1) the bench's dockerd on its own bridge mbdock0 with
#                   --iptables=false --ip-forward=false --ip-masq=false (default: 1 unless
#                   latency, throughput, memory or scale run: they compare docker's NAT paths)
#   MINID=path      the minid CLI (default ./bin/minid; run `make build` first)
#   KEEP_TMP=1      keep the temp dir (logs) after the run
# Needs root. Creates only its own objects (bridge mbbr0, chains MBENCH-*, namespaces mb-*,
# minid's private store and bridge mbminid0, a private dockerd/podman store) and removes
# them at exit, even after a failure or Ctrl-C. Traffic goes to 127.0.0.1, the host's own
# address and the containers' addresses only.

# shellcheck disable=SC2034 # variables read by the sourced section scripts
set -euo pipefail
umask 022
export LC_ALL=C
# A NODE_EXTRA_CA_CERTS in the environment makes every Node process parse that CA bundle at
# start (~35 ms here). minid's launcher drops it (bin/minid); so must the `node -e 0`
# reference, or it measures the bundle rather than Node.
unset NODE_EXTRA_CA_CERTS

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_DIR
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=runtimes.sh
. "$BENCH_DIR/runtimes.sh"
# shellcheck source=peers.sh
. "$BENCH_DIR/peers.sh"
for f in "$BENCH_DIR"/sections/*.sh; do
  # shellcheck source=/dev/null
  . "$f"
done

ALL_SECTIONS=(startup latency throughput memory scale pull dns engine)
WANT=()
for a in "$@"; do
  case $a in
    all) WANT+=("${ALL_SECTIONS[@]}") ;;
    startup | latency | throughput | memory | scale | pull | dns | engine) WANT+=("$a") ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown section '$a' (have: all ${ALL_SECTIONS[*]})" >&2; exit 2 ;;
  esac
done
((${#WANT[@]})) || WANT=("${ALL_SECTIONS[@]}")
want() { [[ " ${WANT[*]} " == *" $1 "* ]]; }

QUICK=${QUICK:-0} PEERS=${PEERS:-0}
if [[ $QUICK == 1 ]]; then
  RUNS=${RUNS:-3} WARMUP=${WARMUP:-1} IPERF_SECONDS=${IPERF_SECONDS:-2} IPERF_ROUNDS=${IPERF_ROUNDS:-1} SCALE_N=${SCALE_N:-20}
  LAT_ROUNDS=${LAT_ROUNDS:-2} LAT_PAIR_RUNS=${LAT_PAIR_RUNS:-3}
else
  RUNS=${RUNS:-10} WARMUP=${WARMUP:-2} IPERF_SECONDS=${IPERF_SECONDS:-3} IPERF_ROUNDS=${IPERF_ROUNDS:-8} SCALE_N=${SCALE_N:-100}
fi
export RUNS WARMUP

# --- preflight -----------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || { echo "bench/run.sh must run as root (namespaces, iptables)" >&2; exit 1; }
for tool in hyperfine iperf3 jq curl nsenter unshare ip iptables iptables-save iptables-restore ss node setfattr; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: missing $tool (apt-get install hyperfine iperf3 jq curl attr)" >&2; exit 1; }
done

# not /tmp/minid-*: other people's test clean-ups on this host remove those
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mbench.XXXXXX")
export BENCH_TMP
SECONDS=0
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

finish() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  log "cleaning up"
  run_cleanups
  # what the whole run left on the host (should be nothing)
  sleep 0.2
  snapshot "$BENCH_TMP/snap-end"
  diff_snapshots "$BENCH_TMP/snap-start" "$BENCH_TMP/snap-end" >"$BENCH_TMP/leftovers.txt"
  if [[ -s $BENCH_TMP/leftovers.txt ]]; then
    warn "left on the host after the run:"; sed 's/^/    /' "$BENCH_TMP/leftovers.txt" >&2
  else
    log "host clean: no links, namespaces, rules, mounts or processes left"
  fi
  if [[ -s $BENCH_TMP/records.jsonl ]]; then
    write_meta "$rc"
    mkdir -p "$BENCH_DIR/results"
    node "$BENCH_DIR/report.mjs" "$BENCH_TMP/records.jsonl" "$BENCH_TMP/meta.json" "$BENCH_DIR/results/latest.json" \
      "$BENCH_DIR/results/latest.md" || warn "report failed"
  fi
  if [[ ${KEEP_TMP:-0} == 1 ]]; then log "kept $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
  log "done in ${SECONDS}s"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# Sysctls the runtimes change (ip_forward by all of them): put back as found, unless other
# bridges (other people's containers on this shared host) appeared that may need forwarding.
restore_sysctl() { # KEY VALUE
  local cur others
  cur=$(cat "/proc/sys/$1")
  [[ $cur != "$2" ]] || return 0
  others=$(ip -o link show type bridge | awk -F': ' '{print $2}' | grep -vxE 'mbbr0|mbminid0|docker0|podman0' | paste -sd' ' - || true)
  if [[ -n $others ]]; then
    warn "left $1=$cur (was $2): other bridges on this host may need it: $others"
  else
    echo "$2" >"/proc/sys/$1"
  fi
}
for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do
  [[ -f /proc/sys/$k ]] && on_exit "restore_sysctl $k $(cat "/proc/sys/$k")"
done
snapshot "$BENCH_TMP/snap-start"

# A /24 for the floor that no route touches (ip route show table all).
pick_subnet() { # [EXCLUDE]: a /24 prefix already promised to someone else
  local c routes
  routes=$(ip -4 route show table all | awk '{print $1}' | grep -E '^[0-9.]+(/[0-9]+)?$' || true)
  for c in 10.213.7 10.213.8 10.214.7 172.31.213 192.168.213; do
    [[ $c != "${1:-}" ]] || continue
    if ! awk -v c="$c" '
      function n(s,  a) { split(s, a, "."); return ((a[1]*256 + a[2])*256 + a[3])*256 + a[4] }
      BEGIN { lo = n(c ".0"); hi = lo + 255 }
      { split($1, p, "/"); len = (p[2] == "" ? 32 : p[2]); s = n(p[1]); sz = 2^(32-len); s = s - s % sz
        if (s <= hi && s + sz - 1 >= lo) found = 1 }
      END { exit !found }' <<<"$routes"; then
      echo "$c"; return 0
    fi
  done
  return 1
}
pick_port() { local p=$1; while ! port_free "$p"; do p=$((p + 100)); done; echo "$p"; }

FLOOR_NET=$(pick_subnet) || { echo "no free /24 for the floor's bridge" >&2; exit 1; }
[[ ! -e /sys/class/net/mbbr0 ]] || { echo "a link mbbr0 already exists: another bench running? (bash bench/baseline/floor.sh clean)" >&2; exit 1; }
export FLOOR_STATE=$BENCH_TMP/floor FLOOR_BRIDGE=mbbr0 FLOOR_NET FLOOR_CHAIN=MBENCH
export MINID_ROOT=$BENCH_TMP/minid-root MINID_RUN=$BENCH_TMP/minid-run MINID_BRIDGE_NAME=mbminid0
PORT_RUN=$(pick_port 18081) PORT_CYCLE=$(pick_port 18082) PORT_IPERF=$(pick_port 15201) PORT_KERNEL=$(pick_port 15299)
HOST_ADDR=$(host_addr)
[[ -n $HOST_ADDR ]] || warn "no default route: the 'host address' paths are skipped"
log "temp dir $BENCH_TMP; floor subnet $FLOOR_NET.0/24; ports $PORT_RUN $PORT_CYCLE $PORT_IPERF $PORT_KERNEL; host address ${HOST_ADDR:-none}"
log "sections: ${WANT[*]}; runs $RUNS (+$WARMUP warm-up); QUICK=$QUICK PEERS=$PEERS"

# --- images ----------------------------------------------------------------------------------
IMAGES_DIR=${IMAGES_DIR:-$REPO/.images}
PEER_IMAGES=$IMAGES_DIR
if [[ ! -f $IMAGES_DIR/busybox/index.json || ! -f $IMAGES_DIR/nginx/index.json ]]; then
  log "building the images (images/build.sh) into the temp dir"
  IMAGES_DIR=$BENCH_TMP/images PEER_IMAGES=$BENCH_TMP/images
  FORMAT=docker-archive bash "$REPO/images/build.sh" all "$IMAGES_DIR" >"$BENCH_TMP/images-build.log" 2>&1 ||
    { echo "images/build.sh failed: $(tail -n 3 "$BENCH_TMP/images-build.log")" >&2; exit 1; }
elif [[ $PEERS == 1 && (! -f $IMAGES_DIR/busybox.tar || ! -f $IMAGES_DIR/nginx.tar) ]]; then
  PEER_IMAGES=$BENCH_TMP/images # peers_up builds the tarballs there
fi

# --- the floor ---------------------------------------------------------------------------------
on_exit "bash '$FLOOR' clean"
bash "$FLOOR" prepare busybox "$IMAGES_DIR/busybox"
bash "$FLOOR" prepare nginx "$IMAGES_DIR/nginx"
RUNTIMES=(floor-steps floor-batch)

# --- minid: which of its features work today ---------------------------------------------------
MINID_OK=0 MINID_BRIDGE_OK=0 MINID_PORTS_OK=0 MINID_PENDING_WHY=""
minid_ok() { [[ $MINID_OK == 1 ]]; }
minid_supports() { # CASE
  case $1 in
    none | host) [[ $MINID_OK == 1 ]] ;;
    bridge) [[ $MINID_BRIDGE_OK == 1 ]] ;;
    *) [[ $MINID_PORTS_OK == 1 ]] ;;
  esac
}
minid_why() { grep -v '^\s*$' "$1" | tail -n 1 | cut -c1-200 || true; }
minid_probe() {
  local e=$BENCH_TMP/minid-probe.err
  if ! "$MINID" --version >/dev/null 2>"$e"; then
    MINID_PENDING_WHY="minid --version fails: $(minid_why "$e")"; return 0
  fi
  if ! { "$MINID" load -i "$IMAGES_DIR/busybox" && "$MINID" load -i "$IMAGES_DIR/nginx"; } >/dev/null 2>"$e"; then
    MINID_PENDING_WHY="minid load fails: $(minid_why "$e")"; return 0
  fi
  if ! "$MINID" run --rm --network none busybox true >/dev/null 2>"$e"; then
    MINID_PENDING_WHY="minid run --network none fails: $(minid_why "$e")"; return 0
  fi
  MINID_OK=1
  if ! "$MINID" run --rm --network bridge busybox true >/dev/null 2>"$e"; then
    MINID_PENDING_WHY="minid run --network bridge fails: $(minid_why "$e")"; return 0
  fi
  MINID_BRIDGE_OK=1
  if ! "$MINID" run -d --name mbprobe -p "$PORT_CYCLE:80" nginx >/dev/null 2>"$e"; then
    MINID_PENDING_WHY="minid run -p fails: $(minid_why "$e")"; return 0
  fi
  if ! wait_http "http://127.0.0.1:$PORT_CYCLE/" 10 || { [[ -n $HOST_ADDR ]] && ! curl -sf -o /dev/null "http://$HOST_ADDR:$PORT_CYCLE/"; }; then
    MINID_PENDING_WHY="minid -p: nginx does not answer on 127.0.0.1 or the host address"
  else
    MINID_PORTS_OK=1
  fi
  "$MINID" rm -f mbprobe >/dev/null 2>&1 || true
}

minid_cleanup() {
  local names
  names=$("$MINID" ps -aq 2>/dev/null || true) # ids: the shortest listing, the least that can go wrong
  # shellcheck disable=SC2086
  [[ -z $names ]] || "$MINID" rm -f $names >/dev/null 2>&1 || warn "minid rm -f failed for some of: $(echo $names)"
  # minid keeps its bridge and host-wide chains (like docker0): they are the bench's (private
  # bridge name), so they go, and only what appeared during this run.
  # Only rules naming that bridge or its subnet, and only those that appeared during this
  # run; minid's MINID-* chains are shared with every other minid network on this host: kept.
  local subnets
  subnets=$(our_subnets minid | paste -sd'|' -)
  iptables_cleanup_since "$BENCH_TMP/iptables.start" "$MINID_BRIDGE_NAME${subnets:+|$subnets}"
  [[ ! -e /sys/class/net/$MINID_BRIDGE_NAME ]] || ip link del "$MINID_BRIDGE_NAME"
  # minid's own chains and hooks: only when no minid rule of any network or container is
  # left on the host (another minid's, say), through minid itself with an empty store.
  if ! iptables-save | grep -q -- '--comment "\{0,1\}minid:'; then
    MINID_ROOT=$BENCH_TMP/empty-root MINID_RUN=$BENCH_TMP/empty-run "$MINID" system reset >/dev/null 2>&1 ||
      warn "minid system reset (to remove minid's chains) failed"
  fi
}

iptables-save | sed 's/\[[0-9]*:[0-9]*\]//' >"$BENCH_TMP/iptables.start"
on_exit minid_cleanup
log "minid: $("$MINID" --version 2>/dev/null || echo '?') — probing what works"
minid_probe
if minid_ok; then RUNTIMES+=(minid); fi
log "minid: run $([[ $MINID_OK == 1 ]] && echo ok || echo no), bridge $([[ $MINID_BRIDGE_OK == 1 ]] && echo ok || echo no), -p $([[ $MINID_PORTS_OK == 1 ]] && echo ok || echo no)${MINID_PENDING_WHY:+ — $MINID_PENDING_WHY}"

# --- peers ---------------------------------------------------------------------------------------
PEERS_WHY=()
if [[ $PEERS == 1 ]]; then
  # docker's own NAT rules matter only where its published-port paths are compared (latency,
  # throughput) or its full bridge set-up (memory, scale); elsewhere its dockerd is isolated
  # (peers.sh: its own bridge mbdock0, no iptables, no ip_forward change)
  if [[ -z ${DOCKER_ISOLATED:-} ]]; then
    DOCKER_ISOLATED=1
    for s in latency throughput memory scale; do want "$s" && DOCKER_ISOLATED=0; done
  fi
  if [[ $DOCKER_ISOLATED == 1 ]]; then
    DOCKER_NET=$(pick_subnet "$FLOOR_NET") || DOCKER_NET=""
  fi
  # podman is not in the engine section
  only_engine=1
  for s in "${WANT[@]}"; do [[ $s == engine ]] || only_engine=0; done
  peers_up "$((1 - only_engine))"
  RUNTIMES+=("${PEER_RUNTIMES[@]}")
  ((${#PEERS_WHY[@]} == 0)) || warn "peers not measured: ${PEERS_WHY[*]}"
fi
log "runtimes: ${RUNTIMES[*]}"

write_meta() {
  local rc=$1
  jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg kernel "$(uname -r)" --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
    --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" --arg cores "$(nproc)" \
    --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
    --arg node "$(node --version)" --arg minid "$("$MINID" --version 2>/dev/null || echo unavailable)" \
    --arg commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
    --arg dirty "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -c . || true)" \
    --arg hyperfine "$(hyperfine --version)" --arg iperf "$(iperf3 --version | head -n 1)" \
    --arg docker "${DOCKER_VERSION:-}" --arg podman "${PODMAN_VERSION:-}" \
    --arg quick "$QUICK" --arg peers "$PEERS" --arg runs "$RUNS" --arg warmup "$WARMUP" \
    --arg iperf_s "$IPERF_SECONDS" --arg iperf_r "$IPERF_ROUNDS" --arg scale_n "$SCALE_N" --arg sections "${WANT[*]}" \
    --arg runtimes "${RUNTIMES[*]}" --arg pending "$MINID_PENDING_WHY" --arg peers_why "${PEERS_WHY[*]}" \
    --arg leftovers "$(cat "$BENCH_TMP/leftovers.txt" 2>/dev/null)" --arg rc "$rc" --arg secs "$SECONDS" \
    --arg host_addr "$HOST_ADDR" --arg floor_net "$FLOOR_NET.0/24" \
    --arg load_start "$LOAD_START" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{date: $date, machine: {os: $os, kernel: $kernel, cpu: $cpu, cores: ($cores|tonumber), memory: $mem,
       node: $node, hyperfine: $hyperfine, iperf3: $iperf, docker: $docker, podman: $podman},
      minid: {version: $minid, commit: $commit, uncommitted_files: ($dirty|tonumber), pending: $pending},
      options: {quick: ($quick == "1"), peers: ($peers == "1"), runs: ($runs|tonumber), warmup: ($warmup|tonumber),
        iperf_seconds: ($iperf_s|tonumber), iperf_rounds: ($iperf_r|tonumber), scale_n: ($scale_n|tonumber), sections: ($sections|split(" ")),
        runtimes: ($runtimes|split(" ")), host_address: $host_addr, floor_subnet: $floor_net},
      load_average: {start: $load_start, end: $load_end},
      peers_not_measured: $peers_why, leftovers: ($leftovers|split("\n")|map(select(. != ""))),
      exit_code: ($rc|tonumber), seconds: ($secs|tonumber)}' >"$BENCH_TMP/meta.json"
}

# --- the sections --------------------------------------------------------------------------------
# A section that stops on an unexpected error is reported and the others still run (errors
# that are part of a measurement are recorded as "failed" by the section itself).
run_section() { "section_$1" || warn "section $1 stopped early (exit $?)"; }
want startup && run_section startup
want latency && run_section latency
want throughput && run_section throughput
want memory && run_section memory
if want scale; then
  run_section scale
elif { want memory || want startup; } && minid_supports bridge; then
  # the "at SCALE_N containers" figures without the scale section: bring a fleet up quietly
  log "starting $SCALE_N minid containers for the memory/startup figures at $SCALE_N"
  if fleet_up minid "$SCALE_N" seq; then
    ! want memory || memory_at_100
    ! want startup || startup_at_100
  fi
  # shellcheck disable=SC2046
  rt_rm minid $(rt_names minid mbs-) || warn "removing the fleet failed"
  FLEET_RT="" FLEET_NAMES=()
fi
want dns && run_section dns
want engine && run_section engine
# last: it empties the peers' image stores (their cold pulls)
if want pull; then run_section pull; fi
