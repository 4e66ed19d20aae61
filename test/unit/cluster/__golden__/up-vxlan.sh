# cluster up (vxlan)
# [1/25] create the LAN: Cluster networking: the nodes' network 192.168.1.0/24 is a switch, the bridge mcl0a1b2c3d on the host; it gets no address (the host is not on this LAN and routes nothing into it), and no IPv6 link-local address either
#   course: Networking › Cluster networking: the nodes' network, 192.168.1.0 in the notes, "each node has at least one interface connected to a network"; here a switch: Linux Bridge, `ip link add v-net-0 type bridge`
#   check: ip -d link show mcl0a1b2c3d
ip link add mcl0a1b2c3d type bridge
ip link set mcl0a1b2c3d alias minid:0a1b2c3d:cluster-lan
sysctl -w net.ipv6.conf.mcl0a1b2c3d.disable_ipv6=1
ip link set mcl0a1b2c3d up
# [2/25] create node node1: Cluster networking: a node is a machine of its own; here a network namespace, mcl-0a1b2c3d-node1, with its own links, routes, firewall and sysctls
#   course: Networking › Cluster networking (a node is a machine with its own interfaces, routes and firewall); Network Namespaces in Linux: `ip netns add red`
#   check: ip netns list | grep mcl-0a1b2c3d-node1
ip netns add mcl-0a1b2c3d-node1
# [3/25] plug node1 into the LAN: Cluster networking: a veth pair is the node's network cable: eth0 inside the node, mcl0a1b2c3dn1 on the LAN switch
#   course: Networking › Cluster networking: the node's eth0 on the network; Network Namespaces in Linux: `ip link add veth-red type veth peer name veth-red-br`, `ip link set veth-red-br master v-net-0`
#   check: ip -br link show master mcl0a1b2c3d
ip link add mcl0a1b2c3dn1 type veth peer name eth0 netns mcl-0a1b2c3d-node1
ip link set mcl0a1b2c3dn1 master mcl0a1b2c3d
ip link set mcl0a1b2c3dn1 up
# [4/25] give node1 its LAN address: Cluster networking: 192.168.1.11 on eth0 (`ip addr add 192.168.1.11/24 dev eth0`, as in the notes), links up
#   course: Networking › Cluster networking: `ip addr add 192.168.1.10/24 dev eth0` (the commands the notes list for a node: ip link, ip addr, ip route)
#   check: ip -n mcl-0a1b2c3d-node1 -br addr show dev eth0
ip -n mcl-0a1b2c3d-node1 addr add 192.168.1.11/24 dev eth0
ip -n mcl-0a1b2c3d-node1 link set lo up
ip -n mcl-0a1b2c3d-node1 link set eth0 up
# [5/25] let node1 route: Pod networking: the node forwards between its pod bridge and the LAN (ip_forward is per network namespace: set here, the host's is untouched)
#   course: Networking › Cluster networking: `cat /proc/sys/net/ipv4/ip_forward` (1); Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`
#   course caveat: `cat /proc/sys/net/ipv4/ip_forward` typed on the host reads the host's value, not a node's: /proc/sys/net follows the reader's network namespace (measured: a node set to 0 read 0 through nsenter while the host read 1); read it inside the node
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node1 cat /proc/sys/net/ipv4/ip_forward
nsenter --net=/run/netns/mcl-0a1b2c3d-node1 sysctl -w net.ipv4.ip_forward=1
# [6/25] no NAT between pods on node1: Pod networking: "every pod reaches every other pod with its own IP, without NAT": traffic from 10.244.0.0/16 to 10.244.0.0/16 leaves POSTROUTING before minid's MASQUERADE (flannel's RETURN rule); only traffic leaving the pod network is masqueraded
#   course: Networking › Pod networking, the networking model: "every pod should be able to communicate with every other pod on other nodes using the same IP address without NAT"
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables -t nat -S POSTROUTING
nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables -t nat -I POSTROUTING 1 -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment 'cluster pods reach pods without NAT' -j RETURN
# [7/25] show node1's links to its minid: /sys/class/net shows the links of the namespace that mounted /sys: a sysfs mounted from inside the node (what `ip netns exec` does) lets the node's minid see its own
#   course: not in the course: how the node's own minid sees the node's links (`ip netns exec` mounts a sysfs the same way)
#   check: ls /run/minid/cluster/sysfs/node1/class/net
nsenter --net=/run/netns/mcl-0a1b2c3d-node1 mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /run/minid/cluster/sysfs/node1
# [8/25] create node node2: Cluster networking: a node is a machine of its own; here a network namespace, mcl-0a1b2c3d-node2, with its own links, routes, firewall and sysctls
#   course: Networking › Cluster networking (a node is a machine with its own interfaces, routes and firewall); Network Namespaces in Linux: `ip netns add red`
#   check: ip netns list | grep mcl-0a1b2c3d-node2
ip netns add mcl-0a1b2c3d-node2
# [9/25] plug node2 into the LAN: Cluster networking: a veth pair is the node's network cable: eth0 inside the node, mcl0a1b2c3dn2 on the LAN switch
#   course: Networking › Cluster networking: the node's eth0 on the network; Network Namespaces in Linux: `ip link add veth-red type veth peer name veth-red-br`, `ip link set veth-red-br master v-net-0`
#   check: ip -br link show master mcl0a1b2c3d
ip link add mcl0a1b2c3dn2 type veth peer name eth0 netns mcl-0a1b2c3d-node2
ip link set mcl0a1b2c3dn2 master mcl0a1b2c3d
ip link set mcl0a1b2c3dn2 up
# [10/25] give node2 its LAN address: Cluster networking: 192.168.1.12 on eth0 (`ip addr add 192.168.1.12/24 dev eth0`, as in the notes), links up
#   course: Networking › Cluster networking: `ip addr add 192.168.1.10/24 dev eth0` (the commands the notes list for a node: ip link, ip addr, ip route)
#   check: ip -n mcl-0a1b2c3d-node2 -br addr show dev eth0
ip -n mcl-0a1b2c3d-node2 addr add 192.168.1.12/24 dev eth0
ip -n mcl-0a1b2c3d-node2 link set lo up
ip -n mcl-0a1b2c3d-node2 link set eth0 up
# [11/25] let node2 route: Pod networking: the node forwards between its pod bridge and the LAN (ip_forward is per network namespace: set here, the host's is untouched)
#   course: Networking › Cluster networking: `cat /proc/sys/net/ipv4/ip_forward` (1); Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`
#   course caveat: `cat /proc/sys/net/ipv4/ip_forward` typed on the host reads the host's value, not a node's: /proc/sys/net follows the reader's network namespace (measured: a node set to 0 read 0 through nsenter while the host read 1); read it inside the node
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 cat /proc/sys/net/ipv4/ip_forward
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 sysctl -w net.ipv4.ip_forward=1
# [12/25] no NAT between pods on node2: Pod networking: "every pod reaches every other pod with its own IP, without NAT": traffic from 10.244.0.0/16 to 10.244.0.0/16 leaves POSTROUTING before minid's MASQUERADE (flannel's RETURN rule); only traffic leaving the pod network is masqueraded
#   course: Networking › Pod networking, the networking model: "every pod should be able to communicate with every other pod on other nodes using the same IP address without NAT"
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables -t nat -S POSTROUTING
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables -t nat -I POSTROUTING 1 -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment 'cluster pods reach pods without NAT' -j RETURN
# [13/25] show node2's links to its minid: /sys/class/net shows the links of the namespace that mounted /sys: a sysfs mounted from inside the node (what `ip netns exec` does) lets the node's minid see its own
#   course: not in the course: how the node's own minid sees the node's links (`ip netns exec` mounts a sysfs the same way)
#   check: ls /run/minid/cluster/sysfs/node2/class/net
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /run/minid/cluster/sysfs/node2
# [14/25] create node node3: Cluster networking: a node is a machine of its own; here a network namespace, mcl-0a1b2c3d-node3, with its own links, routes, firewall and sysctls
#   course: Networking › Cluster networking (a node is a machine with its own interfaces, routes and firewall); Network Namespaces in Linux: `ip netns add red`
#   check: ip netns list | grep mcl-0a1b2c3d-node3
ip netns add mcl-0a1b2c3d-node3
# [15/25] plug node3 into the LAN: Cluster networking: a veth pair is the node's network cable: eth0 inside the node, mcl0a1b2c3dn3 on the LAN switch
#   course: Networking › Cluster networking: the node's eth0 on the network; Network Namespaces in Linux: `ip link add veth-red type veth peer name veth-red-br`, `ip link set veth-red-br master v-net-0`
#   check: ip -br link show master mcl0a1b2c3d
ip link add mcl0a1b2c3dn3 type veth peer name eth0 netns mcl-0a1b2c3d-node3
ip link set mcl0a1b2c3dn3 master mcl0a1b2c3d
ip link set mcl0a1b2c3dn3 up
# [16/25] give node3 its LAN address: Cluster networking: 192.168.1.13 on eth0 (`ip addr add 192.168.1.13/24 dev eth0`, as in the notes), links up
#   course: Networking › Cluster networking: `ip addr add 192.168.1.10/24 dev eth0` (the commands the notes list for a node: ip link, ip addr, ip route)
#   check: ip -n mcl-0a1b2c3d-node3 -br addr show dev eth0
ip -n mcl-0a1b2c3d-node3 addr add 192.168.1.13/24 dev eth0
ip -n mcl-0a1b2c3d-node3 link set lo up
ip -n mcl-0a1b2c3d-node3 link set eth0 up
# [17/25] let node3 route: Pod networking: the node forwards between its pod bridge and the LAN (ip_forward is per network namespace: set here, the host's is untouched)
#   course: Networking › Cluster networking: `cat /proc/sys/net/ipv4/ip_forward` (1); Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`
#   course caveat: `cat /proc/sys/net/ipv4/ip_forward` typed on the host reads the host's value, not a node's: /proc/sys/net follows the reader's network namespace (measured: a node set to 0 read 0 through nsenter while the host read 1); read it inside the node
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node3 cat /proc/sys/net/ipv4/ip_forward
nsenter --net=/run/netns/mcl-0a1b2c3d-node3 sysctl -w net.ipv4.ip_forward=1
# [18/25] no NAT between pods on node3: Pod networking: "every pod reaches every other pod with its own IP, without NAT": traffic from 10.244.0.0/16 to 10.244.0.0/16 leaves POSTROUTING before minid's MASQUERADE (flannel's RETURN rule); only traffic leaving the pod network is masqueraded
#   course: Networking › Pod networking, the networking model: "every pod should be able to communicate with every other pod on other nodes using the same IP address without NAT"
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node3 iptables -t nat -S POSTROUTING
nsenter --net=/run/netns/mcl-0a1b2c3d-node3 iptables -t nat -I POSTROUTING 1 -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment 'cluster pods reach pods without NAT' -j RETURN
# [19/25] show node3's links to its minid: /sys/class/net shows the links of the namespace that mounted /sys: a sysfs mounted from inside the node (what `ip netns exec` does) lets the node's minid see its own
#   course: not in the course: how the node's own minid sees the node's links (`ip netns exec` mounts a sysfs the same way)
#   check: ls /run/minid/cluster/sysfs/node3/class/net
nsenter --net=/run/netns/mcl-0a1b2c3d-node3 mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /run/minid/cluster/sysfs/node3
# [20/25] create the VXLAN device on node1: Pod networking (overlay, as flannel and weave do): vxlan1 wraps pod packets in UDP 8472 between node addresses; its MTU is 50 bytes less than eth0's for the outer headers. (flannel also gives it 10.244.1.0/32, a source address for the node's own packets to pods; forwarded pod packets need none, and minid's node store would see it as a clash with its pod subnet)
#   course: Networking › Weaveworks(CNI): the agent on each node "encapsulates" a pod's packet into one between the nodes' addresses; flannel's vxlan backend does it in the kernel (the course gives no command)
#   course caveat: the usual command found elsewhere, `ip link add vxlan1 type vxlan id 1 dev eth0`, leaves out the UDP port: iproute2 then warns "destination port not specified" and the kernel takes 8472 (measured), not the IANA 4789; flannel uses 8472 too, so minid names it (`dstport 8472`)
#   check: ip -n mcl-0a1b2c3d-node1 -d link show vxlan1
ip -n mcl-0a1b2c3d-node1 link add vxlan1 address 02:4d:76:0a:1b:01 type vxlan id 1 local 192.168.1.11 dev eth0 dstport 8472 nolearning
ip -n mcl-0a1b2c3d-node1 link set vxlan1 up
# [21/25] routes, neighbours and FDB entries on node1: Pod networking (overlay): a pod subnet goes to its node's VTEP address; that address has the VTEP's MAC; the MAC is behind the node's LAN address
#   course: Networking › Weaveworks(CNI): the agent "knows" which node holds each pod and sends the encapsulated packet to that node's address; Networking › Pod networking for the routes
#   check: ip -n mcl-0a1b2c3d-node1 route; ip -n mcl-0a1b2c3d-node1 neigh show dev vxlan1; bridge -n mcl-0a1b2c3d-node1 fdb show dev vxlan1
ip -n mcl-0a1b2c3d-node1 route add 10.244.2.0/24 via 10.244.2.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node1 neigh add 10.244.2.0 lladdr 02:4d:76:0a:1b:02 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node1 fdb append 02:4d:76:0a:1b:02 dev vxlan1 dst 192.168.1.12
ip -n mcl-0a1b2c3d-node1 route add 10.244.3.0/24 via 10.244.3.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node1 neigh add 10.244.3.0 lladdr 02:4d:76:0a:1b:03 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node1 fdb append 02:4d:76:0a:1b:03 dev vxlan1 dst 192.168.1.13
# [22/25] create the VXLAN device on node2: Pod networking (overlay, as flannel and weave do): vxlan1 wraps pod packets in UDP 8472 between node addresses; its MTU is 50 bytes less than eth0's for the outer headers. (flannel also gives it 10.244.2.0/32, a source address for the node's own packets to pods; forwarded pod packets need none, and minid's node store would see it as a clash with its pod subnet)
#   course: Networking › Weaveworks(CNI): the agent on each node "encapsulates" a pod's packet into one between the nodes' addresses; flannel's vxlan backend does it in the kernel (the course gives no command)
#   course caveat: the usual command found elsewhere, `ip link add vxlan1 type vxlan id 1 dev eth0`, leaves out the UDP port: iproute2 then warns "destination port not specified" and the kernel takes 8472 (measured), not the IANA 4789; flannel uses 8472 too, so minid names it (`dstport 8472`)
#   check: ip -n mcl-0a1b2c3d-node2 -d link show vxlan1
ip -n mcl-0a1b2c3d-node2 link add vxlan1 address 02:4d:76:0a:1b:02 type vxlan id 1 local 192.168.1.12 dev eth0 dstport 8472 nolearning
ip -n mcl-0a1b2c3d-node2 link set vxlan1 up
# [23/25] routes, neighbours and FDB entries on node2: Pod networking (overlay): a pod subnet goes to its node's VTEP address; that address has the VTEP's MAC; the MAC is behind the node's LAN address
#   course: Networking › Weaveworks(CNI): the agent "knows" which node holds each pod and sends the encapsulated packet to that node's address; Networking › Pod networking for the routes
#   check: ip -n mcl-0a1b2c3d-node2 route; ip -n mcl-0a1b2c3d-node2 neigh show dev vxlan1; bridge -n mcl-0a1b2c3d-node2 fdb show dev vxlan1
ip -n mcl-0a1b2c3d-node2 route add 10.244.1.0/24 via 10.244.1.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node2 neigh add 10.244.1.0 lladdr 02:4d:76:0a:1b:01 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node2 fdb append 02:4d:76:0a:1b:01 dev vxlan1 dst 192.168.1.11
ip -n mcl-0a1b2c3d-node2 route add 10.244.3.0/24 via 10.244.3.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node2 neigh add 10.244.3.0 lladdr 02:4d:76:0a:1b:03 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node2 fdb append 02:4d:76:0a:1b:03 dev vxlan1 dst 192.168.1.13
# [24/25] create the VXLAN device on node3: Pod networking (overlay, as flannel and weave do): vxlan1 wraps pod packets in UDP 8472 between node addresses; its MTU is 50 bytes less than eth0's for the outer headers. (flannel also gives it 10.244.3.0/32, a source address for the node's own packets to pods; forwarded pod packets need none, and minid's node store would see it as a clash with its pod subnet)
#   course: Networking › Weaveworks(CNI): the agent on each node "encapsulates" a pod's packet into one between the nodes' addresses; flannel's vxlan backend does it in the kernel (the course gives no command)
#   course caveat: the usual command found elsewhere, `ip link add vxlan1 type vxlan id 1 dev eth0`, leaves out the UDP port: iproute2 then warns "destination port not specified" and the kernel takes 8472 (measured), not the IANA 4789; flannel uses 8472 too, so minid names it (`dstport 8472`)
#   check: ip -n mcl-0a1b2c3d-node3 -d link show vxlan1
ip -n mcl-0a1b2c3d-node3 link add vxlan1 address 02:4d:76:0a:1b:03 type vxlan id 1 local 192.168.1.13 dev eth0 dstport 8472 nolearning
ip -n mcl-0a1b2c3d-node3 link set vxlan1 up
# [25/25] routes, neighbours and FDB entries on node3: Pod networking (overlay): a pod subnet goes to its node's VTEP address; that address has the VTEP's MAC; the MAC is behind the node's LAN address
#   course: Networking › Weaveworks(CNI): the agent "knows" which node holds each pod and sends the encapsulated packet to that node's address; Networking › Pod networking for the routes
#   check: ip -n mcl-0a1b2c3d-node3 route; ip -n mcl-0a1b2c3d-node3 neigh show dev vxlan1; bridge -n mcl-0a1b2c3d-node3 fdb show dev vxlan1
ip -n mcl-0a1b2c3d-node3 route add 10.244.1.0/24 via 10.244.1.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node3 neigh add 10.244.1.0 lladdr 02:4d:76:0a:1b:01 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node3 fdb append 02:4d:76:0a:1b:01 dev vxlan1 dst 192.168.1.11
ip -n mcl-0a1b2c3d-node3 route add 10.244.2.0/24 via 10.244.2.0 dev vxlan1 onlink
ip -n mcl-0a1b2c3d-node3 neigh add 10.244.2.0 lladdr 02:4d:76:0a:1b:02 dev vxlan1 nud permanent
bridge -n mcl-0a1b2c3d-node3 fdb append 02:4d:76:0a:1b:02 dev vxlan1 dst 192.168.1.12
