# the DNS servers of network "front"
# [1/3] stop the DNS server of network "front": by its recorded PID (start time checked first): removing the network would not stop it
#   course: Networking › DNS in Linux, the way back: the server is a process, and removing its network (or its container's namespace) does not stop it
#   check: ps -o pid,comm -p 101 || echo stopped
kill 101
# [2/3] stop the DNS server of container aaaaaaaaaaaa: the container's own server, recorded with this network
#   course: Networking › DNS in Linux, the way back: the server is a process, and removing its network (or its container's namespace) does not stop it
#   check: ps -o pid,comm -p 102 || echo stopped
kill 102
# [3/3] remove the DNS files of network "front": its names, its servers' configurations, records and logs
#   course: Networking › DNS in Linux, the way back: the network's names file, its servers' configurations and logs
#   check: ls /run/minid/dns/front 2>/dev/null || echo removed
rm -rf /run/minid/dns/front
