# minid run -p 8080:80 (first container on "bridge")
# [1/20] create the network namespace: the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/minid-3f2a1b4c5d6e
#   course: Networking › Container Networking Interface (CNI), step 1 "Create network namespace"; Network Namespaces in Linux: `ip netns add red`
#   check: ip netns list | grep minid-3f2a1b4c5d6e
ip netns add minid-3f2a1b4c5d6e
# [2/20] create the bridge: a virtual switch on the host: every container of network "bridge" plugs into minid0
#   course: Networking › Container Networking Interface (CNI), step 2 "Create Bridge Network/Interface"; Linux Bridge: `ip link add v-net-0 type bridge`
#   check: ip -d link show minid0
ip link add minid0 address 02:4d:ac:1e:00:01 mtu 1400 type bridge
# [3/20] label the bridge with its owner: link names are host-wide and several minid stores can share a host: the alias minid:feedc0de:bridge (store feedc0de, network "bridge"; `ip link show minid0` prints it) tells every store whose bridge this is
#   course: not in the course: minid's bookkeeping (several stores can share a host)
#   check: ip link show minid0 | grep alias
ip link set minid0 alias minid:feedc0de:bridge
# [4/20] give the bridge the gateway address: the bridge is also the host's interface on 172.30.0.0/16: containers reach the host, and beyond it, through 172.30.0.1
#   course: Networking › Container Networking Interface (CNI), step 6 "Assign IP Addresses"; Linux Bridge: `ip addr add 192.168.15.5/24 dev v-net-0`
#   check: ip -br addr show dev minid0
ip addr add 172.30.0.1/16 dev minid0
# [5/20] bring the bridge up: links are created down
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"; Linux Bridge: `ip link set dev v-net-0 up`
#   check: ip -br link show minid0
ip link set minid0 up
# [6/20] create the veth pair: a virtual cable: what enters mv3f2a1b4c leaves eth0 and back (MTU 1400 from the host's uplink); eth0 is made inside minid-3f2a1b4c5d6e (no clash with a host eth0), which spares the ~20 ms that moving it in later (`ip link set PEER netns minid-3f2a1b4c5d6e`) costs
#   course: Networking › Container Networking Interface (CNI), steps 3 "Create VETH Pairs" and 4 "Attach vEth to Namespace"; Network Namespaces in Linux, steps 1-2: `ip link add veth-red type veth peer name veth-blue`, `ip link set veth-red netns red`
#   check: ip -br link show mv3f2a1b4c; ip -n minid-3f2a1b4c5d6e -br link
ip link add mv3f2a1b4c mtu 1400 type veth peer name eth0 mtu 1400 address 02:4d:ac:1e:00:02 netns minid-3f2a1b4c5d6e
# [7/20] attach the other end to the bridge: plug the cable into the switch; hairpin mode lets a packet leave by the port it came in (a container reaching its own published port)
#   course: Networking › Container Networking Interface (CNI), step 5 "Attach Other vEth to Bridge"; Linux Bridge: `ip link set veth-red-br master v-net-0`
#   course caveat: hairpin mode is not in the course: it lets the bridge send a frame back out by the port it came in. With br_netfilter (net.bridge.bridge-nf-call-iptables=1: bridged packets go through iptables too), a container reaching its own published port through the host address is DNATed back to the port it came from, and needs it (plus the hairpin MASQUERADE)
#   check: bridge -d link show dev mv3f2a1b4c | grep -o 'hairpin [a-z]*'; sysctl net.bridge.bridge-nf-call-iptables
ip link set mv3f2a1b4c master minid0
ip link set mv3f2a1b4c type bridge_slave hairpin on
# [8/20] bring the host end up: links are created down
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"
#   course caveat: the course brings up only the namespace ends (`ip -n red link set veth-red up`) and leaves veth-red-br, the bridge side, down: every packet is then lost at the bridge
#   check: ip -br link show mv3f2a1b4c
ip link set mv3f2a1b4c up
# [9/20] assign the container address: 172.30.0.2 was reserved by minid's IPAM for this container; /16 makes the rest of 172.30.0.0/16 directly reachable
#   course: Networking › Container Networking Interface (CNI), step 6 "Assign IP Addresses"; Network Namespaces in Linux, step 3: `ip -n red addr add 192.168.15.1 dev veth-red`
#   course caveat: an address without a prefix (`192.168.15.1`) becomes 192.168.15.1/32: no route to the rest of the subnet, the neighbour is unreachable ("Network is unreachable"); give the prefix, as the course's own note says: 192.168.15.1/24
#   check: ip -n minid-3f2a1b4c5d6e -br addr
ip -n minid-3f2a1b4c5d6e addr add 172.30.0.2/16 dev eth0
# [10/20] bring the links up inside: loopback (127.0.0.1 inside the container) and eth0
#   course: Networking › Container Networking Interface (CNI), step 7 "Bring the interfaces up"; Network Namespaces in Linux, step 4: `ip -n red link set veth-red up`
#   check: ip -n minid-3f2a1b4c5d6e -br link
ip -n minid-3f2a1b4c5d6e link set lo up
ip -n minid-3f2a1b4c5d6e link set eth0 up
# [11/20] add the default route: everything outside 172.30.0.0/16 goes to the gateway, the bridge's address on the host
#   course: Networking › Container Networking Interface (CNI), step 8 "Add routes"; Linux Bridge: `ip netns exec blue ip route add default via 192.168.15.5`
#   course caveat: the course's "another way", `ip route add 0.0.0.0 via 192.168.1.1` (Linux networking), adds a route to the single address 0.0.0.0/32, not a default route: write `default` or `0.0.0.0/0`
#   check: ip -n minid-3f2a1b4c5d6e route show default
ip -n minid-3f2a1b4c5d6e route add default via 172.30.0.1
# [12/20] enable IPv4 forwarding: the host must route packets between the bridge and its other interfaces (it is left on, as docker does)
#   course: Networking › Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`
#   check: sysctl net.ipv4.ip_forward
sysctl -w net.ipv4.ip_forward=1
# [13/20] let the bridge carry 127.0.0.1 traffic: route_localnet lets the kernel DNAT `curl 127.0.0.1:PORT` into the bridge, so published ports need no proxy process; it is set on this bridge only, and MINID-INPUT blocks its abuse (CVE-2020-8558)
#   course: not in the course: it is what makes `curl 127.0.0.1:PORT` reach a published port (Docker networking › Port mapping)
#   check: sysctl net.ipv4.conf.minid0.route_localnet
sysctl -w net.ipv4.conf.minid0.route_localnet=1
# [14/20] create minid's own iptables chains: minid only ever adds to, and deletes from, chains it created: the host's own rules are left alone
#   course: Networking › Docker networking › Port mapping: docker's own chain, `iptables -t nat -A DOCKER ...`; minid's are MINID-*
#   check: iptables -t nat -S | grep -- '-N MINID'; iptables -S | grep -- '-N MINID'
iptables -t nat -N MINID-DNAT
iptables -t nat -N MINID-POSTROUTING
iptables -t filter -N MINID-FORWARD
iptables -t filter -N MINID-ISOLATION-1
iptables -t filter -N MINID-ISOLATION-2
iptables -t filter -N MINID-INPUT
iptables -t filter -I MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
# [15/20] hook minid's chains into the built-in ones: DNAT for packets to any local address (from outside: PREROUTING; from the host itself: OUTPUT), MASQUERADE on the way out, filtering of forwarded packets
#   course: Networking › Docker networking › Port mapping: `iptables -t nat -A PREROUTING ... -j DNAT`
#   course caveat: the course's DNAT sits in PREROUTING only: packets the host sends itself (`curl 127.0.0.1:8080` or to its own address) never pass PREROUTING, so they are not DNATed and get "connection refused"; minid hooks OUTPUT as well
#   check: iptables -t nat -S PREROUTING; iptables -t nat -S OUTPUT; iptables -S FORWARD | grep MINID
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
iptables -t filter -I FORWARD -m comment --comment minid -j MINID-FORWARD
iptables -t filter -I INPUT -m comment --comment minid -j MINID-INPUT
# [16/20] block outside access to 127.0.0.0/8 (CVE-2020-8558): with route_localnet on, a neighbour could reach services bound to 127.0.0.1; drop such packets unless they belong to a published port (DNAT)
#   course: not in the course: the price of route_localnet (CVE-2020-8558)
#   check: iptables -S MINID-INPUT
iptables -t filter -A MINID-INPUT -d 127.0.0.0/8 '!' -i lo -m conntrack '!' --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
# [17/20] masquerade traffic leaving the network: packets from 172.30.0.0/16 that leave by another interface get the host's address as source, so replies find their way back
#   course: Networking › Container Networking Interface (CNI), step 9 "Enable NAT - IP Masquerade"; Linux Bridge: `iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE`
#   course caveat: the course's rule has no `! -o BRIDGE`: with br_netfilter (bridge-nf-call-iptables=1) it also rewrites traffic between two containers of the bridge, which then see the gateway instead of each other
#   check: iptables -t nat -S MINID-POSTROUTING
iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [18/20] masquerade hairpin and localhost traffic into the bridge: a container reaching a published port through a host address, and 127.0.0.1 clients, must see replies come back through the host (source becomes 172.30.0.1)
#   course: not in the course: needed for hairpin and 127.0.0.1 (Docker networking › Port mapping)
#   course caveat: the course publishes ports for outside clients only. Measured with br_netfilter on (bridge-nf-call-iptables=1): a container reaching its own published port through the host address needs hairpin mode on its port plus this MASQUERADE, and `curl 127.0.0.1:PORT` on the host needs route_localnet plus this MASQUERADE (else the container gets a packet from 127.0.0.1 on eth0: a martian, dropped)
#   check: iptables -t nat -S MINID-POSTROUTING; sysctl net.bridge.bridge-nf-call-iptables
iptables -t nat -A MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
iptables -t nat -A MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [19/20] allow forwarding for the network, isolate it from other networks: minid0 may talk to itself and to the outside, replies may come back in; packets from another minid network are dropped unless they target a published port
#   course: Networking › Linux Bridge: "Another thing to check is FirewallD/IP Table rules"
#   check: iptables -S MINID-FORWARD; iptables -S MINID-ISOLATION-1; iptables -S FORWARD | head -1
iptables -t filter -A MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -A MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -A MINID-ISOLATION-1 -i minid0 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
iptables -t filter -A MINID-ISOLATION-2 -o minid0 -m conntrack '!' --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP
# [20/20] publish 8080 -> 80/tcp: DNAT rewrites tcp packets for port 8080 on every host address (127.0.0.1 too) to 172.30.0.2:80, in the kernel; FORWARD lets them in
#   course: Networking › Docker networking › Port mapping: `iptables -t nat -A PREROUTING -j DNAT --dport 8080 --to-destination 80`
#   course caveat: iptables refuses both of the course's DNAT rules. Without `-p tcp`, `--dport` is unknown (Linux Bridge: `iptables -t nat -A PREROUTING --dport 80 --to-destination 192.168.15.2:80 -j DNAT` → unknown option "--dport"); and `--to-destination 80` is not an address (Port mapping → Bad IP address "80"): it must be the container's IP:PORT, 172.17.0.3:80 as docker's own rule in the same section has it
#   check: iptables -t nat -S MINID-DNAT | grep -- '--dport 8080 '
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
