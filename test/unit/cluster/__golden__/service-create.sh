# service create web
# [1/2] kube-proxy's rules on node1: Service networking: kube-proxy writes the rules on every node
#   course: Networking › Service Networking: "kube-proxy running on each node ... creates forwarding rules on each node", `kube-proxy --proxy-mode [userspace | iptables | ipvs]` (iptables, the default); `iptables -L -t nat | grep db-service`
#   course caveat: `iptables -L -t nat | grep db-service` works inside a node (iptables 1.8.9, nft backend), but typed on the host it finds nothing: each node has its own rules (nsenter --net=... first). Without -n it shows port names (`dpt:http` for 80) and `anywhere`; `iptables -t nat -S` prints the rules as written. minid's comments name the service without kube's `default/`: grep its name
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables -t nat -L MINID-SERVICES -n
ip -n mcl-0a1b2c3d-node1 route replace 10.96.0.0/16 dev eth0
nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables-restore --noflush <<'EOF'
*nat
:MINID-SERVICES - [0:0]
:MINID-NODEPORTS - [0:0]
:MINID-MARK-MASQ - [0:0]
:MINID-PROXY-POSTROUTING - [0:0]
:MINID-SVC-HZVB5WQ6STJQFQ3E - [0:0]
:MINID-SEP-2XQ4SB7Q56PNZDU7 - [0:0]
:MINID-SEP-ES3KJN7JRVJZOBAB - [0:0]
# the masquerade step: MINID-MARK-MASQ marks a packet, MINID-PROXY-POSTROUTING (from POSTROUTING) masquerades the marked ones
-A MINID-MARK-MASQ -j MARK --or-mark 0x4000
-A MINID-PROXY-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A MINID-PROXY-POSTROUTING -j MARK --xor-mark 0x4000
-A MINID-PROXY-POSTROUTING -m comment --comment "minid service traffic requiring SNAT" -j MASQUERADE
# the services' portals: each service IP:port to its chain; then the node ports, on the node's own addresses
-A MINID-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "web cluster IP" -m tcp --dport 80 -j MINID-SVC-HZVB5WQ6STJQFQ3E
-A MINID-SERVICES -m comment --comment "minid service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j MINID-NODEPORTS
-A MINID-NODEPORTS -p tcp -m comment --comment "web" -m tcp --dport 30080 -j MINID-MARK-MASQ
-A MINID-NODEPORTS -p tcp -m comment --comment "web" -m tcp --dport 30080 -j MINID-SVC-HZVB5WQ6STJQFQ3E
# service web: new connections spread over its 2 endpoint(s), the i-th of n taken with probability 1/(n-i)
-A MINID-SVC-HZVB5WQ6STJQFQ3E ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m comment --comment "web cluster IP" -m tcp --dport 80 -j MINID-MARK-MASQ
-A MINID-SVC-HZVB5WQ6STJQFQ3E -m comment --comment "web -> 10.244.1.2:8080" -m statistic --mode random --probability 0.50000000000 -j MINID-SEP-2XQ4SB7Q56PNZDU7
-A MINID-SVC-HZVB5WQ6STJQFQ3E -m comment --comment "web -> 10.244.2.2:8080" -j MINID-SEP-ES3KJN7JRVJZOBAB
# endpoint 10.244.1.2:8080 (c-10.244.1.2 on node1): the destination rewritten
-A MINID-SEP-2XQ4SB7Q56PNZDU7 -s 10.244.1.2/32 -m comment --comment "web" -j MINID-MARK-MASQ
-A MINID-SEP-2XQ4SB7Q56PNZDU7 -p tcp -m comment --comment "web" -m tcp -j DNAT --to-destination 10.244.1.2:8080
# endpoint 10.244.2.2:8080 (c-10.244.2.2 on node2): the destination rewritten
-A MINID-SEP-ES3KJN7JRVJZOBAB -s 10.244.2.2/32 -m comment --comment "web" -j MINID-MARK-MASQ
-A MINID-SEP-ES3KJN7JRVJZOBAB -p tcp -m comment --comment "web" -m tcp -j DNAT --to-destination 10.244.2.2:8080
# the jumps into minid's chains, each the first rule of its built-in chain
-I PREROUTING 1 -m comment --comment "minid service portals" -j MINID-SERVICES
-I OUTPUT 1 -m comment --comment "minid service portals" -j MINID-SERVICES
-I POSTROUTING 1 -m comment --comment "minid postrouting rules" -j MINID-PROXY-POSTROUTING
COMMIT
*filter
:MINID-SERVICES - [0:0]
# the jumps into minid's chains, each the first rule of its built-in chain
-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-I OUTPUT 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
COMMIT
EOF
# [2/2] kube-proxy's rules on node2: Service networking: kube-proxy writes the rules on every node
#   course: Networking › Service Networking: "kube-proxy running on each node ... creates forwarding rules on each node", `kube-proxy --proxy-mode [userspace | iptables | ipvs]` (iptables, the default); `iptables -L -t nat | grep db-service`
#   course caveat: `iptables -L -t nat | grep db-service` works inside a node (iptables 1.8.9, nft backend), but typed on the host it finds nothing: each node has its own rules (nsenter --net=... first). Without -n it shows port names (`dpt:http` for 80) and `anywhere`; `iptables -t nat -S` prints the rules as written. minid's comments name the service without kube's `default/`: grep its name
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables -t nat -L MINID-SERVICES -n
ip -n mcl-0a1b2c3d-node2 route replace 10.96.0.0/16 dev eth0
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables-restore --noflush <<'EOF'
*nat
:MINID-SERVICES - [0:0]
:MINID-NODEPORTS - [0:0]
:MINID-MARK-MASQ - [0:0]
:MINID-PROXY-POSTROUTING - [0:0]
:MINID-SVC-HZVB5WQ6STJQFQ3E - [0:0]
:MINID-SEP-2XQ4SB7Q56PNZDU7 - [0:0]
:MINID-SEP-ES3KJN7JRVJZOBAB - [0:0]
# the masquerade step: MINID-MARK-MASQ marks a packet, MINID-PROXY-POSTROUTING (from POSTROUTING) masquerades the marked ones
-A MINID-MARK-MASQ -j MARK --or-mark 0x4000
-A MINID-PROXY-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A MINID-PROXY-POSTROUTING -j MARK --xor-mark 0x4000
-A MINID-PROXY-POSTROUTING -m comment --comment "minid service traffic requiring SNAT" -j MASQUERADE
# the services' portals: each service IP:port to its chain; then the node ports, on the node's own addresses
-A MINID-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "web cluster IP" -m tcp --dport 80 -j MINID-SVC-HZVB5WQ6STJQFQ3E
-A MINID-SERVICES -m comment --comment "minid service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j MINID-NODEPORTS
-A MINID-NODEPORTS -p tcp -m comment --comment "web" -m tcp --dport 30080 -j MINID-MARK-MASQ
-A MINID-NODEPORTS -p tcp -m comment --comment "web" -m tcp --dport 30080 -j MINID-SVC-HZVB5WQ6STJQFQ3E
# service web: new connections spread over its 2 endpoint(s), the i-th of n taken with probability 1/(n-i)
-A MINID-SVC-HZVB5WQ6STJQFQ3E ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m comment --comment "web cluster IP" -m tcp --dport 80 -j MINID-MARK-MASQ
-A MINID-SVC-HZVB5WQ6STJQFQ3E -m comment --comment "web -> 10.244.1.2:8080" -m statistic --mode random --probability 0.50000000000 -j MINID-SEP-2XQ4SB7Q56PNZDU7
-A MINID-SVC-HZVB5WQ6STJQFQ3E -m comment --comment "web -> 10.244.2.2:8080" -j MINID-SEP-ES3KJN7JRVJZOBAB
# endpoint 10.244.1.2:8080 (c-10.244.1.2 on node1): the destination rewritten
-A MINID-SEP-2XQ4SB7Q56PNZDU7 -s 10.244.1.2/32 -m comment --comment "web" -j MINID-MARK-MASQ
-A MINID-SEP-2XQ4SB7Q56PNZDU7 -p tcp -m comment --comment "web" -m tcp -j DNAT --to-destination 10.244.1.2:8080
# endpoint 10.244.2.2:8080 (c-10.244.2.2 on node2): the destination rewritten
-A MINID-SEP-ES3KJN7JRVJZOBAB -s 10.244.2.2/32 -m comment --comment "web" -j MINID-MARK-MASQ
-A MINID-SEP-ES3KJN7JRVJZOBAB -p tcp -m comment --comment "web" -m tcp -j DNAT --to-destination 10.244.2.2:8080
# the jumps into minid's chains, each the first rule of its built-in chain
-I PREROUTING 1 -m comment --comment "minid service portals" -j MINID-SERVICES
-I OUTPUT 1 -m comment --comment "minid service portals" -j MINID-SERVICES
-I POSTROUTING 1 -m comment --comment "minid postrouting rules" -j MINID-PROXY-POSTROUTING
COMMIT
*filter
:MINID-SERVICES - [0:0]
# the jumps into minid's chains, each the first rule of its built-in chain
-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-I OUTPUT 1 -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
COMMIT
EOF
