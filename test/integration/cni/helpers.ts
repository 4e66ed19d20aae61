// Shared by the privileged CNI suites: unique names, namespaces and subnets the tests own, a
// direct plugin invoker (the CNI contract, nothing of minid in between), background processes
// the tests own (ended by their pid), and leftover checks: links, namespaces, iptables rules,
// IP reservations and cache entries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterEach, beforeEach, expect } from 'vitest';

export const repo = path.resolve(__dirname, '..', '..', '..');
export const MINID_BIN = path.join(repo, 'cni-plugins', 'bin');
export const REF_BIN = '/usr/lib/cni';
export const FIXTURES = path.join(__dirname, 'fixtures');

/** Privileged suites fail loudly (never skip) when they cannot run. */
export function requireRootAndBuild(): void {
  if (process.getuid?.() !== 0) throw new Error('the CNI integration suites need root (CI runs them as root): run them with sudo');
  if (!fs.existsSync(path.join(repo, 'dist', 'cni-plugins.mjs')))
    throw new Error("minid's CNI plugins are not built (dist/cni-plugins.mjs is missing): run `make build`");
  if (!fs.existsSync(path.join(repo, 'build', 'minid-loopback')))
    throw new Error('minid-loopback is not built (build/minid-loopback is missing): run `make build`');
  if (!fs.existsSync(path.join(REF_BIN, 'bridge'))) throw new Error('the reference CNI plugins are missing: apt-get install containernetworking-plugins');
}

export const rand = (n = 3): string => randomBytes(n).toString('hex');

export interface ShResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function sh(argv: string[], opts: { input?: string; env?: Record<string, string>; timeout?: number } = {}): Promise<ShResult> {
  const r = await execa(argv[0], argv.slice(1), { input: opts.input, env: opts.env, reject: false, timeout: opts.timeout ?? 60_000, stripFinalNewline: false });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

export async function must(argv: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await sh(argv, opts);
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// Things a test owns, released in reverse order even when the test failed.

export class Owned {
  private undo: (() => Promise<unknown> | unknown)[] = [];

  defer(fn: () => Promise<unknown> | unknown): void {
    this.undo.push(fn);
  }

  /** A network namespace mdt-cni-<tag>-<rand>; returns its name and path. */
  async netns(tag = 'n'): Promise<{ name: string; path: string }> {
    const name = `mdt-cni-${tag}-${rand()}`;
    await must(['ip', 'netns', 'add', name]);
    this.defer(() => sh(['ip', 'netns', 'del', name]));
    return { name, path: `/run/netns/${name}` };
  }

  /** A host link name the test will create (or a plugin creates for it), deleted at the end. */
  link(prefix: string): string {
    const name = `${prefix}${rand()}`.slice(0, 15);
    this.defer(async () => {
      if (fs.existsSync(`/sys/class/net/${name}`)) await sh(['ip', 'link', 'del', name]);
    });
    return name;
  }

  dir(tag: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `mdt-cni-${tag}-`));
    this.defer(() => fs.rmSync(d, { recursive: true, force: true }));
    return d;
  }

  /** A background process this test owns; ended by its pid. */
  spawn(argv: string[]): ChildProcess {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.resume();
    child.stderr?.resume();
    this.defer(async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        const gone = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      }
    });
    return child;
  }

  async cleanup(): Promise<string[]> {
    const errors: string[] = [];
    while (this.undo.length) {
      const fn = this.undo.pop()!;
      try {
        await fn();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    return errors;
  }
}

// ---------------------------------------------------------------------------------------------
// Subnets: 10.231.x.0/24 that nothing on the host routes or uses, unique in this process.

const taken = new Set<string>();

export async function freeSubnet(): Promise<{ base: string; cidr: string; gw: string; ip: (n: number) => string }> {
  const routes = JSON.parse(await must(['ip', '-j', 'route', 'show', 'table', 'all']));
  const addrs = JSON.parse(await must(['ip', '-j', '-4', 'addr']));
  const used = new Set<string>();
  for (const r of routes) {
    const m = /^10\.231\.(\d+)\./.exec(String(r.dst));
    if (m) used.add(m[1]);
    if (String(r.dst) === '10.231.0.0/16' || String(r.dst) === '10.0.0.0/8') throw new Error(`the host routes ${r.dst}: pick another test range`);
  }
  for (const a of addrs) for (const ai of a.addr_info ?? []) if (/^10\.231\./.test(ai.local)) used.add(ai.local.split('.')[2]);
  for (let i = 0; i < 500; i++) {
    const x = String(1 + Math.floor(Math.random() * 254));
    if (used.has(x) || taken.has(x)) continue;
    taken.add(x);
    const base = `10.231.${x}`;
    return { base, cidr: `${base}.0/24`, gw: `${base}.1`, ip: (n: number) => `${base}.${n}` };
  }
  throw new Error('no free 10.231.x.0/24 subnet');
}

// ---------------------------------------------------------------------------------------------
// Calling a plugin directly, exactly as the spec says: env + config on stdin.

export interface Invocation {
  code: number;
  out: any;
  raw: string;
  stderr: string;
  ms: number;
}

export async function invoke(
  dir: string | string[],
  type: string,
  command: string,
  conf: object | string,
  env: { containerId?: string; netns?: string; ifName?: string; args?: string; cniPath?: string } = {},
): Promise<Invocation> {
  const dirs = Array.isArray(dir) ? dir : [dir];
  const full = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: env.containerId ?? '',
    CNI_NETNS: env.netns ?? '',
    CNI_IFNAME: env.ifName ?? 'eth0',
    CNI_ARGS: env.args ?? '',
    CNI_PATH: env.cniPath ?? dirs.join(':'),
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  };
  // Unset (not empty) what the caller left out, like a real runtime would.
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(full)) if (v !== '' || k === 'CNI_IFNAME') e[k] = v;
  if (env.ifName === '') delete e.CNI_IFNAME;
  const t0 = Date.now();
  const r = await execa(path.join(dirs[0], type), [], {
    input: typeof conf === 'string' ? conf : JSON.stringify(conf),
    env: e,
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  const ms = Date.now() - t0;
  const raw = String(r.stdout ?? '').trim();
  let out: any = null;
  try {
    out = raw ? JSON.parse(raw) : null;
  } catch {
    out = null;
  }
  return { code: r.exitCode ?? 1, out, raw, stderr: String(r.stderr ?? ''), ms };
}

// ---------------------------------------------------------------------------------------------
// Leftovers

export interface Snapshot {
  links: string[];
  netns: string[];
  rules: string[];
}

// The bridge/ptp plugins' host ends (veth + 8 hex; docker's are veth + 7 hex) and test links.
const OUR_LINK = /^(veth[0-9a-f]{8}|mdtcni.*)$/;
const OUR_RULE = /MINID-CNI-|\bCNI-/;
/** The shared chains the reference portmap/firewall create once and leave in place by design. */
const SHARED_REF = [
  /^:CNI-HOSTPORT-(DNAT|MASQ|SETMARK) /,
  /^-A (PREROUTING|OUTPUT) -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT$/,
  /^-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ$/,
  /^-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000\/0x2000 -j MASQUERADE$/,
  /^-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000\/0x2000$/,
  /^:CNI-(FORWARD|ADMIN) /,
  /^-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD$/,
  /^-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN$/,
];
export const isSharedRef = (l: string): boolean => SHARED_REF.some((r) => r.test(l));

export async function iptablesLines(): Promise<string[]> {
  const out: string[] = [];
  for (const t of ['nat', 'filter', 'mangle']) {
    const r = await sh(['iptables-save', '-t', t]);
    for (const l of r.stdout.split('\n')) if (OUR_RULE.test(l)) out.push(`${t}: ${l.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  return out;
}

export async function snapshot(): Promise<Snapshot> {
  const links = (JSON.parse(await must(['ip', '-j', 'link'])) as { ifname: string }[]).map((l) => l.ifname).filter((n) => OUR_LINK.test(n));
  const ns = (await sh(['ip', 'netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith('mdt-cni-'));
  return { links, netns: ns, rules: await iptablesLines() };
}

/** What appeared since `before` (shared reference chains excepted). */
export function leftovers(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const l of after.links) if (!before.links.includes(l)) out.push(`link ${l}`);
  for (const n of after.netns) if (!before.netns.includes(n)) out.push(`netns ${n}`);
  for (const r of after.rules) if (!before.rules.includes(r) && !isSharedRef(r.replace(/^\w+: /, ''))) out.push(`iptables ${r}`);
  return out;
}

/** Leftovers, after giving the kernel time to destroy the links of deleted namespaces. */
export async function settledLeftovers(before: Snapshot, ms = 5000): Promise<string[]> {
  const t0 = Date.now();
  for (;;) {
    const left = leftovers(before, await snapshot());
    if (!left.some((l) => l.startsWith('link ')) || Date.now() - t0 > ms) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Remove rules/chains found as leftovers (only ones matching our patterns), so one failure does not leak. */
export async function forceRemoveRules(lines: string[]): Promise<void> {
  const byTable = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^iptables (\w+): (.*)$/.exec(l);
    if (!m) continue;
    if (!byTable.has(m[1])) byTable.set(m[1], []);
    byTable.get(m[1])!.push(m[2]);
  }
  for (const [table, ls] of byTable) {
    const chains = ls.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]);
    const dels = ls.filter((l) => l.startsWith('-A ')).map((l) => `-D${l.slice(2)}`);
    const input = `*${table}\n${[...dels, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`)].join('\n')}\nCOMMIT\n`;
    await sh(['iptables-restore', '--noflush'], { input });
  }
}

/**
 * Remove the shared chains of the reference portmap/firewall if the file created them (they were
 * absent at `before`) and nothing else uses them any more.
 */
export async function removeSharedRefChains(before: Snapshot): Promise<void> {
  const now = await iptablesLines();
  const ours = (t: string, c: string) => !before.rules.some((r) => r.startsWith(`${t}: :${c} `)) && now.some((r) => r.startsWith(`${t}: :${c} `));
  const plan: [string, string[]][] = [
    ['nat', ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK']],
    ['filter', ['CNI-FORWARD', 'CNI-ADMIN']],
  ];
  for (const [table, chains] of plan) {
    const mine = chains.filter((c) => ours(table, c));
    if (!mine.length) continue;
    const lines = now.filter((r) => r.startsWith(`${table}: `)).map((r) => r.slice(table.length + 2));
    // Only structural rules may remain; otherwise someone else still uses them.
    const inUse = lines.some((l) => l.startsWith('-A ') && mine.some((c) => l.includes(c)) && !isSharedRef(l));
    if (inUse) continue;
    const dels = lines.filter((l) => l.startsWith('-A ') && mine.some((c) => l.includes(` ${c}`)) && !mine.includes(l.split(' ')[1])).map((l) => `-D${l.slice(2)}`);
    const input = `*${table}\n${[...dels, ...mine.map((c) => `-F ${c}`), ...mine.map((c) => `-X ${c}`)].join('\n')}\nCOMMIT\n`;
    await sh(['iptables-restore', '--noflush'], { input });
  }
}

/** Files in an IPAM data dir that are reservations (not lock / last_reserved_ip.*). */
export function reservations(dataDir: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(dataDir)) return out;
  for (const net of fs.readdirSync(dataDir)) {
    const d = path.join(dataDir, net);
    if (!fs.statSync(d).isDirectory()) continue;
    for (const f of fs.readdirSync(d)) if (f !== 'lock' && !f.startsWith('last_reserved_ip')) out.push(`${net}/${f}`);
  }
  return out;
}

/** Start `busybox httpd` serving `body` inside a namespace; the test owns the process. */
export async function serveHttp(owned: Owned, netnsPath: string, port: number, body: string): Promise<void> {
  const www = owned.dir('www');
  fs.writeFileSync(path.join(www, 'index.html'), body);
  owned.spawn(['nsenter', `--net=${netnsPath}`, 'busybox', 'httpd', '-f', '-p', String(port), '-h', www]);
  // Wait until it listens.
  for (let i = 0; i < 100; i++) {
    const r = await sh(['nsenter', `--net=${netnsPath}`, 'ss', '-ltnH', `sport = :${port}`]);
    if (r.stdout.trim()) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`busybox httpd did not start listening on ${port} in ${netnsPath}`);
}

export async function curl(url: string, netnsPath?: string): Promise<ShResult> {
  const argv = ['curl', '-sS', '--max-time', '5', '--noproxy', '*', url];
  return sh(netnsPath ? ['nsenter', `--net=${netnsPath}`, ...argv] : argv);
}

/**
 * Each test gets a fresh Owned (handed over through `set`); after it, everything it owns is
 * undone and nothing of ours may be left: leftovers are removed, then reported as a failure.
 */
export function ownedPerTest(set: (o: Owned) => void, onEach?: () => void): void {
  let owned: Owned;
  let before: Snapshot;
  beforeEach(async () => {
    owned = new Owned();
    set(owned);
    before = await snapshot();
    onEach?.();
  });
  afterEach(async () => {
    const errs = await owned.cleanup();
    const left = await settledLeftovers(before);
    if (left.length) await forceRemoveRules(left);
    expect(errs, 'cleanup errors').toEqual([]);
    expect(left, 'left behind by the test').toEqual([]);
  });
}
