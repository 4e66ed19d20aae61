// What --explain says about each step besides its commands: where it is in the course notes
// (/work/shared/course-notes, chapters "Networking" and "DNS in Kubernetes"), why it exists, a one-line command to
// check it yourself, and, where the course's own command is wrong or incomplete, what goes wrong
// (each measured on a Debian 12 host). Plain data, keyed by the step's name: the planners
// (plan.ts, connect.ts, dns/) do not know about it, and step.ts's formatStep() looks it up.
//
// The course's recipe (section "Container Networking Interface (CNI)"), whose step numbers the
// entries cite:
//   1 create network namespace  2 create bridge  3 create veth pairs  4 attach veth to namespace
//   5 attach other veth to bridge  6 assign IP addresses  7 bring the interfaces up
//   8 add routes  9 enable NAT (IP masquerade)
import type { Cmd } from './types.js';

export interface Narration {
  /** Chapter › section, recipe step, and the course's own command. */
  course: string;
  /** The one-line command a learner types to see the result (from the step's own commands, and its facts). */
  check?: (apply: Cmd[], facts: Record<string, string>) => string;
  /** Where the course's command is wrong or incomplete, and what happens. */
  courseSays?: string;
  /** Why the step's undo exists (teardown, rollback), instead of "teardown". */
  undo?: string;
}

const CNI = 'Networking › Container Networking Interface (CNI)';
/** The argument after `word` in the first command that has it. */
const after = (apply: Cmd[], word: string, skip = 1): string => {
  for (const c of apply) {
    const i = c.argv.indexOf(word);
    if (i >= 0 && c.argv[i + skip]) return c.argv[i + skip];
  }
  return '?';
};
/** `-n NS` of an `ip -n NS ...` command. */
const ns = (apply: Cmd[]): string => after(apply, '-n');

/** Step name (exact, or a pattern) → narration. The first match wins. */
export const NARRATION: [RegExp, Narration][] = [
  [
    /^create the network namespace$/,
    {
      course: `${CNI}, step 1 "Create network namespace"; Network Namespaces in Linux: \`ip netns add red\``,
      check: (a) => `ip netns list | grep ${after(a, 'add')}`,
      undo: 'deleting the namespace removes all it holds: eth0, its address and routes (and a veth dies with either end); nothing of the container is left on the network',
    },
  ],
  [
    /^bring loopback up$/,
    {
      course: 'Networking › Docker networking › None network: `docker run --network none nginx`',
      check: (a) => `ip -n ${ns(a)} -br link show lo`,
    },
  ],
  [
    /^create the bridge$/,
    {
      course: `${CNI}, step 2 "Create Bridge Network/Interface"; Linux Bridge: \`ip link add v-net-0 type bridge\``,
      check: (a) => `ip -d link show ${after(a, 'add')}`,
      undo: 'the bridge goes last, once no container is plugged into it: its address, its route and its route_localnet go with it',
    },
  ],
  [
    /^label the bridge with its owner$/,
    {
      course: "not in the course: minid's bookkeeping (several stores can share a host)",
      check: (a) => `ip link show ${after(a, 'set')} | grep alias`,
    },
  ],
  [
    /^give the bridge the gateway address$/,
    {
      course: `${CNI}, step 6 "Assign IP Addresses"; Linux Bridge: \`ip addr add 192.168.15.5/24 dev v-net-0\``,
      check: (a) => `ip -br addr show dev ${after(a, 'dev')}`,
    },
  ],
  [
    /^bring the bridge up$/,
    {
      course: `${CNI}, step 7 "Bring the interfaces up"; Linux Bridge: \`ip link set dev v-net-0 up\``,
      check: (a) => `ip -br link show ${after(a, 'set')}`,
    },
  ],
  [
    /^create the veth pair$/,
    {
      course:
        `${CNI}, steps 3 "Create VETH Pairs" and 4 "Attach vEth to Namespace"; Network Namespaces in Linux, steps 1-2: ` +
        '`ip link add veth-red type veth peer name veth-blue`, `ip link set veth-red netns red`',
      check: (a) => `ip -br link show ${after(a, 'add')}; ip -n ${after(a, 'netns')} -br link`,
      undo: 'deleting the host end deletes both ends: the container is unplugged from the bridge (a veth pair lives and dies as one)',
    },
  ],
  [
    /^attach the other end to the bridge$/,
    {
      course: `${CNI}, step 5 "Attach Other vEth to Bridge"; Linux Bridge: \`ip link set veth-red-br master v-net-0\``,
      check: (a) => `bridge -d link show dev ${after(a, 'set')} | grep -o 'hairpin [a-z]*'; sysctl net.bridge.bridge-nf-call-iptables`,
      courseSays:
        'hairpin mode is not in the course: it lets the bridge send a frame back out by the port it came in. With br_netfilter ' +
        '(net.bridge.bridge-nf-call-iptables=1: bridged packets go through iptables too), a container reaching its own published ' +
        'port through the host address is DNATed back to the port it came from, and needs it (plus the hairpin MASQUERADE)',
    },
  ],
  [
    /^bring the host end up$/,
    {
      course: `${CNI}, step 7 "Bring the interfaces up"`,
      check: (a) => `ip -br link show ${after(a, 'set')}`,
      courseSays:
        'the course brings up only the namespace ends (`ip -n red link set veth-red up`) and leaves veth-red-br, the bridge side, down: ' +
        'every packet is then lost at the bridge',
    },
  ],
  [
    /^assign the (container )?address$/,
    {
      course: `${CNI}, step 6 "Assign IP Addresses"; Network Namespaces in Linux, step 3: \`ip -n red addr add 192.168.15.1 dev veth-red\``,
      check: (a) => `ip -n ${ns(a)} -br addr`,
      courseSays:
        'an address without a prefix (`192.168.15.1`) becomes 192.168.15.1/32: no route to the rest of the subnet, the neighbour is unreachable ' +
        '("Network is unreachable"); give the prefix, as the course\'s own note says: 192.168.15.1/24',
    },
  ],
  [
    /^bring the links up inside$|^bring eth\d+ up$/,
    {
      course: `${CNI}, step 7 "Bring the interfaces up"; Network Namespaces in Linux, step 4: \`ip -n red link set veth-red up\``,
      check: (a) => `ip -n ${ns(a)} -br link`,
    },
  ],
  [
    /^name it eth\d+ inside the namespace$/,
    {
      course: `${CNI}, step 4 "Attach vEth to Namespace" (a second network: a second interface, as docker does)`,
      check: (a) => `ip -n ${ns(a)} -br link`,
    },
  ],
  [
    /^accept DNS queries from network /,
    {
      course: 'Networking › DNS in Linux: one DNS server for every host (`nameserver 192.168.1.100` in /etc/resolv.conf)',
      check: () => 'iptables -S MINID-INPUT | grep -- "--dport 53"',
    },
  ],
  [
    /^add the default route$/,
    {
      course: `${CNI}, step 8 "Add routes"; Linux Bridge: \`ip netns exec blue ip route add default via 192.168.15.5\``,
      check: (a) => `ip -n ${ns(a)} route show default`,
      courseSays:
        'the course\'s "another way", `ip route add 0.0.0.0 via 192.168.1.1` (Linux networking), adds a route to the single address 0.0.0.0/32, ' +
        'not a default route: write `default` or `0.0.0.0/0`',
    },
  ],
  [
    /^enable IPv4 forwarding$/,
    {
      course: 'Networking › Set up Linux host as router: `echo 1 > /proc/sys/net/ipv4/ip_forward`',
      check: () => 'sysctl net.ipv4.ip_forward',
    },
  ],
  [
    /^let the bridge carry 127\.0\.0\.1 traffic$/,
    {
      course: 'not in the course: it is what makes `curl 127.0.0.1:PORT` reach a published port (Docker networking › Port mapping)',
      check: (a) => `sysctl ${(a[0]?.argv[2] ?? '').split('=')[0]}`,
    },
  ],
  [
    /^create minid's own iptables chains$/,
    {
      course: 'Networking › Docker networking › Port mapping: docker\'s own chain, `iptables -t nat -A DOCKER ...`; minid\'s are MINID-*',
      check: () => "iptables -t nat -S | grep -- '-N MINID'; iptables -S | grep -- '-N MINID'",
      undo: "minid's chains go once no network of any store uses them",
    },
  ],
  [
    /^hook minid's chains into the built-in ones$/,
    {
      course: 'Networking › Docker networking › Port mapping: `iptables -t nat -A PREROUTING ... -j DNAT`',
      check: () => "iptables -t nat -S PREROUTING; iptables -t nat -S OUTPUT; iptables -S FORWARD | grep MINID",
      courseSays:
        "the course's DNAT sits in PREROUTING only: packets the host sends itself (`curl 127.0.0.1:8080` or to its own address) " +
        'never pass PREROUTING, so they are not DNATed and get "connection refused"; minid hooks OUTPUT as well',
      undo: 'the jumps into minid\'s chains go before the chains themselves (a chain that is jumped to cannot be deleted)',
    },
  ],
  [
    /^block outside access to 127\.0\.0\.0\/8/,
    {
      course: 'not in the course: the price of route_localnet (CVE-2020-8558)',
      check: () => 'iptables -S MINID-INPUT',
    },
  ],
  [
    /^remove stale rules of network/,
    {
      course: "not in the course: minid's repair of an earlier run that did not finish",
      check: () => 'iptables-save | grep minid:',
    },
  ],
  [
    /^masquerade traffic leaving the network$/,
    {
      course: `${CNI}, step 9 "Enable NAT - IP Masquerade"; Linux Bridge: \`iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE\``,
      check: () => 'iptables -t nat -S MINID-POSTROUTING',
      courseSays:
        "the course's rule has no `! -o BRIDGE`: with br_netfilter (bridge-nf-call-iptables=1) it also rewrites traffic between two containers " +
        'of the bridge, which then see the gateway instead of each other',
      undo: 'without it the containers could not reach the outside any more: it goes with the network',
    },
  ],
  [
    /^masquerade hairpin and localhost traffic into the bridge$/,
    {
      course: 'not in the course: needed for hairpin and 127.0.0.1 (Docker networking › Port mapping)',
      check: () => 'iptables -t nat -S MINID-POSTROUTING; sysctl net.bridge.bridge-nf-call-iptables',
      courseSays:
        'the course publishes ports for outside clients only. Measured with br_netfilter on (bridge-nf-call-iptables=1): a container ' +
        'reaching its own published port through the host address needs hairpin mode on its port plus this MASQUERADE, and ' +
        '`curl 127.0.0.1:PORT` on the host needs route_localnet plus this MASQUERADE (else the container gets a packet from 127.0.0.1 on eth0: a martian, dropped)',
    },
  ],
  [
    /^allow forwarding for the network, isolate it from other networks$/,
    {
      course: 'Networking › Linux Bridge: "Another thing to check is FirewallD/IP Table rules"',
      check: () => 'iptables -S MINID-FORWARD; iptables -S MINID-ISOLATION-1; iptables -S FORWARD | head -1',
    },
  ],
  [
    /^publish /,
    {
      course: 'Networking › Docker networking › Port mapping: `iptables -t nat -A PREROUTING -j DNAT --dport 8080 --to-destination 80`',
      check: (a) => `iptables -t nat -S MINID-DNAT | grep -- '--dport ${after(a, '--dport')} '`,
      courseSays:
        'iptables refuses both of the course\'s DNAT rules. Without `-p tcp`, `--dport` is unknown (Linux Bridge: ' +
        '`iptables -t nat -A PREROUTING --dport 80 --to-destination 192.168.15.2:80 -j DNAT` → unknown option "--dport"); and ' +
        '`--to-destination 80` is not an address (Port mapping → Bad IP address "80"): it must be the container\'s IP:PORT, ' +
        "172.17.0.3:80 as docker's own rule in the same section has it",
      undo: "the port's DNAT and FORWARD rules: the host port is free again, and no packet is sent to an address the next container may get",
    },
  ],
  [
    /^remove the iptables rules of network/,
    {
      course: `${CNI}, the way back of step 9`,
      check: () => 'iptables-save | grep -c minid:',
    },
  ],
  [
    /^delete the bridge$/,
    {
      course: `${CNI}, the way back of step 2`,
      check: () => 'ip -br link show type bridge',
    },
  ],
  [
    /^unhook minid's chains$|^delete minid's chains$/,
    {
      course: 'Networking › Docker networking › Port mapping, the way back',
      check: () => "iptables-save | grep -c MINID",
    },
  ],
];

// --- a cluster on one machine (src/cluster): `cluster up|down`, `service create|rm|sync` --------
// Chapters "Cluster networking", "Pod networking", "Weaveworks(CNI)" (the overlay) and "Service
// Networking". Their commands run inside a node: the check does too (nsenter --net=...).

/** The node a step's commands run in: `ip -n NS ...` or `nsenter --net=/run/netns/NS ...`. */
const nodeNs = (apply: Cmd[]): string => {
  for (const c of apply) {
    if (c.argv[0] === 'ip' && c.argv[1] === '-n') return c.argv[2];
    const m = /^--net=\/run\/netns\/(.+)$/.exec(c.argv[1] ?? '');
    if (c.argv[0] === 'nsenter' && m) return m[1];
  }
  return '?';
};
const inNode = (apply: Cmd[], command: string): string => `nsenter --net=/run/netns/${nodeNs(apply)} ${command}`;
const CLUSTER = 'Networking › Cluster networking';
const POD = 'Networking › Pod networking';
const SVC = 'Networking › Service Networking';

NARRATION.push(
  [
    /^create the LAN$/,
    {
      course: `${CLUSTER}: the nodes' network, 192.168.1.0 in the notes, "each node has at least one interface connected to a network"; here a switch: Linux Bridge, \`ip link add v-net-0 type bridge\``,
      check: (a) => `ip -d link show ${after(a, 'add')}`,
      undo: 'the LAN goes last, once no node is plugged into it',
    },
  ],
  [
    /^create node \S+$/,
    {
      course: `${CLUSTER} (a node is a machine with its own interfaces, routes and firewall); Network Namespaces in Linux: \`ip netns add red\``,
      check: (a) => `ip netns list | grep ${after(a, 'add')}`,
      undo: "deleting the node's namespace removes all it holds: its eth0, routes, VXLAN device, rules and pod bridge",
    },
  ],
  [
    /^plug \S+ into the LAN$/,
    {
      course: `${CLUSTER}: the node's eth0 on the network; Network Namespaces in Linux: \`ip link add veth-red type veth peer name veth-red-br\`, \`ip link set veth-red-br master v-net-0\``,
      check: (a) => `ip -br link show master ${after(a, 'master')}`,
      undo: 'deleting the LAN end of the cable deletes the eth0 inside the node at once',
    },
  ],
  [
    /^give \S+ its LAN address$/,
    {
      course: `${CLUSTER}: \`ip addr add 192.168.1.10/24 dev eth0\` (the commands the notes list for a node: ip link, ip addr, ip route)`,
      check: (a) => `ip -n ${ns(a)} -br addr show dev eth0`,
    },
  ],
  [
    /^let \S+ route$/,
    {
      course: `${CLUSTER}: \`cat /proc/sys/net/ipv4/ip_forward\` (1); Set up Linux host as router: \`echo 1 > /proc/sys/net/ipv4/ip_forward\``,
      check: (a) => inNode(a, 'cat /proc/sys/net/ipv4/ip_forward'),
      courseSays:
        "`cat /proc/sys/net/ipv4/ip_forward` typed on the host reads the host's value, not a node's: /proc/sys/net follows the reader's network " +
        'namespace (measured: a node set to 0 read 0 through nsenter while the host read 1); read it inside the node',
    },
  ],
  [
    /^no NAT between pods on \S+$/,
    {
      course: `${POD}, the networking model: "every pod should be able to communicate with every other pod on other nodes using the same IP address without NAT"`,
      check: (a) => inNode(a, 'iptables -t nat -S POSTROUTING'),
    },
  ],
  [
    /^show \S+'s links to its minid$/,
    {
      course: "not in the course: how the node's own minid sees the node's links (`ip netns exec` mounts a sysfs the same way)",
      check: (a) => `ls ${a[0]?.argv.at(-1) ?? '?'}/class/net`,
      undo: "the node's view of its links is unmounted before the node goes",
    },
  ],
  [
    /^routes to the other nodes' pods on \S+$/,
    {
      course: `${POD}: "add routes on each node to reach IP address in each pod in nodes through IP address on node": \`ip route add 10.244.2.2 via 192.168.1.12\``,
      check: (a) => `ip -n ${ns(a)} route`,
      courseSays:
        "the course's route names one pod: 10.244.2.2 becomes 10.244.2.2/32, and the next pod on that node is out of reach (measured: " +
        '`ip route get 10.244.2.3` → "Network is unreachable"); route the node\'s whole pod subnet, `ip route add 10.244.2.0/24 via 192.168.1.12`, as minid does',
    },
  ],
  [
    /^create the VXLAN device on \S+$/,
    {
      course: `Networking › Weaveworks(CNI): the agent on each node "encapsulates" a pod's packet into one between the nodes' addresses; flannel's vxlan backend does it in the kernel (the course gives no command)`,
      check: (a) => `ip -n ${ns(a)} -d link show ${after(a, 'add')}`,
      courseSays:
        'the usual command found elsewhere, `ip link add vxlan1 type vxlan id 1 dev eth0`, leaves out the UDP port: iproute2 then warns ' +
        '"destination port not specified" and the kernel takes 8472 (measured), not the IANA 4789; flannel uses 8472 too, so minid names it (`dstport 8472`)',
    },
  ],
  [
    /^routes, neighbours and FDB entries on \S+$/,
    {
      course: `Networking › Weaveworks(CNI): the agent "knows" which node holds each pod and sends the encapsulated packet to that node's address; ${POD} for the routes`,
      check: (a) => `ip -n ${ns(a)} route; ip -n ${ns(a)} neigh show dev vxlan1; bridge -n ${ns(a)} fdb show dev vxlan1`,
    },
  ],
  [
    /^unmount \S+'s sysfs$/,
    {
      course: "not in the course: the node's view of its links, for its minid",
      check: (a) => `findmnt ${after(a, 'umount', 1)} || echo gone`,
    },
  ],
  [
    /^unplug \S+ from the LAN$/,
    {
      course: `${CLUSTER}, the way back; Network Namespaces in Linux: \`ip link del veth-red\` (the other end goes with it)`,
      check: (a) => `ip -br link | grep ${after(a, 'del')} || echo gone`,
    },
  ],
  [
    /^delete node \S+$/,
    {
      course: `${CLUSTER}, the way back; Network Namespaces in Linux: \`ip netns del red\``,
      check: () => 'ip netns list',
    },
  ],
  [
    /^delete the LAN$/,
    {
      course: `${CLUSTER}, the way back; Linux Bridge: \`ip link del v-net-0\``,
      check: () => 'ip -br link show type bridge',
    },
  ],
  [
    /^kube-proxy's rules on \S+$/,
    {
      course:
        `${SVC}: "kube-proxy running on each node ... creates forwarding rules on each node", \`kube-proxy --proxy-mode [userspace | iptables | ipvs]\` ` +
        '(iptables, the default); `iptables -L -t nat | grep db-service`',
      check: (a) => inNode(a, 'iptables -t nat -L MINID-SERVICES -n'),
      courseSays:
        "`iptables -L -t nat | grep db-service` works inside a node (iptables 1.8.9, nft backend), but typed on the host it finds nothing: " +
        'each node has its own rules (nsenter --net=... first). Without -n it shows port names (`dpt:http` for 80) and `anywhere`; ' +
        "`iptables -t nat -S` prints the rules as written. minid's comments name the service without kube's `default/`: grep its name",
      undo: 'the nodes done before a failing one get back the rules they had',
    },
  ],
  [
    /^remove the services' rules from \S+$/,
    {
      course: `${SVC}: "whenever service created or deleted, the kube-proxy creates or deletes these rules"`,
      check: (a) => inNode(a, 'iptables-save | grep -c -e MINID-SERVICES -e MINID-SVC- -e MINID-SEP-'),
    },
  ],
);

// --- the cluster's DNS (src/cluster/dns.ts): the notes' chapter "DNS in Kubernetes" --------
const KDNS = 'Networking › DNS in Kubernetes';

NARRATION.push(
  [
    /^write the cluster's names$/,
    {
      course:
        `${KDNS}: "When a service is created, the Kubernetes DNS service (CoreDNS) creates a DNS record for the service that maps service name to the IP address"; ` +
        'the FQDN is hostname.namespace.type.root: web-service.apps.svc.cluster.local',
      check: (a) => `cat ${a[0]?.to ?? '?'}`,
    },
  ],
  [
    /^write \S+'s DNS configuration$/,
    {
      course: `${KDNS} › CoreDNS in Kubernetes: the server's configuration is a file (\`cat /etc/coredns/Corefile\`); here dnsmasq's`,
      check: (a) => `cat ${a[0]?.to ?? '?'}`,
      courseSays:
        'the Corefile sends every name it cannot answer to the resolvers of /etc/resolv.conf (`proxy . /etc/resolv.conf`); these nodes have ' +
        'no way out, so this server forwards nothing (`local=/#/`, no `server=`): any other name is NXDOMAIN',
    },
  ],
  [
    /^start \S+'s DNS server$/,
    {
      course:
        `${KDNS} › CoreDNS in Kubernetes: "the IP address of this service is configured as the name server on pods" (kubelet's clusterDNS in ` +
        '`cat /var/lib/kubelet/config.yaml`); one server on every node, as NodeLocal DNSCache runs',
      check: (a) => inNode(a, "ss -lunp 'sport = :53'"),
      undo: "a server started by a `cluster up` that failed later is stopped by its recorded PID (start time checked): deleting the node's namespace would not stop it",
    },
  ],
  [
    /^reload \S+'s DNS server$/,
    {
      course: `${KDNS} › CoreDNS in Kubernetes: "Every time a pod or service is created in the cluster, it adds a record into the CoreDNS database"`,
      check: (_a, f) => `grep 'read .*records' ${f.log ?? '?'} | tail -n 1`,
    },
  ],
  [
    /^stop \S+'s DNS server$/,
    {
      course: `${KDNS}, the way back: the server is a process, and a process keeps a deleted network namespace alive`,
      check: (a) => `ps -o pid,comm -p ${a[0]?.argv.at(-1) ?? '?'} || echo stopped`,
    },
  ],
);

// --- the user networks' DNS servers (src/network/dns/steps.ts): the notes' "DNS in Linux" ----
// and "CoreDNS - Installation" (one server, a hosts file, the rest forwarded). A container's
// own server runs in its namespace: its check enters it.
const LDNS = 'Networking › DNS in Linux';
const COREDNS = 'Networking › CoreDNS - Installation';
/** `nsenter --net=NS ` when the step's command runs in a namespace. */
const enter = (apply: Cmd[]): string => (apply[0]?.argv[0] === 'nsenter' ? `nsenter ${apply[0].argv[1]} ` : '');

NARRATION.push(
  [
    /^write the names of network "/,
    {
      course:
        `${LDNS}: "DNS server comes with to manage all DNS entries centrally"; ${COREDNS}: "Put all of the entries into the DNS servers /etc/hosts file" ` +
        '(hosts format, as `cat >> /etc/hosts` "192.168.1.10 db"): one file per network, every container\'s names',
      check: (a) => `cat ${a.find((c) => c.to)?.to ?? '?'}`,
    },
  ],
  [
    /^write the configuration of the DNS server of /,
    {
      course: `${COREDNS}: "CoreDNS loads it's configuration from a file named Corefile"; here dnsmasq's, and ${LDNS}'s "Forward All to 8.8.8.8" is its server= lines`,
      check: (a) => `cat ${a[0]?.to ?? '?'}`,
    },
  ],
  [
    /^start the DNS server of /,
    {
      course:
        `${COREDNS}: "Run the executable to start a DNS server. It by default listens on port 53"; ${LDNS}: the hosts name it in /etc/resolv.conf ` +
        `(\`nameserver 192.168.1.100\`; a container's says 127.0.0.11, as docker's)`,
      check: (a, f) => `${enter(a)}ss -lunp 'src ${f.address ?? '?'} and sport = :${f.port ?? '53'}'`,
      undo: 'a server started by a plan that failed later is stopped by its recorded PID (start time checked first): nothing else would stop it',
    },
  ],
  [
    /^reload the DNS server of /,
    {
      course: `${LDNS}: entries managed "centrally": a container's names are lines of the server's file, reread on SIGHUP (no restart, no container touched)`,
      check: (_a, f) => `grep 'read .*records' ${f.log ?? '?'} | tail -n 1`,
    },
  ],
  [
    /^stop the DNS server of /,
    {
      course: `${LDNS}, the way back: the server is a process, and removing its network (or its container's namespace) does not stop it`,
      check: (a) => `ps -o pid,comm -p ${a[0]?.argv.at(-1) ?? '?'} || echo stopped`,
    },
  ],
  [
    /^remove the DNS files of network "/,
    {
      course: `${LDNS}, the way back: the network's names file, its servers' configurations and logs`,
      check: (a) => `ls ${a[0]?.argv.at(-1) ?? '?'} 2>/dev/null || echo removed`,
    },
  ],
);

export function narrationFor(stepName: string): Narration | undefined {
  return NARRATION.find(([re]) => re.test(stepName))?.[1];
}

/** The reason an undo step exists: `undo "NAME"` finds NAME's entry. */
export function undoReason(stepName: string): string | undefined {
  const m = /^undo "(.*)"$/.exec(stepName);
  return m ? narrationFor(m[1])?.undo : undefined;
}
