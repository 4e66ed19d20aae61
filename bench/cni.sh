#!/usr/bin/env bash
# bench/cni.sh — minid's CNI plugins against Debian's reference plugins (/usr/lib/cni), driven
# by one runtime: the reference libcni (bench/cni/chain.go, built here offline from Debian's
# golang-github-appc-cni-dev). The same chain for both sets: bridge (isGateway, ipMasq) +
# host-local, portmap (one published port), loopback; ADD then DEL, the two sets alternating.
#
#   bash bench/cni.sh [ROUNDS]      (default 20, after 2 warm-up rounds each)
#   MINID_CNI_BIN=DIR bash bench/cni.sh    minid's plugins from DIR (another build, e.g. an
#                                           older commit's), instead of this tree's cni-plugins/bin
#
# Prints median (min–max) ms of ADD and DEL of the whole chain, and minid's ratio to the
# reference: of the medians, and the median of each round's ratio (in pairs); the load.
# Needs root, containernetworking-plugins and jq; installs golang-go and
# golang-github-appc-cni-dev when missing. Creates only its own objects — namespace mb-cni-*,
# bridges mbcni*, subnets 10.231.251.0/24 and 10.231.252.0/24, host port 28556, a temp dir —
# and removes them at exit (and the reference portmap's shared CNI-HOSTPORT-* chains, if it
# made them; and the rules of a round cut short).
set -euo pipefail
export LC_ALL=C
# NODE_EXTRA_CA_CERTS is left as it is: libcni passes the runtime's environment to the plugins,
# and minid's plugin launcher drops it (cni-plugins/launch.sh) as bin/minid does.
ROUNDS=${1:-20} WARMUP=${WARMUP:-2}
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
MINID_CNI_BIN=${MINID_CNI_BIN:-$repo/cni-plugins/bin}
[[ $(id -u) == 0 ]] || { echo "bench/cni.sh must run as root (namespaces, iptables)" >&2; exit 1; }
# The Go toolchain and libcni's sources (Debian packages, offline): installed when missing.
if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ]]; then
  echo "bench/cni.sh: installing golang-go and golang-github-appc-cni-dev (to build the libcni driver)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-appc-cni-dev >/dev/null
fi
for t in jq ip iptables-save; do command -v $t >/dev/null || { echo "bench/cni.sh: missing $t (apt-get install jq iproute2 iptables)" >&2; exit 1; }; done
[[ -x /usr/lib/cni/bridge ]] || { echo "bench/cni.sh: apt-get install containernetworking-plugins" >&2; exit 1; }
for s in 251 252; do
  if ip route show table all | grep -q "^10\.231\.$s\."; then echo "bench/cni.sh: 10.231.$s.0/24 is in use here" >&2; exit 1; fi
done

tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns=mb-cni-$tag tmp=$(mktemp -d "${TMPDIR:-/tmp}/mbcni.XXXXXX")
had_hostport=$(iptables-save -t nat | grep -c '^:CNI-HOSTPORT-DNAT' || true)
cleanup() {
  # An interrupted round may leave an attachment: its rules carry the network's name (minid's
  # and the reference plugins' comments alike); they go with the chains they jump to.
  local left
  left=$(iptables-save -t nat | awk '/^-A .*mb-cni-bench/ {
      sub(/^-A/, "-D"); print
      if (match($0, /-j (MINID-)?CNI-[A-Za-z0-9-]+/)) { c = substr($0, RSTART + 3, RLENGTH - 3); if (c !~ /^CNI-HOSTPORT-/) chains[c] = 1 }
    } END { for (c in chains) print "-F " c; for (c in chains) print "-X " c }')
  [[ -z $left ]] || printf '*nat\n%s\nCOMMIT\n' "$left" | iptables-restore --noflush 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "mbcnir$tag" 2>/dev/null || true
  ip link del "mbcnim$tag" 2>/dev/null || true
  # The reference portmap leaves its shared chains: remove them if we made them and no one
  # else's rules are in them.
  if [[ $had_hostport == 0 ]] && ! iptables-save -t nat | grep -q '^-A CNI-HOSTPORT-DNAT'; then
    iptables-restore --noflush <<'RULES' 2>/dev/null || true
*nat
-D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-F CNI-HOSTPORT-DNAT
-F CNI-HOSTPORT-MASQ
-F CNI-HOSTPORT-SETMARK
-X CNI-HOSTPORT-DNAT
-X CNI-HOSTPORT-MASQ
-X CNI-HOSTPORT-SETMARK
COMMIT
RULES
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$tmp/go-cache go build -o "$tmp/chain" "$here/cni/chain.go"
ip netns add "$ns"

# conflist SET BRIDGE-TYPE IPAM-TYPE PORTMAP-TYPE LOOPBACK-TYPE BRIDGE SUBNET
conflist() {
  jq -n --arg b "$2" --arg i "$3" --arg p "$4" --arg l "$5" --arg br "$6" --arg sn "$7" --arg d "$tmp/ipam-$1" '
    {cniVersion: "1.0.0", name: "mb-cni-bench", plugins: [
      {type: $b, bridge: $br, isGateway: true, ipMasq: true, ipam: {type: $i, subnet: $sn, dataDir: $d}},
      {type: $p, capabilities: {portMappings: true}},
      {type: $l}]}' >"$tmp/$1.conflist"
}
conflist reference bridge host-local portmap loopback "mbcnir$tag" 10.231.251.0/24
conflist minid minid-bridge minid-host-local minid-portmap minid-loopback "mbcnim$tag" 10.231.252.0/24

# One round of one set: "ADD_MS DEL_MS ADD_CPU_MS DEL_CPU_MS" appended to $tmp/SET.times.
round() { "$tmp/chain" "$tmp/$1.conflist" "/run/netns/$ns" "$2" "$tmp/cache" 1 28556 >>"$tmp/$1.times"; }
for ((i = 0; i < WARMUP; i++)); do round reference /usr/lib/cni; round minid "$MINID_CNI_BIN"; done
: >"$tmp/reference.times"; : >"$tmp/minid.times"
for ((i = 0; i < ROUNDS; i++)); do round reference /usr/lib/cni; round minid "$MINID_CNI_BIN"; done

# median (min–max) of column $2 of file $1
stat() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.0f (%.0f–%.0f)", m, a[1], a[NR]}'; }
med() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {print NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "load (1/5/15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%FT%TZ)"
echo "bridge + host-local, portmap, loopback: chain ADD and DEL through libcni, ms, median (min–max) of $ROUNDS rounds after $WARMUP warm-up; CPU time: the plugins' and their commands' user + system"
echo "| plugins | ADD | DEL | ADD, CPU time | DEL, CPU time |"
echo "|---|---|---|---|---|"
for set in reference minid; do
  [[ $set == reference ]] && label='reference (/usr/lib/cni)' || label="minid ($MINID_CNI_BIN)"
  echo "| $label | $(stat "$tmp/$set.times" 1) | $(stat "$tmp/$set.times" 2) | $(stat "$tmp/$set.times" 3) | $(stat "$tmp/$set.times" 4) |"
done
# Each round's minid / reference (the two ran one after the other): less moved by the host's load.
pairs() { paste -d' ' "$tmp/minid.times" "$tmp/reference.times" | awk -v c="$1" '{print $c / $(c + 4)}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f×", NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$(med "$tmp/minid.times" "$1")" -v b="$(med "$tmp/reference.times" "$1")" 'BEGIN {printf "%.2f×", a/b}'; }
echo "| minid / reference, in pairs | $(pairs 1) | $(pairs 2) | $(pairs 3) | $(pairs 4) |"
echo "| minid / reference, medians | $(ratio 1) | $(ratio 2) | $(ratio 3) | $(ratio 4) |"
