#!/usr/bin/env bash
# Per-call latency of minid's plugins vs the reference plugins (median of N runs, ms).
#   sudo cni-plugins/bench.sh [N]
# Uses its own namespace (mdt-cni-bench-*), bridge (mdtcnib*), subnet 10.231.250.0/24 and temp
# data dir, and removes them all on exit.
set -euo pipefail
N=${1:-10}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MINID="$here/bin" REF=/usr/lib/cni
subnet=10.231.250.0/24
if ip route show table all | grep -q '^10\.231\.250\.'; then echo "10.231.250.0/24 is in use here" >&2; exit 1; fi
tag=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns="mdt-cni-bench-$tag" br="mdtcnib$tag" data=$(mktemp -d)
had_hostport=$(iptables-save -t nat | grep -c '^:CNI-HOSTPORT-DNAT' || true)
cleanup() {
  # The reference portmap leaves its shared CNI-HOSTPORT-* chains: remove them if we made them
  # and no container uses them.
  if [ "$had_hostport" = 0 ] && ! iptables-save -t nat | grep -q '^-A CNI-HOSTPORT-DNAT'; then
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
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$br" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
ip netns add "$ns"
export CNI_NETNS=/run/netns/$ns CNI_IFNAME=eth0

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time CMD... with stdin from $1 (file); prints ms
t() { local in=$1; shift; local s e; s=$(now); "$@" <"$in" >/dev/null; e=$(now); echo $(((e - s) / 1000000)); }

bench() { # impl dir bridge ipam portmap loopback
  local impl=$1 dir=$2 bridge=$3 ipam=$4 pm=$5 lo=$6
  export CNI_PATH=$dir
  local conf=$data/$impl.conf pmconf=$data/$impl.pm lo_conf=$data/$impl.lo
  cat >"$conf" <<JSON
{"cniVersion":"1.0.0","name":"mdt-cni-bench","type":"$bridge","bridge":"$br","isGateway":true,"isDefaultGateway":true,"ipMasq":true,"ipam":{"type":"$ipam","subnet":"$subnet","dataDir":"$data/ipam"}}
JSON
  echo "{\"cniVersion\":\"1.0.0\",\"name\":\"mdt-cni-bench\",\"type\":\"$lo\"}" >"$lo_conf"
  local v=() h=() ba=() bd=() pa=() pd=() la=()
  for ((i = 0; i < N; i++)); do
    export CNI_CONTAINERID=bench$i
    v+=($(CNI_COMMAND=VERSION t /dev/null "$dir/$bridge"))
    h+=($(CNI_COMMAND=ADD t "$conf" "$dir/$ipam"))
    CNI_COMMAND=DEL "$dir/$ipam" <"$conf" >/dev/null
    local s e r
    s=$(now); r=$(CNI_COMMAND=ADD "$dir/$bridge" <"$conf"); e=$(now); ba+=($(((e - s) / 1000000)))
    jq -n --argjson r "$r" --arg t "$pm" '{cniVersion:"1.0.0",name:"mdt-cni-bench",type:$t,runtimeConfig:{portMappings:[{hostPort:28555,containerPort:80,protocol:"tcp"}]},prevResult:$r}' >"$pmconf"
    pa+=($(CNI_COMMAND=ADD t "$pmconf" "$dir/$pm"))
    pd+=($(CNI_COMMAND=DEL t "$pmconf" "$dir/$pm"))
    la+=($(CNI_COMMAND=ADD CNI_IFNAME=lo t "$lo_conf" "$dir/$lo"))
    jq --argjson r "$r" '. + {prevResult: $r}' "$conf" >"$conf.del"
    bd+=($(CNI_COMMAND=DEL t "$conf.del" "$dir/$bridge"))
  done
  printf '%-9s VERSION %4s | host-local ADD %4s | bridge ADD %4s DEL %4s | portmap ADD %4s DEL %4s | loopback ADD %4s\n' "$impl" \
    "$(printf '%s\n' "${v[@]}" | median)" "$(printf '%s\n' "${h[@]}" | median)" "$(printf '%s\n' "${ba[@]}" | median)" \
    "$(printf '%s\n' "${bd[@]}" | median)" "$(printf '%s\n' "${pa[@]}" | median)" "$(printf '%s\n' "${pd[@]}" | median)" "$(printf '%s\n' "${la[@]}" | median)"
}
echo "median ms over $N runs (bridge ADD includes the delegated IPAM call)"
bench reference "$REF" bridge host-local portmap loopback
bench minid "$MINID" minid-bridge minid-host-local minid-portmap minid-loopback
