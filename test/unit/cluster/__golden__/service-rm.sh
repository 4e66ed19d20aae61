# service rm web
# [1/2] remove the services' rules from node1: Service networking: the rules go with the service
#   course: Networking › Service Networking: "whenever service created or deleted, the kube-proxy creates or deletes these rules"
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables-save | grep -c -e MINID-SERVICES -e MINID-SVC- -e MINID-SEP-
nsenter --net=/run/netns/mcl-0a1b2c3d-node1 iptables-restore --noflush <<'EOF'
*nat
:MINID-MARK-MASQ - [0:0]
:MINID-NODEPORTS - [0:0]
:MINID-PROXY-POSTROUTING - [0:0]
:MINID-SEP-2XQ4SB7Q56PNZDU7 - [0:0]
:MINID-SEP-ES3KJN7JRVJZOBAB - [0:0]
:MINID-SERVICES - [0:0]
:MINID-SVC-HZVB5WQ6STJQFQ3E - [0:0]
-D PREROUTING -m comment --comment "minid service portals" -j MINID-SERVICES
-D OUTPUT -m comment --comment "minid service portals" -j MINID-SERVICES
-D POSTROUTING -m comment --comment "minid postrouting rules" -j MINID-PROXY-POSTROUTING
-X MINID-MARK-MASQ
-X MINID-NODEPORTS
-X MINID-PROXY-POSTROUTING
-X MINID-SEP-2XQ4SB7Q56PNZDU7
-X MINID-SEP-ES3KJN7JRVJZOBAB
-X MINID-SERVICES
-X MINID-SVC-HZVB5WQ6STJQFQ3E
COMMIT
*filter
:MINID-SERVICES - [0:0]
-D INPUT -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-D FORWARD -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-D OUTPUT -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-X MINID-SERVICES
COMMIT
EOF
ip -n mcl-0a1b2c3d-node1 route del 10.96.0.0/16 dev eth0
# [2/2] remove the services' rules from node2: Service networking: the rules go with the service
#   course: Networking › Service Networking: "whenever service created or deleted, the kube-proxy creates or deletes these rules"
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables-save | grep -c -e MINID-SERVICES -e MINID-SVC- -e MINID-SEP-
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 iptables-restore --noflush <<'EOF'
*nat
:MINID-MARK-MASQ - [0:0]
:MINID-NODEPORTS - [0:0]
:MINID-PROXY-POSTROUTING - [0:0]
:MINID-SEP-2XQ4SB7Q56PNZDU7 - [0:0]
:MINID-SEP-ES3KJN7JRVJZOBAB - [0:0]
:MINID-SERVICES - [0:0]
:MINID-SVC-HZVB5WQ6STJQFQ3E - [0:0]
-D PREROUTING -m comment --comment "minid service portals" -j MINID-SERVICES
-D OUTPUT -m comment --comment "minid service portals" -j MINID-SERVICES
-D POSTROUTING -m comment --comment "minid postrouting rules" -j MINID-PROXY-POSTROUTING
-X MINID-MARK-MASQ
-X MINID-NODEPORTS
-X MINID-PROXY-POSTROUTING
-X MINID-SEP-2XQ4SB7Q56PNZDU7
-X MINID-SEP-ES3KJN7JRVJZOBAB
-X MINID-SERVICES
-X MINID-SVC-HZVB5WQ6STJQFQ3E
COMMIT
*filter
:MINID-SERVICES - [0:0]
-D INPUT -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-D FORWARD -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-D OUTPUT -m conntrack --ctstate NEW -m comment --comment "minid services without endpoints" -j MINID-SERVICES
-X MINID-SERVICES
COMMIT
EOF
ip -n mcl-0a1b2c3d-node2 route del 10.96.0.0/16 dev eth0
