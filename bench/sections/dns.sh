# bench/sections/dns.sh — names on a user network (#16), measured inside a container's network
# namespace with bench/tools/dnsq (a static query loop, run there with nsenter --net):
#   query latency     median and p99 of DNS_QUERIES sequential A queries (µs): a container's
#                     name (answered by the network's server), and a forwarded name (a fresh
#                     name each time, so never from the cache) that an upstream dnsmasq answers
#                     in a namespace of the bench's own (never a real outside address)
#   name live after   ms from `run -d` returning to its name answering, asked by a neighbour
#   server RSS        the DNS server's resident memory with 2 and DNS_SCALE_N containers
# minid: its network's dnsmasq, asked at 127.0.0.11 (DNAT'd in the namespace, as docker's).
# podman (PEERS=1): netavark + aardvark-dns on a podman network, asked at the gateway (what
# the container's resolv.conf names). aardvark-dns 1.4 forwards to the host's resolvers only,
# so its forwarded case is not measured (the bench never asks a real outside server), nor is
# "name live" (before the name exists, aardvark would forward the question there too). minid's
# server answers a bare name it does not have NXDOMAIN itself (domain-needed): never forwarded.
# Knobs: DNS_QUERIES (3000; QUICK 1000), DNS_SCALE_N (100; QUICK 20), DNS_LIVE_RUNS (RUNS).
# shellcheck shell=bash

DNSQ="" DNS_UP_PID=""

dns_tools() {
  DNSQ=$BENCH_TMP/dnsq
  gcc -O2 -static -o "$DNSQ" "$BENCH_DIR/tools/dnsq.c" 2>"$BENCH_TMP/dnsq.log" || { warn "dns: cannot build dnsq: $(tail -n 1 "$BENCH_TMP/dnsq.log")"; return 1; }
}

# The "outside": namespace mb-dnsup with a dnsmasq answering *.fwd.test, reached by a veth.
dns_upstream() {
  local net
  net=$(pick_subnet) || { warn "dns: no free /24 for the upstream"; return 1; }
  DNS_UP_NET=$net
  on_exit dns_upstream_down
  ip netns add mb-dnsup
  ip link add mbdnsu0 type veth peer name eth0 netns mb-dnsup
  ip addr add "$net.1/24" dev mbdnsu0 && ip link set mbdnsu0 up
  ip -n mb-dnsup addr add "$net.2/24" dev eth0 && ip -n mb-dnsup link set eth0 up && ip -n mb-dnsup link set lo up
  ip -n mb-dnsup route add default via "$net.1"
  ip netns exec mb-dnsup dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --listen-address="$net.2" --bind-interfaces \
    --address=/fwd.test/10.9.8.7 --user=root --pid-file="$BENCH_TMP/dns-up.pid" --log-facility=/dev/null
  DNS_UP_PID=$(cat "$BENCH_TMP/dns-up.pid")
  printf 'nameserver %s\n' "$net.2" >"$BENCH_TMP/dns-resolv.conf"
}
dns_upstream_down() {
  [[ -z $DNS_UP_PID ]] || kill "$DNS_UP_PID" 2>/dev/null || true
  ip link del mbdnsu0 2>/dev/null || true
  ip netns del mb-dnsup 2>/dev/null || true
}

# dns_latency RUNTIME CASE NETNS SERVER NAME
dns_latency() {
  local rt=$1 case=$2 ns=$3 server=$4 name=$5 out med p99 got
  nsenter --net="$ns" "$DNSQ" "$server" "$name" 100 >/dev/null 2>&1 || true # warm-up
  if ! out=$(nsenter --net="$ns" "$DNSQ" "$server" "$name" "$DNS_QUERIES" 2>&1); then
    record_status dns "$case" "$rt" µs failed "no answers: $out"
    return 0
  fi
  read -r med p99 got <<<"$out"
  record dns "$case" "$rt" µs status=ok "median=$med" "p99=$p99" "runs=$got" "note=median of $got queries; p99 $p99 µs"
  log "    $rt $case: median $med µs, p99 $p99 µs ($got queries)"
}

# dns_live RUNTIME NETNS SERVER RUN-FUNCTION: ms from run -d returning to the name answering
dns_live() {
  local rt=$1 ns=$2 server=$3 runner=$4 i ms xs=() n=${DNS_LIVE_RUNS:-$RUNS} med min max
  for i in $(seq "$n"); do
    "$runner" "mbdl-$i" || { record_status dns "name live after run -d" "$rt" ms failed "run -d failed"; return 0; }
    ms=$(nsenter --net="$ns" "$DNSQ" -u "$server" "mbdl-$i" 5000) || ms=""
    [[ -n $ms ]] && xs+=("$ms")
  done
  # shellcheck disable=SC2046
  rt_rm "$rt" $(for i in $(seq "$n"); do echo "mbdl-$i"; done) || true
  if ((${#xs[@]} == 0)); then record_status dns "name live after run -d" "$rt" ms failed "the name never answered within 5 s"; return 0; fi
  local s
  s=$(printf '%s\n' "${xs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%s %s %s", a[int((NR+1)/2)], a[1], a[NR]}')
  read -r med min max <<<"$s"
  record dns "name live after run -d" "$rt" ms status=ok "median=$med" "min=$min" "max=$max" "runs=${#xs[@]}" \
    "note=from run -d returning to the first answer, asked every ms by a neighbour"
  log "    $rt name live after run -d: median $med ms (${#xs[@]} runs)"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# dns_rss RUNTIME N PID...
dns_rss() {
  local rt=$1 n=$2 p kb=0
  shift 2
  for p in "$@"; do kb=$((kb + $(rss_kb "$p"))); done
  record dns "server RSS ($n containers)" "$rt" MB status=ok "median=$(jq -n "$kb / 1024")" "processes=$#"
  log "    $rt server RSS with $n containers: $(jq -n "$kb / 1024 * 100 | round / 100") MB"
}

minid_dns_run() { "$MINID" run -d --name "$1" --network mbdns busybox sleep 3600 >/dev/null; }
podman_dns_run() { podman run -d --name "$1" --network mbdns busybox sleep 3600 >/dev/null; }

# Whatever the section left (it stopped early): minid's containers of the section, then the
# network (its DNS server and rules go with it).
dns_minid_down() {
  local names
  names=$("$MINID" ps -a --json 2>/dev/null | jq -r '.[].Name' 2>/dev/null | grep -E '^mb(dq|dl-)' || true)
  # shellcheck disable=SC2086
  [[ -z $names ]] || "$MINID" rm -f $names >/dev/null 2>&1 || true
  "$MINID" network rm mbdns >/dev/null 2>&1 || true
}

dns_minid() {
  local ns id pid i
  export MINID_RESOLV_CONF=$BENCH_TMP/dns-resolv.conf
  on_exit dns_minid_down
  "$MINID" network create mbdns >/dev/null || { record_status dns "query latency: local name" minid µs failed "network create failed"; return 0; }
  minid_dns_run mbdq1 && minid_dns_run mbdq2 || { record_status dns "query latency: local name" minid µs failed "run failed"; return 0; }
  id=$("$MINID" inspect mbdq1 | jq -r '.[0].Id')
  ns=/run/netns/minid-${id:0:12}
  pid=$(jq -r .pid "$MINID_RUN/dns/mbdns/network.json")
  dns_latency minid "query latency: local name" "$ns" 127.0.0.11 mbdq2
  dns_latency minid "query latency: forwarded name" "$ns" 127.0.0.11 '*.fwd.test'
  dns_live minid "$ns" 127.0.0.11 minid_dns_run
  dns_rss minid 2 "$pid"
  for i in $(seq 3 "$DNS_SCALE_N"); do minid_dns_run "mbdq$i" || break; done
  dns_rss minid "$DNS_SCALE_N" "$pid"
  # shellcheck disable=SC2046
  rt_rm minid $(for i in $(seq "$DNS_SCALE_N"); do echo "mbdq$i"; done) || true
  "$MINID" network rm mbdns >/dev/null || warn "minid network rm mbdns failed"
  unset MINID_RESOLV_CONF
}

dns_podman() {
  local ns gw pids i p
  if ! podman network create mbdns >/dev/null 2>"$BENCH_TMP/podman-dns.log"; then
    record_status dns "query latency: local name" podman µs failed "podman network create: $(tail -n 1 "$BENCH_TMP/podman-dns.log")"
    return 0
  fi
  podman_dns_run mbdq1 && podman_dns_run mbdq2 || { record_status dns "query latency: local name" podman µs failed "podman run failed"; podman network rm -f mbdns >/dev/null 2>&1; return 0; }
  ns=$(podman inspect -f '{{.NetworkSettings.SandboxKey}}' mbdq1)
  gw=$(podman network inspect mbdns | jq -r '.[0].subnets[0].gateway')
  dns_latency podman "query latency: local name" "$ns" "$gw" mbdq2
  record_status dns "query latency: forwarded name" podman µs skipped "aardvark-dns 1.4 forwards to the host's resolvers only (no per-network upstream to point at the bench's)"
  # Not measured for podman: until the new name is known, aardvark-dns forwards the question
  # to the host's resolvers (a real outside address, which this bench must never ask).
  record_status dns "name live after run -d" podman ms skipped "aardvark-dns forwards a name it does not know yet to the host's resolvers, an outside address this bench never asks"
  # aardvark-dns serves every podman network of this store: one process
  pids=()
  for p in /proc/[0-9]*; do [[ $(cat "$p/comm" 2>/dev/null) == aardvark-dns ]] && pids+=("${p#/proc/}"); done
  ((${#pids[@]})) && dns_rss podman 2 "${pids[@]}"
  for i in $(seq 3 "$DNS_SCALE_N"); do podman_dns_run "mbdq$i" || break; done
  ((${#pids[@]})) && dns_rss podman "$DNS_SCALE_N" "${pids[@]}"
  # shellcheck disable=SC2046
  rt_rm podman $(for i in $(seq "$DNS_SCALE_N"); do echo "mbdq$i"; done) || true
  podman network rm -f mbdns >/dev/null 2>&1 || warn "podman network rm mbdns failed"
}

section_dns() {
  log "dns: query latency inside a container, name live after run -d, server RSS"
  if ! minid_supports bridge; then
    record_status dns "query latency: local name" minid µs pending "$MINID_PENDING_WHY"
    return 0
  fi
  if [[ $QUICK == 1 ]]; then DNS_QUERIES=${DNS_QUERIES:-1000} DNS_SCALE_N=${DNS_SCALE_N:-20}; else DNS_QUERIES=${DNS_QUERIES:-3000} DNS_SCALE_N=${DNS_SCALE_N:-100}; fi
  dns_tools || return 0
  dns_upstream || return 0
  dns_minid
  if [[ " ${PEER_RUNTIMES[*]} " == *" podman "* ]]; then
    if [[ -x /usr/lib/podman/aardvark-dns ]] || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends aardvark-dns >>"$BENCH_TMP/apt.log" 2>&1; then
      dns_podman
    else
      record_status dns "query latency: local name" podman µs skipped "aardvark-dns is not installed (apt-get install aardvark-dns failed)"
    fi
  fi
}
