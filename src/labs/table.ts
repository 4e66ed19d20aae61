// Every lab, as data: the course chapter it follows, its goal (stated as reachability), the
// starting state (`world`: bash lines over world.ts's prelude, run in the lab's "host"
// namespace), the checks (predicates over the kernel snapshot, from see/checks.ts) each with
// the one hint for the way it fails, and a reference solution (what `minid lab solution`
// prints, and what the tests run). The runner (runner.ts) does the rest.
//
// "build" labs follow the chapters; "fix" labs start from a broken set-up built from the
// course's own mistakes (and from the classic ways a published port stops answering).
import {
  HOST, addressCheck, bridgePortCheck, dnatCheck, forwardCheck, hairpinCheck, linkExistsCheck, linkUpCheck, listeningCheck,
  masqueradeCheck, netnsExistsCheck, netnsGoneCheck, onlyLinksCheck, resolverCheck, routeToCheck, sysctlIs, vethPairCheck, type Check,
} from '../see/checks.js';
import type { Snapshot } from '../see/snapshot.js';
import { BLUE_IP, BRIDGE, GW, HOST_LAN_IP, LAN_IP, NET, RED_IP, WEB_WORLD } from './world.js';

export interface LabCtx {
  s: Snapshot;
  /** A role's namespace name ('red' -> minid-lab-NAME-red); 'host' -> HOST (read as the host). */
  ns: (role: string) => string;
  /** The files the lab reads (readFiles, variables expanded): content, or null when absent. */
  files: Record<string, string | null>;
}

export interface LabCheck {
  /** Unique in its lab: what tests and `lab check --format json` name. */
  key: string;
  check: (c: LabCtx) => Check;
  /** The nudge for this failure: where to look and what to think of, not the answer. */
  hint: string;
}

/** The goal, tried for real: a ping or an HTTP GET from one of the lab's namespaces. */
export type Probe =
  | { from: string; ping: string }
  | { from: string; http: string; expect: string };

export interface Lab {
  name: string;
  kind: 'build' | 'fix';
  /** The course chapter it follows. */
  chapter: string;
  title: string;
  /** The goal, as reachability. */
  goal: string;
  /** What the lab sets up, and for a fix lab what went wrong (in the course's words). */
  story: string;
  /** Namespaces besides the host ($RED, $BLUE...): made by the lab, except `learnerMakes`. */
  roles: string[];
  /** Roles the learner creates (`ip netns add`); the lab only removes them. */
  learnerMakes?: string[];
  /** Bash lines (world.ts prelude) that build the starting state, in the host namespace. */
  world: string[];
  /** Starting sysctls of the host namespace (besides ip_forward=1, bridge-nf-call-iptables=1). */
  sysctls?: Record<string, string>;
  /** Sysctls the checks read (beyond read.ts's own). */
  readSysctls?: string[];
  /** Files the checks read besides the kernel (a namespace's resolv.conf), with $RED & co. */
  readFiles?: string[];
  /** Files the lab writes under its folder ($LAB) before the world runs (name -> text, $LAB expanded). */
  files?: Record<string, string>;
  checks: LabCheck[];
  /** The check that must fail first in the starting state (tests assert it). */
  breaks: string;
  probes: Probe[];
  /** The reference solution: commands as typed in `minid lab shell`. */
  solution: string[];
}

// --- checks with their hints, reused across labs ------------------------------------------------

const nsExists = (role: string): LabCheck => ({
  key: `netns:${role}`, check: (c) => netnsExistsCheck(c.s, c.ns(role)),
  hint: `\`ip netns add NAME\` makes a network namespace and names it under /run/netns: use the name in $${role.toUpperCase()}.`,
});
const loUp = (role: string): LabCheck => ({
  key: `lo:${role}`, check: (c) => linkUpCheck(c.s, c.ns(role), 'lo'),
  hint: `A new namespace has one interface, lo, and it is DOWN: look with \`ip -n $${role.toUpperCase()} link\`.`,
});

/** A container's cable onto the bridge, bottom-up: pair, port, both ends up, address. */
function cable(role: string, ip: string, prefix = 24): LabCheck[] {
  const R = `$${role.toUpperCase()}`;
  const inner = `veth-${role}`;
  const outer = `veth-${role}-br`;
  return [
    { key: `pair:${role}`, check: (c) => vethPairCheck(c.s, [c.ns(role), inner], [HOST, outer]),
      hint: `A veth is a cable with two ends, made at once (\`ip link add A type veth peer name B\`); then one end moves into ${R} (\`ip link set A netns ${R}\`).` },
    { key: `port:${role}`, check: (c) => bridgePortCheck(c.s, outer, BRIDGE),
      hint: `The host's end of ${role}'s cable must be plugged into the switch: which links have "master ${BRIDGE}" in \`ip link\`?` },
    { key: `port-up:${role}`, check: (c) => linkUpCheck(c.s, HOST, outer),
      hint: `Every link is born DOWN, the bridge-side end of a cable too: \`ip link show ${outer}\` - the course brings up the namespace ends only.` },
    { key: `up:${role}`, check: (c) => linkUpCheck(c.s, c.ns(role), inner),
      hint: `The end inside ${R} is DOWN: \`ip -n ${R} link\`.` },
    { key: `addr:${role}`, check: (c) => addressCheck(c.s, c.ns(role), inner, `${ip}/${prefix}`),
      hint: `Look at the prefix: \`ip -n ${R} addr\`. An address typed without /24 is a /32: the kernel then knows no neighbour at all, not even on the same cable.` },
  ];
}

const bridgeUp: LabCheck[] = [
  { key: 'bridge', check: (c) => linkExistsCheck(c.s, HOST, BRIDGE, 'bridge'), hint: `The switch is a link of type bridge in the host: \`ip link add ${BRIDGE} type bridge\`.` },
  { key: 'bridge-up', check: (c) => linkUpCheck(c.s, HOST, BRIDGE), hint: `A new bridge is DOWN like every link.` },
  { key: 'bridge-addr', check: (c) => addressCheck(c.s, HOST, BRIDGE, `${GW}/24`), hint: `The host talks to the containers through the bridge: give it the gateway address ${GW}/24 (with its prefix).` },
];

const forwarding: LabCheck = {
  key: 'ip_forward', check: (c) => sysctlIs(c.s, 'net.ipv4.ip_forward', '1', 'the host forwards packets between its interfaces (ip_forward)'),
  hint: 'Linux does not route between its interfaces by default: `cat /proc/sys/net/ipv4/ip_forward` in the lab shell (it is per namespace).',
};
const routeVia = (role: string, to: string): LabCheck => ({
  key: `route:${role}`, check: (c) => routeToCheck(c.s, c.ns(role), to, GW),
  hint: `How does $${role.toUpperCase()} know where to send packets for ${to}? \`ip -n $${role.toUpperCase()} route\`: it needs a route (or a default) via the bridge's address ${GW}.`,
});
const fromLan = { proto: 'tcp' as const, src: LAN_IP, dst: HOST_LAN_IP, dport: 8080, in: 'eth0' };
const dnat8080: LabCheck = {
  key: 'dnat', check: (c) => dnatCheck(c.s, 'PREROUTING', fromLan, `${BLUE_IP}:80`),
  hint: `A packet from the LAN for ${HOST_LAN_IP}:8080 must get a new destination ${BLUE_IP}:80 as it comes in: nat PREROUTING, target DNAT. \`iptables -t nat -S PREROUTING\`.`,
};
const forward8080: LabCheck = {
  key: 'forward', check: (c) => forwardCheck(c.s, { proto: 'tcp', src: LAN_IP, dst: BLUE_IP, dport: 80, in: 'eth0', out: BRIDGE }),
  hint: "Forwarded packets cross the filter table's FORWARD chain: `iptables -S FORWARD` - its policy and rules, both ways.",
};
const masqOut: LabCheck = {
  key: 'masq', check: (c) => masqueradeCheck(c.s, { proto: 'icmp', src: BLUE_IP, dst: LAN_IP, in: BRIDGE, out: 'eth0' }, true, 'the LAN has no route back to 192.168.15.0/24'),
  hint: `The LAN machine answers ${BLUE_IP}, which it cannot route back to: packets leaving for the LAN need the host's address as source (nat POSTROUTING, MASQUERADE).`,
};
const webBlue: LabCheck = {
  key: 'app:blue', check: (c) => listeningCheck(c.s, c.ns('blue'), 'tcp', 80, BLUE_IP),
  hint: 'Who listens in $BLUE, on which address? `ss -N $BLUE -ltnp`. DNATed packets arrive for 192.168.15.2, never for 127.0.0.1.',
};
const lanWeb: Probe = { from: 'lan', http: `http://${HOST_LAN_IP}:8080/`, expect: 'hello' };

/** The whole path of the LAN to blue's published port, bottom-up. */
const webPath: LabCheck[] = [...cable('blue', BLUE_IP), routeVia('blue', LAN_IP), forwarding, forward8080, dnat8080, webBlue];

/** A fix lab: a checklist with the broken check's hint told in the lab's own words. */
function withHint(list: LabCheck[], key: string, hint: string): LabCheck[] {
  if (!list.some((x) => x.key === key)) throw new Error(`no check ${key}`);
  return list.map((x) => (x.key === key ? { ...x, hint } : x));
}

export const LABS: Lab[] = [
  // --- the chapters ---------------------------------------------------------------------------
  {
    name: 'namespaces', kind: 'build', chapter: 'Network namespaces', title: 'Two namespaces of your own',
    goal: 'red and blue exist, and each answers a ping to its own 127.0.0.1.',
    story: 'Only the lab host exists. Create the namespaces $RED and $BLUE (the lab shell has their names), then bring their loopback up.',
    roles: ['red', 'blue'], learnerMakes: ['red', 'blue'], world: [],
    checks: [nsExists('red'), loUp('red'), nsExists('blue'), loUp('blue')],
    breaks: 'netns:red',
    probes: [{ from: 'red', ping: '127.0.0.1' }, { from: 'blue', ping: '127.0.0.1' }],
    solution: ['ip netns add $RED', 'ip netns add $BLUE', 'ip -n $RED link set lo up', 'ip -n $BLUE link set lo up'],
  },
  {
    name: 'veth', kind: 'build', chapter: 'Virtual ethernet pair (veth)', title: 'A cable between two namespaces',
    goal: `red (${RED_IP}) pings blue (${BLUE_IP}) over a veth cable.`,
    story: 'red and blue exist with nothing but lo. Connect them with one veth pair, veth-red in red and veth-blue in blue. (The course types the addresses without /24: see what that does.)',
    roles: ['red', 'blue'], world: [],
    checks: [
      { key: 'pair', check: (c) => vethPairCheck(c.s, [c.ns('red'), 'veth-red'], [c.ns('blue'), 'veth-blue']), hint: 'Make both ends at once: `ip link add veth-red type veth peer name veth-blue`, then move each into its namespace.' },
      { key: 'addr:red', check: (c) => addressCheck(c.s, c.ns('red'), 'veth-red', `${RED_IP}/24`), hint: 'veth-red needs its address with the prefix (/24): a bare address is a /32 and its neighbour is unreachable. `ip -n $RED addr`.' },
      { key: 'addr:blue', check: (c) => addressCheck(c.s, c.ns('blue'), 'veth-blue', `${BLUE_IP}/24`), hint: 'veth-blue needs its address with the prefix (/24) too. `ip -n $BLUE addr`.' },
      { key: 'up:red', check: (c) => linkUpCheck(c.s, c.ns('red'), 'veth-red'), hint: 'Both ends are born DOWN: `ip -n $RED link`.' },
      { key: 'up:blue', check: (c) => linkUpCheck(c.s, c.ns('blue'), 'veth-blue'), hint: 'Both ends are born DOWN: `ip -n $BLUE link`.' },
    ],
    breaks: 'pair',
    probes: [{ from: 'red', ping: BLUE_IP }],
    solution: [
      'ip link add veth-red type veth peer name veth-blue', 'ip link set veth-red netns $RED', 'ip link set veth-blue netns $BLUE',
      `ip -n $RED addr add ${RED_IP}/24 dev veth-red`, `ip -n $BLUE addr add ${BLUE_IP}/24 dev veth-blue`,
      'ip -n $RED link set veth-red up', 'ip -n $BLUE link set veth-blue up',
    ],
  },
  {
    name: 'bridge', kind: 'build', chapter: 'Linux bridge', title: 'A switch for every namespace',
    goal: `red pings blue through the bridge ${BRIDGE}, and the host pings both at ${RED_IP} and ${BLUE_IP}.`,
    story: `red and blue exist with nothing but lo. Make the bridge ${BRIDGE} (${GW}/24) in the host and plug each namespace in with its own cable (veth-red <-> veth-red-br, veth-blue <-> veth-blue-br).`,
    roles: ['red', 'blue'], world: [],
    checks: [...bridgeUp, ...cable('red', RED_IP), ...cable('blue', BLUE_IP)],
    breaks: 'bridge',
    probes: [{ from: 'red', ping: BLUE_IP }, { from: 'host', ping: RED_IP }, { from: 'host', ping: BLUE_IP }],
    solution: [
      `ip link add ${BRIDGE} type bridge`, `ip link set ${BRIDGE} up`, `ip addr add ${GW}/24 dev ${BRIDGE}`,
      'ip link add veth-red type veth peer name veth-red-br', 'ip link set veth-red netns $RED', `ip link set veth-red-br master ${BRIDGE}`, 'ip link set veth-red-br up',
      `ip -n $RED addr add ${RED_IP}/24 dev veth-red`, 'ip -n $RED link set veth-red up',
      'ip link add veth-blue type veth peer name veth-blue-br', 'ip link set veth-blue netns $BLUE', `ip link set veth-blue-br master ${BRIDGE}`, 'ip link set veth-blue-br up',
      `ip -n $BLUE addr add ${BLUE_IP}/24 dev veth-blue`, 'ip -n $BLUE link set veth-blue up',
    ],
  },
  {
    name: 'routes', kind: 'build', chapter: 'Routing and ip_forward', title: 'Out of the bridge, through the host',
    goal: `blue pings the LAN machine ${LAN_IP} (which has a route back to ${NET} via the host).`,
    story: `red and blue are on the bridge; the host also sits on a LAN (eth0 ${HOST_LAN_IP}/24, the LAN machine is ${LAN_IP}) whose machine knows ${NET} is behind the host. blue has no route out, and the host does not forward.`,
    roles: ['red', 'blue', 'lan'], sysctls: { 'net.ipv4.ip_forward': '0' },
    world: ['bridge', `plug red "$RED" ${RED_IP}/24`, `plug blue "$BLUE" ${BLUE_IP}/24`, 'lan', `ip -n "$LAN" route add ${NET} via ${HOST_LAN_IP}`],
    checks: [...cable('blue', BLUE_IP), routeVia('blue', LAN_IP), forwarding],
    breaks: 'route:blue',
    probes: [{ from: 'blue', ping: LAN_IP }],
    solution: [`ip -n $BLUE route add 192.168.1.0/24 via ${GW}`, 'sysctl -w net.ipv4.ip_forward=1'],
  },
  {
    name: 'nat', kind: 'build', chapter: 'NAT (MASQUERADE)', title: 'Reach a network that cannot route back',
    goal: `blue pings the LAN machine ${LAN_IP}, which has no route to ${NET}.`,
    story: 'Same host as in the routes lab, blue has its default route and the host forwards; but this LAN machine has no route back to the containers.',
    roles: ['red', 'blue', 'lan'],
    world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'lan'],
    checks: [...cable('blue', BLUE_IP), routeVia('blue', LAN_IP), forwarding, masqOut],
    breaks: 'masq',
    probes: [{ from: 'blue', ping: LAN_IP }],
    solution: [`iptables -t nat -A POSTROUTING -s ${NET} ! -o ${BRIDGE} -j MASQUERADE`],
  },
  {
    name: 'dnat', kind: 'build', chapter: 'Port forwarding (DNAT)', title: "Publish blue's web server",
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: `blue runs a web server on port 80; the host masquerades the containers. Forward the host's port 8080 to ${BLUE_IP}:80.`,
    roles: ['red', 'blue', 'lan'],
    world: WEB_WORLD.filter((l) => !l.startsWith('publish')),
    checks: webPath,
    breaks: 'dnat',
    probes: [lanWeb],
    solution: [`iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`],
  },
  {
    name: 'docker-modes', kind: 'build', chapter: 'Docker networking: none, host, bridge', title: 'The three network modes, by hand',
    goal: `none talks to itself only (lo up, nothing else, like --network none); the LAN gets blue's page on ${HOST_LAN_IP}:8080 (bridge mode, -p 8080:80) and the host's own web server on ${HOST_LAN_IP}:8081 (host mode: no NAT at all).`,
    story: `A host-mode web server already runs in the host namespace on port 8081; blue (bridge mode) runs one on port 80, not yet published; none was made with --network none but its lo is down.`,
    roles: ['none', 'blue', 'lan'],
    world: ['bridge', `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'lan', 'masq', 'web "$BLUE"', 'web "$HOST" 0.0.0.0 8081', 'ip -n "$NONE" link set lo down'],
    checks: [
      loUp('none'),
      { key: 'only-lo', check: (c) => onlyLinksCheck(c.s, c.ns('none'), ['lo']), hint: '--network none means lo and nothing else.' },
      { key: 'host-mode', check: (c) => listeningCheck(c.s, HOST, 'tcp', 8081, HOST_LAN_IP), hint: 'The host-mode server is a process of the host itself: `ss -ltnp` in the lab shell.' },
      ...webPath.filter((x) => x.key !== 'route:blue'),
    ],
    breaks: 'lo:none',
    probes: [{ from: 'none', ping: '127.0.0.1' }, lanWeb, { from: 'lan', http: `http://${HOST_LAN_IP}:8081/`, expect: 'hello' }],
    solution: ['ip -n $NONE link set lo up', `iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`],
  },
  {
    name: 'cni-by-hand', kind: 'build', chapter: 'CNI', title: 'Call the CNI bridge plugin yourself',
    goal: `red, attached by the CNI bridge plugin (bridge cni0, 10.22.0.0/24), pings the LAN machine ${LAN_IP}.`,
    story: 'The network configuration is in $LAB/bridge.conf (bridge cni0, host-local IPAM into $LAB/ipam, ipMasq). Run the plugin the way a container runtime does: CNI_COMMAND=ADD and friends in the environment, the configuration on stdin. The plugins are in /usr/lib/cni.',
    roles: ['red', 'lan'],
    files: {
      'bridge.conf': JSON.stringify({
        cniVersion: '1.0.0', name: 'labnet', type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true,
        ipam: { type: 'host-local', subnet: '10.22.0.0/24', dataDir: '$LAB/ipam', routes: [{ dst: '0.0.0.0/0' }] },
      }, null, 2) + '\n',
    },
    world: ['lan'],
    checks: [
      { key: 'bridge', check: (c) => linkExistsCheck(c.s, HOST, 'cni0', 'bridge'), hint: 'The bridge plugin makes the bridge named in the configuration (cni0) when it is called with CNI_COMMAND=ADD: has it run? `ip link show cni0`.' },
      { key: 'bridge-addr', check: (c) => addressCheck(c.s, HOST, 'cni0', '10.22.0.1/24'), hint: 'isGateway gives cni0 the subnet\'s first address.' },
      { key: 'addr:red', check: (c) => addressCheck(c.s, c.ns('red'), 'eth0', '10.22.0.2/24'), hint: 'CNI_NETNS is a path (/run/netns/$RED), CNI_IFNAME the name inside (eth0): `ip -n $RED addr`.' },
      { key: 'route:red', check: (c) => routeToCheck(c.s, c.ns('red'), LAN_IP, '10.22.0.1'), hint: 'The IPAM routes (0.0.0.0/0) become a default route via the gateway.' },
      { key: 'masq', check: (c) => masqueradeCheck(c.s, { proto: 'icmp', src: '10.22.0.2', dst: LAN_IP, in: 'cni0', out: 'eth0' }, true, 'ipMasq'), hint: 'ipMasq makes the plugin add a CNI-... chain to nat POSTROUTING: `iptables -t nat -S`.' },
    ],
    breaks: 'bridge',
    probes: [{ from: 'red', ping: LAN_IP }],
    solution: ['CNI_COMMAND=ADD CNI_CONTAINERID=red CNI_NETNS=/run/netns/$RED CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge < $LAB/bridge.conf'],
  },

  {
    name: 'cni-minid', kind: 'build', chapter: 'CNI', title: 'The same plugins, called by minid',
    goal: `the LAN machine gets red's web page from http://${HOST_LAN_IP}:8080/, and red pings the LAN machine ${LAN_IP}.`,
    story: 'The configuration list $LAB/net.d/10-lab.conflist chains the bridge plugin (cni0, 10.22.0.0/24, ipMasq) and portmap. Let minid call them for red, as a runtime would, publishing 8080:80 through portmap: `minid cni add NAME NETNS-PATH` with --cni-conf-dir and -p. red already runs a web server on port 80.',
    roles: ['red', 'lan'],
    files: {
      'net.d/10-lab.conflist': JSON.stringify({
        cniVersion: '1.0.0', name: 'minid-lab-cni-minid',
        plugins: [
          { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '10.22.0.0/24', dataDir: '$LAB/ipam', routes: [{ dst: '0.0.0.0/0' }] } },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }, null, 2) + '\n',
    },
    world: ['lan', 'web "$RED"'],
    checks: [
      { key: 'bridge', check: (c) => linkExistsCheck(c.s, HOST, 'cni0', 'bridge'), hint: 'minid runs the plugins of the list in order when you call `minid cni add NAME /run/netns/$RED` (NAME is the list\'s "name"; --cni-conf-dir says where the list is): has it run? `ip link show cni0`.' },
      { key: 'addr:red', check: (c) => addressCheck(c.s, c.ns('red'), 'eth0', '10.22.0.2/24'), hint: 'The bridge plugin\'s IPAM (host-local) gives red the first free address: `ip -n $RED addr`.' },
      { key: 'route:red', check: (c) => routeToCheck(c.s, c.ns('red'), LAN_IP, '10.22.0.1'), hint: 'The IPAM routes become a default route via the gateway 10.22.0.1.' },
      { key: 'masq', check: (c) => masqueradeCheck(c.s, { proto: 'icmp', src: '10.22.0.2', dst: LAN_IP, in: 'cni0', out: 'eth0' }, true, 'ipMasq'), hint: 'ipMasq adds a CNI-... chain to nat POSTROUTING: `iptables -t nat -S`.' },
      { key: 'dnat', check: (c) => dnatCheck(c.s, 'PREROUTING', fromLan, '10.22.0.2:80'), hint: 'portmap publishes what the runtime passes as the portMappings capability: minid passes -p 8080:80. Its chains: `iptables -t nat -S CNI-HOSTPORT-DNAT`.' },
    ],
    breaks: 'bridge',
    probes: [{ from: 'lan', http: `http://${HOST_LAN_IP}:8080/`, expect: 'hello' }, { from: 'red', ping: LAN_IP }],
    solution: ['minid cni add minid-lab-cni-minid /run/netns/$RED --cni-conf-dir $LAB/net.d -p 8080:80'],
  },
  {
    name: 'dns', kind: 'build', chapter: 'DNS', title: 'A name for blue',
    goal: `red gets blue's web page by name: http://web.lab/ (the lab's DNS server ${GW} knows web.lab = ${BLUE_IP}).`,
    story: `A DNS server (dnsmasq) runs in the host on ${GW}:53 and answers web.lab = ${BLUE_IP}. red does not use it: \`ip netns exec $RED\` reads the host's /etc/resolv.conf unless /etc/netns/$RED/resolv.conf exists (it is mounted over /etc/resolv.conf for programs started that way).`,
    roles: ['red', 'blue'], readFiles: ['/etc/netns/$RED/resolv.conf'],
    world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'web "$BLUE"',
      `dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=${GW} --host-record=web.lab,${BLUE_IP} --pid-file="$LAB/dnsmasq.pid"`],
    checks: [
      { key: 'dns-server', check: (c) => listeningCheck(c.s, HOST, 'udp', 53, GW), hint: 'The lab\'s DNS server should listen on udp 53 in the host: `ss -lunp`. (minid lab reset dns starts it again.)' },
      ...cable('red', RED_IP),
      { key: 'resolver', check: (c) => resolverCheck(c.ns('red'), c.files[`/etc/netns/${c.ns('red')}/resolv.conf`] ?? null, GW), hint: 'Which DNS server does a program in $RED ask? /etc/resolv.conf, and for `ip netns exec $RED` the file /etc/netns/$RED/resolv.conf replaces it.' },
      webBlue,
    ],
    breaks: 'resolver',
    probes: [{ from: 'red', http: 'http://web.lab/', expect: 'hello' }],
    solution: ['mkdir -p /etc/netns/$RED', `echo 'nameserver ${GW}' > /etc/netns/$RED/resolv.conf`],
  },

  // --- fix it: the course's own mistakes --------------------------------------------------------
  {
    name: 'fix-dnat-proto', kind: 'fix', chapter: 'Port forwarding (DNAT)', title: '--dport without -p tcp',
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: 'You typed the course\'s `iptables -t nat -A PREROUTING --dport 8080 --to-destination 192.168.15.2:80 -j DNAT` and iptables answered: unknown option "--dport". Nothing was added.',
    roles: ['red', 'blue', 'lan'], world: WEB_WORLD.filter((l) => !l.startsWith('publish')),
    checks: withHint(webPath, 'dnat', 'iptables refused --dport because a port belongs to a protocol: say which one first (-p tcp --dport 8080). `iptables -t nat -S PREROUTING` shows nothing was added.'),
    breaks: 'dnat', probes: [lanWeb],
    solution: [`iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`],
  },
  {
    name: 'fix-dnat-address', kind: 'fix', chapter: 'Port forwarding (DNAT)', title: '--to-destination 80 is not an address',
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: `The course's \`--to-destination 80\` was refused ("Bad IP address 80"), so you gave the address alone: \`--to-destination ${BLUE_IP}\`. The page still does not come.`,
    roles: ['red', 'blue', 'lan'], world: [...WEB_WORLD.filter((l) => !l.startsWith('publish')), `iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}`],
    checks: withHint(webPath, 'dnat', `--to-destination takes ADDRESS[:PORT]; with no port the packet keeps its own, 8080, and nothing listens on ${BLUE_IP}:8080. Replace the rule (iptables -t nat -D ... then -A ...).`),
    breaks: 'dnat', probes: [lanWeb],
    solution: [
      `iptables -t nat -D PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}`,
      `iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`,
    ],
  },
  {
    name: 'fix-prefix', kind: 'fix', chapter: 'Linux bridge', title: 'An address without its prefix',
    goal: `red pings blue (${BLUE_IP}) through the bridge.`,
    story: 'The addresses were typed as the course shows them, `ip -n red addr add 192.168.15.1 dev veth-red`: without a prefix.',
    roles: ['red', 'blue'], world: ['bridge', `plug red "$RED" ${RED_IP}`, `plug blue "$BLUE" ${BLUE_IP}`],
    checks: withHint([...bridgeUp, ...cable('red', RED_IP), ...cable('blue', BLUE_IP)], 'addr:red', 'Look at the prefix in `ip -n $RED addr`: /32 means "this address alone", so no other address is on-link and the kernel has no route to blue. Replace the address (del, then add with /24).'),
    breaks: 'addr:red', probes: [{ from: 'red', ping: BLUE_IP }],
    solution: [
      `ip -n $RED addr del ${RED_IP}/32 dev veth-red`, `ip -n $RED addr add ${RED_IP}/24 dev veth-red`,
      `ip -n $BLUE addr del ${BLUE_IP}/32 dev veth-blue`, `ip -n $BLUE addr add ${BLUE_IP}/24 dev veth-blue`,
    ],
  },
  {
    name: 'fix-default-route', kind: 'fix', chapter: 'Routing and ip_forward', title: '`ip route add 0.0.0.0 via` is not a default route',
    goal: `blue pings the LAN machine ${LAN_IP}.`,
    story: `blue's way out was added the course's "other way": \`ip -n blue route add 0.0.0.0 via ${GW}\`.`,
    roles: ['red', 'blue', 'lan'], world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24`, 'lan', 'masq', `ip -n "$BLUE" route add 0.0.0.0 via ${GW}`],
    checks: withHint([...cable('blue', BLUE_IP), routeVia('blue', LAN_IP), forwarding, masqOut], 'route:blue', '`ip -n $BLUE route` shows "0.0.0.0 via ...": without /0 that is a route to the one address 0.0.0.0. A default route is `default` (or 0.0.0.0/0).'),
    breaks: 'route:blue', probes: [{ from: 'blue', ping: LAN_IP }],
    solution: ['ip -n $BLUE route del 0.0.0.0', `ip -n $BLUE route add default via ${GW}`],
  },
  {
    name: 'fix-port-down', kind: 'fix', chapter: 'Linux bridge', title: 'The bridge-side end left down',
    goal: `red pings blue (${BLUE_IP}).`,
    story: 'The course brings up veth-red and veth-blue inside the namespaces, and never their other ends on the bridge.',
    roles: ['red', 'blue'], world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'ip link set veth-red-br down'],
    checks: [...bridgeUp, ...cable('red', RED_IP), ...cable('blue', BLUE_IP)],
    breaks: 'port-up:red', probes: [{ from: 'red', ping: BLUE_IP }],
    solution: ['ip link set veth-red-br up'],
  },
  {
    name: 'fix-masquerade-all', kind: 'fix', chapter: 'NAT (MASQUERADE)', title: 'MASQUERADE without ! -o v-net-0',
    goal: `blue's web server sees red's own address: from red, http://${BLUE_IP}/cgi-bin/whoami answers ${RED_IP}; and blue still reaches the LAN.`,
    story: `The course's \`iptables -t nat -A POSTROUTING -s ${NET} -j MASQUERADE\` rewrites every packet of the containers, those between two containers on the bridge included (bridged frames meet iptables here: bridge-nf-call-iptables=1).`,
    roles: ['red', 'blue', 'lan'], world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'lan', 'web "$BLUE"', `iptables -t nat -A POSTROUTING -s ${NET} -j MASQUERADE`],
    checks: [
      ...cable('red', RED_IP), ...cable('blue', BLUE_IP), forwarding, masqOut,
      { key: 'no-masq-bridge', check: (c) => masqueradeCheck(c.s, { proto: 'tcp', src: RED_IP, dst: BLUE_IP, dport: 80, in: BRIDGE, out: BRIDGE }, false, 'container to container keeps its source'),
        hint: `Which packets does your MASQUERADE rule take? \`iptables -t nat -S POSTROUTING -v\`: red -> blue stays on ${BRIDGE}; only what leaves by another interface needs the host's address (! -o ${BRIDGE}).` },
    ],
    breaks: 'no-masq-bridge',
    probes: [{ from: 'red', http: `http://${BLUE_IP}/cgi-bin/whoami`, expect: RED_IP }, { from: 'blue', ping: LAN_IP }],
    solution: [`iptables -t nat -D POSTROUTING -s ${NET} -j MASQUERADE`, `iptables -t nat -A POSTROUTING -s ${NET} ! -o ${BRIDGE} -j MASQUERADE`],
  },
  {
    name: 'fix-localhost', kind: 'fix', chapter: 'Port forwarding (DNAT)', title: 'PREROUTING-only DNAT does not answer 127.0.0.1',
    goal: `in the host, http://127.0.0.1:8080/ gives blue's web page.`,
    story: 'Port 8080 is forwarded as the course does it (nat PREROUTING). The LAN gets the page; the host itself, asking 127.0.0.1:8080, gets "connection refused".',
    roles: ['red', 'blue', 'lan'], world: WEB_WORLD, readSysctls: [`net.ipv4.conf.${BRIDGE}.route_localnet`],
    checks: [...webPath, ...localhostChecks()],
    breaks: 'dnat-output', probes: [{ from: 'host', http: 'http://127.0.0.1:8080/', expect: 'hello' }],
    solution: [
      `iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`,
      `sysctl -w net.ipv4.conf.${BRIDGE}.route_localnet=1`,
      `iptables -t nat -A POSTROUTING -s 127.0.0.0/8 -o ${BRIDGE} -j MASQUERADE`,
    ],
  },

  // --- fix it: the classic ways a published port stops answering ------------------------------------
  {
    name: 'fix-forwarding', kind: 'fix', chapter: 'Routing and ip_forward', title: 'Forwarding off',
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: 'It worked yesterday. Since the reboot (ip_forward is not persistent) the page does not come.',
    roles: ['red', 'blue', 'lan'], world: WEB_WORLD, sysctls: { 'net.ipv4.ip_forward': '0' },
    checks: webPath, breaks: 'ip_forward', probes: [lanWeb],
    solution: ['sysctl -w net.ipv4.ip_forward=1'],
  },
  {
    name: 'fix-forward-drop', kind: 'fix', chapter: 'Docker networking: none, host, bridge', title: 'FORWARD policy DROP',
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: 'Someone installed docker on this host: dockerd sets the FORWARD policy to DROP when it starts, and lets through only its own bridges.',
    roles: ['red', 'blue', 'lan'], world: [...WEB_WORLD, 'iptables -P FORWARD DROP'],
    checks: withHint(webPath, 'forward', '`iptables -S FORWARD`: the first line is the policy, what happens to a packet no rule accepted. Let the bridge\'s traffic through both ways (-o and -i ' + BRIDGE + ') rather than opening everything.'),
    breaks: 'forward', probes: [lanWeb],
    solution: [`iptables -A FORWARD -o ${BRIDGE} -j ACCEPT`, `iptables -A FORWARD -i ${BRIDGE} -j ACCEPT`],
  },
  {
    name: 'fix-route-localnet', kind: 'fix', chapter: 'Port forwarding (DNAT)', title: 'route_localnet off',
    goal: `in the host, http://127.0.0.1:8080/ gives blue's web page.`,
    story: 'The DNAT is in OUTPUT too and 127.0.0.1 is masqueraded; still the host gets nothing from 127.0.0.1:8080.',
    roles: ['red', 'blue', 'lan'], readSysctls: [`net.ipv4.conf.${BRIDGE}.route_localnet`],
    world: [...WEB_WORLD, `iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 8080 -j DNAT --to-destination ${BLUE_IP}:80`, `iptables -t nat -A POSTROUTING -s 127.0.0.0/8 -o ${BRIDGE} -j MASQUERADE`],
    sysctls: { [`net.ipv4.conf.${BRIDGE}.route_localnet`]: '0' },
    checks: [...webPath, ...localhostChecks()], breaks: 'route_localnet',
    probes: [{ from: 'host', http: 'http://127.0.0.1:8080/', expect: 'hello' }],
    solution: [`sysctl -w net.ipv4.conf.${BRIDGE}.route_localnet=1`],
  },
  {
    name: 'fix-hairpin', kind: 'fix', chapter: 'Docker networking: none, host, bridge', title: 'Hairpin off',
    goal: `red gets its own web page through the host's published port: http://${HOST_LAN_IP}:8081/ from red.`,
    story: `red runs a web server published on the host's port 8081 (with docker's hairpin MASQUERADE rule). The LAN gets it; red itself, going through ${HOST_LAN_IP}, gets nothing. Bridged frames meet iptables here (bridge-nf-call-iptables=1).`,
    roles: ['red', 'blue', 'lan'],
    world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$BLUE" ${BLUE_IP}/24 ${GW}`, 'lan', 'masq', 'web "$RED"', `publish 8081 ${RED_IP}:80`,
      `iptables -t nat -A POSTROUTING -s ${RED_IP} -d ${RED_IP} -p tcp --dport 80 -j MASQUERADE`],
    checks: [
      ...cable('red', RED_IP), forwarding,
      { key: 'dnat', check: (c) => dnatCheck(c.s, 'PREROUTING', { proto: 'tcp', src: RED_IP, dst: HOST_LAN_IP, dport: 8081, in: BRIDGE }, `${RED_IP}:80`), hint: 'The published port is a DNAT in nat PREROUTING.' },
      { key: 'masq-hairpin', check: (c) => masqueradeCheck(c.s, { proto: 'tcp', src: RED_IP, dst: RED_IP, dport: 80, in: BRIDGE, out: BRIDGE, ct: ['NEW', 'DNAT'] }, true, 'red cannot answer itself'), hint: 'red must see the reply come from the host, not from itself: MASQUERADE what goes from red to red.' },
      { key: 'hairpin:red', check: (c) => hairpinCheck(c.s, 'veth-red-br'), hint: 'After DNAT the frame has to leave the bridge by the very port it came in (veth-red-br); a bridge never does that unless the port is in hairpin mode: `bridge -d link show dev veth-red-br`.' },
    ],
    breaks: 'hairpin:red', probes: [{ from: 'red', http: `http://${HOST_LAN_IP}:8081/`, expect: 'hello' }],
    solution: ['ip link set veth-red-br type bridge_slave hairpin on'],
  },
  {
    name: 'fix-masquerade-deleted', kind: 'fix', chapter: 'NAT (MASQUERADE)', title: 'The MASQUERADE rule was deleted',
    goal: `blue pings the LAN machine ${LAN_IP} (the LAN still gets the page on :8080).`,
    story: 'A clean-up script deleted "unused" NAT rules. The published port still works; blue can no longer reach the LAN.',
    roles: ['red', 'blue', 'lan'], world: WEB_WORLD.filter((l) => l !== 'masq'),
    checks: [...webPath, withHint([masqOut], 'masq', `Follow a ping from blue: it leaves with source ${BLUE_IP}; what does the LAN machine do with its reply? \`iptables -t nat -S POSTROUTING\`.`)[0]],
    breaks: 'masq', probes: [{ from: 'blue', ping: LAN_IP }, lanWeb],
    solution: [`iptables -t nat -A POSTROUTING -s ${NET} ! -o ${BRIDGE} -j MASQUERADE`],
  },
  {
    name: 'fix-app-localhost', kind: 'fix', chapter: 'Port forwarding (DNAT)', title: 'The app listens on 127.0.0.1',
    goal: `the LAN machine gets blue's web page from http://${HOST_LAN_IP}:8080/.`,
    story: "blue's web server was started with its default config from a tutorial: it listens on 127.0.0.1:80.",
    roles: ['red', 'blue', 'lan'], world: [...WEB_WORLD.filter((l) => !l.startsWith('web')), 'web "$BLUE" 127.0.0.1'],
    checks: webPath, breaks: 'app:blue', probes: [lanWeb],
    solution: [
      'kill $(ip netns pids $BLUE)',
      'while [ -n "$(ip netns pids $BLUE)" ]; do sleep 0.1; done   # until it has let go of port 80',
      'ip netns exec $BLUE busybox httpd -p 0.0.0.0:80 -h $LAB/www',
    ],
  },
  {
    name: 'fix-leaked-netns', kind: 'fix', chapter: 'Network namespaces', title: 'A leaked namespace',
    goal: `red gets blue's web page from http://${BLUE_IP}/.`,
    story: `blue's attach failed: "RTNETLINK answers: File exists". The old blue was removed, but its namespace ($GHOST) leaked and still holds the cable veth-blue/veth-blue-br and ${BLUE_IP}. The new blue's web server runs, unreachable.`,
    roles: ['red', 'blue', 'ghost'],
    world: ['bridge', `plug red "$RED" ${RED_IP}/24 ${GW}`, `plug blue "$GHOST" ${BLUE_IP}/24 ${GW}`, 'ip -n "$GHOST" link set veth-blue down', 'web "$BLUE"'],
    checks: [
      { key: 'gone:ghost', check: (c) => netnsGoneCheck(c.s, c.ns('ghost'), 'the removed container\'s'), hint: 'Which namespace holds veth-blue? `ip netns list`, then `ip -n NAME link` in each; a namespace with no process left is removed by name.' },
      ...cable('blue', BLUE_IP), webBlue,
    ],
    breaks: 'gone:ghost', probes: [{ from: 'red', http: `http://${BLUE_IP}/`, expect: 'hello' }],
    solution: [
      // Deleting a namespace frees its links later (the kernel cleans up in the background):
      // delete the cable by its host end first, then the namespace.
      'ip link del veth-blue-br', 'ip netns del $GHOST',
      'ip link add veth-blue type veth peer name veth-blue-br', 'ip link set veth-blue netns $BLUE', `ip link set veth-blue-br master ${BRIDGE}`, 'ip link set veth-blue-br up',
      `ip -n $BLUE addr add ${BLUE_IP}/24 dev veth-blue`, 'ip -n $BLUE link set veth-blue up',
    ],
  },
];

/** The host's own 127.0.0.1 to blue's published port: OUTPUT DNAT, route_localnet, MASQUERADE. */
function localhostChecks(): LabCheck[] {
  const local = { proto: 'tcp' as const, src: '127.0.0.1', dst: '127.0.0.1', dport: 8080 };
  return [
    { key: 'dnat-output', check: (c) => dnatCheck(c.s, 'OUTPUT', local, `${BLUE_IP}:80`),
      hint: "The host's own packets never pass PREROUTING (that hook is for packets coming in): they meet nat OUTPUT. The same DNAT belongs there too, for -d 127.0.0.1." },
    { key: 'route_localnet', check: (c) => sysctlIs(c.s, `net.ipv4.conf.${BRIDGE}.route_localnet`, '1', `${BRIDGE} may carry 127.0.0.1 traffic (route_localnet)`),
      hint: `A packet from 127.0.0.1 may not leave by a real interface ("martian"), unless that interface allows it: net.ipv4.conf.${BRIDGE}.route_localnet.` },
    { key: 'masq-localhost', check: (c) => masqueradeCheck(c.s, { proto: 'tcp', src: '127.0.0.1', dst: BLUE_IP, dport: 80, out: BRIDGE }, true, 'blue cannot answer 127.0.0.1'),
      hint: `blue would answer 127.0.0.1, which is blue itself: give these packets the bridge's address as source (MASQUERADE, -s 127.0.0.0/8 -o ${BRIDGE}).` },
  ];
}

export const findLab = (name: string): Lab | undefined => LABS.find((l) => l.name === name);
