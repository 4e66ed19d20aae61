# minid network rm (kernel objects of "bridge"; another store's "bridge" stays)
# [1/2] remove the iptables rules of network "bridge": every rule whose comment starts with minid:feedc0de:bridge
#   course: Networking › Container Networking Interface (CNI), the way back of step 9
#   check: iptables-save | grep -c minid:
iptables -t filter -D MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -D MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
iptables -t filter -D MINID-FORWARD -d 172.30.0.2/32 '!' -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT
iptables -t filter -D MINID-ISOLATION-1 -i minid0 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
iptables -t filter -D MINID-ISOLATION-2 -o minid0 -m conntrack '!' --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP
iptables -t nat -D MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
iptables -t nat -D MINID-POSTROUTING -s 172.30.0.0/16 '!' -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
iptables -t nat -D MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
iptables -t nat -D MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
# [2/2] delete the bridge: its address, its route and its route_localnet setting go with it
#   course: Networking › Container Networking Interface (CNI), the way back of step 2
#   check: ip -br link show type bridge
ip link del minid0

# ---- processes started (batched) ----
iptables-restore --noflush <<'EOF'
*filter
-D MINID-FORWARD -o minid0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minid:feedc0de:bridge -j ACCEPT
-D MINID-FORWARD -i minid0 -m comment --comment minid:feedc0de:bridge -j ACCEPT
-D MINID-FORWARD -d 172.30.0.2/32 ! -i minid0 -o minid0 -p tcp -m tcp --dport 80 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j ACCEPT
-D MINID-ISOLATION-1 -i minid0 ! -o minid0 -m comment --comment minid:feedc0de:bridge -j MINID-ISOLATION-2
-D MINID-ISOLATION-2 -o minid0 -m conntrack ! --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j DROP
COMMIT
*nat
-D MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment minid:feedc0de:bridge:web:3f2a1b4c5d6e -j DNAT --to-destination 172.30.0.2:80
-D MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
-D MINID-POSTROUTING -s 172.30.0.0/16 -o minid0 -m conntrack --ctstate DNAT -m comment --comment minid:feedc0de:bridge -j MASQUERADE
-D MINID-POSTROUTING -s 127.0.0.0/8 -o minid0 -m comment --comment minid:feedc0de:bridge -j MASQUERADE
COMMIT
EOF
ip link del minid0
