# bench/sections/latency.sh — start-to-exit latency of `run --rm IMAGE true` per network mode,
# and a full port cycle (nginx with -p, two fetches, removal). Sourced by bench/run.sh.
# shellcheck shell=bash

LATENCY_CASES=(none host bridge "bridge -p" "port cycle")

section_latency() {
  log "latency: run --rm busybox true (--network none|host|bridge, bridge -p), port cycle"
  local rt case args
  # floor-bare (latency only): how much of the floor is the container's /dev, /sys, /proc masks
  # and /etc files.
  for rt in "${RUNTIMES[@]}" floor-bare; do
    for case in "${LATENCY_CASES[@]}"; do
      if [[ $rt == minid ]] && ! minid_supports "$case"; then
        record_status latency "$case" minid ms pending "$MINID_PENDING_WHY"
        continue
      fi
      case $case in
        none | host | bridge) args="--rm --network $case busybox true" ;;
        "bridge -p") args="--rm --network bridge -p $PORT_RUN:80 busybox true" ;;
        "port cycle")
          hf latency "$case" "$rt" -- "bash $BENCH_DIR/portcycle.sh $rt $PORT_CYCLE $HOST_ADDR"
          continue
          ;;
      esac
      hf latency "$case" "$rt" -- "$(rt_run "$rt") $args"
    done
  done
}
