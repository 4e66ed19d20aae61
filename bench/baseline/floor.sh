#!/usr/bin/env bash
# bench/baseline/floor.sh — the floor: what minid does for one container, as a plain shell
# script calling `ip`, `iptables`, `unshare` and `mount` directly. No daemon, no state beyond
# a few files, no checks a real runtime would make. minid cannot be faster than this by much;
# the benchmark reports minid's time as a multiple of it.
#
#   floor.sh prepare NAME OCI_LAYOUT   unpack an image's layers once (not timed)
#   floor.sh run [--batch] [--network none|host|bridge] [-p HOSTPORT:CTRPORT]
#                [-d --name NAME] IMAGE [CMD...]
#                                      one container: network, process, teardown (--rm is
#                                      implied: the foreground form always cleans up)
#   floor.sh ip NAME                   the address of detached container NAME
#   floor.sh netns NAME                its network namespace (for `ip netns exec` / nsenter)
#   floor.sh rm NAME                   stop detached container NAME (SIGKILL) and tear down
#   floor.sh clean                     remove everything floor.sh ever created (bridge,
#                                      chains, namespaces, files) and restore ip_forward
#
# --batch issues the same commands batched: one `ip -batch -` on the host, one
# `ip -n NS -batch -` inside the namespace and one `iptables-restore --noflush`, instead of
# one process per step. Environment (defaults in brackets):
#   FLOOR_STATE [/tmp/mbench-floor]  layers, container dirs, counters
#   FLOOR_BRIDGE [mbbr0]             FLOOR_NET [10.213.7] (a /24: FLOOR_NET.0/24)
#   FLOOR_CHAIN [MBENCH]             chains MBENCH-DNAT, MBENCH-POSTROUTING, MBENCH-FORWARD
#   FLOOR_EXPLAIN=1                  print each command on stderr as it runs (unbatched form)
# Not meant for concurrent use by several callers (addresses come from a counter).
set -euo pipefail

STATE=${FLOOR_STATE:-/tmp/mbench-floor}
BR=${FLOOR_BRIDGE:-mbbr0}
NET=${FLOOR_NET:-10.213.7}
CH=${FLOOR_CHAIN:-MBENCH}
GW=$NET.1
SUBNET=$NET.0/24

die() { echo "floor.sh: $*" >&2; exit 125; }
x() { # run one command, printing it first with FLOOR_EXPLAIN=1
  [[ ${FLOOR_EXPLAIN:-} != 1 ]] || echo "+ $*" >&2
  "$@"
}

# --- host-wide part: done once, like minid's first container on a bridge --------------------
# The jumps from the built-in chains, exactly as added (so `clean` deletes exactly these).
JUMPS=(
  "nat PREROUTING -m addrtype --dst-type LOCAL -j $CH-DNAT"
  "nat OUTPUT -m addrtype --dst-type LOCAL -j $CH-DNAT"
  "nat POSTROUTING -j $CH-POSTROUTING"
  "filter FORWARD -j $CH-FORWARD"
)

hostwide_up() {
  [[ -e $STATE/hostwide && -e /sys/class/net/$BR ]] && return 0
  mkdir -p "$STATE"
  [[ -e $STATE/ip_forward.orig ]] || cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  x ip link add "$BR" type bridge
  x ip addr add "$GW/24" dev "$BR"
  x ip link set "$BR" up
  # 127.0.0.1:PORT -> container: packets from 127.0.0.1 may leave through the bridge.
  echo 1 >"/proc/sys/net/ipv4/conf/$BR/route_localnet"
  x iptables -t nat -N "$CH-DNAT"
  x iptables -t nat -N "$CH-POSTROUTING"
  x iptables -t filter -N "$CH-FORWARD"
  local j
  for j in "${JUMPS[@]}"; do
    read -r -a a <<<"$j"
    x iptables -t "${a[0]}" -A "${a[1]}" "${a[@]:2}"
  done
  x iptables -t nat -A "$CH-POSTROUTING" -s "$SUBNET" ! -o "$BR" -j MASQUERADE
  x iptables -t nat -A "$CH-POSTROUTING" -s 127.0.0.0/8 -o "$BR" -j MASQUERADE
  x iptables -t filter -A "$CH-FORWARD" -o "$BR" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  x iptables -t filter -A "$CH-FORWARD" -i "$BR" -j ACCEPT
  : >"$STATE/hostwide"
}

# --- images ------------------------------------------------------------------------------
# Layers are unpacked once each into $STATE/layers/<digest>, OCI whiteouts turned into
# overlayfs ones (a 0/0 character device; an opaque directory gets trusted.overlay.opaque=y).
cmd_prepare() {
  local name=$1 layout=$2 mdig manifest config lower="" d dir
  [[ -f $layout/index.json ]] || die "$layout is not an OCI layout"
  mdig=$(jq -r '.manifests[0].digest' "$layout/index.json")
  manifest=$layout/blobs/sha256/${mdig#sha256:}
  config=$layout/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)
  for d in $(jq -r '.layers[].digest' "$manifest"); do
    d=${d#sha256:} dir=$STATE/layers/$d
    if [[ ! -d $dir ]]; then
      mkdir -p "$dir.tmp"
      tar -xzf "$layout/blobs/sha256/$d" -C "$dir.tmp" --numeric-owner
      while IFS= read -r -d '' wh; do
        local base parent
        base=$(basename "$wh") parent=$(dirname "$wh")
        rm -f "$wh"
        if [[ $base == .wh..wh..opq ]]; then
          setfattr -n trusted.overlay.opaque -v y "$parent"
        else
          mknod "$parent/${base#.wh.}" c 0 0
        fi
      done < <(find "$dir.tmp" -name '.wh.*' -print0)
      mv "$dir.tmp" "$dir"
    fi
    lower="$dir${lower:+:$lower}" # overlayfs: the first lowerdir is the top layer
  done
  mkdir -p "$STATE/images/$name"
  echo "$lower" >"$STATE/images/$name/lower"
  jq -r '.config.Env // [] | .[]' "$config" >"$STATE/images/$name/env"
  jq -r '(.config.Entrypoint // []) + (.config.Cmd // []) | .[]' "$config" >"$STATE/images/$name/cmd"
}

# --- one container -----------------------------------------------------------------------
# Set by parse_run: BATCH NETMODE PORTS[] DETACH NAME IMAGE CMD[]; by net_up: ID IP NS VETH
next_id() { # a short unique id and a host number 2..254 from a counter
  local n=0
  [[ -f $STATE/counter ]] && read -r n <"$STATE/counter"
  n=$((n + 1))
  echo "$n" >"$STATE/counter"
  ID=$(printf '%06x' "$n")
  IP=$NET.$((2 + (n - 1) % 253))
}

net_up() {
  NS=mb-$ID VETH=mbv$ID
  local p h c rules=()
  for p in "${PORTS[@]}"; do
    h=${p%%:*} c=${p##*:}
    rules+=(
      "nat $CH-DNAT -p tcp --dport $h -m comment --comment mbench:$ID -j DNAT --to-destination $IP:$c"
      "nat $CH-POSTROUTING -s $IP/32 -d $IP/32 -p tcp --dport $c -m comment --comment mbench:$ID -j MASQUERADE"
      "filter $CH-FORWARD -d $IP/32 -o $BR -p tcp --dport $c -m comment --comment mbench:$ID -j ACCEPT"
    )
  done
  if [[ $BATCH == 1 ]]; then
    ip -batch - <<EOF
netns add $NS
link add $VETH type veth peer name eth0 netns $NS
link set $VETH master $BR up
EOF
    ip -n "$NS" -batch - <<EOF
link set lo up
addr add $IP/24 dev eth0
link set eth0 up
route add default via $GW
EOF
    if ((${#rules[@]})); then
      local r t cur="" in=""
      for t in nat filter; do
        cur=""
        for r in "${rules[@]}"; do [[ $r == "$t "* ]] && cur+="-A ${r#"$t "}"$'\n'; done
        [[ -z $cur ]] || in+="*$t"$'\n'"$cur"$'COMMIT\n'
      done
      iptables-restore --noflush <<<"$in"
    fi
  else
    x ip netns add "$NS"
    x ip link add "$VETH" type veth peer name eth0 netns "$NS"
    x ip link set "$VETH" master "$BR" up
    x ip -n "$NS" link set lo up
    x ip -n "$NS" addr add "$IP/24" dev eth0
    x ip -n "$NS" link set eth0 up
    x ip -n "$NS" route add default via "$GW"
    local r
    for r in "${rules[@]}"; do
      read -r -a a <<<"$r"
      x iptables -t "${a[0]}" -A "${a[1]}" "${a[@]:2}"
    done
  fi
  # a container reaching its own published port through the host address (hairpin)
  ((${#PORTS[@]} == 0)) || echo 1 >"/sys/class/net/$VETH/brport/hairpin_mode"
  printf '%s\n' "${rules[@]}" >"$STATE/ctr/$ID/rules"
}

net_down() { # ID NS VETH BATCH, rules from the container dir
  local rules=() r
  [[ -s $STATE/ctr/$ID/rules ]] && mapfile -t rules <"$STATE/ctr/$ID/rules"
  if [[ $BATCH == 1 ]]; then
    if ((${#rules[@]})); then
      local t cur in=""
      for t in nat filter; do
        cur=""
        for r in "${rules[@]}"; do [[ $r == "$t "* ]] && cur+="-D ${r#"$t "}"$'\n'; done
        [[ -z $cur ]] || in+="*$t"$'\n'"$cur"$'COMMIT\n'
      done
      iptables-restore --noflush <<<"$in"
    fi
    ip -batch - <<EOF
link del $VETH
netns del $NS
EOF
  else
    for r in "${rules[@]}"; do
      [[ -n $r ]] || continue
      read -r -a a <<<"$r"
      x iptables -t "${a[0]}" -D "${a[1]}" "${a[@]:2}"
    done
    x ip link del "$VETH"
    x ip netns del "$NS"
  fi
}

# The process: new PID, mount, UTS and IPC namespaces (and network: its own empty one for
# `none`, the prepared one for `bridge`, the host's for `host`), the image as an overlay,
# /proc, hostname, pivot_root, exec. The host's sh keeps running from memory after pivot_root.
INIT='R=$1 L=$2 U=$3 W=$4 H=$5; shift 5
mount -t overlay overlay -o "lowerdir=$L,upperdir=$U,workdir=$W" "$R" &&
mount -t proc proc "$R/proc" && hostname "$H" && cd "$R" && pivot_root . . && umount -l . &&
exec "$@"'

launch() { # runs the container process; in the foreground unless DETACH
  local d=$STATE/ctr/$ID env=() pre=()
  mkdir -p "$d/root" "$d/upper" "$d/work"
  mapfile -t env <"$STATE/images/$IMAGE/env"
  case $NETMODE in
    none) pre=(unshare --net) ;;
    host) pre=() ;;
    bridge) pre=(nsenter "--net=/run/netns/$NS") ;;
  esac
  local argv=(env -i "${env[@]}" "HOSTNAME=$NAME" "${pre[@]}"
    unshare --pid --fork --mount --uts --ipc --propagation private
    /bin/sh -c "$INIT" init "$d/root" "$(<"$STATE/images/$IMAGE/lower")" "$d/upper" "$d/work" "$NAME" "${CMD[@]}")
  [[ ${FLOOR_EXPLAIN:-} != 1 ]] || echo "+ ${argv[*]}" >&2
  if [[ $DETACH == 1 ]]; then
    "${argv[@]}" </dev/null >"$d/log" 2>&1 &
    echo $! >"$d/pid"
    disown
  else
    "${argv[@]}"
  fi
}

parse_run() {
  BATCH=0 NETMODE=bridge PORTS=() DETACH=0 NAME=""
  while (($#)); do
    case $1 in
      --batch) BATCH=1; shift ;;
      --network) NETMODE=$2; shift 2 ;;
      -p) PORTS+=("$2"); shift 2 ;;
      -d) DETACH=1; shift ;;
      --name) NAME=$2; shift 2 ;;
      --rm) shift ;;
      -*) die "unknown option $1" ;;
      *) break ;;
    esac
  done
  [[ $NETMODE =~ ^(none|host|bridge)$ ]] || die "--network: none, host or bridge"
  (($# >= 1)) || die "run: which image?"
  IMAGE=$1; shift
  [[ -f $STATE/images/$IMAGE/lower ]] || die "image $IMAGE not prepared (floor.sh prepare $IMAGE LAYOUT)"
  if (($#)); then CMD=("$@"); else mapfile -t CMD <"$STATE/images/$IMAGE/cmd"; fi
  ((${#PORTS[@]} == 0)) || [[ $NETMODE == bridge ]] || die "-p needs --network bridge"
}

cmd_run() {
  parse_run "$@"
  next_id
  NAME=${NAME:-mb-$ID} NS="" VETH=""
  [[ $DETACH == 0 || ! -e $STATE/names/$NAME ]] || die "name $NAME is in use"
  mkdir -p "$STATE/ctr/$ID"
  if [[ $NETMODE == bridge ]]; then
    hostwide_up
    net_up
  fi
  if [[ $DETACH == 1 ]]; then
    mkdir -p "$STATE/names"
    printf 'ID=%s NS=%s VETH=%s BATCH=%s IP=%s\n' "$ID" "$NS" "$VETH" "$BATCH" "$IP" >"$STATE/names/$NAME"
    launch
    return 0
  fi
  local rc=0
  launch || rc=$?
  [[ $NETMODE != bridge ]] || net_down
  rm -rf "$STATE/ctr/$ID"
  return "$rc"
}

cmd_rm() {
  local name=$1 f=$STATE/names/$1 pid child
  [[ -f $f ]] || die "no detached container $name"
  eval "$(<"$f")" # ID NS VETH BATCH IP
  if read -r pid <"$STATE/ctr/$ID/pid" 2>/dev/null && [[ -d /proc/$pid ]]; then
    # pid is `unshare`; its child is the container's PID 1: killing it ends the namespace.
    for child in $(</proc/"$pid"/task/"$pid"/children); do kill -KILL "$child" 2>/dev/null || true; done
    # Gone or a zombie: an orphan is reaped by PID 1, which may take its time (it does here).
    while read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null && [[ $st != Z ]]; do sleep 0.002; done
  fi
  local rc=0
  [[ -z $NS ]] || net_down || rc=$?
  rm -rf "$STATE/ctr/$ID" "$f" # forget it even when part of the teardown failed
  return "$rc"
}

cmd_clean() {
  local f n
  for f in "$STATE"/names/*; do
    [[ -e $f ]] || continue
    (cmd_rm "$(basename "$f")") 2>/dev/null || true
  done
  # what an interrupted run left: per-container rules ("mbench:" comments), namespaces, veths
  for n in "$STATE"/ctr/*; do
    [[ -d $n ]] || continue
    if [[ -s $n/rules ]]; then
      while read -r -a a; do
        ((${#a[@]} == 0)) || iptables -t "${a[0]}" -D "${a[1]}" "${a[@]:2}" 2>/dev/null || true
      done <"$n/rules"
    fi
    ID=$(basename "$n")
    [[ ! -e /sys/class/net/mbv$ID ]] || ip link del "mbv$ID" 2>/dev/null || true
    [[ ! -e /run/netns/mb-$ID ]] || ip netns del "mb-$ID" 2>/dev/null || true
  done
  if [[ -e $STATE/hostwide ]]; then
    local j
    for j in "${JUMPS[@]}"; do
      read -r -a a <<<"$j"
      iptables -t "${a[0]}" -D "${a[1]}" "${a[@]:2}" 2>/dev/null || true
    done
    for n in "nat $CH-DNAT" "nat $CH-POSTROUTING" "filter $CH-FORWARD"; do
      read -r -a a <<<"$n"
      if iptables -t "${a[0]}" -n -L "${a[1]}" >/dev/null 2>&1; then
        iptables -t "${a[0]}" -F "${a[1]}" && iptables -t "${a[0]}" -X "${a[1]}"
      fi
    done
    [[ ! -e /sys/class/net/$BR ]] || ip link del "$BR"
  fi
  if [[ -f $STATE/ip_forward.orig ]]; then
    cat "$STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
  fi
  rm -rf "$STATE"
}

[[ $(id -u) == 0 ]] || die "needs root"
case ${1:-} in
  prepare) shift; mkdir -p "$STATE"; cmd_prepare "$@" ;;
  run) shift; cmd_run "$@" ;;
  rm) shift; cmd_rm "$@" ;;
  ip) eval "$(<"$STATE/names/$2")"; echo "$IP" ;;
  netns) eval "$(<"$STATE/names/$2")"; echo "$NS" ;;
  clean) cmd_clean ;;
  *) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0" >&2; exit 2 ;;
esac
