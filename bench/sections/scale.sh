# bench/scale.sh — SCALE_N (100) idle detached containers on one bridge: started one after
# the other, then removed one by one; then started 10 at a time, then removed with one
# `rm -f` call. Per-container times at the start and at the end of the fleet (they should
# stay flat), unique addresses, and nothing left behind. While the first fleet is up, the
# memory and startup sections take their "at 100" figures.
# shellcheck shell=bash

FLEET_RT="" FLEET_NAMES=()

# first/last K values of a per-container series (in start order) -> medians. With the probe's
# series timed beside it (one after the other), also its first/last 10 and the fleet's ratio
# against the probe's: the host's own speed, which drifts over the seconds a fleet takes to
# start (both series slow down and recover together on this shared host), divided out.
series_record() { # CASE RUNTIME FILE(name ms per line, in order) TOTAL_MS [key=value...]
  local case=$1 rt=$2 file=$3 total=$4 k=10 all first last probe=() pf pl
  shift 4
  all=$(awk '{print $2}' "$file" | stats)
  first=$(awk '{print $2}' "$file" | head -n "$k" | stats | jq .median)
  last=$(awk '{print $2}' "$file" | tail -n "$k" | stats | jq .median)
  if [[ -s $BENCH_TMP/probe.txt ]]; then
    pf=$(awk '{print $2}' "$BENCH_TMP/probe.txt" | head -n "$k" | stats | jq .median)
    pl=$(awk '{print $2}' "$BENCH_TMP/probe.txt" | tail -n "$k" | stats | jq .median)
    probe=("probe_first10=$pf" "probe_last10=$pl" "ratio_vs_probe=$(jq -n "($last / $first) / ($pl / $pf)")"
      "probe_series=$(awk '{print $2}' "$BENCH_TMP/probe.txt" | jq -sc .)")
    : >"$BENCH_TMP/probe.txt" # (the fleet's, not its removal's)
  fi
  record scale "$case" "$rt" ms status=ok \
    "median=$(jq .median <<<"$all")" "min=$(jq .min <<<"$all")" "max=$(jq .max <<<"$all")" \
    "runs=$(jq .n <<<"$all")" "total_ms=$total" "first10=$first" "last10=$last" \
    "ratio=$(jq -n "$last / $first")" "series=$(awk '{print $2}' "$file" | jq -sc .)" "${probe[@]}" "$@"
  log "    $case: total $((total / 1000)).$(((total % 1000) / 100)) s; per container: first 10 $first ms, last 10 $last ms (median)${pf:+; the probe beside it: $pf → $pl ms}"
}

# The probe: floor-batch's `run --network none busybox true` (namespaces, mounts, a process;
# no bridge, veth, rule or address, so nothing the fleet accumulates), timed after each start
# of a sequential fleet: how fast the host is at that moment.
probe() { # NAME >> probe.txt
  local s
  s=$(now_us)
  $(rt_run floor-batch) --network none busybox true >/dev/null 2>&1 || true
  s=$((($(now_us) - s) / 1000))
  PROBE_MS=$((PROBE_MS + s))
  echo "$1 $s" >>"$BENCH_TMP/probe.txt"
}

# Start the fleet. MODE seq|par. Writes per-container times to $BENCH_TMP/fleet.txt.
fleet_up() { # RT N MODE
  local rt=$1 n=$2 mode=$3 i t0 t1 name
  FLEET_RT=$rt FLEET_NAMES=()
  for i in $(seq "$n"); do FLEET_NAMES+=("mbs-$i"); done
  : >"$BENCH_TMP/fleet.txt"
  : >"$BENCH_TMP/fleet.err"
  : >"$BENCH_TMP/probe.txt"
  PROBE_MS=0
  FLEET_WHY=""
  t0=$(now_ms)
  if [[ $mode == seq ]]; then
    for name in "${FLEET_NAMES[@]}"; do
      bash "$BENCH_DIR/scale-one.sh" "$rt" "$name" >>"$BENCH_TMP/fleet.txt" 2>>"$BENCH_TMP/fleet.err" ||
        { FLEET_WHY="starting $name failed: $(tail -n 1 "$BENCH_TMP/fleet.err")"; warn "$rt: $FLEET_WHY"; return 1; }
      probe "$name"
    done
  else
    # xargs keeps 10 starts going; order the results by name index afterwards
    printf '%s\n' "${FLEET_NAMES[@]}" | xargs -P 10 -I{} bash "$BENCH_DIR/scale-one.sh" "$rt" {} >>"$BENCH_TMP/fleet.txt" 2>>"$BENCH_TMP/fleet.err" ||
      { FLEET_WHY="$((n - $(grep -c . "$BENCH_TMP/fleet.txt" || true))) of $n starts failed: $(grep -v '^\s*$' "$BENCH_TMP/fleet.err" | sort | uniq -c | sort -rn | head -n 2 | tr '\n' ';' || true)"
        warn "$rt: $FLEET_WHY"; return 1; }
  fi
  t1=$(now_ms)
  FLEET_TOTAL=$((t1 - t0 - PROBE_MS)) # (the probes' time is not the fleet's)
}

# Which of the fleet are running, and their addresses: "running unique_addresses"
fleet_check() {
  local rt=$FLEET_RT running addrs
  case $rt in
    minid)
      local j
      j=$("$MINID" inspect "${FLEET_NAMES[@]}")
      running=$(jq '[.[] | select(.State.Running)] | length' <<<"$j")
      addrs=$(jq -r ".[] | [.] | $MINID_IP_JQ" <<<"$j" | grep -c . || true)
      addrs="$addrs $(jq -r ".[] | [.] | $MINID_IP_JQ" <<<"$j" | sort -u | grep -c . || true)"
      ;;
    *)
      local nm ips=() pid
      running=0
      for nm in "${FLEET_NAMES[@]}"; do
        pid=$(rt_pid "$rt" "$nm" 2>/dev/null || true)
        [[ -n $pid && -d /proc/$pid ]] && running=$((running + 1))
        ips+=("$(rt_ip "$rt" "$nm")")
      done
      addrs="$(printf '%s\n' "${ips[@]}" | grep -c . || true) $(printf '%s\n' "${ips[@]}" | sort -u | grep -c . || true)"
      ;;
  esac
  echo "$running $addrs"
}

# What the fleet left behind: host objects (against a snapshot taken before), and the
# runtime's own records.
fleet_leftovers() { # BEFORE_SNAPSHOT -> one line per leftover
  local after=$BENCH_TMP/snap-after
  sleep 0.2 # let the kernel finish deleting namespaces
  snapshot "$after"
  diff_snapshots "$1" "$after"
  case $FLEET_RT in
    minid)
      "$MINID" ps -a --json | jq -r '.[] | select(.Name | startswith("mbs-")) | "minid container " + .Name'
      local d
      for d in "$MINID_RUN/containers" "$MINID_ROOT/containers"; do
        [[ -d $d ]] && find "$d" -mindepth 1 -maxdepth 1 -printf "leftover dir %p\n"
      done
      ;;
    floor-*) ls "$FLOOR_STATE/ctr" 2>/dev/null | sed 's/^/floor container dir /' ;;
  esac
  true
}

scale_one_runtime() { # RT
  local rt=$1 n=$SCALE_N before=$BENCH_TMP/snap-before left t0 name modes=(seq par)
  [[ $rt == minid ]] || modes=(seq) # floor.sh is not for concurrent use; peers: see README
  # one container first: the bridge and host-wide rules exist before the snapshot
  $(rt_run "$rt") --rm --network bridge busybox true >/dev/null 2>&1 || true
  snapshot "$before"
  local mode
  for mode in "${modes[@]}"; do
    local what="one after the other"
    [[ $mode == seq ]] || what="10 at a time"
    log "  scale / $rt: starting $n containers, $what"
    if ! fleet_up "$rt" "$n" "$mode"; then
      record_status scale "start $n, $what" "$rt" ms failed "$FLEET_WHY"
    else
      # parallel: put the times in name order (start order is roughly the same)
      sort -t- -k2 -n -o "$BENCH_TMP/fleet.txt" "$BENCH_TMP/fleet.txt"
      read -r running naddr nuniq < <(fleet_check)
      local ok=true
      ((running == n && nuniq == n && naddr == n)) || ok=false
      series_record "start $n, $what" "$rt" "$BENCH_TMP/fleet.txt" "$FLEET_TOTAL" \
        "running=$running" "addresses=$naddr" "unique_addresses=$nuniq" "checks_ok=$ok"
      log "    running $running/$n, addresses $naddr, unique $nuniq"
      if [[ $mode == seq ]]; then
        ! want memory || memory_at_100
        [[ $rt != minid ]] || ! want startup || startup_at_100
      fi
    fi
    # remove: one by one after the sequential fleet, one call after the parallel one
    : >"$BENCH_TMP/fleet-rm.txt"
    t0=$(now_ms)
    if [[ $mode == seq ]]; then
      for name in $(rt_names "$rt" mbs-); do
        local s
        s=$(now_us)
        rt_rm "$rt" "$name" || warn "$rt: rm $name failed"
        echo "$name $((($(now_us) - s) / 1000))" >>"$BENCH_TMP/fleet-rm.txt"
      done
    else
      # shellcheck disable=SC2046
      rt_rm "$rt" $(rt_names "$rt" mbs-) || warn "$rt: rm -f of the fleet failed"
    fi
    local total=$(($(now_ms) - t0))
    left=$(fleet_leftovers "$before")
    local nleft
    nleft=$(grep -c . <<<"$left" || true)
    [[ -z $left ]] || warn "left behind after removing the fleet:"$'\n'"$left"
    if [[ $mode == seq ]]; then
      sort -t- -k2 -n -o "$BENCH_TMP/fleet-rm.txt" "$BENCH_TMP/fleet-rm.txt"
      series_record "remove $n, one by one" "$rt" "$BENCH_TMP/fleet-rm.txt" "$total" \
        "leftovers=$nleft" "leftover_list=$(head -c 2000 <<<"$left")"
    else
      record scale "remove $n, one rm -f call" "$rt" ms status=ok "median=$total" "min=$total" "max=$total" \
        "total_ms=$total" "runs=1" "leftovers=$nleft" "leftover_list=$(head -c 2000 <<<"$left")"
      log "    removed in $total ms; leftovers: $nleft"
    fi
  done
  FLEET_RT="" FLEET_NAMES=()
}

section_scale() {
  log "scale: $SCALE_N idle containers on one bridge"
  scale_one_runtime floor-batch
  if minid_supports bridge; then
    scale_one_runtime minid
  else
    record_status scale "start $SCALE_N, one after the other" minid ms pending "$MINID_PENDING_WHY"
    ! want memory || record_status memory "idle container ($SCALE_N)" minid MB pending "$MINID_PENDING_WHY"
    ! want startup || record_status startup "ps ($SCALE_N containers)" minid ms pending "$MINID_PENDING_WHY"
  fi
}
