#!/usr/bin/env bash
# bench/baseline/floor.sh — the floor: what minid does for one container, as a plain shell
# script calling `ip`, `iptables`, `unshare` and `mount` directly. No daemon, no state beyond
# a few files, no checks a real runtime would make. minid cannot be faster than this by much;
# the benchmark reports minid's time as a multiple of it.
#
#   floor.sh prepare NAME OCI_LAYOUT   unpack an image's layers once (not timed)
#   floor.sh run [--batch] [--bare] [--network none|host|bridge] [-p HOSTPORT:CTRPORT]
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
  # The MTU of the default route's link, as minid takes it for its bridge and veths.
  local up mtu=1500
  up=$(awk '$2 == "00000000" { print $1; exit }' /proc/net/route)
  [[ -z $up ]] || read -r mtu <"/sys/class/net/$up/mtu"
  echo "$mtu" >"$STATE/mtu"
  x ip link add "$BR" mtu "$mtu" type bridge
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
  NS=mb-$ID VETH=mbv$ID MTU=1500
  [[ ! -f $STATE/mtu ]] || read -r MTU <"$STATE/mtu"
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
link add $VETH mtu $MTU type veth peer name eth0 mtu $MTU netns $NS
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
    x ip link add "$VETH" mtu "$MTU" type veth peer name eth0 mtu "$MTU" netns "$NS"
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
# `none`, the prepared one for `bridge`, the host's for `host`), then the container minid
# makes (see minid's src/runtime/launch.ts and init.c): the image as an overlay, /proc, a
# tmpfs /dev with its nodes and links, devpts and /dev/shm, /proc's kernel knobs read-only and
# its secrets masked, a read-only /sys, /etc/hostname, hosts and resolv.conf bind-mounted from
# files of the container's; the hostname; pivot_root; exec. The host's sh keeps running from
# memory after pivot_root. Not done: minid-init's capability drop (prctl calls in its own
# process; no host tool can do it after pivot_root, and before it the mounts need the
# capabilities). --bare: the image, /proc and the hostname only (the floor of earlier runs).
#
# One step per command (mount, mknod, ln), or batched: each fstab with one `mount -a -T`, and
# /dev copied from a template with one `cp -a`.
INIT_BARE='R=$1 L=$2 U=$3 W=$4 H=$5; shift 5
mount -t overlay overlay -o "lowerdir=$L,upperdir=$U,workdir=$W" "$R" &&
mount -t proc proc "$R/proc" && hostname "$H" && cd "$R" && pivot_root . . && umount -l . &&
exec "$@"'
INIT_BATCH='D=$1 R=$2 H=$3 T=$4; shift 4
mount -a -T "$D/fstab.root" && cp -a "$T/." "$R/dev/" && mount -a -T "$D/fstab.devproc" &&
for f in hostname hosts resolv.conf; do [ -e "$R/etc/$f" ] || : >"$R/etc/$f"; done &&
mount -a -T "$D/fstab.rest" && hostname "$H" && cd "$R" && pivot_root . . && umount -l . && exec "$@"'
INIT_STEPS='D=$1 R=$2 H=$3; shift 3
mnt() { while read -r src dst type opts _; do mount -t "$type" -o "$opts" "$src" "$dst" || return 1; done <"$1"; }
mnt "$D/fstab.root" &&
mknod -m 666 "$R/dev/null" c 1 3 && mknod -m 666 "$R/dev/zero" c 1 5 && mknod -m 666 "$R/dev/full" c 1 7 &&
mknod -m 666 "$R/dev/random" c 1 8 && mknod -m 666 "$R/dev/urandom" c 1 9 && mknod -m 666 "$R/dev/tty" c 5 0 &&
ln -s /proc/self/fd "$R/dev/fd" && ln -s /proc/self/fd/0 "$R/dev/stdin" && ln -s /proc/self/fd/1 "$R/dev/stdout" &&
ln -s /proc/self/fd/2 "$R/dev/stderr" && ln -s pts/ptmx "$R/dev/ptmx" && mkdir "$R/dev/pts" "$R/dev/shm" &&
mnt "$D/fstab.devproc" &&
for f in hostname hosts resolv.conf; do [ -e "$R/etc/$f" ] || : >"$R/etc/$f"; done &&
mnt "$D/fstab.rest" && hostname "$H" && cd "$R" && pivot_root . . && umount -l . && exec "$@"'

dev_template() { # the /dev that INIT_BATCH copies, made once: DEVTPL
  DEVTPL=$STATE/devtpl
  [[ -d $DEVTPL ]] && return
  local t=$DEVTPL.tmp
  rm -rf "$t" && mkdir -p "$t"
  mknod -m 666 "$t/null" c 1 3; mknod -m 666 "$t/zero" c 1 5; mknod -m 666 "$t/full" c 1 7
  mknod -m 666 "$t/random" c 1 8; mknod -m 666 "$t/urandom" c 1 9; mknod -m 666 "$t/tty" c 5 0
  ln -s /proc/self/fd "$t/fd"; ln -s /proc/self/fd/0 "$t/stdin"; ln -s /proc/self/fd/1 "$t/stdout"
  ln -s /proc/self/fd/2 "$t/stderr"; ln -s pts/ptmx "$t/ptmx"; mkdir "$t/pts" "$t/shm"
  mv "$t" "$DEVTPL"
}

# The container's files: its fstabs (as minid writes them) and /etc files. Builtins only.
container_files() { # dir rootfs lowerdirs
  local d=$1 R=$2 L=$3 f
  local ov="overlay $R overlay lowerdir=$L,upperdir=$d/upper,workdir=$d/work 0 0"
  local proc="proc $R/proc proc nosuid,nodev,noexec,X-mount.mkdir 0 0"
  printf '%s\n' "$ov" "$proc" "tmpfs $R/dev tmpfs nosuid,strictatime,mode=755,size=65536k,X-mount.mkdir 0 0" >"$d/fstab.root"
  {
    echo "devpts $R/dev/pts devpts newinstance,ptmxmode=0666,mode=0620 0 0"
    echo "shm $R/dev/shm tmpfs nosuid,nodev,noexec,mode=1777,size=65536k 0 0"
    for f in sys sysrq-trigger irq bus; do [[ -e /proc/$f ]] && echo "$R/proc/$f $R/proc/$f none bind,ro 0 0"; done
    for f in kcore keys timer_list sched_debug; do [[ -e /proc/$f ]] && echo "/dev/null $R/proc/$f none bind 0 0"; done
    [[ -e /proc/acpi ]] && echo "tmpfs $R/proc/acpi tmpfs ro 0 0"
    true
  } >"$d/fstab.devproc"
  {
    echo "sysfs $R/sys sysfs ro,nosuid,nodev,noexec,X-mount.mkdir 0 0"
    [[ -e /sys/firmware ]] && echo "tmpfs $R/sys/firmware tmpfs ro 0 0"
    for f in hostname hosts resolv.conf; do echo "$d/$f $R/etc/$f none bind 0 0"; done
  } >"$d/fstab.rest"
  echo "$NAME" >"$d/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' "${IP:-127.0.1.1}" "$NAME" >"$d/hosts"
  local line
  while IFS= read -r line || [[ -n $line ]]; do echo "$line"; done </etc/resolv.conf >"$d/resolv.conf"
}

launch() { # runs the container process; in the foreground unless DETACH
  local d=$STATE/ctr/$ID env=() pre=() init args
  mkdir -p "$d/root" "$d/upper" "$d/work"
  mapfile -t env <"$STATE/images/$IMAGE/env"
  case $NETMODE in
    none) pre=(unshare --net) ;;
    host) pre=() ;;
    bridge) pre=(nsenter "--net=/run/netns/$NS") ;;
  esac
  local lower
  read -r lower <"$STATE/images/$IMAGE/lower"
  if [[ $BARE == 1 ]]; then
    init=$INIT_BARE args=("$d/root" "$lower" "$d/upper" "$d/work" "$NAME")
  else
    container_files "$d" "$d/root" "$lower"
    if [[ $BATCH == 1 ]]; then
      dev_template
      init=$INIT_BATCH args=("$d" "$d/root" "$NAME" "$DEVTPL")
    else
      init=$INIT_STEPS args=("$d" "$d/root" "$NAME")
    fi
  fi
  local argv=(env -i "${env[@]}" "HOSTNAME=$NAME" "${pre[@]}"
    unshare --pid --fork --mount --uts --ipc --propagation private
    /bin/sh -c "$init" init "${args[@]}" "${CMD[@]}")
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
  BATCH=0 BARE=0 NETMODE=bridge PORTS=() DETACH=0 NAME=""
  while (($#)); do
    case $1 in
      --batch) BATCH=1; shift ;;
      --bare) BARE=1; shift ;;
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
