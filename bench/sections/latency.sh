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
  latency_paired
}

# The 1.5× target's ratio, measured in pairs: LAT_ROUNDS rounds, each timing floor-batch and
# minid, one after the other (LAT_PAIR_RUNS runs each, after one warm-up) on `run --rm -p`; the ratio is the
# median over rounds of minid's median ÷ the floor's. The host's load changes from one minute
# to the next (2 shared cores, and dockerd/containerd idling with PEERS=1); within a round
# both see the same, and minid, which uses more CPU, would otherwise be compared with a floor
# measured in a quieter minute (or the other way round).
latency_paired() {
  local rounds=${LAT_ROUNDS:-6} runs=${LAT_PAIR_RUNS:-5} r rt json=$BENCH_TMP/pair.json
  local -A meds=()
  [[ " ${RUNTIMES[*]} " == *" minid "* ]] && minid_supports "bridge -p" || return 0
  log "latency: bridge -p in pairs, $rounds rounds of floor-batch and minid, in turn first ($runs runs each)"
  local order
  for ((r = 0; r < rounds; r++)); do
    # Who goes first alternates: whatever the first block of a round pays for (the kernel
    # still tearing down the previous round's namespaces) falls on both alike.
    order="floor-batch minid"
    ((r % 2 == 0)) || order="minid floor-batch"
    for rt in $order; do
      if ! hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$json" \
        "$(rt_run "$rt") --rm --network bridge -p $PORT_RUN:80 busybox true" >/dev/null 2>"$BENCH_TMP/pair.err"; then
        warn "    paired round $r / $rt failed: $(tail -n 1 "$BENCH_TMP/pair.err")"
        return 0
      fi
      meds[$rt]+="$(jq '.results[0].median * 1000' "$json") "
    done
  done
  for rt in floor-batch minid; do
    local s
    s=$(tr ' ' '\n' <<<"${meds[$rt]}" | grep . | stats)
    record latency "bridge -p, paired" "$rt" ms status=ok \
      "median=$(jq .median <<<"$s")" "min=$(jq .min <<<"$s")" "max=$(jq .max <<<"$s")" "runs=$((rounds * runs))" \
      "round_means=$(tr ' ' '\n' <<<"${meds[$rt]}" | grep . | jq -sc .)"
  done
  log "    floor-batch $(tr ' ' '\n' <<<"${meds[floor-batch]}" | grep . | stats | jq -r '.median|.*10|round/10') ms, minid $(tr ' ' '\n' <<<"${meds[minid]}" | grep . | stats | jq -r '.median|.*10|round/10') ms (medians of the rounds' medians)"
}

