# names on network "front"
# [1/4] write the names of network "front": every container of the network, one line per address (1 now); dnsmasq reads it
#   course: Networking › DNS in Linux: "DNS server comes with to manage all DNS entries centrally"; Networking › CoreDNS - Installation: "Put all of the entries into the DNS servers /etc/hosts file" (hosts format, as `cat >> /etc/hosts` "192.168.1.10 db"): one file per network, every container's names
#   check: cat /run/minid/dns/front/records
mkdir -p -m 700 /run/minid/dns/front
cat > /run/minid/dns/front/records <<'EOF'
# minid: the names of network "front" (rewritten by minid on every change; dnsmasq rereads it on SIGHUP)
10.88.0.2	web web.front aaaaaaaaaaaa
10.88.0.2	api
EOF
# [2/4] write the configuration of the DNS server of network "front": dnsmasq on 10.88.0.1:53, answering by br-front only; other names forwarded to 192.0.2.53
#   course: Networking › CoreDNS - Installation: "CoreDNS loads it's configuration from a file named Corefile"; here dnsmasq's, and Networking › DNS in Linux's "Forward All to 8.8.8.8" is its server= lines
#   check: cat /run/minid/dns/front/network.conf
cat > /run/minid/dns/front/network.conf <<'EOF'
# minid: DNS server of network "front" (dnsmasq). Started and stopped by minid (src/network/dns/).
# Listen on the network's bridge only (its address 10.88.0.1); containers send to
# 127.0.0.11:53, which a DNAT rule in their own network namespace turns into 10.88.0.1:53.
# bind-dynamic (not bind-interfaces) makes dnsmasq check the interface each query arrived
# on: a container of another network sending to 10.88.0.1 arrives by its own bridge and
# is ignored, so each network's names are answered to that network only.
interface=br-front
except-interface=lo
bind-dynamic
port=53
# The names: the network's containers, from the records file minid rewrites; not the host's /etc/hosts.
no-hosts
addn-hosts=/run/minid/dns/front/records
# NAME.NETWORK is the network's: answered from the records or NXDOMAIN, never forwarded.
local=/front/
# A bare name that is not a container here is NXDOMAIN, never sent outside.
domain-needed
# Reverse lookups of private addresses that are not in the records: NXDOMAIN, not forwarded.
bogus-priv
# Everything else goes to these servers (minid chose them; /etc/resolv.conf is not read).
no-resolv
no-poll
server=192.0.2.53
# Every query is logged (who asked, what, the answer, forwarded or not): `minid dns log`.
log-queries=extra
# As root: the records file is under minid's runtime root, which only root may enter.
user=root
pid-file=/run/minid/dns/front/network.pid
log-facility=/run/minid/dns/front/network.log
EOF
# [3/4] start the DNS server of network "front": the first container
#   course: Networking › CoreDNS - Installation: "Run the executable to start a DNS server. It by default listens on port 53"; Networking › DNS in Linux: the hosts name it in /etc/resolv.conf (`nameserver 192.168.1.100`; a container's says 127.0.0.11, as docker's)
#   check: ss -lunp 'src 10.88.0.1 and sport = :53'
dnsmasq --conf-file=/run/minid/dns/front/network.conf
# [4/4] accept DNS queries from network "front": the server runs on the host
#   course: Networking › DNS in Linux: one DNS server for every host (`nameserver 192.168.1.100` in /etc/resolv.conf)
#   check: iptables -S MINID-INPUT | grep -- "--dport 53"
iptables -t filter -A MINID-INPUT -d 10.88.0.1/32 -i br-front -p udp -m udp --dport 53 -j ACCEPT
