# bench/sections/pull.sh — pulling an image from a registry on 127.0.0.1 until it can run:
# minid pull, docker pull, podman pull (PEERS=1) and skopeo copy + umoci unpack, side by side
# in rounds, for the nginx image (4 layers, ~15 MB) and the python image (6 layers, ~90 MB).
# Sourced by bench/run.sh.
#
# The registry: Debian's docker-registry (distribution 2.8) with its own config and storage
# under $BENCH_TMP/pull, listening on 127.0.0.1 only, started here and stopped by its PID;
# the images are pushed into it with skopeo (OCI manifests, gzip layers).
#
# cold  the image is nowhere on the puller's side: minid pulls into a new, empty store (one
#       per round; `minid images` has created it, untimed); docker and podman after removing
#       every image from their stores (`rmi -f`, then prune: the busybox base layer is shared
#       by all the bench's images); skopeo copy into an empty OCI layout, then umoci unpack
#       into an empty bundle. Every one of them has extracted the layers when it exits (minid,
#       docker and podman unpack at pull): the image is runnable. `sync` before each cold pull
#       (untimed), so that none pays for the previous one's dirty pages.
# warm  the same pull again with everything present: a manifest request and nothing to
#       fetch. skopeo+umoci: the skopeo copy only (its blobs are there; the bundle is
#       already unpacked).
# Each round times every runtime's cold pull then its warm pulls (PULL_WARM runs); the
# runtime that goes first moves by one each round. Runnable is checked after every round's
# pulls (untimed): the image runs `nginx -v` / `python3 -c 'print(1)'`.
# shellcheck shell=bash

PULL_IMAGES=(nginx python)
PULL_REGISTRY_PID="" PULL_PORT=""

pull_check_cmd() { # IMAGE -> a command that proves the image runs
  case $1 in
    nginx) echo "nginx -v" ;;
    python) echo "python3 -c print(1)" ;;
  esac
}

pull_tools() {
  local need=() t
  for t in docker-registry skopeo umoci; do command -v "$t" >/dev/null || need+=("$t"); done
  ((${#need[@]})) || return 0
  log "pull: apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"$BENCH_TMP/apt-pull.log" 2>&1 ||
    { warn "apt-get install ${need[*]} failed (see $BENCH_TMP/apt-pull.log)"; return 1; }
}

# A free port in the fixed range 19700-19799 (nothing there is the bench's otherwise).
pull_pick_port() {
  local p
  for p in $(seq 19750 19799) $(seq 19700 19749); do port_free "$p" && { echo "$p"; return 0; }; done
  return 1
}

pull_registry_up() {
  local P=$BENCH_TMP/pull i
  mkdir -p "$P/registry"
  PULL_PORT=$(pull_pick_port) || { warn "no free port in 19700-19799 for the registry"; return 1; }
  cat >"$P/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $P/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PULL_PORT
EOF
  on_exit pull_registry_down
  docker-registry serve "$P/registry.yml" >"$P/registry.log" 2>&1 &
  PULL_REGISTRY_PID=$!
  for i in $(seq 100); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$PULL_PORT/v2/" && return 0
    kill -0 "$PULL_REGISTRY_PID" 2>/dev/null || { warn "docker-registry exited: $(tail -n 2 "$P/registry.log")"; return 1; }
    sleep 0.1
  done
  warn "docker-registry did not answer on 127.0.0.1:$PULL_PORT in 10 s"
  return 1
}

pull_registry_down() {
  [[ -n $PULL_REGISTRY_PID ]] || return 0
  if kill -0 "$PULL_REGISTRY_PID" 2>/dev/null; then
    kill -TERM "$PULL_REGISTRY_PID"
    for _ in $(seq 50); do kill -0 "$PULL_REGISTRY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PULL_REGISTRY_PID" 2>/dev/null && kill -KILL "$PULL_REGISTRY_PID"
  fi
  wait "$PULL_REGISTRY_PID" 2>/dev/null || true
  PULL_REGISTRY_PID=""
}

# The OCI layout of IMAGE: run.sh's image dir if it has it, else built into the temp dir.
pull_layout() {
  local img=$1
  if [[ -f $IMAGES_DIR/$img/index.json ]]; then echo "$IMAGES_DIR/$img"; return 0; fi
  [[ -f $BENCH_TMP/images/$img/index.json ]] ||
    bash "$REPO/images/build.sh" "$img" "$BENCH_TMP/images/$img" >>"$BENCH_TMP/images-build.log" 2>&1 || return 1
  echo "$BENCH_TMP/images/$img"
}

pull_ref() { echo "127.0.0.1:$PULL_PORT/library/$1:latest"; }

# minid's config for the pulls: offline (loopback only), no certificates or credentials of
# this host's users.
pull_minid_env() { # ROUND-DIR -> VAR=VALUE assignments (a command prefix for bash -c, or for env)
  echo "MINID_ROOT=$1/root MINID_RUN=$1/run MINID_CONFIG=$BENCH_TMP/pull/minid-config.json"
}

# pull_prepare RT IMAGE ROUND: make RT's side empty for a cold pull (untimed).
pull_prepare() {
  local rt=$1 img=$2 r=$3 D=$BENCH_TMP/pull/$1
  case $rt in
    minid)
      umount_under "$D" # nothing should be mounted there (run --rm); never rm -rf through a mount
      rm -rf "$D"; mkdir -p "$D/$img-$r"
      # shellcheck disable=SC2046
      env $(pull_minid_env "$D/$img-$r") "$MINID" images >/dev/null
      ;;
    docker)
      local ids
      ids=$(dk images -aq 2>/dev/null | sort -u)
      # shellcheck disable=SC2086
      [[ -z $ids ]] || dk rmi -f $ids >/dev/null 2>&1 || true
      dk image prune -af >/dev/null 2>&1 || true
      ;;
    podman) podman rmi -af >/dev/null 2>&1 || true; podman image prune -af >/dev/null 2>&1 || true ;;
    skopeo+umoci) rm -rf "$D"; mkdir -p "$D" ;;
  esac
  sync
}

# The pull as one command string for bash -c (cold and warm alike, except skopeo+umoci).
pull_cmd() { # RT IMAGE ROUND cold|warm
  local rt=$1 img=$2 r=$3 kind=$4 ref D=$BENCH_TMP/pull/$1
  ref=$(pull_ref "$img")
  case $rt in
    minid) echo "$(pull_minid_env "$D/$img-$r") $MINID pull -q $ref" ;;
    docker) echo "$DOCKER_BIN -H unix://$BENCH_TMP/docker/docker.sock pull -q $ref" ;;
    podman) echo "podman pull -q --tls-verify=false $ref" ;;
    skopeo+umoci)
      local copy="skopeo copy -q --src-tls-verify=false docker://$ref oci:$D/oci:latest"
      if [[ $kind == cold ]]; then echo "$copy && umoci unpack --image $D/oci:latest $D/bundle"; else echo "$copy"; fi
      ;;
  esac
}

pull_runnable() { # RT IMAGE ROUND: does the pulled image run? (untimed)
  local rt=$1 img=$2 r=$3 check D=$BENCH_TMP/pull/$1
  check=$(pull_check_cmd "$img")
  # $check and the env assignments are split into words on purpose
  # shellcheck disable=SC2046,SC2086
  case $rt in
    minid) env $(pull_minid_env "$D/$img-$r") "$MINID" run --rm --network none "$(pull_ref "$img")" $check ;;
    docker) dk run --rm --network none "$(pull_ref "$img")" $check ;;
    podman) podman run --rm --network none "$(pull_ref "$img")" $check ;;
    skopeo+umoci) chroot "$D/bundle/rootfs" $check ;;
  esac
}

# pull_time CMD: run CMD (bash -c: a simple command is exec'd, no extra process), set PULL_MS
# to its wall time in ms. Its output goes to cmd.out/cmd.err (the last error is reported).
pull_time() {
  local t0 t1
  t0=${EPOCHREALTIME/./}
  bash -c "$1" >"$BENCH_TMP/pull/cmd.out" 2>"$BENCH_TMP/pull/cmd.err" || return 1
  t1=${EPOCHREALTIME/./}
  PULL_MS=$(jq -n "($t1 - $t0) / 1000 | . * 10 | round / 10")
}

# What the image weighs: layers, compressed (what is fetched) and unpacked (the tars).
pull_image_info() { # IMAGE LAYOUT
  local img=$1 L=$2 man gz=0 n=0 tarsz=0 d s
  man=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$L/index.json")
  while read -r d s; do
    gz=$((gz + s)) n=$((n + 1))
    tarsz=$((tarsz + $(gzip -dc "$L/blobs/sha256/${d#sha256:}" | wc -c)))
  done < <(jq -r '.layers[] | "\(.digest) \(.size)"' "$L/blobs/sha256/$man")
  record pull "$img image" image MB status=ok "layers=$n" "compressed=$(jq -n "$gz / 1048576")" "unpacked=$(jq -n "$tarsz / 1048576")"
  log "  $img: $n layers, $(jq -n "$gz / 1048576 * 10 | round / 10") MB compressed, $(jq -n "$tarsz / 1048576 * 10 | round / 10") MB unpacked"
}

section_pull() {
  local rounds=${PULL_ROUNDS:-5} warm=${PULL_WARM:-3}
  [[ $QUICK != 1 ]] || rounds=${PULL_ROUNDS:-2} warm=${PULL_WARM:-2}
  log "pull: cold and warm pulls from a registry on 127.0.0.1, $rounds rounds ($warm warm pulls each)"
  local rts=() rt img L
  if minid_ok; then
    rts+=(minid)
  else
    for img in "${PULL_IMAGES[@]}"; do
      record_status pull "$img cold" minid ms pending "$MINID_PENDING_WHY"
      record_status pull "$img warm" minid ms pending "$MINID_PENDING_WHY"
    done
  fi
  for rt in "${PEER_RUNTIMES[@]}"; do rts+=("$rt"); done
  pull_tools || { record_status pull "nginx cold" minid ms failed "docker-registry, skopeo or umoci missing"; return 0; }
  rts+=(skopeo+umoci)
  mkdir -p "$BENCH_TMP/pull"
  printf '{"offline": true, "certs-dirs": [], "auth-file": "%s"}\n' "$BENCH_TMP/pull/auth.json" >"$BENCH_TMP/pull/minid-config.json"
  pull_registry_up || { record_status pull "nginx cold" minid ms failed "the registry did not start"; return 0; }
  log "pull: docker-registry on 127.0.0.1:$PULL_PORT (PID $PULL_REGISTRY_PID); runtimes: ${rts[*]}"

  for img in "${PULL_IMAGES[@]}"; do
    if ! L=$(pull_layout "$img"); then
      warn "images/build.sh $img failed: $(tail -n 2 "$BENCH_TMP/images-build.log")"
      record_status pull "$img cold" minid ms failed "images/build.sh $img failed"
      continue
    fi
    skopeo copy -q --dest-tls-verify=false "oci:$L:latest" "docker://$(pull_ref "$img")" 2>"$BENCH_TMP/pull/push.err" ||
      { warn "skopeo push of $img failed: $(tail -n 1 "$BENCH_TMP/pull/push.err")"; record_status pull "$img cold" minid ms failed "skopeo push failed"; continue; }
    pull_image_info "$img" "$L"
    pull_rounds "$img" "$rounds" "$warm" "${rts[@]}"
  done
  # The peers' stores hold the pulled images now; the bench's images are gone from them.
  for rt in "${rts[@]}"; do [[ $rt == minid ]] || pull_prepare "$rt" none 0; done
  umount_under "$BENCH_TMP/pull/minid"; rm -rf "$BENCH_TMP/pull/minid"
}

pull_rounds() { # IMAGE ROUNDS WARM RUNTIME...
  local img=$1 rounds=$2 warm=$3
  shift 3
  local all=("$@") n=$# r i j rt cmd w c
  local -A cold=() warmr=() warmall=() dead=()
  for ((r = 0; r < rounds; r++)); do
    for ((j = 0; j < n; j++)); do
      rt=${all[$(((r + j) % n))]}
      [[ -z ${dead[$rt]:-} ]] || continue
      pull_prepare "$rt" "$img" "$r"
      cmd=$(pull_cmd "$rt" "$img" "$r" cold)
      if ! pull_time "$cmd"; then
        dead[$rt]="cold pull failed: $(grep -v '^\s*$' "$BENCH_TMP/pull/cmd.err" | tail -n 1 | cut -c1-200)"
        warn "    $img / $rt: ${dead[$rt]}"
        continue
      fi
      cold[$rt]+="$PULL_MS " c=$PULL_MS
      local wl=""
      cmd=$(pull_cmd "$rt" "$img" "$r" warm)
      for ((i = 0; i < warm; i++)); do
        if ! pull_time "$cmd"; then
          dead[$rt]="warm pull failed: $(grep -v '^\s*$' "$BENCH_TMP/pull/cmd.err" | tail -n 1 | cut -c1-200)"
          warn "    $img / $rt: ${dead[$rt]}"
          break
        fi
        wl+="$PULL_MS "
      done
      [[ -z ${dead[$rt]:-} ]] || continue
      w=$(tr ' ' '\n' <<<"$wl" | grep . | stats | jq '.median')
      warmr[$rt]+="$w " warmall[$rt]+="$wl"
      log "    round $((r + 1)) $img / $rt: cold $c ms, warm ${wl% } ms"
      if ! pull_runnable "$rt" "$img" "$r" >"$BENCH_TMP/pull/run.out" 2>&1; then
        dead[$rt]="pulled, but the image does not run: $(grep -v '^\s*$' "$BENCH_TMP/pull/run.out" | tail -n 1 | cut -c1-200)"
        warn "    $img / $rt: ${dead[$rt]}"
      fi
    done
  done
  local s
  for rt in "${all[@]}"; do
    if [[ -n ${dead[$rt]:-} ]]; then
      record_status pull "$img cold" "$rt" ms failed "${dead[$rt]}"
      record_status pull "$img warm" "$rt" ms failed "${dead[$rt]}"
      continue
    fi
    # cold: one figure per round; warm: all runs, and the per-round medians for the ratios
    s=$(tr ' ' '\n' <<<"${cold[$rt]}" | grep . | stats)
    record pull "$img cold" "$rt" ms status=ok "median=$(jq .median <<<"$s")" "min=$(jq .min <<<"$s")" "max=$(jq .max <<<"$s")" \
      "runs=$(jq .n <<<"$s")" "round_means=$(tr ' ' '\n' <<<"${cold[$rt]}" | grep . | jq -sc .)" "command=$(pull_cmd "$rt" "$img" R cold)"
    s=$(tr ' ' '\n' <<<"${warmall[$rt]}" | grep . | stats)
    record pull "$img warm" "$rt" ms status=ok "median=$(jq .median <<<"$s")" "min=$(jq .min <<<"$s")" "max=$(jq .max <<<"$s")" \
      "runs=$(jq .n <<<"$s")" "round_means=$(tr ' ' '\n' <<<"${warmr[$rt]}" | grep . | jq -sc .)" "command=$(pull_cmd "$rt" "$img" R warm)"
    log "  $img / $rt: cold median $(tr ' ' '\n' <<<"${cold[$rt]}" | grep . | stats | jq '.median * 10 | round / 10') ms, warm median $(jq '.median * 10 | round / 10' <<<"$s") ms"
  done
}
