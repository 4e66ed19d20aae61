# minid run (network "bridge" already up)
# [1/19] create the network namespace: the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/minid-9a8b7c6d5e4f
ip netns add minid-9a8b7c6d5e4f
# [2/19] create the bridge: a virtual switch on the host: every container of network "bridge" plugs into minid0
#   (skipped: network "bridge" is already set up (bridge minid0 exists))
#   ip link add minid0 address 02:4d:ac:1e:00:01 mtu 1400 type bridge
# [3/19] label the bridge with its owner: link names are host-wide and several minid stores can share a host: the alias minid:feedc0de:bridge (store feedc0de, network "bridge"; `ip link show minid0` prints it) tells every store whose bridge this is
#   (skipped: network "bridge" is already set up (bridge minid0 exists))
#   ip link set minid0 alias minid:feedc0de:bridge
# [4/19] give the bridge the gateway address: the bridge is also the host's interface on 172.30.0.0/16: containers reach the host, and beyond it, through 172.30.0.1
#   (skipped: network "bridge" is already set up (bridge minid0 exists))
#   ip addr add 172.30.0.1/16 dev minid0
# [5/19] bring the bridge up: links are created down
#   (skipped: network "bridge" is already set up (bridge minid0 exists))
#   ip link set minid0 up
# [6/19] create the veth pair: a virtual cable: what enters mv9a8b7c6d leaves eth0 and back (MTU 1400 from the host's uplink); eth0 is made inside minid-9a8b7c6d5e4f (no clash with a host eth0), which spares the ~20 ms that moving it in later (`ip link set PEER netns minid-9a8b7c6d5e4f`) costs
ip link add mv9a8b7c6d mtu 1400 type veth peer name eth0 mtu 1400 address 02:4d:ac:1e:00:03 netns minid-9a8b7c6d5e4f
# [7/19] attach the other end to the bridge: plug the cable into the switch; hairpin mode lets a packet leave by the port it came in (a container reaching its own published port)
ip link set mv9a8b7c6d master minid0
ip link set mv9a8b7c6d type bridge_slave hairpin on
# [8/19] bring the host end up: links are created down
ip link set mv9a8b7c6d up
# [9/19] assign the container address: 172.30.0.3 was reserved by minid's IPAM for this container; /16 makes the rest of 172.30.0.0/16 directly reachable
ip -n minid-9a8b7c6d5e4f addr add 172.30.0.3/16 dev eth0
# [10/19] bring the links up inside: loopback (127.0.0.1 inside the container) and eth0
ip -n minid-9a8b7c6d5e4f link set lo up
ip -n minid-9a8b7c6d5e4f link set eth0 up
# [11/19] add the default route: everything outside 172.30.0.0/16 goes to the gateway, the bridge's address on the host
ip -n minid-9a8b7c6d5e4f route add default via 172.30.0.1
# [12/19] enable IPv4 forwarding: the host must route packets between the bridge and its other interfaces (it is left on, as docker does)
#   (skipped: net.ipv4.ip_forward is already 1)
#   sysctl -w net.ipv4.ip_forward=1
# [13/19] let the bridge carry 127.0.0.1 traffic: route_localnet lets the kernel DNAT `curl 127.0.0.1:PORT` into the bridge, so published ports need no proxy process; it is set on this bridge only, and MINID-INPUT blocks its abuse (CVE-2020-8558)
#   (skipped: network "bridge" is already set up)
#   sysctl -w net.ipv4.conf.minid0.route_localnet=1
# [14/19] create minid's own iptables chains: minid only ever adds to, and deletes from, chains it created: the host's own rules are left alone
#   (skipped: minid's chains are already in place)
#   iptables -t nat -N MINID-DNAT
#   iptables -t nat -N MINID-POSTROUTING
#   iptables -t filter -N MINID-FORWARD
#   iptables -t filter -N MINID-ISOLATION-1
#   iptables -t filter -N MINID-ISOLATION-2
#   iptables -t filter -N MINID-INPUT
#   iptables -t filter -I MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
# [15/19] hook minid's chains into the built-in ones: DNAT for packets to any local address (from outside: PREROUTING; from the host itself: OUTPUT), MASQUERADE on the way out, filtering of forwarded packets
#   (skipped: minid's chains are already in place)
#   iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
#   iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
#   iptables -t nat -A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
#   iptables -t filter -I FORWARD -m comment --comment minid -j MINID-FORWARD
#   iptables -t filter -I INPUT -m comment --comment minid -j MINID-INPUT
# [16/19] block outside access to 127.0.0.0/8 (CVE-2020-8558): with route_localnet on, a neighbour could reach services bound to 127.0.0.1; drop such packets unless they belong to a published port (DNAT)
#   (skipped: minid's chains are already in place)
#   iptables -t filter -A MINID-INPUT -d 127.0.0.0/8 '!' -i lo -m conntrack '!' --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
# [17/19] masquerade traffic leaving the network: packets from 172.30.0.0/16 that leave by another interface get the host's address as source, so replies find their way back
#   (skipped: network "bridge" is already set up)
#   iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [18/19] masquerade hairpin and localhost traffic into the bridge: a container reaching a published port through a host address, and 127.0.0.1 clients, must see replies come back through the host (source becomes 172.30.0.1)
#   (skipped: network "bridge" is already set up)
#   iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
#   iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [19/19] allow forwarding for the network, isolate it from other networks: minid0 may talk to itself and to the outside, replies may come back in; packets from another minid network are dropped unless they target a published port
#   (skipped: network "bridge" is already set up)
#   iptables -t filter -A MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
#   iptables -t filter -A MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
#   iptables -t filter -A MINID-ISOLATION-1 -i minid0 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
#   iptables -t filter -A MINID-ISOLATION-2 -o minid0 -m conntrack '!' --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP

# ---- processes started (batched) ----
ip -batch - <<'EOF'
netns add minid-9a8b7c6d5e4f
link add mv9a8b7c6d mtu 1400 type veth peer name eth0 mtu 1400 address 02:4d:ac:1e:00:03 netns minid-9a8b7c6d5e4f
link set mv9a8b7c6d master minid0
link set mv9a8b7c6d type bridge_slave hairpin on
link set mv9a8b7c6d up
EOF
ip -n minid-9a8b7c6d5e4f -batch - <<'EOF'
addr add 172.30.0.3/16 dev eth0
link set lo up
link set eth0 up
route add default via 172.30.0.1
EOF
