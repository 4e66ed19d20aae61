# last network gone: remove minid's chains
# [1/2] unhook minid's chains: no minid network is left
#   course: Networking › Docker networking › Port mapping, the way back
#   check: iptables-save | grep -c MINID
iptables -t filter -D INPUT -m comment --comment minid -j MINID-INPUT
iptables -t filter -D FORWARD -m comment --comment minid -j MINID-FORWARD
iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
iptables -t nat -D POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
# [2/2] delete minid's chains: empty them rule by rule, then delete them
#   course: Networking › Docker networking › Port mapping, the way back
#   check: iptables-save | grep -c MINID
iptables -t filter -D MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
iptables -t filter -D MINID-INPUT -d 127.0.0.0/8 '!' -i lo -m conntrack '!' --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
iptables -t nat -X MINID-DNAT
iptables -t nat -X MINID-POSTROUTING
iptables -t filter -X MINID-FORWARD
iptables -t filter -X MINID-ISOLATION-1
iptables -t filter -X MINID-ISOLATION-2
iptables -t filter -X MINID-INPUT

# ---- processes started (batched) ----
iptables-restore --noflush <<'EOF'
*filter
-D INPUT -m comment --comment minid -j MINID-INPUT
-D FORWARD -m comment --comment minid -j MINID-FORWARD
COMMIT
*nat
-D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
-D OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minid -j MINID-DNAT
-D POSTROUTING -m comment --comment minid -j MINID-POSTROUTING
COMMIT
*filter
-D MINID-FORWARD -m comment --comment minid -j MINID-ISOLATION-1
-D MINID-INPUT -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment minid -j DROP
COMMIT
*nat
-X MINID-DNAT
-X MINID-POSTROUTING
COMMIT
*filter
-X MINID-FORWARD
-X MINID-ISOLATION-1
-X MINID-ISOLATION-2
-X MINID-INPUT
COMMIT
EOF
