# cluster down
# [1/10] unmount node1's sysfs: the view of its links for its minid
#   course: not in the course: the node's view of its links, for its minid
#   check: findmnt /run/minid/cluster/sysfs/node1 || echo gone
umount /run/minid/cluster/sysfs/node1
# [2/10] unplug node1 from the LAN: deleting one end of the veth pair mcl0a1b2c3dn1 deletes the other (eth0 in the node) at once, not when the kernel gets round to freeing the namespace
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip link del veth-red` (the other end goes with it)
#   check: ip -br link | grep mcl0a1b2c3dn1 || echo gone
ip link del mcl0a1b2c3dn1
# [3/10] delete node node1: its namespace holds its links, routes, VXLAN device and rules: they go with it
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip netns del red`
#   check: ip netns list
ip netns del mcl-0a1b2c3d-node1
# [4/10] unmount node2's sysfs: the view of its links for its minid
#   course: not in the course: the node's view of its links, for its minid
#   check: findmnt /run/minid/cluster/sysfs/node2 || echo gone
#   (skipped: /run/minid/cluster/sysfs/node2 is not there)
#   umount /run/minid/cluster/sysfs/node2
# [5/10] unplug node2 from the LAN: deleting one end of the veth pair mcl0a1b2c3dn2 deletes the other (eth0 in the node) at once, not when the kernel gets round to freeing the namespace
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip link del veth-red` (the other end goes with it)
#   check: ip -br link | grep mcl0a1b2c3dn2 || echo gone
#   (skipped: mcl0a1b2c3dn2 is not there)
#   ip link del mcl0a1b2c3dn2
# [6/10] delete node node2: its namespace holds its links, routes, VXLAN device and rules: they go with it
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip netns del red`
#   check: ip netns list
ip netns del mcl-0a1b2c3d-node2
# [7/10] unmount node3's sysfs: the view of its links for its minid
#   course: not in the course: the node's view of its links, for its minid
#   check: findmnt /run/minid/cluster/sysfs/node3 || echo gone
#   (skipped: /run/minid/cluster/sysfs/node3 is not there)
#   umount /run/minid/cluster/sysfs/node3
# [8/10] unplug node3 from the LAN: deleting one end of the veth pair mcl0a1b2c3dn3 deletes the other (eth0 in the node) at once, not when the kernel gets round to freeing the namespace
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip link del veth-red` (the other end goes with it)
#   check: ip -br link | grep mcl0a1b2c3dn3 || echo gone
#   (skipped: mcl0a1b2c3dn3 is not there)
#   ip link del mcl0a1b2c3dn3
# [9/10] delete node node3: its namespace holds its links, routes, VXLAN device and rules: they go with it
#   course: Networking › Cluster networking, the way back; Network Namespaces in Linux: `ip netns del red`
#   check: ip netns list
#   (skipped: netns mcl-0a1b2c3d-node3 is not there)
#   ip netns del mcl-0a1b2c3d-node3
# [10/10] delete the LAN: the switch mcl0a1b2c3d the nodes were plugged into; no node is left on it
#   course: Networking › Cluster networking, the way back; Linux Bridge: `ip link del v-net-0`
#   check: ip -br link show type bridge
ip link del mcl0a1b2c3d
