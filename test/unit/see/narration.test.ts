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
