// The DNS server processes: Debian's dnsmasq, one per user-defined network (plus one per
// container that has run --dns: its own forwarders), owned by minid.
//
// Why dnsmasq (and not aardvark-dns, which Debian also packages, nor a server written here):
// it is the server the course notes' chapter describes (a hosts file, everything else
// forwarded), a person can read its whole configuration (`cat .../network.conf`), it answers
// A, PTR, NODATA for AAAA and NXDOMAIN from one hosts file that minid rewrites and reloads
// with SIGHUP, over UDP and TCP, in ~2 MB of memory, and it logs queries when asked (a later
// `minid dns log`). aardvark-dns 1.4 (Debian 12) has no per-container forwarders for --dns.
//
// Where a server lives and how it is recorded (network must not import runtime, so it is all
// here):
//   MINID_RUN/dns/NETWORK/records        the names (hosts format; records.ts), shared by the
//                                        network's servers
//   MINID_RUN/dns/NETWORK/INSTANCE.conf  its configuration (INSTANCE: 'network' or 'c-<id12>')
//   MINID_RUN/dns/NETWORK/INSTANCE.pid   written by dnsmasq itself once it runs
//   MINID_RUN/dns/NETWORK/INSTANCE.json  minid's record: pid, the process's start time (field
//                                        22 of /proc/PID/stat) and where it listens
//   MINID_RUN/dns/NETWORK/INSTANCE.log   what dnsmasq says (start, reloads)
// It is started through the one exec seam (run() in src/sys/exec.ts): dnsmasq forks into the
// background once its sockets are bound, so run() returns when it answers, and fails with
// dnsmasq's own message when it cannot. Before minid signals it (SIGHUP to reload, SIGTERM to
// stop) it checks that the recorded PID is still that dnsmasq: /proc/PID/stat names dnsmasq and
// shows the recorded start time (a PID reused by another process is left alone).
// The steps that write its files and start, reload and stop it are in steps.ts (pure planners).
import fs from 'node:fs';
import path from 'node:path';
import { readJson } from '../../sys/jsonfile.js';
import { runRoot } from '../../sys/paths.js';
import { run } from '../../sys/exec.js';
import { MinidError } from '../../errors.js';
import { renderServerConf, type ServerSpec } from './records.js';

export const dnsRoot = (): string => path.join(runRoot(), 'dns');
export const networkDir = (network: string): string => path.join(dnsRoot(), network);
export const recordsFile = (network: string): string => path.join(networkDir(network), 'records');

export interface ServerRecord {
  pid: number;
  /** /proc/PID/stat field 22: when the process started, in clock ticks after boot. */
  startTime: string;
  address: string;
  port: number;
  forwarders: string[];
  started: string;
  /** What it was started with: enough to start it again (or to see that it must change). */
  spec?: ServerSpec;
}

export const file = (network: string, instance: string, ext: string): string => path.join(networkDir(network), `${instance}.${ext}`);

/** A network's server: on the host, at the gateway, answering queries that arrive by its bridge. */
export function spec(network: string, instance: string, address: string, port: number, forwarders: string[], bridge: string): ServerSpec {
  return {
    network,
    instance,
    address,
    port,
    bridge,
    forwarders,
    records: [{ network, file: recordsFile(network) }],
    pidFile: file(network, instance, 'pid'),
    logFile: file(network, instance, 'log'),
  };
}

/**
 * A container's server, recorded in the folder of its first network: in its network namespace,
 * at 127.0.0.11:53, with the names of every network it is on.
 */
export function containerSpec(o: { networks: string[]; id12: string; netns: string; address: string; forwarders: string[]; dns?: string[] }): ServerSpec {
  const instance = `c-${o.id12}`;
  return {
    network: o.networks[0],
    instance,
    address: o.address,
    port: 53,
    netns: o.netns,
    forwarders: o.forwarders,
    ...(o.dns?.length ? { dns: o.dns } : {}),
    records: o.networks.map((n) => ({ network: n, file: recordsFile(n) })),
    pidFile: file(o.networks[0], instance, 'pid'),
    logFile: file(o.networks[0], instance, 'log'),
  };
}

export function readServer(network: string, instance: string): ServerRecord | null {
  return readJson<ServerRecord>(file(network, instance, 'json'));
}

/** The instances recorded for a network (a configuration file each). */
export function instances(network: string): string[] {
  try {
    return fs
      .readdirSync(networkDir(network))
      .filter((f) => f.endsWith('.conf'))
      .map((f) => f.slice(0, -5));
  } catch {
    return [];
  }
}

/** Networks that have a DNS folder. */
export function dnsNetworks(): string[] {
  try {
    return fs.readdirSync(dnsRoot());
  } catch {
    return [];
  }
}

/** Every recorded server that answers this network's names: its own, and containers' servers that include it. */
export function readersOf(network: string): { network: string; instance: string }[] {
  const out: { network: string; instance: string }[] = [];
  for (const dir of dnsNetworks()) {
    for (const inst of instances(dir)) {
      if (inst === 'network') {
        if (dir === network) out.push({ network: dir, instance: inst });
      } else if (readServer(dir, inst)?.spec?.records.some((r) => r.network === network)) out.push({ network: dir, instance: inst });
    }
  }
  return out;
}

/** A process's command name and start time, or null when it is gone (or a zombie). */
export function procStat(pid: number): { comm: string; startTime: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const rest = s.slice(close + 2).split(' ');
    if (rest[0] === 'Z') return null;
    return { comm: s.slice(s.indexOf('(') + 1, close), startTime: rest[19] };
  } catch {
    return null;
  }
}

/** Is the recorded server still that dnsmasq (same PID, same start time)? */
export function alive(r: ServerRecord | null): r is ServerRecord {
  if (!r) return false;
  const st = procStat(r.pid);
  return !!st && st.comm === 'dnsmasq' && st.startTime === r.startTime;
}

/**
 * How a server starts: its configuration file and text, and the command. A container's server
 * starts in the container's network namespace (only that: it reads its files from the host's
 * file system).
 */
export function startCommand(s: ServerSpec): { conf: string; text: string; argv: string[] } {
  const conf = file(s.network, s.instance, 'conf');
  return { conf, text: renderServerConf(s), argv: [...(s.netns ? ['nsenter', `--net=${s.netns}`] : []), 'dnsmasq', `--conf-file=${conf}`] };
}

/** The files of one dnsmasq minid runs: its record (PID, start time), configuration, pid file, log. */
export interface ServerFiles {
  json: string;
  conf: string;
  pid: string;
  log: string;
}

export const serverFiles = (network: string, instance: string): ServerFiles => ({
  json: file(network, instance, 'json'),
  conf: file(network, instance, 'conf'),
  pid: file(network, instance, 'pid'),
  log: file(network, instance, 'log'),
});

/**
 * Start a dnsmasq (`argv`, its configuration written) and record it: its parent exits once the
 * daemon has bound its sockets and written its pid file, so this resolves once it answers.
 * `what` names it in errors ("the DNS server of network X", "node1's DNS server"). The one
 * start of every server minid runs: the networks' and containers' (steps.ts), the cluster's.
 */
export async function launch(argv: string[], f: ServerFiles, what: string, about: Pick<ServerRecord, 'address' | 'port' | 'forwarders' | 'spec'>): Promise<ServerRecord> {
  fs.mkdirSync(path.dirname(f.json), { recursive: true, mode: 0o700 });
  fs.rmSync(f.pid, { force: true });
  const r = await run(argv, { allowFail: true });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').pop() || `exit code ${r.exitCode}`;
    throw new MinidError(`cannot start ${what} (dnsmasq on ${about.address}:${about.port}): ${why.replace(/^dnsmasq: /, '')}`);
  }
  const pid = parseInt(fs.readFileSync(f.pid, 'utf8'), 10);
  const st = procStat(pid);
  if (!st) throw new MinidError(`${what} (dnsmasq, pid ${pid}) exited right after it started: see ${f.log}`);
  const rec: ServerRecord = { pid, startTime: st.startTime, ...about, started: new Date().toISOString() };
  fs.writeFileSync(f.json, JSON.stringify(rec, null, 2) + '\n');
  return rec;
}

/** Start a network's or a container's server (its configuration written: steps.ts) and record it. */
export async function startServer(s: ServerSpec): Promise<ServerRecord> {
  const what = s.instance === 'network' ? `the DNS server of network ${s.network}` : `the DNS server of container ${s.instance.slice(2)}`;
  return launch(startCommand(s).argv, serverFiles(s.network, s.instance), what, { address: s.address, port: s.port, forwarders: s.forwarders, spec: s });
}

/** SIGHUP: dnsmasq clears its cache and rereads its names. One that died meanwhile is left alone: the next sync starts it again. */
export function reload(rec: ServerRecord): void {
  if (alive(rec)) process.kill(rec.pid, 'SIGHUP');
}

/** A server's log grows with every query: past 8 MB, minid empties it (dnsmasq appends, O_APPEND). */
export const LOG_MAX = 8 << 20;
export function trimLogFile(f: string): void {
  try {
    if (fs.statSync(f).size > LOG_MAX) fs.truncateSync(f, 0);
  } catch {
    /* no log yet */
  }
}
export const trimLog = (network: string, instance: string): void => trimLogFile(file(network, instance, 'log'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop the server a record names, if it is still that dnsmasq (SIGTERM, SIGKILL after a second), and remove its files; the record of one stopped, else null. */
export async function stopRecorded(f: ServerFiles): Promise<ServerRecord | null> {
  const r = readJson<ServerRecord>(f.json);
  let stopped: ServerRecord | null = null;
  if (alive(r)) {
    process.kill(r.pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(r); i++) await sleep(10);
    if (alive(r)) process.kill(r.pid, 'SIGKILL');
    stopped = r;
  }
  for (const x of [f.json, f.conf, f.pid, f.log]) fs.rmSync(x, { force: true });
  return stopped;
}

/** Stop a network's or container's server and remove its files. */
export async function stopServer(network: string, instance: string): Promise<boolean> {
  return (await stopRecorded(serverFiles(network, instance))) !== null;
}
