# service create web
# [1/4] write the cluster's names: every node's DNS server reads this one file (hosts format); the names now: web.default.svc.cluster.local, web.svc -> 10.96.0.1
#   course: Networking › DNS in Kubernetes: "When a service is created, the Kubernetes DNS service (CoreDNS) creates a DNS record for the service that maps service name to the IP address"; the FQDN is hostname.namespace.type.root: web-service.apps.svc.cluster.local
#   check: cat /run/minid/cluster/dns/records
cat > /run/minid/cluster/dns/records <<'EOF'
# minid: the cluster's service names (rewritten by every `minid service create|rm|sync`; dnsmasq rereads it on SIGHUP)
10.96.0.1	web.default.svc.cluster.local web.svc
EOF
# [2/4] reload node1's DNS server: SIGHUP: dnsmasq clears its cache and rereads the names
#   course: Networking › DNS in Kubernetes › CoreDNS in Kubernetes: "Every time a pod or service is created in the cluster, it adds a record into the CoreDNS database"
#   check: grep 'read .*records' /run/minid/cluster/dns/node1.log | tail -n 1
kill -HUP 101
# [3/4] write node2's DNS configuration: dnsmasq on 192.168.1.12:53, answering the cluster's names only (services, and pods as 10-244-0-5.default.pod.cluster.local; nothing forwarded)
#   course: Networking › DNS in Kubernetes › CoreDNS in Kubernetes: the server's configuration is a file (`cat /etc/coredns/Corefile`); here dnsmasq's
#   course caveat: the Corefile sends every name it cannot answer to the resolvers of /etc/resolv.conf (`proxy . /etc/resolv.conf`); these nodes have no way out, so this server forwards nothing (`local=/#/`, no `server=`): any other name is NXDOMAIN
#   check: cat /run/minid/cluster/dns/node2.conf
cat > /run/minid/cluster/dns/node2.conf <<'EOF'
# minid: the cluster DNS server of node node2 (dnsmasq), as NodeLocal DNSCache runs one per node.
# It runs in the node's network namespace (mcl-0a1b2c3d-node2) and listens on the node's LAN address:
# the node's pods have it as their nameserver (kubelet's clusterDNS), reached through their gateway.
listen-address=192.168.1.12
bind-interfaces
port=53
# The names: the cluster's services (NAME.default.svc.cluster.local, NAME.svc), from the file
# minid rewrites; not the node's /etc/hosts. The first name of a line answers the reverse lookup.
no-hosts
addn-hosts=/run/minid/cluster/dns/records
# The pods' names (Kubernetes' pod records; CoreDNS's `pods insecure`): 10-244-0-5.default.pod.cluster.local
# is 10.244.0.5, for every address of the pod range, made up from the name itself. dnsmasq
# answers the reverse lookup of a pod address with it too (CoreDNS does for a service's endpoints only).
synth-domain=default.pod.cluster.local,10.244.0.0/16
# Every domain is local: a name that is not in the records is NXDOMAIN, never forwarded.
# There is no upstream server at all (CoreDNS would forward the rest): nothing leaves the cluster.
local=/#/
no-resolv
no-poll
# Every query is logged (who asked, what, the answer).
log-queries=extra
# As root: the records file is under minid's runtime root, which only root may enter.
user=root
pid-file=/run/minid/cluster/dns/node2.pid
log-facility=/run/minid/cluster/dns/node2.log
EOF
# [4/4] start node2's DNS server: it is not running any more (it died or was killed): started again, with every name
#   course: Networking › DNS in Kubernetes › CoreDNS in Kubernetes: "the IP address of this service is configured as the name server on pods" (kubelet's clusterDNS in `cat /var/lib/kubelet/config.yaml`); one server on every node, as NodeLocal DNSCache runs
#   check: nsenter --net=/run/netns/mcl-0a1b2c3d-node2 ss -lunp 'sport = :53'
nsenter --net=/run/netns/mcl-0a1b2c3d-node2 dnsmasq --conf-file=/run/minid/cluster/dns/node2.conf
