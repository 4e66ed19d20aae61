# bench/sections/throughput.sh — TCP throughput to a container, with iperf3.
# The server is the HOST's iperf3 binary started inside the container's network namespace
# (nsenter --net=...): the network path (veth, bridge, NAT, conntrack) is what is measured,
# not the image. Three paths per runtime: the container's address directly, the published
# port on the host's address, and the published port on 127.0.0.1. The reference is the
# kernel's loopback (client and server on the host, no namespace, no NAT).
# shellcheck shell=bash

# iperf_client CASE RUNTIME HOST PORT: one iperf3 run of IPERF_SECONDS; appends the
# per-second rates (Gbit/s; the first second is omitted: slow start) to a file per case, and
# the run's mean to another (one line per round, null if it failed: the paths of a round are
# measured back to back, so round i of two paths can be compared: paired ratios).
# iperf_record CASE RUNTIME then records them all (every round), or the last error.
iperf_client() {
  local case=$1 rt=$2 host=$3 port=$4 out=$BENCH_TMP/iperf.json f
  f=$BENCH_TMP/iperf-$rt-${case//[^a-z0-9]/_}
  log "  throughput / $case / $rt: iperf3 -c $host -p $port -t $IPERF_SECONDS"
  if ! iperf3 -c "$host" -p "$port" -t "$IPERF_SECONDS" -O 1 -J >"$out" 2>&1 || ! jq -e '.end.sum_received' "$out" >/dev/null 2>&1; then
    local why
    why=$(jq -r '.error // empty' "$out" 2>/dev/null || true)
    [[ -n $why ]] || why=$(head -c 200 "$out")
    warn "    failed: $why"
    echo "$why" >"$f.err"
    echo null >>"$f.avg" # keeps the rounds of the paths in step (paired ratios)
    return 0
  fi
  jq '[.intervals[] | select(.sum.omitted | not) | .sum.bits_per_second / 1e9] | .[]' "$out" >>"$f.rates"
  jq '.end.sum_received.bits_per_second / 1e9' "$out" >>"$f.avg"
  jq '.end.sum_sent.retransmits // 0' "$out" >>"$f.retr"
  log "    $(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' "$out") Gbit/s"
}

iperf_record() { # CASE RUNTIME
  local case=$1 rt=$2 f s
  f=$BENCH_TMP/iperf-$rt-${case//[^a-z0-9]/_}
  if [[ ! -s $f.rates ]]; then
    record_status throughput "$case" "$rt" Gbit/s failed "$(cat "$f.err" 2>/dev/null || echo 'no measurement')"
    return 0
  fi
  s=$(stats <"$f.rates")
  record throughput "$case" "$rt" Gbit/s status=ok \
    "median=$(jq .median <<<"$s")" "min=$(jq .min <<<"$s")" "max=$(jq .max <<<"$s")" \
    "mean=$(jq -s 'map(select(. != null)) | add / length' "$f.avg")" "runs=$(jq .n <<<"$s")" "rounds=$(grep -vc null "$f.avg")" \
    "round_means=$(jq -sc . "$f.avg")" \
    "retransmits=$(jq -s add "$f.retr")" \
    "failed_rounds=$([[ -f $f.err ]] && echo 1 || echo 0)"
}

# Start an iperf3 server in network namespace NSPATH (or the host's if empty) on PORT.
IPERF_PID=""
iperf_server() {
  local nspath=$1 port=$2 pre=()
  [[ -z $nspath ]] || pre=(nsenter "--net=$nspath")
  "${pre[@]}" iperf3 -s -p "$port" >"$BENCH_TMP/iperf-server.log" 2>&1 &
  IPERF_PID=$!
  on_exit "stop_pid $IPERF_PID"
  for _ in $(seq 100); do
    "${pre[@]}" ss -Htln "sport = :$port" | grep -q . && return 0
    sleep 0.02
  done
  warn "iperf3 server did not start"; return 1
}

stop_pid() { # PID: end a process this shell started (still its job: no PID reuse), reap it
  [[ -n ${1:-} && " $(jobs -p | tr '\n' ' ') " == *" $1 "* ]] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

section_throughput() {
  log "throughput: iperf3, ${IPERF_SECONDS}s per path, $IPERF_ROUNDS round(s) (paths alternate)"

  if iperf_server "" "$PORT_KERNEL"; then
    for _ in $(seq "$IPERF_ROUNDS"); do iperf_client "kernel loopback" kernel 127.0.0.1 "$PORT_KERNEL"; done
  fi
  stop_pid "$IPERF_PID"
  iperf_record "kernel loopback" kernel
  local rt name ip ns c paths
  for rt in "${RUNTIMES[@]}"; do
    [[ $rt != floor-steps ]] || continue # same kernel objects as floor-batch
    paths=(direct 127.0.0.1)
    [[ -z $HOST_ADDR ]] || paths=(direct "host address" 127.0.0.1)
    if [[ $rt == minid ]] && ! minid_supports "bridge -p"; then
      for c in "${paths[@]}"; do record_status throughput "$c" minid Gbit/s pending "$MINID_PENDING_WHY"; done
      continue
    fi
    name=mbt-$rt
    if ! rt_run_d "$rt" "$name" -p "$PORT_IPERF:5201" busybox sleep 3600; then
      warn "$rt: could not start the iperf3 container"
      record_status throughput direct "$rt" Gbit/s failed "could not start the container"
      continue
    fi
    ip=$(rt_ip "$rt" "$name") ns=$(rt_netns "$rt" "$name")
    if iperf_server "$ns" 5201; then
      # Each round measures every path once, starting from the next path each time (direct,
      # host, 127 / host, 127, direct / ...): a drift within a round (the host's load, the
      # CPU's clock) then favours no path.
      local r i n=${#paths[@]}
      for ((r = 0; r < IPERF_ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
          case ${paths[(r + i) % n]} in
            direct) iperf_client direct "$rt" "$ip" 5201 ;;
            "host address") iperf_client "host address" "$rt" "$HOST_ADDR" "$PORT_IPERF" ;;
            127.0.0.1) iperf_client 127.0.0.1 "$rt" 127.0.0.1 "$PORT_IPERF" ;;
          esac
        done
      done
    fi
    stop_pid "$IPERF_PID"
    for c in "${paths[@]}"; do iperf_record "$c" "$rt"; done
    rt_rm "$rt" "$name" || warn "$rt: rm $name failed"
  done
}
