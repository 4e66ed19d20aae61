# minid network connect front web (network "front" already up)
# [1/19] create the bridge: a virtual switch on the host: every container of network "front" plugs into mbr-f0f0f0f0a1b
#   course: Networking › Container Networking Interface (CNI), step 2 "Create Bridge Network/Interface"; Linux Bridge: `ip link add v-net-0 type bridge`
#   check: ip -d link show mbr-f0f0f0f0a1b
#   (skipped: network "front" is already set up (bridge mbr-f0f0f0f0a1b exists))
#   ip link add mbr-f0f0f0f0a1b address 02:4d:0a:58:00:01 mtu 1400 type bridge
# [2/19] label the bridge with its owner: link names are host-wide and several minid stores can share a host: the alias minid:feedc0de:front (store feedc0de, network "front"; `ip link show mbr-f0f0f0f0a1b` prints it) tells every store whose bridge this is
#   course: not in the course: minid's bookkeeping (several stores can share a host)
#   check: ip link show mbr-f0f0f0f0a1b | grep alias
#   (skipped: network "front" is already set up (bridge mbr-f0f0f0f0a1b exists))
#   ip link set mbr-f0f0f0f0a1b alias minid:feedc0de:front
# [3/19] give the bridge the gateway address: the bridge is also the host's interface on 10.88.0.0/24: containers reach the host, and beyond it, through 10.88.0.1
#   course: Networking › Container Networking Interface (CNI), step 6 "Assign IP Addresses"; Linux Bridge: `ip addr add 192.168.15.5/24 dev v-net-0`
#   check: ip -br addr show dev mbr-f0f0f0f0a1b
#   (skipped: network "front" is already set up (bridge mbr-f0f0f0f0a1b exists))
#   ip addr add 10.88.0.1/24 dev mbr-f0f0f0f0a1b
# [4/19] bring the bridge up: links are created down
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"; Linux Bridge: `ip link set dev v-net-0 up`
#   check: ip -br link show mbr-f0f0f0f0a1b
#   (skipped: network "front" is already set up (bridge mbr-f0f0f0f0a1b exists))
#   ip link set mbr-f0f0f0f0a1b up
# [5/19] create the veth pair: a second virtual cable for network "front": mv3f2a1b4c-f0f0 on the host, mc3f2a1b4c-f0f0 for the container (named after the container and the network, so it never clashes with its eth0 pair)
#   course: Networking › Container Networking Interface (CNI), steps 3 "Create VETH Pairs" and 4 "Attach vEth to Namespace"; Network Namespaces in Linux, steps 1-2: `ip link add veth-red type veth peer name veth-blue`, `ip link set veth-red netns red`
#   check: ip -br link show mv3f2a1b4c-f0f0; ip -n ? -br link
ip link add mv3f2a1b4c-f0f0 mtu 1400 type veth peer name mc3f2a1b4c-f0f0 mtu 1400 address 02:4d:0a:58:00:02
# [6/19] move one end into the container's namespace: the running container's namespace minid-3f2a1b4c5d6e, the one its eth0 is in: no restart, the processes see a new interface appear
ip link set mc3f2a1b4c-f0f0 netns minid-3f2a1b4c5d6e
# [7/19] attach the other end to the bridge: plug the cable into mbr-f0f0f0f0a1b, the switch of network "front" (hairpin mode as for eth0)
#   course: Networking › Container Networking Interface (CNI), step 5 "Attach Other vEth to Bridge"; Linux Bridge: `ip link set veth-red-br master v-net-0`
#   course caveat: hairpin mode is not in the course: it lets the bridge send a frame back out by the port it came in. With br_netfilter (net.bridge.bridge-nf-call-iptables=1: bridged packets go through iptables too), a container reaching its own published port through the host address is DNATed back to the port it came from, and needs it (plus the hairpin MASQUERADE)
#   check: bridge -d link show dev mv3f2a1b4c-f0f0 | grep -o 'hairpin [a-z]*'; sysctl net.bridge.bridge-nf-call-iptables
ip link set mv3f2a1b4c-f0f0 master mbr-f0f0f0f0a1b
ip link set mv3f2a1b4c-f0f0 type bridge_slave hairpin on
# [8/19] bring the host end up: links are created down
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"
#   course caveat: the course brings up only the namespace ends (`ip -n red link set veth-red up`) and leaves veth-red-br, the bridge side, down: every packet is then lost at the bridge
#   check: ip -br link show mv3f2a1b4c-f0f0
ip link set mv3f2a1b4c-f0f0 up
# [9/19] name it eth1 inside the namespace: eth0 is taken by the first network; the next free ethN, as docker does
#   course: Networking › Container Networking Interface (CNI), step 4 "Attach vEth to Namespace" (a second network: a second interface, as docker does)
#   check: ip -n minid-3f2a1b4c5d6e -br link
ip -n minid-3f2a1b4c5d6e link set mc3f2a1b4c-f0f0 name eth1
# [10/19] assign the address: 10.88.0.2 was reserved in network "front"; /24 adds the route to 10.88.0.0/24 through eth1. No default route: network "bridge" (eth0) keeps it
#   course: Networking › Container Networking Interface (CNI), step 6 "Assign IP Addresses"; Network Namespaces in Linux, step 3: `ip -n red addr add 192.168.15.1 dev veth-red`
#   course caveat: an address without a prefix (`192.168.15.1`) becomes 192.168.15.1/32: no route to the rest of the subnet, the neighbour is unreachable ("Network is unreachable"); give the prefix, as the course's own note says: 192.168.15.1/24
#   check: ip -n minid-3f2a1b4c5d6e -br addr
ip -n minid-3f2a1b4c5d6e addr add 10.88.0.2/24 dev eth1
# [11/19] bring eth1 up: links are created down (loopback is already up)
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"; Network Namespaces in Linux, step 4: `ip -n red link set veth-red up`
#   check: ip -n minid-3f2a1b4c5d6e -br link
ip -n minid-3f2a1b4c5d6e link set eth1 up
# [12/19] enable IPv4 forwarding: the host must route packets between the bridge and its other interfaces (it is left on, as docker does)
#   course: Networking › Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`
#   check: sysctl net.ipv4.ip_forward
#   (skipped: net.ipv4.ip_forward is already 1)
#   sysctl -w net.ipv4.ip_forward=1
# [13/19] let the bridge carry 127.0.0.1 traffic: route_localnet lets the kernel DNAT `curl 127.0.0.1:PORT` into the bridge, so published ports need no proxy process; it is set on this bridge only, and MINID-INPUT blocks its abuse (CVE-2020-8558)
#   course: not in the course: it is what makes `curl 127.0.0.1:PORT` reach a published port (Docker networking › Port mapping)
#   check: sysctl net.ipv4.conf.mbr-f0f0f0f0a1b.route_localnet
#   (skipped: network "front" is already set up)
#   sysctl -w net.ipv4.conf.mbr-f0f0f0f0a1b.route_localnet=1
# [14/19] create minid's own iptables chains: minid only ever adds to, and deletes from, chains it created: the host's own rules are left alone
#   course: Networking › Docker networking › Port mapping: docker's own chain, `iptables -t nat -A DOCKER ...`; minid's are MINID-*
#   check: iptables -t nat -S | grep -- '-N MINID'; iptables -S | grep -- '-N MINID'
#   (skipped: minid's chains are already in place)
#   iptables -t nat -N MINID-DNAT
#   iptables -t nat -N MINID-POSTROUTING
#   iptables -t filter -N MINID-FORWARD
#   iptables -t filter -N MINID-ISOLATION-1
#   iptables -t filter -N MINID-ISOLATION-2
#   iptables -t filter -N MINID-INPUT
#   iptables -t filter -I MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
# [15/19] hook minid's chains into the built-in ones: DNAT for packets to any local address (from outside: PREROUTING; from the host itself: OUTPUT), MASQUERADE on the way out, filtering of forwarded packets
#   course: Networking › Docker networking › Port mapping: `iptables -t nat -A PREROUTING ... -j DNAT`
#   course caveat: the course's DNAT sits in PREROUTING only: packets the host sends itself (`curl 127.0.0.1:8080` or to its own address) never pass PREROUTING, so they are not DNATed and get "connection refused"; minid hooks OUTPUT as well
#   check: iptables -t nat -S PREROUTING; iptables -t nat -S OUTPUT; iptables -S FORWARD | grep MINID
#   (skipped: minid's chains are already in place)
#   iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
#   iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
#   iptables -t nat -A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
#   iptables -t filter -I FORWARD -m comment --comment minid -j MINID-FORWARD
#   iptables -t filter -I INPUT -m comment --comment minid -j MINID-INPUT
# [16/19] block outside access to 127.0.0.0/8 (CVE-2020-8558): with route_localnet on, a neighbour could reach services bound to 127.0.0.1; drop such packets unless they belong to a published port (DNAT)
#   course: not in the course: the price of route_localnet (CVE-2020-8558)
#   check: iptables -S MINID-INPUT
#   (skipped: minid's chains are already in place)
#   iptables -t filter -A MINID-INPUT -d 127.0.0.0/8 '!' -i lo -m conntrack '!' --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
# [17/19] masquerade traffic leaving the network: packets from 10.88.0.0/24 that leave by another interface get the host's address as source, so replies find their way back
#   course: Networking › Container Networking Interface (CNI), step 9 "Enable NAT - IP Masquerade"; Linux Bridge: `iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE`
#   course caveat: the course's rule has no `! -o BRIDGE`: with br_netfilter (bridge-nf-call-iptables=1) it also rewrites traffic between two containers of the bridge, which then see the gateway instead of each other
#   check: iptables -t nat -S MINID-POSTROUTING
#   (skipped: network "front" is already set up)
#   iptables -t nat -A MINID-POSTROUTING -s 10.88.0.0/24 '!' -o mbr-f0f0f0f0a1b -m comment --comment minid:feedc0de:front -j MASQUERADE
# [18/19] masquerade hairpin and localhost traffic into the bridge: a container reaching a published port through a host address, and 127.0.0.1 clients, must see replies come back through the host (source becomes 10.88.0.1)
#   course: not in the course: needed for hairpin and 127.0.0.1 (Docker networking › Port mapping)
#   course caveat: the course publishes ports for outside clients only. Measured with br_netfilter on (bridge-nf-call-iptables=1): a container reaching its own published port through the host address needs hairpin mode on its port plus this MASQUERADE, and `curl 127.0.0.1:PORT` on the host needs route_localnet plus this MASQUERADE (else the container gets a packet from 127.0.0.1 on eth0: a martian, dropped)
#   check: iptables -t nat -S MINID-POSTROUTING; sysctl net.bridge.bridge-nf-call-iptables
#   (skipped: network "front" is already set up)
#   iptables -t nat -A MINID-POSTROUTING -s 10.88.0.0/24 -o mbr-f0f0f0f0a1b -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:front -j MASQUERADE
#   iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o mbr-f0f0f0f0a1b -m comment --comment minid:feedc0de:front -j MASQUERADE
# [19/19] allow forwarding for the network, isolate it from other networks: mbr-f0f0f0f0a1b may talk to itself and to the outside, replies may come back in; packets from another minid network are dropped unless they target a published port
#   course: Networking › Linux Bridge: "Another thing to check is FirewallD/IP Table rules"
#   check: iptables -S MINID-FORWARD; iptables -S MINID-ISOLATION-1; iptables -S FORWARD | head -1
#   (skipped: network "front" is already set up)
#   iptables -t filter -A MINID-FORWARD -o mbr-f0f0f0f0a1b -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:front -j ACCEPT
#   iptables -t filter -A MINID-FORWARD -i mbr-f0f0f0f0a1b -m comment --comment minid:feedc0de:front -j ACCEPT
#   iptables -t filter -A MINID-ISOLATION-1 -i mbr-f0f0f0f0a1b '!' -o mbr-f0f0f0f0a1b -m comment --comment minid:feedc0de:front -j MINID-ISOLATION-2
#   iptables -t filter -A MINID-ISOLATION-2 -o mbr-f0f0f0f0a1b -m conntrack '!' --ctstate DNAT -m comment --comment minid:feedc0de:front -j DROP

# ---- processes started (batched) ----
ip -batch - <<'EOF'
link add mv3f2a1b4c-f0f0 mtu 1400 type veth peer name mc3f2a1b4c-f0f0 mtu 1400 address 02:4d:0a:58:00:02
link set mc3f2a1b4c-f0f0 netns minid-3f2a1b4c5d6e
link set mv3f2a1b4c-f0f0 master mbr-f0f0f0f0a1b
link set mv3f2a1b4c-f0f0 type bridge_slave hairpin on
link set mv3f2a1b4c-f0f0 up
EOF
ip -n minid-3f2a1b4c5d6e -batch - <<'EOF'
link set mc3f2a1b4c-f0f0 name eth1
addr add 10.88.0.2/24 dev eth1
link set eth1 up
EOF
