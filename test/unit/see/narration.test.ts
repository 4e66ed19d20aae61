// The narration of --explain: every step of a bridge plan names its course chapter and a check
// command; the course's measured mistakes are said at their step; teardown steps give reasons;
// the forms (text, script, markdown) and `--explain=HOW` on the command line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planBridgeAttach as planAttach, planDetach, planNetworkTeardown, type BridgePlanInput } from '../../../src/network/plan.js';
import { formatPlan, formatStep } from '../../../src/network/step.js';
import { NARRATION, narrationFor } from '../../../src/network/narration.js';
import { explainer, explainForm } from '../../../src/cli/explain.js';
import { explainEquals } from '../../../src/cli/main.js';
import type { Attachment, NetworkRecord } from '../../../src/network/types.js';
import { downSteps, layout, upSteps } from '../../../src/cluster/plan.js';
import { ruleSet, syncSteps, viewOf, type Service } from '../../../src/cluster/proxy.js';
import { parseSubnet } from '../../../src/network/cidr.js';
import type { Step } from '../../../src/network/step.js';

const net: NetworkRecord = { id: 'n'.repeat(64), name: 'bridge', driver: 'bridge', bridge: 'minid0', subnet: '172.30.0.0/16', gateway: '172.30.0.1', created: '2026-01-01T00:00:00.000Z', builtin: true };
const ID = '3f2a1b4c5d6e' + '0'.repeat(52);
const input: BridgePlanInput = {
  containerId: ID,
  containerName: 'web',
  network: net,
  store: { id: 'feedc0de', legacy: false, root: '/tmp/x' },
  ip: '172.30.0.2',
  prefixLength: 16,
  mtu: 1500,
  ports: [{ protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80 }],
  state: { networkUp: false, ipForward: false, iptablesSave: '' },
};

describe('narration table', () => {
  it('every step of a first bridge attach names its course chapter and a check command', () => {
    for (const s of planAttach(input)) {
      const n = narrationFor(s.name);
      expect(n, s.name).toBeDefined();
      expect(n!.course, s.name).toMatch(/^(Networking › |not in the course)/);
      expect(n!.check?.(s.apply), s.name).toBeTruthy();
      expect(n!.check!(s.apply), s.name).not.toContain('?');
    }
  });

  it("says where the course's own commands go wrong, at the right step (each measured)", () => {
    const says = (name: string) => narrationFor(name)?.courseSays ?? '';
    expect(says('publish 8080 -> 80/tcp')).toMatch(/-p tcp.*unknown option "--dport"/);
    expect(says('publish 8080 -> 80/tcp')).toMatch(/--to-destination 80.*Bad IP address "80"/);
    expect(says('assign the container address')).toMatch(/\/32/);
    expect(says('add the default route')).toMatch(/ip route add 0\.0\.0\.0 via .*0\.0\.0\.0\/32/);
    expect(says('bring the host end up')).toMatch(/veth-red-br.*down/);
    expect(says('masquerade traffic leaving the network')).toMatch(/! -o BRIDGE/);
    expect(says("hook minid's chains into the built-in ones")).toMatch(/PREROUTING only.*127\.0\.0\.1/);
    expect(says('attach the other end to the bridge')).toMatch(/br_netfilter.*hairpin/);
  });

  it('teardown steps give their own reason, not "teardown"', () => {
    const steps = planAttach(input);
    const att: Attachment = { mode: 'bridge', ports: [], undo: steps.map((s) => s.undo), undoNames: steps.map((s) => s.name) };
    const text = formatPlan(planDetach(att), 'rm');
    expect(text).not.toMatch(/: teardown$/m);
    expect(text).toMatch(/^# \[\d+\/\d+\] undo "create the network namespace": deleting the namespace removes all it holds/m);
    expect(formatPlan(planNetworkTeardown(net, '', true, input.store))).toContain('#   course: Networking › Container Networking Interface (CNI), the way back of step 2');
  });

  it('formatStep: head, course, course caveat, check, then the commands', () => {
    const s = planAttach(input).find((x) => x.name === 'add the default route')!;
    expect(formatStep(s, 11, 20)).toEqual([
      '# [11/20] add the default route: everything outside 172.30.0.0/16 goes to the gateway, the bridge\'s address on the host',
      '#   course: Networking › Container Networking Interface (CNI), step 8 "Add routes"; Linux Bridge: `ip netns exec blue ip route add default via 192.168.15.5`',
      expect.stringMatching(/^# {3}course caveat: /),
      '#   check: ip -n minid-3f2a1b4c5d6e route show default',
      'ip -n minid-3f2a1b4c5d6e route add default via 172.30.0.1',
    ]);
    expect(NARRATION.length).toBeGreaterThan(20);
  });
});

describe('narration of the cluster and its services', () => {
  const lay = (mode: 'routes' | 'vxlan') =>
    layout({ store: '0a1b2c3d', mode, lan: parseSubnet('192.168.1.0/24'), podCidr: parseSubnet('10.244.0.0/16'), nodes: 2, sysfsDir: (n) => `/run/minid/cluster/sysfs/${n}` });
  const all = (l: ReturnType<typeof lay>) => ({ netns: new Set(l.nodes.map((n) => n.netns)), links: new Set([l.bridge, ...l.nodes.map((n) => n.uplink)]), mounts: new Set(l.nodes.map((n) => n.sysfs)) });
  const web: Service = { name: 'web', type: 'NodePort', clusterIP: '10.96.0.1', port: 80, targetPort: 8080, selector: { app: 'web' }, nodePort: 30080, created: '' };
  const want = ruleSet([web], new Map([['web', [{ ip: '10.244.1.2', port: 8080, node: 'node1', container: 'w1' }]]]), '10.244.0.0/16');
  const targets = lay('routes').nodes;
  /** Every kind of step `cluster up` (both modes), `cluster down`, `service create` and the last `service rm` take. */
  const kinds: [string, Step[]][] = [
    ['cluster up --mode routes', upSteps(lay('routes'))],
    ['cluster up --mode vxlan', upSteps(lay('vxlan'))],
    ['cluster down', downSteps(lay('vxlan'), all(lay('vxlan')))],
    ['service create', syncSteps(targets, '10.96.0.0/16', want, null, new Map(), 'Service networking: kube-proxy writes the rules on every node')],
    ['service rm (the last)', syncSteps(targets, '10.96.0.0/16', null, want, new Map(targets.map((n) => [n.name, viewOf(want)])), 'Service networking: the rules go with the service')],
  ];

  it('every step names its course chapter, a why, and a check command a person can type', () => {
    for (const [what, steps] of kinds) {
      for (const s of steps) {
        const n = narrationFor(s.name);
        expect(n, `${what}: ${s.name}`).toBeDefined();
        expect(n!.course, s.name).toMatch(/^(Networking › (Cluster networking|Pod networking|Weaveworks\(CNI\)|Service Networking|Network Namespaces|Linux Bridge)|not in the course)/);
        expect(s.why.length, s.name).toBeGreaterThan(10);
        const check = n!.check?.(s.apply) ?? '';
        expect(check, s.name).toMatch(/^(ip|nsenter|ls|findmnt|bridge) /);
        expect(check, s.name).not.toContain('?');
        // A step whose commands run inside a node checks inside that node.
        if (s.apply.every((c) => c.argv[0] === 'nsenter' || c.argv[1] === '-n') && !check.startsWith('ls ')) expect(check, s.name).toContain('mcl-0a1b2c3d-node');
      }
    }
  });

  it("says where the course's own commands go wrong for this kernel (each measured in a throwaway namespace)", () => {
    const says = (name: string) => narrationFor(name)?.courseSays ?? '';
    expect(says("routes to the other nodes' pods on node1")).toMatch(/10\.244\.2\.2\/32.*Network is unreachable.*10\.244\.2\.0\/24 via 192\.168\.1\.12/);
    expect(says('let node1 route')).toMatch(/reader's network namespace/);
    expect(says('create the VXLAN device on node1')).toMatch(/8472/);
    expect(says("kube-proxy's rules on node2")).toMatch(/iptables -L -t nat \| grep db-service.*on the host it finds nothing/);
  });

  it('a step of `cluster up` as --explain prints it: chapter, caveat, check, then the command', () => {
    const s = upSteps(lay('routes')).find((x) => x.name === "routes to the other nodes' pods on node1")!;
    expect(formatStep(s, 14, 14)).toEqual([
      expect.stringMatching(/^# \[14\/14\] routes to the other nodes' pods on node1: Pod networking: /),
      expect.stringMatching(/^# {3}course: Networking › Pod networking: .*`ip route add 10\.244\.2\.2 via 192\.168\.1\.12`$/),
      expect.stringMatching(/^# {3}course caveat: /),
      '#   check: ip -n mcl-0a1b2c3d-node1 route',
      'ip -n mcl-0a1b2c3d-node1 route add 10.244.2.0/24 via 192.168.1.12 dev eth0',
    ]);
    // A rolled-back `cluster up` says why each undo exists.
    expect(formatPlan([{ name: 'undo "create node node1"', why: 'roll back', apply: [], undo: [] }])).toContain("deleting the node's namespace removes all it holds");
  });
});

describe('--explain forms', () => {
  it('picks the form from the word or the file name', () => {
    expect(explainForm('md')).toEqual({ form: 'md', file: null });
    expect(explainForm('script')).toEqual({ form: 'script', file: null });
    expect(explainForm('/tmp/x.sh')).toEqual({ form: 'script', file: '/tmp/x.sh' });
    expect(explainForm('/tmp/handout.md')).toEqual({ form: 'md', file: '/tmp/handout.md' });
    expect(explainForm('/tmp/plan.txt')).toEqual({ form: 'text', file: '/tmp/plan.txt' });
  });

  const local = { ...input, ports: [{ protocol: 'tcp' as const, hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 }] };
  const lines = () => formatPlan([...planAttach(input).slice(0, 3), planAttach(local).pop()!], 'attach container web').trimEnd().split('\n');

  function render(file: string): string {
    const ex = explainer({ explainTo: file }, 'minid run')!;
    expect(ex.onStdout).toBe(false);
    lines().forEach(ex.say);
    ex.end();
    return fs.readFileSync(file, 'utf8');
  }

  it('script: a bash script that stops at the first failing command', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-explain-'));
    try {
      const text = render(path.join(dir, 'plan.sh'));
      expect(text.split('\n').slice(0, 3)).toEqual(['#!/usr/bin/env bash', expect.stringMatching(/^# minid run: replay as root/), 'set -e']);
      expect(text).toContain('\nip netns add minid-3f2a1b4c5d6e\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('markdown: a section per step, its fields as a list, commands in a bash block', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-explain-'));
    try {
      const md = render(path.join(dir, 'handout.md'));
      expect(md).toMatch(/^# minid run\n/);
      expect(md).toContain('\n## 1/4. create the network namespace\n\nthe container gets its own interfaces');
      expect(md).toContain('- **Course:** Networking › Container Networking Interface (CNI), step 1');
      expect(md).toContain('- **Check it yourself:** `ip netns list | grep minid-3f2a1b4c5d6e`');
      expect(md).toContain('```bash\nip netns add minid-3f2a1b4c5d6e\n```');
      expect(md.match(/```/g)!.length % 2).toBe(0);
      expect(md).toContain('\n## 4/4. publish 127.0.0.1:8080 -> 80/tcp\n\nDNAT rewrites');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--explain=HOW becomes the hidden --explain-to=HOW, never inside the container command', () => {
    const argv = (...a: string[]) => ['node', 'minid', ...a];
    expect(explainEquals(argv('run', '--explain=md', '-d', '--name', 'web', 'busybox', 'app', '--explain=x'))).toEqual(
      argv('run', '--explain-to=md', '-d', '--name', 'web', 'busybox', 'app', '--explain=x'),
    );
    expect(explainEquals(argv('run', '--explain', 'busybox'))).toEqual(argv('run', '--explain', 'busybox'));
    expect(explainEquals(argv('stop', 'web', '--explain=/tmp/s.md'))).toEqual(argv('stop', 'web', '--explain-to=/tmp/s.md'));
    expect(explainEquals(argv('rm', '--', '--explain=x'))).toEqual(argv('rm', '--', '--explain=x'));
  });
});
