// Test doubles for the network layer: a recording runner (every command minid would run) and a
// fake host probe (what minid would read from /sys, /proc and iptables-save). Nothing here
// touches the real host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setRunner, formatCommand, type RunOptions, type RunResult } from '../../../src/sys/exec.js';
import { setHostProbe, type HostProbe, type HostRoute, type LinkInfo } from '../../../src/network/host.js';
import type { Proto } from '../../../src/network/types.js';

export interface Call {
  argv: string[];
  input?: string;
}

export type Responder = (argv: string[], opts: RunOptions) => Partial<RunResult> | undefined;

export class Recorder {
  calls: Call[] = [];
  responders: Responder[] = [];
  install(): this {
    setRunner(async (argv, opts) => {
      this.calls.push({ argv, input: opts.input });
      for (const r of this.responders) {
        const res = r(argv, opts);
        if (res) return { exitCode: 0, stdout: '', stderr: '', ...res };
      }
      return { exitCode: 0, stdout: '', stderr: '' };
    });
    return this;
  }
  /** Fail the first call whose formatted command matches. */
  failWhen(match: (argv: string[], input?: string) => boolean, result: Partial<RunResult>): this {
    let done = false;
    this.responders.push((argv, opts) => {
      if (done || !match(argv, opts.input)) return undefined;
      done = true;
      return { exitCode: 1, ...result };
    });
    return this;
  }
  /** The calls as text, one command per block (stdin shown as a here-document). */
  text(): string {
    return this.calls.map((c) => formatCommand(c.argv, c.input)).join('\n');
  }
  clear(): void {
    this.calls = [];
  }
}

export class FakeProbe implements HostProbe {
  linksSet = new Set<string>(['lo', 'eth0']);
  linkKinds = new Map<string, string>();
  /** Link aliases (a bridge's owner label); set by `ip link set NAME alias A` when wired (see wireLinks()). */
  aliases = new Map<string, string>();
  sysctls = new Map<string, string>([['net.ipv4.ip_forward', '0']]);
  /** Applied when a `sysctl -w` runs through the recorder (see wire()). */
  up: { dev: string; mtu: number } | null = { dev: 'eth0', mtu: 1400 };
  addrs: Record<string, string[]> = { eth0: ['192.0.2.2/24'] };
  routeList: HostRoute[] = [
    { dst: '192.0.2.0/24', dev: 'eth0', desc: '192.0.2.0/24 dev eth0' },
    { dst: '192.0.2.2/32', dev: 'eth0', desc: 'local 192.0.2.2 dev eth0 table local' },
    { dst: '127.0.0.0/8', dev: 'lo', desc: 'local 127.0.0.0/8 dev lo table local' },
  ];
  iptables = '';
  holders = new Map<string, string>();
  netns: string[] = [];
  resolv = 'nameserver 10.255.255.53\nsearch example.internal\n';
  hosts = '127.0.0.1 localhost\n';

  async linkExists(name: string) {
    return this.linksSet.has(name);
  }
  async linkAlias(name: string) {
    return this.linksSet.has(name) ? (this.aliases.get(name) ?? '') : null;
  }
  async readSysctl(key: string) {
    return this.sysctls.get(key) ?? null;
  }
  async uplink() {
    return this.up;
  }
  async addresses(dev: string) {
    return this.addrs[dev] ?? [];
  }
  async routes() {
    return this.routeList;
  }
  async iptablesSave() {
    return this.iptables;
  }
  async portHolder(proto: Proto, hostIp: string, port: number) {
    return this.holders.get(`${proto}/${port}`) ?? null;
  }
  async netnsList() {
    return this.netns;
  }
  async links(): Promise<LinkInfo[]> {
    return [...this.linksSet].map((name) => ({ name, kind: this.linkKinds.get(name) }));
  }
  async resolvConf() {
    return this.resolv;
  }
  async hostsFile() {
    return this.hosts;
  }
  install(): this {
    setHostProbe(this);
    return this;
  }
}

/** Make `sysctl -w k=v` calls recorded by `rec` visible to the probe, like the kernel would. */
export function wireSysctl(rec: Recorder, probe: FakeProbe): void {
  rec.responders.push((argv) => {
    if (argv[0] === 'sysctl' && argv[1] === '-w') {
      for (const kv of argv.slice(2)) {
        const [k, v] = kv.split('=');
        probe.sysctls.set(k, v);
      }
    }
    return undefined;
  });
}

/** The store id tempRoots() gives its store (a real store makes a random one). */
export const STORE_ID = 'feedc0de';
/** A StoreRef for the pure planners. */
export const STORE = { id: STORE_ID, legacy: false, root: '/var/lib/minid-test' };

/** Let `ip link add/del` and `ip link set NAME alias A` run through `rec` change the probe's links. */
export function wireLinks(rec: Recorder, probe: FakeProbe): void {
  const apply = (line: string[]): void => {
    if (line[0] === 'link' && line[1] === 'add') probe.linksSet.add(line[2]);
    if (line[0] === 'link' && line[1] === 'del') probe.linksSet.delete(line[2]);
    const a = line.indexOf('alias');
    if (line[0] === 'link' && line[1] === 'set' && a > 0) probe.aliases.set(line[2], line[a + 1]);
  };
  rec.responders.push((argv, opts) => {
    if (argv[0] !== 'ip') return undefined;
    if (argv.includes('-batch')) {
      if (!argv.includes('-n')) for (const l of (opts.input ?? '').split('\n')) apply(l.split(' '));
    } else if (argv[1] !== '-n') apply(argv.slice(1));
    return undefined;
  });
}

/** A private MINID_ROOT / MINID_RUN for one test, with the store id STORE_ID. */
export function tempRoots(): { root: string; run: string; cleanup: () => void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-net-unit-'));
  const root = path.join(base, 'lib');
  const run = path.join(base, 'run');
  // A store made by minid has its identity from its first command on (sys/store.ts).
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'store-id'), STORE_ID + '\n');
  process.env.MINID_ROOT = root;
  process.env.MINID_RUN = run;
  delete process.env.MINID_BRIDGE_NAME;
  delete process.env.MINID_BRIDGE_SUBNET;
  process.env.MINID_DNS = 'off'; // no DNS server behind the recording runner (test/unit/network/dns.test.ts covers names)
  return { root, run, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

export function resetSeams(): void {
  setRunner(null);
  setHostProbe(null);
}

export const ID1 = '3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081';
export const ID2 = '9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d1e0f';
export const ID3 = '0c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee0';
