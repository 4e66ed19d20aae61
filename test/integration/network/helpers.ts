// Helpers for the privileged network tests: run commands, start servers inside namespaces,
// pick free subnets/ports, and snapshot the host's minid-related state.
//
// The host is shared with other engineers' work (their bridges, chains, namespaces come and
// go), so the before/after comparison covers what minid or these tests can create: links and
// namespaces named minid*/mv*/mc*/mbr-*/mdt*, iptables rules and chains mentioning minid, and
// minid's own state files. Everything these tests create has a unique name.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/network/echo-server.mjs');

export function sh(argv: string[]): string {
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
}

/** Run without blocking the event loop; never throws. */
export function run(argv: string[], timeoutMs = 10_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs }, (e, out, err) => {
      const code = e ? (typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : 1) : 0;
      resolve({ code, out: String(out).trim(), err: String(err).trim() });
    });
  });
}

/** HTTP GET with curl, from the host or from inside a namespace. Returns the body or 'FAIL <curl exit>'. */
export async function curl(url: string, ns?: string, maxTime = 3): Promise<string> {
  const argv = [...(ns ? ['ip', 'netns', 'exec', ns] : []), 'curl', '-s', '--max-time', String(maxTime), url];
  const r = await run(argv, (maxTime + 5) * 1000);
  return r.code === 0 ? r.out : `FAIL ${r.code}`;
}

export async function udpAsk(host: string, port: number, ns?: string): Promise<string> {
  const r = await run([...(ns ? ['ip', 'netns', 'exec', ns] : []), process.execPath, FIXTURE, 'udp-ask', host, String(port)]);
  return r.code === 0 ? r.out : `FAIL ${r.err || r.code}`;
}

/** Processes this test started; killed by PID. */
export const started: ChildProcess[] = [];

/** Start the echo server inside a namespace; resolves when it listens. */
export function serve(ns: string, name: string, o: { http?: number; udp?: number }): Promise<ChildProcess> {
  const args = ['netns', 'exec', ns, process.execPath, FIXTURE, 'serve', name];
  if (o.http) args.push('--http', String(o.http));
  if (o.udp) args.push('--udp', String(o.udp));
  const p = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(p);
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.stdout!.on('data', (d) => String(d).includes('listening') && resolve(p));
    p.on('exit', (code) => reject(new Error(`server ${name} in ${ns} exited (${code}): ${err}`)));
  });
}

export async function stopStarted(): Promise<void> {
  for (const p of started.splice(0)) {
    if (p.exitCode === null && p.pid) {
      const gone = new Promise((r) => p.once('exit', r));
      process.kill(p.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
    }
  }
}

export const rand = (n = 4): string => Math.random().toString(16).slice(2, 2 + n).padEnd(n, '0');

export { freeSubnet } from '../../helpers/subnet.js';

const givenPorts = new Set<number>();
/** A TCP+UDP port free on every host address (and not handed out earlier in this run). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
    });
    if (ok && !givenPorts.has(port)) {
      givenPorts.add(port);
      return port;
    }
  }
}

export interface HostState {
  links: string[];
  netns: string[];
  iptables: string[];
}

/**
 * The host's links, namespaces and iptables lines (counters zeroed) that belong to this test
 * run: `mine(text)` says whether a name or a rule line mentions one of its objects. Other
 * engineers' minid instances share the host (and minid's global chains), so only what this
 * run created is compared.
 */
export function hostState(mine: (text: string) => boolean): HostState {
  const links = (JSON.parse(sh(['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).filter(mine).sort();
  let netns: string[] = [];
  try {
    netns = fs.readdirSync('/run/netns').filter(mine).sort();
  } catch {
    /* none */
  }
  const iptables = sh(['iptables-save'])
    .split('\n')
    .filter(mine)
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .sort();
  return { links, netns, iptables };
}

/** minid's own state under MINID_ROOT/MINID_RUN that must be empty between tests. */
export function minidState(root: string, runDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const f = path.join(dir, n);
      if (fs.statSync(f).isDirectory()) walk(f);
      else out.push(path.relative(path.dirname(root), f));
    }
  };
  walk(path.join(root, 'ipam'));
  walk(path.join(root, 'networks', 'endpoints'));
  walk(path.join(runDir, 'networks'));
  // IPAM keeps its round-robin cursor, like host-local; the default network's record stays.
  return out.filter((f) => !/last_reserved_ip/.test(f)).sort();
}
