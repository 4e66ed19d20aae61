// The pieces a lab's starting state is built from, as bash functions: each lab's `world` lines
// call them inside the lab's "host" namespace (`ip netns exec minid-lab-NAME bash`). Every
// object they make lives in the lab's own namespaces: the real host is never touched.
//
// The one picture every lab draws from (the course's, addresses included):
//
//   LAN 192.168.1.20 --eth0-- [host 192.168.1.10 | v-net-0 192.168.15.5/24] --veth-red-br--  veth-red  192.168.15.1 (red)
//                                                                           --veth-blue-br-- veth-blue 192.168.15.2 (blue)

export const NET = '192.168.15.0/24';
export const GW = '192.168.15.5';
export const BRIDGE = 'v-net-0';
export const RED_IP = '192.168.15.1';
export const BLUE_IP = '192.168.15.2';
export const HOST_LAN_IP = '192.168.1.10';
export const LAN_IP = '192.168.1.20';

/** The bash prelude: the variables ($HOST, $RED..., $LAB) are set by the runner. */
export const PRELUDE = `set -euo pipefail
# sysctl_set KEY VALUE: /proc/sys of this namespace (ip_forward & co are per namespace)
sysctl_set() { echo "$2" > "/proc/sys/$(echo "$1" | tr . /)"; }
# lan: the LAN machine 192.168.1.20 ($LAN) behind the host's eth0 192.168.1.10; it has no route
# to 192.168.15.0/24 (only NAT reaches it), unless a lab adds one
lan() {
  ip link add eth0 type veth peer name eth0 netns "$LAN"
  ip addr add 192.168.1.10/24 dev eth0; ip link set eth0 up
  ip -n "$LAN" addr add 192.168.1.20/24 dev eth0; ip -n "$LAN" link set eth0 up
}
# bridge: the virtual switch v-net-0 with the gateway address 192.168.15.5/24
bridge() { ip link add v-net-0 type bridge; ip link set v-net-0 up; ip addr add 192.168.15.5/24 dev v-net-0; }
# plug NAME NS ADDR/PREFIX [GATEWAY]: a cable veth-NAME (in NS) <-> veth-NAME-br (on the bridge)
plug() {
  ip link add "veth-$1" type veth peer name "veth-$1-br"
  ip link set "veth-$1" netns "$2"; ip link set "veth-$1-br" master v-net-0 up
  ip -n "$2" addr add "$3" dev "veth-$1"; ip -n "$2" link set "veth-$1" up
  if [ -n "\${4-}" ]; then ip -n "$2" route add default via "$4"; fi
}
# masq: containers leaving for the LAN get the host's address (and nothing else does)
masq() { iptables -t nat -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE; }
# publish HOSTPORT ADDR:PORT: the course's port forwarding (PREROUTING only)
publish() { iptables -t nat -A PREROUTING -p tcp --dport "$1" -j DNAT --to-destination "$2"; }
# web NS [IP] [PORT]: a web server (busybox httpd) serving $LAB/www; /cgi-bin/whoami echoes the client address
web() { ip netns exec "$1" busybox httpd -p "\${2:-0.0.0.0}:\${3:-80}" -h "$LAB/www"; }
`;

/** The web root every lab's web server serves. */
export const WWW: Record<string, { body: string; mode: number }> = {
  'index.html': { body: 'hello from the lab web server\n', mode: 0o644 },
  'cgi-bin/whoami': { body: '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', mode: 0o755 },
};

/** A bridge-plus-LAN host with blue's web published on 8080 (the base of most fix-it labs). */
export const WEB_WORLD = ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'lan', 'masq', 'web "$BLUE"', `publish 8080 ${BLUE_IP}:80`];
