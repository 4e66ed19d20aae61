# bench/sections/engine.sh — the Engine API (#19): testcontainers-node's start -> HTTP wait ->
# stop cycle of nginx (bench/tools/engine-cycle.mjs) against `minid system service` and, with
# PEERS=1, against the bench's dockerd. Target: minid at most half of docker's time.
# Sourced by bench/run.sh; on demand: `bash bench/run.sh engine` (PEERS=1 for docker).
# shellcheck shell=bash

ENGINE_PID=""

engine_down() {
  [[ -n $ENGINE_PID ]] || return 0
  kill "$ENGINE_PID" 2>/dev/null || true # by its PID: the service we started
  wait "$ENGINE_PID" 2>/dev/null || true
  ENGINE_PID=""
}

# engine_cycle RUNTIME DOCKER_HOST: records the cycle's figures (median etc., ms) for RUNTIME.
engine_cycle() {
  local rt=$1 host=$2 out=$BENCH_TMP/engine-$1.json err=$BENCH_TMP/engine-$1.err r
  log "  engine / testcontainers cycle / $rt: DOCKER_HOST=$host"
  if ! (cd "$REPO" && DOCKER_HOST=$host node "$BENCH_DIR/tools/engine-cycle.mjs" "$WARMUP" "$RUNS") >"$out" 2>"$err"; then
    warn "    failed: $(grep -v '^\s*$' "$err" | tail -n 1 | cut -c1-200)"
    record_status engine "testcontainers cycle" "$rt" ms failed "$(grep -v '^\s*$' "$err" | tail -n 1 | cut -c1-200)"
    return 0
  fi
  r=$(jq '.ms[]' "$out" | stats)
  # p90 (nearest rank) and the parts: start() (with the HTTP wait) and stop(), medians
  local p90 st sp slow
  p90=$(jq '.ms | sort | .[((length * 0.9) | ceil) - 1]' "$out")
  st=$(jq '.start | sort | .[(length - 1) / 2 | floor]' "$out")
  sp=$(jq '.stop | sort | .[(length - 1) / 2 | floor]' "$out")
  # cycles that waited for a second HTTP probe (testcontainers polls once a second)
  slow=$(jq '[.start[] | select(. > 900)] | length' "$out")
  record engine "testcontainers cycle" "$rt" ms "status=ok" "median=$(jq '.median' <<<"$r")" "min=$(jq '.min' <<<"$r")" \
    "max=$(jq '.max' <<<"$r")" "mean=$(jq '.mean' <<<"$r")" "runs=$(jq '.n' <<<"$r")" "first=$(jq '.first' "$out")" \
    "p90=$p90" "start_median=$st" "stop_median=$sp" "slow_cycles=$slow" \
    "command=testcontainers GenericContainer(nginx).withExposedPorts(80).withWaitStrategy(Wait.forHttp) start, fetch, stop"
  log "    median $(jq -r '.median|.*10|round/10' <<<"$r") ms, p90 $(jq -r '.*10|round/10' <<<"$p90") (min $(jq -r '.min|.*10|round/10' <<<"$r"), max $(jq -r '.max|.*10|round/10' <<<"$r"); start() $(jq -r 'round' <<<"$st"), stop() $(jq -r 'round' <<<"$sp"); $slow of $(jq '.n' <<<"$r") cycles > 900 ms in start(); first cycle $(jq -r '.first|round' "$out") ms)"
  log "    cycles (ms): $(jq -r '.ms | map(round) | join(" ")' "$out")"
}

section_engine() {
  log "engine: testcontainers start -> HTTP wait -> stop against the Engine API"
  [[ -d $REPO/node_modules/testcontainers ]] || { record_status engine "testcontainers cycle" minid ms skipped "testcontainers is not installed (npm ci)"; return 0; }
  if minid_supports "bridge -p"; then
    local sock=$BENCH_TMP/minid-engine.sock i
    "$MINID" system service --socket "$sock" --timeout 0 2>"$BENCH_TMP/minid-engine.log" &
    ENGINE_PID=$!
    on_exit engine_down
    for i in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
    if [[ -S $sock ]]; then
      engine_cycle minid "unix://$sock"
    else
      record_status engine "testcontainers cycle" minid ms failed "minid system service did not start: $(tail -n 1 "$BENCH_TMP/minid-engine.log")"
    fi
    engine_down
  else
    record_status engine "testcontainers cycle" minid ms pending "$MINID_PENDING_WHY"
  fi
  local rt
  for rt in "${PEER_RUNTIMES[@]}"; do
    [[ $rt == docker ]] && engine_cycle docker "unix://$BENCH_TMP/docker/docker.sock"
  done
  return 0
}
