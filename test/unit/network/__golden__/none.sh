# minid run --network none
# [1/2] create the network namespace: the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/minid-3f2a1b4c5d6e
#   course: Networking › Container Networking Interface (CNI), step 1 "Create network namespace"; Network Namespaces in Linux: `ip netns add red`
#   check: ip netns list | grep minid-3f2a1b4c5d6e
ip netns add minid-3f2a1b4c5d6e
# [2/2] bring loopback up: --network none: the container gets 127.0.0.1 and nothing else
#   course: Networking › Docker networking › None network: `docker run --network none nginx`
#   check: ip -n minid-3f2a1b4c5d6e -br link show lo
ip -n minid-3f2a1b4c5d6e link set lo up

# ---- processes started (batched) ----
ip netns add minid-3f2a1b4c5d6e
ip -n minid-3f2a1b4c5d6e link set lo up
