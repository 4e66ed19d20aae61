# minid run -p 8080:80 (first container on "bridge")
# [1/20] create the network namespace: the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/minid-3f2a1b4c5d6e
ip netns add minid-3f2a1b4c5d6e
# [2/20] create the bridge: a virtual switch on the host: every container of network "bridge" plugs into minid0
ip link add minid0 address 02:4d:ac:1e:00:01 mtu 1400 type bridge
# [3/20] label the bridge with its owner: link names are host-wide and several minid stores can share a host: the alias minid:feedc0de:bridge (store feedc0de, network "bridge"; `ip link show minid0` prints it) tells every store whose bridge this is
ip link set minid0 alias minid:feedc0de:bridge
# [4/20] give the bridge the gateway address: the bridge is also the host's interface on 172.30.0.0/16: containers reach the host, and beyond it, through 172.30.0.1
ip addr add 172.30.0.1/16 dev minid0
# [5/20] bring the bridge up: links are created down
ip link set minid0 up
# [6/20] create the veth pair: a virtual cable: what enters mv3f2a1b4c leaves eth0 and back (MTU 1400 from the host's uplink); eth0 is made inside minid-3f2a1b4c5d6e (no clash with a host eth0), which spares the ~20 ms that moving it in later (`ip link set PEER netns minid-3f2a1b4c5d6e`) costs
ip link add mv3f2a1b4c mtu 1400 type veth peer name eth0 mtu 1400 address 02:4d:ac:1e:00:02 netns minid-3f2a1b4c5d6e
# [7/20] attach the other end to the bridge: plug the cable into the switch; hairpin mode lets a packet leave by the port it came in (a container reaching its own published port)
ip link set mv3f2a1b4c master minid0
ip link set mv3f2a1b4c type bridge_slave hairpin on
# [8/20] bring the host end up: links are created down
ip link set mv3f2a1b4c up
# [9/20] assign the container address: 172.30.0.2 was reserved by minid's IPAM for this container; /16 makes the rest of 172.30.0.0/16 directly reachable
ip -n minid-3f2a1b4c5d6e addr add 172.30.0.2/16 dev eth0
# [10/20] bring the links up inside: loopback (127.0.0.1 inside the container) and eth0
ip -n minid-3f2a1b4c5d6e link set lo up
ip -n minid-3f2a1b4c5d6e link set eth0 up
# [11/20] add the default route: everything outside 172.30.0.0/16 goes to the gateway, the bridge's address on the host
ip -n minid-3f2a1b4c5d6e route add default via 172.30.0.1
# [12/20] enable IPv4 forwarding: the host must route packets between the bridge and its other interfaces (it is left on, as docker does)
sysctl -w net.ipv4.ip_forward=1
# [13/20] let the bridge carry 127.0.0.1 traffic: route_localnet lets the kernel DNAT `curl 127.0.0.1:PORT` into the bridge, so published ports need no proxy process; it is set on this bridge only, and MINID-INPUT blocks its abuse (CVE-2020-8558)
sysctl -w net.ipv4.conf.minid0.route_localnet=1
# [14/20] create minid's own iptables chains: minid only ever adds to, and deletes from, chains it created: the host's own rules are left alone
iptables -t nat -N MINID-DNAT
iptables -t nat -N MINID-POSTROUTING
iptables -t filter -N MINID-FORWARD
iptables -t filter -N MINID-ISOLATION-1
iptables -t filter -N MINID-ISOLATION-2
iptables -t filter -N MINID-INPUT
iptables -t filter -I MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
# [15/20] hook minid's chains into the built-in ones: DNAT for packets to any local address (from outside: PREROUTING; from the host itself: OUTPUT), MASQUERADE on the way out, filtering of forwarded packets
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
iptables -t filter -I FORWARD -m comment --comment minid -j MINID-FORWARD
iptables -t filter -I INPUT -m comment --comment minid -j MINID-INPUT
# [16/20] block outside access to 127.0.0.0/8 (CVE-2020-8558): with route_localnet on, a neighbour could reach services bound to 127.0.0.1; drop such packets unless they belong to a published port (DNAT)
iptables -t filter -A MINID-INPUT -d 127.0.0.0/8 '!' -i lo -m conntrack '!' --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
# [17/20] masquerade traffic leaving the network: packets from 172.30.0.0/16 that leave by another interface get the host's address as source, so replies find their way back
iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [18/20] masquerade hairpin and localhost traffic into the bridge: a container reaching a published port through a host address, and 127.0.0.1 clients, must see replies come back through the host (source becomes 172.30.0.1)
iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [19/20] allow forwarding for the network, isolate it from other networks: minid0 may talk to itself and to the outside, replies may come back in; packets from another minid network are dropped unless they target a published port
iptables -t filter -A MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -A MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -A MINID-ISOLATION-1 -i minid0 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
iptables -t filter -A MINID-ISOLATION-2 -o minid0 -m conntrack '!' --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP
# [20/20] publish 8080 -> 80/tcp: DNAT rewrites tcp packets for port 8080 on every host address (127.0.0.1 too) to 172.30.0.2:80, in the kernel; FORWARD lets them in
iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
iptables -t filter -A MINID-FORWARD -d 172.30.0.2/32 '!' -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT

# ---- processes started (batched) ----
ip -batch - <<'EOF'
netns add minid-3f2a1b4c5d6e
link add minid0 address 02:4d:ac:1e:00:01 mtu 1400 type bridge
link set minid0 alias minid:feedc0de:bridge
addr add 172.30.0.1/16 dev minid0
link set minid0 up
link add mv3f2a1b4c mtu 1400 type veth peer name eth0 mtu 1400 address 02:4d:ac:1e:00:02 netns minid-3f2a1b4c5d6e
link set mv3f2a1b4c master minid0
link set mv3f2a1b4c type bridge_slave hairpin on
link set mv3f2a1b4c up
EOF
ip -n minid-3f2a1b4c5d6e -batch - <<'EOF'
addr add 172.30.0.2/16 dev eth0
link set lo up
link set eth0 up
route add default via 172.30.0.1
EOF
sysctl -w net.ipv4.ip_forward=1 net.ipv4.conf.minid0.route_localnet=1
iptables-restore --noflush <<'EOF'
*nat
-N MINID-DNAT
-N MINID-POSTROUTING
COMMIT
*filter
-N MINID-FORWARD
-N MINID-ISOLATION-1
-N MINID-ISOLATION-2
-N MINID-INPUT
-I MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
COMMIT
*nat
-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
-A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
COMMIT
*filter
-I FORWARD -m comment --comment minid -j MINID-FORWARD
-I INPUT -m comment --comment minid -j MINID-INPUT
-A MINID-INPUT -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
COMMIT
*nat
-A MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
-A MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
-A MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
COMMIT
*filter
-A MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
-A MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
-A MINID-ISOLATION-1 -i minid0 ! -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
-A MINID-ISOLATION-2 -o minid0 -m conntrack ! --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP
COMMIT
*nat
-A MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
COMMIT
*filter
-A MINID-FORWARD -d 172.30.0.2/32 ! -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT
COMMIT
EOF
