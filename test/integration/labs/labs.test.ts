// Every lab, as root, on the kernel: its starting state fails its checks with the right hint
// (and its goal really does not answer), its reference solution - printed by `lab solution`
// and replayed through `lab shell` as a learner would type it - passes every check and the
// goal answers, and `lab stop` leaves nothing: no namespace, no process, no file, nothing in
// the host's own links, firewall or sysctls.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';
import { LABS } from '../../../src/labs/table.js';
import { alive } from '../../../src/labs/runner.js';

let store: Store;
beforeAll(() => {
  requireRoot();
  store = makeStore('labs');
});
afterAll(async () => {
  // Whatever a failed test left: system prune removes every lab of the store.
  await minid(store, ['system', 'prune']);
  await store?.cleanup();
});

const netns = (): string[] => (fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []);
const ofLab = (name: string): string[] => netns().filter((n) => n === `minid-lab-${name}` || n.startsWith(`minid-lab-${name}-`));
const hostState = async () => ({
  forward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'),
  brNetfilter: fs.readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8'),
  links: (await execa('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0]).filter((n) => n === 'v-net-0' || n === 'cni0' || /^veth-\w+-br$/.test(n ?? '')),
  rules: (await execa('iptables-save')).stdout.split('\n').filter((l) => /192\.168\.15\.|10\.22\.0\.|v-net-0|cni0/.test(l)),
});

async function pidsOf(name: string): Promise<number[]> {
  const out: number[] = [];
  for (const ns of ofLab(name)) out.push(...(await execa('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean).map(Number));
  return out;
}

describe('every lab', () => {
  for (const lab of LABS) {
    it(`${lab.name}: broken at start (${lab.breaks}, with its hint), solved by its solution, gone after stop`, async () => {
      const before = await hostState();
      let pids: number[] = [];
      try {
        const start = await minid(store, ['lab', 'start', lab.name]);
        expect(start.stderr).toBe('');
        expect(start.exitCode).toBe(0);
        expect(start.stdout).toContain(lab.goal);

        const broken = await minid(store, ['lab', 'check', lab.name, '--format', 'json']);
        expect(broken.exitCode).toBe(1);
        const r0 = JSON.parse(broken.stdout);
        expect(r0.first?.key).toBe(lab.breaks);
        // The break is real: the goal does not answer.
        expect(r0.probes.some((p: { ok: boolean }) => !p.ok)).toBe(true);
        const want = lab.checks.find((c) => c.key === lab.breaks)!.hint;
        const hint = await minid(store, ['lab', 'hint', lab.name]);
        expect(hint.exitCode).toBe(1);
        expect(hint.stdout).toContain(want);

        pids = await pidsOf(lab.name);
        const sol = await minid(store, ['lab', 'solution', lab.name]);
        expect(sol.exitCode).toBe(0);
        // As a learner types it (the cni-minid lab calls minid itself: on the PATH).
        const replay = await minid(store, ['lab', 'shell', lab.name], { input: sol.stdout, env: { ...store.env, PATH: `${path.join(repo, 'bin')}:${process.env.PATH}` } });
        expect(replay.stderr.replace(/^\{[\s\S]*\}\s*$/m, '')).not.toMatch(/error|cannot|RTNETLINK/i);
        expect(replay.exitCode, replay.stderr).toBe(0);
        pids.push(...(await pidsOf(lab.name)));

        const fixed = await minid(store, ['lab', 'check', lab.name, '--format', 'json']);
        const r1 = JSON.parse(fixed.stdout);
        expect(r1.checks.filter((c: { check: { ok: boolean } }) => !c.check.ok).map((c: { key: string }) => c.key)).toEqual([]);
        expect(r1.probes.filter((p: { ok: boolean }) => !p.ok)).toEqual([]);
        expect(fixed.exitCode).toBe(0);
      } finally {
        const stop = await minid(store, ['lab', 'stop', lab.name]);
        expect(stop.exitCode).toBe(0);
      }
      expect(ofLab(lab.name)).toEqual([]);
      expect(fs.existsSync(path.join(store.run, 'labs', lab.name))).toBe(false);
      expect(fs.existsSync('/etc/netns') ? fs.readdirSync('/etc/netns').filter((n) => n.startsWith(`minid-lab-${lab.name}`)) : []).toEqual([]);
      const cache = path.join(store.root, 'cni', 'cache', 'results');
      expect(fs.existsSync(cache) ? fs.readdirSync(cache).filter((n) => n.startsWith(`minid-lab-${lab.name}-`)) : []).toEqual([]);
      expect(pids.filter(alive)).toEqual([]);
      expect(await hostState()).toEqual(before);
    });
  }
});

// The checks judge the kernel, not the commands: other spellings of a repair pass too.
describe('other solutions than the reference', () => {
  const others: [string, string[]][] = [
    ['routes', ['ip -n $BLUE route add default via 192.168.15.5', 'echo 1 > /proc/sys/net/ipv4/ip_forward']],
    ['dnat', ['iptables -t nat -N MYPORTS', 'iptables -t nat -A PREROUTING -d 192.168.1.10 -j MYPORTS', 'iptables -t nat -A MYPORTS -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80']],
    ['fix-forward-drop', ['iptables -P FORWARD ACCEPT']],
    ['nat', ['iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE']],
  ];
  for (const [name, lines] of others) {
    it(`${name}: ${lines.join('; ')}`, async () => {
      const before = await hostState();
      try {
        expect((await minid(store, ['lab', 'start', name])).exitCode).toBe(0);
        const replay = await minid(store, ['lab', 'shell', name], { input: lines.join('\n') + '\n' });
        expect(replay.exitCode, replay.stderr).toBe(0);
        const r = JSON.parse((await minid(store, ['lab', 'check', name, '--format', 'json'])).stdout);
        expect(r.first).toBe(null);
        expect(r.done).toBe(true);
      } finally {
        await minid(store, ['lab', 'stop', name]);
      }
      expect(ofLab(name)).toEqual([]);
      expect(await hostState()).toEqual(before);
    });
  }
});

describe('lab commands', () => {
  it('refuses a second start, names an unknown lab in one line, prints a solution without root', async () => {
    expect((await minid(store, ['lab', 'start', 'veth'])).exitCode).toBe(0);
    try {
      const again = await minid(store, ['lab', 'start', 'veth']);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toMatch(/^minid: lab veth is already started: .*reset veth/);
      const reset = await minid(store, ['lab', 'reset', 'veth']);
      expect(reset.exitCode).toBe(0);
      expect(ofLab('veth').sort()).toEqual(['minid-lab-veth', 'minid-lab-veth-blue', 'minid-lab-veth-red']);
    } finally {
      await minid(store, ['lab', 'stop', 'veth']);
    }
    const none = await minid(store, ['lab', 'start', 'nope']);
    expect(none.exitCode).toBe(1);
    expect(none.stderr.trim().split('\n')).toEqual(['minid: no such lab: nope (minid lab list shows them)']);
    const sol = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cli, 'lab', 'solution', 'dnat'], { reject: false, env: store.env });
    expect(sol.stdout).toContain('iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80');
  });

  it('system prune removes a started lab', async () => {
    expect((await minid(store, ['lab', 'start', 'fix-app-localhost'])).exitCode).toBe(0);
    const pids = await pidsOf('fix-app-localhost');
    expect(pids.length).toBeGreaterThan(0);
    const prune = await minid(store, ['system', 'prune']);
    expect(prune.exitCode).toBe(0);
    expect(ofLab('fix-app-localhost')).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(store.run, 'labs', 'fix-app-localhost'))).toBe(false);
  });
});
