# minid run --network none
# [1/2] create the network namespace: the container gets its own interfaces, routes and firewall; 'ip netns add' keeps it at /run/netns/minid-3f2a1b4c5d6e
ip netns add minid-3f2a1b4c5d6e
# [2/2] bring loopback up: --network none: the container gets 127.0.0.1 and nothing else
ip -n minid-3f2a1b4c5d6e link set lo up

# ---- processes started (batched) ----
ip netns add minid-3f2a1b4c5d6e
ip -n minid-3f2a1b4c5d6e link set lo up
