# bench/sections/memory.sh — host-side memory per idle detached container: what the runtime
# keeps running on the host for it (minid: `sh shim.sh` and its `unshare`; docker:
# containerd-shim; podman: conmon; the floor: the `unshare` parent), not the container's
# own processes. PSS from /proc/PID/smaps_rollup (shared pages split between sharers);
# RSS for reference. At 1 container and, with the scale fleet up, at 100.
# shellcheck shell=bash

# mem_record CASE RUNTIME N PID1... : sum the supervisors of N containers, record per container
mem_record() {
  local case=$1 rt=$2 n=$3
  shift 3
  local p sup=() pss rss cnt names
  for p in "$@"; do
    # shellcheck disable=SC2207
    sup+=($(supervisor_pids "$p"))
  done
  read -r pss rss cnt < <(mem_of_pids "${sup[@]}")
  names=$(for p in "${sup[@]}"; do cat "/proc/$p/comm" 2>/dev/null; done | sort | uniq -c | awk '{printf "%s%s x%s", (NR>1?", ":""), $2, $1}')
  if ((cnt == 0)); then
    record_status memory "$case" "$rt" MB failed "no host-side processes found for the container(s)"
    return 0
  fi
  record memory "$case" "$rt" MB status=ok \
    "median=$(jq -n "$pss / 1024 / $n")" "rss=$(jq -n "$rss / 1024 / $n")" \
    "total_pss=$(jq -n "$pss / 1024")" "containers=$n" "processes=$cnt" "note=PSS per container; processes: $names"
  log "    $rt $case: $(jq -n "$pss / 1024 / $n * 100 | round / 100") MB PSS per container ($names)"
}

# daemons_record RUNTIME COMM-REGEX: the fixed cost of a daemon-based runtime
daemons_record() {
  local rt=$1 re=$2 p pids=() pss rss cnt
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) =~ $re ]] && pids+=("${p#/proc/}")
  done
  ((${#pids[@]})) || return 0
  read -r pss rss cnt < <(mem_of_pids "${pids[@]}")
  record memory "daemons (fixed)" "$rt" MB status=ok "median=$(jq -n "$pss / 1024")" "rss=$(jq -n "$rss / 1024")" "processes=$cnt" "note=$re"
}

section_memory() {
  log "memory: host-side PSS per idle container"
  local rt pids=() i n=${PEER_MEM_N:-10}
  for rt in "${RUNTIMES[@]}"; do
    [[ $rt != floor-steps ]] || continue # the same processes as floor-batch
    if [[ $rt == minid ]] && ! minid_supports bridge; then
      record_status memory "idle container (1)" minid MB pending "$MINID_PENDING_WHY"
      continue
    fi
    rt_run_d "$rt" mbm-1 busybox sleep 3600 || { record_status memory "idle container (1)" "$rt" MB failed "could not start"; continue; }
    sleep 0.5
    mem_record "idle container (1)" "$rt" 1 "$(rt_pid "$rt" mbm-1)"
    rt_rm "$rt" mbm-1 || warn "$rt: rm mbm-1 failed"
  done
  for rt in "${PEER_RUNTIMES[@]}"; do
    # peers: N containers (the scale section runs 100 for minid only)
    pids=()
    for i in $(seq "$n"); do rt_run_d "$rt" "mbm-$i" busybox sleep 3600 || break; done
    sleep 0.5
    for i in $(seq "$n"); do pids+=("$(rt_pid "$rt" "mbm-$i")"); done
    mem_record "idle container ($n)" "$rt" "$n" "${pids[@]}"
    case $rt in
      docker) daemons_record docker '^(dockerd|containerd)$' ;;
      podman) : ;; # no daemon
    esac
    # shellcheck disable=SC2046
    rt_rm "$rt" $(for i in $(seq "$n"); do echo "mbm-$i"; done) || warn "$rt: rm failed"
  done
}

# Called while the scale section has its fleet up (FLEET_RT, FLEET_NAMES).
memory_at_100() {
  local pids
  if [[ $FLEET_RT == minid ]]; then
    # shellcheck disable=SC2207
    pids=($("$MINID" inspect "${FLEET_NAMES[@]}" | jq -r '.[].State.Pid'))
  else
    local nm
    pids=()
    for nm in "${FLEET_NAMES[@]}"; do pids+=("$(rt_pid "$FLEET_RT" "$nm")"); done
  fi
  mem_record "idle container (${#FLEET_NAMES[@]})" "$FLEET_RT" "${#FLEET_NAMES[@]}" "${pids[@]}"
}
