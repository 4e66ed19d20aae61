# minid rm web
# [1/3] undo "publish 8080 -> 80/tcp": the port's DNAT and FORWARD rules: the host port is free again, and no packet is sent to an address the next container may get
iptables -t nat -D MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
iptables -t filter -D MINID-FORWARD -d 172.30.0.2/32 '!' -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT
# [2/3] undo "create the veth pair": deleting the host end deletes both ends: the container is unplugged from the bridge (a veth pair lives and dies as one)
ip link del mv3f2a1b4c
# [3/3] undo "create the network namespace": deleting the namespace removes all it holds: eth0, its address and routes (and a veth dies with either end); nothing of the container is left on the network
ip netns del minid-3f2a1b4c5d6e

# ---- processes started (batched) ----
iptables-restore --noflush <<'EOF'
*nat
-D MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
COMMIT
*filter
-D MINID-FORWARD -d 172.30.0.2/32 ! -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT
COMMIT
EOF
ip -force -batch - <<'EOF'
link del mv3f2a1b4c
netns del minid-3f2a1b4c5d6e
EOF
