# bench/peers.sh — docker and podman, only with PEERS=1 (sourced by bench/run.sh).
# shellcheck disable=SC2034 # DOCKER_VERSION, PODMAN_VERSION: read by run.sh
#   peers_up    install docker.io/podman if missing (apt-get), start a private dockerd, set up
#               a private podman store, load the same busybox and nginx images into both
#   peers_down  (registered with on_exit) remove their containers, stop dockerd by its PID,
#               delete what they created on the host and nothing else: the bridges and
#               iptables rules/chains that were not there before they started
# Everything lives under $BENCH_TMP/docker and $BENCH_TMP/podman.
# shellcheck shell=bash

PEER_RUNTIMES=()
DOCKERD_PID="" DOCKER_STARTED=0

# iptables_cleanup_since BEFORE REGEX: delete rules and chains that exist now, did not exist
# in the iptables-save output BEFORE, and match REGEX (rules created by one peer only).
iptables_cleanup_since() {
  local before=$1 re=$2 table in
  for table in nat filter mangle raw; do
    in=$(iptables-save -t "$table" 2>/dev/null | sed 's/\[[0-9]*:[0-9]*\]//' | awk -v re="$re" -v bf="$before" -v t="$table" '
      BEGIN { cur=""; while ((getline l < bf) > 0) { sub(/\[[0-9]*:[0-9]*\]/, "", l); if (l ~ /^\*/) cur=substr(l,2); else old[cur SUBSEP l]=1 } }
      /^:/ { split(substr($0,2), a, " "); if (!((t SUBSEP $0) in old) && a[1] ~ re) newchain[a[1]]=1; next }
      /^-A / { if (!((t SUBSEP $0) in old) && $0 ~ re) rules[++n]=$0 }
      END {
        for (i=1;i<=n;i++) { split(rules[i], w, " "); if (!(w[2] in newchain)) { r=rules[i]; sub(/^-A /, "-D ", r); print r } }
        for (c in newchain) print "-F " c
        for (c in newchain) print "-X " c
      }')
    [[ -n $in ]] || continue
    log "  removing $table rules/chains left behind: $(grep -c . <<<"$in") lines"
    printf '*%s\n%s\nCOMMIT\n' "$table" "$in" | iptables-restore --noflush || warn "could not remove some $table rules: $in"
  done
}

peers_install() {
  local need=()
  command -v dockerd >/dev/null && [[ -x $DOCKER_BIN ]] || need+=(docker.io)
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc) # podman: crun 1.8 refuses this host's hybrid cgroups
  # podman's network backend: Debian's podman only recommends nothing of it (a fresh machine has none)
  [[ -x /usr/lib/podman/netavark ]] || need+=(netavark)
  ((${#need[@]})) || return 0
  log "peers: apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >"$BENCH_TMP/apt.log" 2>&1 ||
    { warn "apt-get install ${need[*]} failed (see $BENCH_TMP/apt.log)"; return 1; }
}

docker_up() {
  local D=$BENCH_TMP/docker i
  mkdir -p "$D/data" "$D/exec"
  if pgrep -x dockerd >/dev/null; then
    warn "a dockerd is already running (not ours): docker is not benchmarked, to leave it alone"
    return 1
  fi
  iptables-save | sed 's/\[[0-9]*:[0-9]*\]//' >"$D/iptables.before"
  [[ -e /sys/class/net/docker0 ]] && DOCKER0_BEFORE=1 || DOCKER0_BEFORE=0
  [[ -e /etc/docker/key.json ]] && KEYJSON_BEFORE=1 || KEYJSON_BEFORE=0
  on_exit docker_down
  # Isolated (DOCKER_ISOLATED=1; the default when no section compares docker's NAT paths):
  # dockerd on a bridge of the bench's own (mbdock0, a /24 no route touches), without any
  # iptables rule, ip_forward or masquerade change: nothing of the host's network config but
  # that bridge. Published ports then go through docker-proxy (docker's userland proxy), which
  # is also what docker uses for 127.0.0.1 with its rules on.
  local net=(--iptables=true)
  if [[ ${DOCKER_ISOLATED:-0} == 1 ]]; then
    [[ ! -e /sys/class/net/mbdock0 ]] || { warn "a link mbdock0 already exists: another bench running?"; return 1; }
    [[ -n ${DOCKER_NET:-} ]] || { warn "no free /24 for docker's bridge"; return 1; }
    ip link add mbdock0 type bridge && ip addr add "$DOCKER_NET.1/24" dev mbdock0 && ip link set mbdock0 up ||
      { warn "could not create the bridge mbdock0"; return 1; }
    net=(--bridge=mbdock0 --iptables=false --ip-forward=false --ip-masq=false --cgroup-parent=/mbench-docker)
  fi
  log "peers: starting dockerd (data root $D/data; ${net[*]})"
  dockerd --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
    -H "unix://$D/docker.sock" "${net[@]}" --log-level=warn >"$D/dockerd.log" 2>&1 &
  DOCKERD_PID=$! DOCKER_STARTED=1
  for i in $(seq 300); do
    dk version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { warn "dockerd exited: $(tail -n 3 "$D/dockerd.log")"; return 1; }
    sleep 0.1
  done
  dk version >/dev/null 2>&1 || { warn "dockerd did not answer in 30 s"; return 1; }
  dk load -i "$PEER_IMAGES/busybox.tar" >/dev/null 2>>"$D/dockerd.log" &&
    dk load -i "$PEER_IMAGES/nginx.tar" >/dev/null 2>>"$D/dockerd.log" || { warn "docker load failed"; return 1; }
  dk run --rm busybox true 2>>"$D/dockerd.log" || { warn "docker run --rm busybox true failed"; return 1; }
  DOCKER_VERSION="engine $(dk version -f '{{.Server.Version}}' 2>/dev/null || true), $(containerd --version 2>/dev/null | awk '{print $1, $3}' || true), $(runc --version 2>/dev/null | head -n 1 || true)"
  return 0
}

docker_down() {
  [[ $DOCKER_STARTED == 1 ]] || return 0
  local D=$BENCH_TMP/docker ids
  ids=$(dk ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086
  [[ -z $ids ]] || dk rm -f $ids >/dev/null 2>&1 || true
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 200); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && { warn "dockerd did not stop in 20 s: SIGKILL"; kill -KILL "$DOCKERD_PID"; }
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  DOCKER_STARTED=0
  iptables_cleanup_since "$D/iptables.before" 'DOCKER|docker0'
  [[ $DOCKER0_BEFORE == 1 || ! -e /sys/class/net/docker0 ]] || ip link del docker0
  [[ ${DOCKER_ISOLATED:-0} != 1 || ! -e /sys/class/net/mbdock0 ]] || ip link del mbdock0
  # the cgroup parent of the isolated dockerd (its containers' cgroups are gone by now)
  local cg
  for cg in /sys/fs/cgroup/*/mbench-docker /sys/fs/cgroup/mbench-docker; do
    [[ -d $cg ]] && { rmdir "$cg" 2>/dev/null || warn "could not remove the cgroup $cg"; }
  done
  [[ $KEYJSON_BEFORE == 1 ]] || rm -f /etc/docker/key.json
  # containerd (started by dockerd) mounts under the data root; all of it is ours
  umount_under "$D"
}

podman_up() {
  local P=$BENCH_TMP/podman
  mkdir -p "$P/root" "$P/run" "$P/tmp" "$P/networks"
  iptables-save | sed 's/\[[0-9]*:[0-9]*\]//' >"$P/iptables.before"
  [[ -e /sys/class/net/podman0 ]] && PODMAN0_BEFORE=1 || PODMAN0_BEFORE=0
  # The ulimits: podman 4.3 otherwise asks for more than CAP_SYS_RESOURCE-less root may set.
  # runc, not crun: crun 1.8 says "cgroups in hybrid mode not supported" on this host.
  cat >"$P/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$P/networks"
EOF
  cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P/root"
runroot = "$P/run"
EOF
  export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
  on_exit podman_down
  log "peers: podman with its store in $P"
  local img rc
  for img in busybox nginx; do
    podman load -q -i "$PEER_IMAGES/$img.tar" >/dev/null 2>>"$P/podman.log" ||
      { rc=$?; echo "podman load -i $img.tar: exit $rc" >>"$P/podman.log"; warn "podman load failed: $(tail -n 2 "$P/podman.log")"; return 1; }
  done
  podman run --rm busybox true 2>>"$P/podman.log" ||
    { rc=$?; echo "podman run --rm busybox true: exit $rc" >>"$P/podman.log"; warn "podman run failed: $(tail -n 2 "$P/podman.log")"; return 1; }
  PODMAN_VERSION="$(podman --version) (runc, netavark $(/usr/lib/podman/netavark --version 2>/dev/null | awk '{print $2}' || true), cgroupfs)"
  return 0
}

podman_down() {
  local P=$BENCH_TMP/podman
  [[ -n ${CONTAINERS_CONF:-} ]] || return 0
  podman rm -af -t 0 >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
  iptables_cleanup_since "$P/iptables.before" 'NETAVARK|podman|10\.88\.'
  [[ $PODMAN0_BEFORE == 1 || ! -e /sys/class/net/podman0 ]] || ip link del podman0
  umount_under "$P"
  unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}

# Unmount (lazily) whatever is mounted under DIR: the peers' own storage mounts.
umount_under() {
  local m
  for m in $(awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || warn "could not unmount $m"
  done
}

# peers_up [WANT_PODMAN]: docker always; podman unless WANT_PODMAN is 0 (the engine section
# alone measures docker only).
peers_up() {
  peers_install || { PEERS_WHY+=("apt-get install failed: $(tail -n 1 "$BENCH_TMP/apt.log")"); return 0; }
  if [[ ! -f $PEER_IMAGES/busybox.tar || ! -f $PEER_IMAGES/nginx.tar ]]; then
    # the images minid itself runs (its store has them since the probe), as docker-save tarballs
    log "peers: docker-save tarballs of busybox and nginx (minid save)"
    mkdir -p "$PEER_IMAGES"
    { "$MINID" save -o "$PEER_IMAGES/busybox.tar" busybox && "$MINID" save -o "$PEER_IMAGES/nginx.tar" nginx; } 2>"$BENCH_TMP/images-save.log" ||
      { warn "minid save failed: $(tail -n 1 "$BENCH_TMP/images-save.log")"; return 0; }
  fi
  if docker_up; then PEER_RUNTIMES+=(docker); else PEERS_WHY+=("docker: $(tail -n 1 "$BENCH_TMP/docker/dockerd.log" 2>/dev/null)"); fi
  [[ ${1:-1} == 0 ]] && return 0
  if podman_up; then PEER_RUNTIMES+=(podman); else PEERS_WHY+=("podman: $(tail -n 1 "$BENCH_TMP/podman/podman.log" 2>/dev/null)"); fi
}
