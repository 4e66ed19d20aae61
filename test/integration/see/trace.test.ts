// `minid trace`: one probe connection followed through netfilter by the kernel's tracing (root;
// CI runs it). A container of this suite's own store publishes a port; the trace must name
// minid's DNAT and MASQUERADE rules, then, once the test deleted the store's own DNAT rule, the
// hook where the probe died; and leave nothing: no nft table, no conntrack entry, no process.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, suiteStore } from '../../helpers/minid.js';

const suite = suiteStore('trace');
const run = suite.run;
const port = 21000 + Math.floor(Math.random() * 4000);
let storeId = '';

/** What a trace may leave behind: minid's trace tables, its probe's conntrack entries, nft monitors. */
async function leftovers(out: string): Promise<string[]> {
  const left: string[] = [];
  const tables = (await execa('nft', ['list', 'tables'])).stdout;
  left.push(...tables.split('\n').filter((l) => l.includes(`minid_trace_${storeId}`)));
  left.push(...fs.readdirSync('/run/netns').filter((n) => n.startsWith(`mtr-${storeId}-`)));
  left.push(...fs.readdirSync('/sys/class/net').filter((n) => /^mtr\d+h$/.test(n) && out.includes(n)));
  const sport = /source port (\d+)/.exec(out)?.[1];
  if (sport) {
    for (const [proto, flag] of [['tcp', '--orig-port-src'], ['udp', '--orig-port-dst']]) {
      const ct = await execa('conntrack', ['-L', '-p', proto, flag, sport], { reject: false });
      left.push(...ct.stdout.split('\n').filter((l) => l.trim()));
    }
  }
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.startsWith('nft -a monitor trace') && sport && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(suite.store.root)) left.push(`process ${pid}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return left;
}

/**
 * Run BODY with one of this store's nat rules of CHAIN deleted behind minid's back (the one
 * line of `iptables -S CHAIN` that OURS picks), and put it back afterwards, also on failure.
 */
async function withoutRule(chain: string, ours: (line: string) => boolean, body: () => Promise<void>): Promise<void> {
  const found = (await execa('iptables', ['-t', 'nat', '-S', chain])).stdout.split('\n').filter(ours);
  expect(found).toHaveLength(1);
  const args = found[0].replace(/^-A /, '').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
  await execa('iptables', ['-t', 'nat', '-D', ...args]);
  try {
    await body();
  } finally {
    await execa('iptables', ['-t', 'nat', '-A', ...args], { reject: false }); // rm -f finds it again
  }
}

async function trace(from: string) {
  const r = await run(['trace', 'web', '-p', String(port), '--from', from]);
  expect(r.stderr).toBe('');
  expect(await leftovers(r.stdout)).toEqual([]);
  return r;
}

beforeAll(async () => {
  const web = await run(['run', '-d', '--name', 'web', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/']);
  expect(web.stderr).toBe('');
  suite.ids.push(web.stdout.trim());
  storeId = fs.readFileSync(path.join(suite.store.root, 'store-id'), 'utf8').trim(); // made by the first network
  const client = await run(['run', '-d', '--name', 'client', 'busybox', 'sleep', '300']);
  suite.ids.push(client.stdout.trim());
});

describe('minid trace', () => {
  it('from 127.0.0.1: DNAT in nat OUTPUT, MASQUERADE of 127.0.0.0/8 into the bridge, the conntrack entry', async () => {
    const r = await trace('127.0.0.1');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`DNAT: +iptables -t nat -A MINID-DNAT -p tcp -m tcp --dport ${port} -m comment --comment "minid:${storeId}:bridge:web:[0-9a-f]{12}" -j DNAT`));
    expect(r.stdout).toMatch(new RegExp(`MASQUERADE: iptables -t nat -A MINID-POSTROUTING -s 127\\.0\\.0\\.0/8 -o \\S+ -m comment --comment "minid:${storeId}:bridge" -j MASQUERADE`));
    expect(r.stdout).toContain('nat OUTPUT: iptables -t nat -A OUTPUT');
    expect(r.stdout).toMatch(/original {2}127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+/);
    expect(r.stdout).toContain('result: connected');
  });

  it('from the host address: DNAT, no MASQUERADE needed', async () => {
    const r = await trace('host');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`DNAT: +iptables -t nat -A MINID-DNAT .*--dport ${port} .*minid:${storeId}:bridge:web:`));
    expect(r.stdout).toContain('MASQUERADE: none matched');
    expect(r.stdout).toContain('result: connected');
  });

  it('from another container (hairpin through the host address): the hairpin MASQUERADE rule', async () => {
    const r = await trace('container:client');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`MASQUERADE: iptables -t nat -A MINID-POSTROUTING -s \\S+ -o \\S+ -m conntrack --ctstate DNAT -m comment --comment "minid:${storeId}:bridge"`));
    expect(r.stdout).toContain('bridge forward');
  });

  it('from a LAN peer (a namespace the trace makes and removes): PREROUTING, DNAT, FORWARD by the port rule', async () => {
    const r = await trace('lan');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^trace: a LAN peer \(169\.254\.\d+\.\d+ in namespace mtr-/);
    expect(r.stdout).toContain('nat PREROUTING: iptables -t nat -A PREROUTING');
    expect(r.stdout).toMatch(new RegExp(`filter MINID-FORWARD: iptables -t filter -A MINID-FORWARD -d [0-9.]+/32 ! -i \\S+ -o \\S+ -p tcp -m tcp --dport 80 -m comment --comment "minid:${storeId}:bridge:web:`));
    expect(r.stdout).toContain('result: connected');
  });

  it('Ctrl-C in the middle: the trace table and the LAN namespace are removed all the same', async () => {
    const p = execa(cli, ['trace', 'web', '-p', String(port), '--from', 'lan'], { env: suite.store.env, reject: false });
    const seen = async () => (await execa('nft', ['list', 'tables'])).stdout.includes(`minid_trace_${storeId}`);
    for (let i = 0; i < 100 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await seen()).toBe(true);
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode).toBe(130);
    expect(await leftovers('')).toEqual([]);
  });

  it('a container where nothing listens: the probe reaches it and is refused there', async () => {
    const q = await run(['run', '-d', '--name', 'quiet', '-p', `${port + 1}:80`, 'busybox', 'sleep', '300']);
    expect(q.exitCode, q.stderr).toBe(0);
    suite.ids.push(q.stdout.trim());
    const r = await run(['trace', 'quiet', '-p', String(port + 1), '--from', '127.0.0.1']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('answered RST: nothing listens on 80 inside');
    expect(r.stdout).toContain("died at: the container's socket");
    expect(await leftovers(r.stdout)).toEqual([]);
  });

  it('names the trace table a killed trace of this store left behind (and leaves it: another trace may own it)', async () => {
    const stale = `minid_trace_${storeId}_1`;
    await execa('nft', ['add', 'table', 'inet', stale]);
    try {
      const r = await run(['trace', 'web', '-p', String(port)]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(`left by a trace that was killed (unless one runs now): nft delete table inet ${stale}`);
    } finally {
      await execa('nft', ['delete', 'table', 'inet', stale], { reject: false });
    }
  });

  it('refuses a port the container does not publish, in one line', async () => {
    const r = await run(['trace', 'web', '-p', String(port + 1)]);
    expect([r.exitCode, r.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(r.stderr).toContain('does not publish TCP port');
  });

  it("after the store's MASQUERADE of 127.0.0.0/8 is deleted: the probe reaches the container, which drops it (martian)", async () => {
    const ours = (l: string) => l.includes(`"minid:${storeId}:bridge"`) && l.includes('-s 127.0.0.0/8');
    await withoutRule('MINID-POSTROUTING', ours, async () => {
      const r = await trace('127.0.0.1');
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toContain("died at: the container web's eth0 (a martian source)");
      expect(r.stdout).toMatch(/fix: iptables -t nat -A MINID-POSTROUTING -s 127\.0\.0\.0\/8 -o \S+ -m comment --comment "minid:[0-9a-f]{8}:bridge" -j MASQUERADE/);
    });
  });

  it("after the store's DNAT rule is deleted: the probe dies at INPUT, and the missing rule is named", async () => {
    // This store's own rule for the port only (its comment carries the store id).
    const ours = (l: string) => l.includes(`minid:${storeId}:bridge:web:`) && l.includes(`--dport ${port} `);
    await withoutRule('MINID-DNAT', ours, async () => {
      const r = await trace('127.0.0.1');
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toContain('died at: INPUT (iif lo)');
      expect(r.stdout).toContain('DNAT:       none matched');
      expect(r.stdout).toContain(`missing: minid's DNAT rule for ${port}`);
    });
  });
});
