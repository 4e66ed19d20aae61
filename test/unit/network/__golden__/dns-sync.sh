# names on network "front"
# [1/4] write the names of network "front": every container of the network, one line per address (2 now); dnsmasq reads it
#   course: Networking › DNS in Linux: "DNS server comes with to manage all DNS entries centrally"; Networking › CoreDNS - Installation: "Put all of the entries into the DNS servers /etc/hosts file" (hosts format, as `cat >> /etc/hosts` "192.168.1.10 db"): one file per network, every container's names
#   check: cat /run/minid/dns/front/records
mkdir -p -m 700 /run/minid/dns/front
cat > /run/minid/dns/front/records <<'EOF'
# minid: the names of network "front" (rewritten by minid on every change; dnsmasq rereads it on SIGHUP)
10.88.0.2	web web.front aaaaaaaaaaaa
10.88.0.3	db db.front bbbbbbbbbbbb
10.88.0.2	api
EOF
# [2/4] reload the DNS server of network "front": SIGHUP: dnsmasq clears its cache and rereads the names
#   course: Networking › DNS in Linux: entries managed "centrally": a container's names are lines of the server's file, reread on SIGHUP (no restart, no container touched)
#   check: grep 'read .*records' /run/minid/dns/front/network.log | tail -n 1
kill -HUP 101
# [3/4] write the configuration of the DNS server of container aaaaaaaaaaaa: dnsmasq in the container's namespace at 127.0.0.11:53; other names forwarded to 10.88.0.1#53
#   course: Networking › CoreDNS - Installation: "CoreDNS loads it's configuration from a file named Corefile"; here dnsmasq's, and Networking › DNS in Linux's "Forward All to 8.8.8.8" is its server= lines
#   check: cat /run/minid/dns/front/c-aaaaaaaaaaaa.conf
cat > /run/minid/dns/front/c-aaaaaaaaaaaa.conf <<'EOF'
# minid: DNS server of container aaaaaaaaaaaa (dnsmasq): the names of networks "front", "back".
# It runs in the container's own network namespace (/run/netns/minid-aaaaaaaaaaaa), as docker's resolver
# does, at the address its /etc/resolv.conf names: only this container can ask it.
listen-address=127.0.0.11
bind-interfaces
port=53
# The names: the containers of every network it is on, from the records files minid rewrites; not the host's /etc/hosts.
no-hosts
addn-hosts=/run/minid/dns/front/records
addn-hosts=/run/minid/dns/back/records
# NAME.NETWORK is the network's: answered from the records or NXDOMAIN, never forwarded.
local=/front/
local=/back/
# A bare name that is not a container here is NXDOMAIN, never sent outside.
domain-needed
# Reverse lookups of private addresses that are not in the records: NXDOMAIN, not forwarded.
bogus-priv
# Everything else goes to the server of the container's first network (it forwards to the host's resolvers).
no-resolv
no-poll
server=10.88.0.1#53
# Every query is logged (who asked, what, the answer, forwarded or not): `minid dns log`.
log-queries=extra
# As root: the records file is under minid's runtime root, which only root may enter.
user=root
pid-file=/run/minid/dns/front/c-aaaaaaaaaaaa.pid
log-facility=/run/minid/dns/front/c-aaaaaaaaaaaa.log
EOF
# [4/4] start the DNS server of container aaaaaaaaaaaa again: it is not running any more
#   course: Networking › CoreDNS - Installation: "Run the executable to start a DNS server. It by default listens on port 53"; Networking › DNS in Linux: the hosts name it in /etc/resolv.conf (`nameserver 192.168.1.100`; a container's says 127.0.0.11, as docker's)
#   check: nsenter --net=/run/netns/minid-aaaaaaaaaaaa ss -lunp 'src 127.0.0.11 and sport = :53'
nsenter --net=/run/netns/minid-aaaaaaaaaaaa dnsmasq --conf-file=/run/minid/dns/front/c-aaaaaaaaaaaa.conf
