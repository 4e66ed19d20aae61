// The lab table: every lab is complete (goal, story, checks with hints, a solution, a goal to
// try), names only what it makes, and together they follow the course and its mistakes. And
// every check is a predicate over a snapshot: on an empty lab host, every one fails.
import { describe, expect, it } from 'vitest';
import { LABS, type LabCtx } from '../../../src/labs/table.js';
import { HOST } from '../../../src/see/checks.js';
import type { Snapshot } from '../../../src/see/snapshot.js';

const empty = (): Snapshot => ({
  kernel: {
    host: { links: [{ name: 'lo', ifindex: 1, up: false, operstate: 'UNKNOWN', addresses: [], mtu: 65536 }], routes: [], listening: [] },
    sysctls: { 'net.ipv4.ip_forward': '0' }, brNetfilter: true,
    iptables: { policies: { 'filter/FORWARD': 'DROP' }, chains: [], rules: [] },
    netnsNames: [], netns: {}, nsids: {},
  },
  records: { store: 'lab', networks: [], networksUp: [], endpoints: [], containers: [] },
});

describe('the lab table', () => {
  it('names every lab once, with a name fit for a namespace', () => {
    const names = LABS.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9-]{1,30}$/);
  });

  for (const lab of LABS) {
    describe(lab.name, () => {
      it('has a goal, a story, a chapter, checks with a hint each, probes and a solution', () => {
        expect(lab.goal.length).toBeGreaterThan(20);
        expect(lab.story.length).toBeGreaterThan(20);
        expect(lab.chapter).not.toBe('');
        expect(lab.checks.length).toBeGreaterThan(0);
        expect(lab.probes.length).toBeGreaterThan(0);
        expect(lab.solution.length).toBeGreaterThan(0);
        for (const c of lab.checks) expect(c.hint.length, c.key).toBeGreaterThan(10);
        const keys = lab.checks.map((c) => c.key);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys).toContain(lab.breaks);
      });

      it('gives one hint per failure mode: no two checks share a hint', () => {
        const hints = lab.checks.map((c) => c.hint);
        expect(hints.filter((h, i) => hints.indexOf(h) !== i)).toEqual([]);
      });

      it('uses only its own namespaces: the roles it declares, probes from them or the host', () => {
        for (const r of [...lab.roles, ...(lab.learnerMakes ?? [])]) expect(r).toMatch(/^[a-z]+$/);
        for (const r of lab.learnerMakes ?? []) expect(lab.roles).toContain(r);
        for (const p of lab.probes) expect(['host', ...lab.roles]).toContain(p.from);
        const vars = new Set(['HOST', 'LAB', ...lab.roles.map((r) => r.toUpperCase())]);
        for (const line of [...lab.world, ...lab.solution, lab.story])
          for (const m of line.matchAll(/\$([A-Z]+)\b/g)) expect(vars.has(m[1]), `${lab.name}: $${m[1]} in ${line}`).toBe(true);
      });

      it('judges the kernel, not what was typed: on an empty lab host every check fails, with a finding', () => {
        const ctx: LabCtx = { s: empty(), files: {}, ns: (r) => (r === 'host' ? HOST : `minid-lab-${lab.name}-${r}`) };
        for (const c of lab.checks) {
          const r = c.check(ctx);
          // Except what must be absent: a leaked namespace, a MASQUERADE of bridge traffic.
          expect(r.ok, `${lab.name} ${c.key}`).toBe(['gone:ghost', 'no-masq-bridge'].includes(c.key));
          expect(r.found).not.toBe('');
        }
      });
    });
  }

  it('follows the course: a lab for each chapter, in its order', () => {
    const chapters = [...new Set(LABS.filter((l) => l.kind === 'build').map((l) => l.chapter))];
    expect(chapters).toEqual([
      'Network namespaces', 'Virtual ethernet pair (veth)', 'Linux bridge', 'Routing and ip_forward', 'NAT (MASQUERADE)',
      'Port forwarding (DNAT)', 'Docker networking: none, host, bridge', 'CNI', 'DNS',
    ]);
    expect(LABS.filter((l) => l.chapter === 'CNI').map((l) => l.name)).toEqual(['cni-by-hand', 'cni-minid']);
  });

  it("breaks what the issue lists: the course's mistakes and the classic failures", () => {
    const fixes = LABS.filter((l) => l.kind === 'fix').map((l) => l.name).sort();
    expect(fixes).toEqual([
      'fix-app-localhost', 'fix-default-route', 'fix-dnat-address', 'fix-dnat-proto', 'fix-forward-drop', 'fix-forwarding', 'fix-hairpin',
      'fix-leaked-netns', 'fix-localhost', 'fix-masquerade-all', 'fix-masquerade-deleted', 'fix-port-down', 'fix-prefix', 'fix-route-localnet',
    ]);
  });
});
