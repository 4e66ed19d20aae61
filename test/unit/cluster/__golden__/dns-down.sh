# cluster down
# [1/2] stop node1's DNS server: by its recorded PID (start time checked first); deleting the node's namespace would not stop it
#   course: Networking › DNS in Kubernetes, the way back: the server is a process, and a process keeps a deleted network namespace alive
#   check: ps -o pid,comm -p 101 || echo stopped
kill 101
# [2/2] stop node3's DNS server: by its recorded PID (start time checked first); deleting the node's namespace would not stop it
#   course: Networking › DNS in Kubernetes, the way back: the server is a process, and a process keeps a deleted network namespace alive
#   check: ps -o pid,comm -p 103 || echo stopped
kill 103
