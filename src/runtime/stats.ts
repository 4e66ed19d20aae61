// What `minid stats` shows, read as docker reads it: from the container's cgroup (CPU time,
// memory, processes, block I/O) and from its network namespace (/proc/PID/net/dev). Reading
// is here; the numbers are turned into docker's columns by pure functions (statsRow).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PARENT, controllerMount, type Layout } from './cgroup.js';

export interface Sample {
  /** CPU time the container used, ns (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
  cpuNs: number;
  /** CPU time of the whole host, ns (/proc/stat), for docker's CPU % (cpu delta / system delta x CPUs). */
  systemNs: number;
  onlineCpus: number;
  memUsage: number;
  memLimit: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  /** The detail behind the sums, for the Engine API's stats (docker's shape; the CLI's table needs none of it). */
  detail?: {
    /** memory usage before the inactive page cache is taken off, and the memory.stat it was taken from. */
    memRaw: number;
    memStat: Record<string, number>;
    /** Per interface (not lo): bytes, packets, errors, drops each way. */
    nets: Record<string, NetCounters>;
    /** Per device and operation: "Read"/"Write" bytes. */
    blkio: BlkioEntry[];
  };
}

export interface NetCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: 'Read' | 'Write';
  value: number;
}

const read = (f: string): string => {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};

/** key value lines (memory.stat, cpu.stat) as a map. */
export function keyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of text.split('\n')) {
    const [k, v] = l.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Each interface but lo of /proc/PID/net/dev: receive fields 0-3, transmit fields 8-11. */
export function netInterfaces(text: string): Record<string, NetCounters> {
  const out: Record<string, NetCounters> = {};
  for (const l of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(l);
    if (!m || m[1].trim() === 'lo') continue;
    const f = m[2].trim().split(/\s+/).map((x) => Number(x) || 0);
    out[m[1].trim()] = { rxBytes: f[0] ?? 0, rxPackets: f[1] ?? 0, rxErrors: f[2] ?? 0, rxDropped: f[3] ?? 0, txBytes: f[8] ?? 0, txPackets: f[9] ?? 0, txErrors: f[10] ?? 0, txDropped: f[11] ?? 0 };
  }
  return out;
}

/** Bytes received and sent on every interface but lo (/proc/PID/net/dev). */
export const parseNetDev = (text: string) => netTotals(netInterfaces(text));

function netTotals(nets: Record<string, NetCounters>): { rx: number; tx: number } {
  const all = Object.values(nets);
  return { rx: all.reduce((a, n) => a + n.rxBytes, 0), tx: all.reduce((a, n) => a + n.txBytes, 0) };
}

/** v1 blkio.throttle.io_service_bytes_recursive ("8:0 Read 4096") or v2 io.stat ("8:0 rbytes=4096 wbytes=0 ..."), per device. */
export function blkioEntries(text: string, version: 1 | 2): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const l of text.split('\n')) {
    const dev = /^\s*(\d+):(\d+)\s/.exec(l);
    if (!dev) continue; // v1's "Total" line
    const at = { major: Number(dev[1]), minor: Number(dev[2]) };
    if (version === 1) {
      const [, op, v] = l.trim().split(/\s+/);
      if (op === 'Read' || op === 'Write') out.push({ ...at, op, value: Number(v) || 0 });
    } else {
      out.push({ ...at, op: 'Read', value: Number(/\brbytes=(\d+)/.exec(l)?.[1] ?? 0) });
      out.push({ ...at, op: 'Write', value: Number(/\bwbytes=(\d+)/.exec(l)?.[1] ?? 0) });
    }
  }
  return out;
}

/** Bytes read and written, summed over devices. */
export const parseBlkio = (text: string, version: 1 | 2) => blkTotals(blkioEntries(text, version));

function blkTotals(e: BlkioEntry[]): { read: number; write: number } {
  const sum = (op: string) => e.filter((x) => x.op === op).reduce((a, x) => a + x.value, 0);
  return { read: sum('Read'), write: sum('Write') };
}

/** The host's CPU time from /proc/stat's "cpu" line, in ns (USER_HZ ticks, 100 a second). */
export function systemCpuNs(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number).reduce((a, b) => a + b, 0);
  return ticks * 1e7;
}

/** One sample of a container's use. */
export function sample(layout: Layout, id: string, pid: number | undefined): Sample {
  const dir = (c: string) => path.join(controllerMount(layout, c) ?? '/nonexistent', PARENT, id);
  const hostMem = os.totalmem();
  let cpuNs: number;
  let memUsage: number;
  let memLimit: number;
  let memRaw: number;
  let memStat: Record<string, number>;
  let blkio: BlkioEntry[];
  if (layout.version === 1) {
    cpuNs = Number(read(path.join(dir('cpuacct'), 'cpuacct.usage'))) || 0;
    // docker: usage less the inactive page cache (total_inactive_file), which the kernel reclaims first.
    memStat = keyValues(read(path.join(dir('memory'), 'memory.stat')));
    memRaw = Number(read(path.join(dir('memory'), 'memory.usage_in_bytes'))) || 0;
    memUsage = Math.max(0, memRaw - (memStat.total_inactive_file ?? 0));
    memLimit = Number(read(path.join(dir('memory'), 'memory.limit_in_bytes'))) || hostMem;
    blkio = blkioEntries(read(path.join(dir('blkio'), 'blkio.throttle.io_service_bytes_recursive')), 1);
  } else {
    cpuNs = (keyValues(read(path.join(dir('cpu'), 'cpu.stat'))).usage_usec ?? 0) * 1000;
    memStat = keyValues(read(path.join(dir('memory'), 'memory.stat')));
    memRaw = Number(read(path.join(dir('memory'), 'memory.current'))) || 0;
    memUsage = Math.max(0, memRaw - (memStat.inactive_file ?? 0));
    memLimit = Number(read(path.join(dir('memory'), 'memory.max'))) || hostMem; // "max": NaN -> the host's
    blkio = blkioEntries(read(path.join(dir('io'), 'io.stat')), 2);
  }
  const nets = pid ? netInterfaces(read(`/proc/${pid}/net/dev`)) : {};
  const net = netTotals(nets);
  const blk = blkTotals(blkio);
  return {
    cpuNs,
    systemNs: systemCpuNs(read('/proc/stat')),
    onlineCpus: os.cpus().length || 1,
    memUsage,
    memLimit: Math.min(memLimit, hostMem), // docker shows the host's memory when there is no limit
    netRx: net.rx,
    netTx: net.tx,
    blkRead: blk.read,
    blkWrite: blk.write,
    pids: Number(read(path.join(dir('pids'), 'pids.current'))) || 0,
    detail: { memRaw, memStat, nets, blkio },
  };
}

// --- docker's columns (pure) -----------------------------------------------------------

/** printf's %.Ng: N significant digits, trailing zeros dropped. */
const sig = (v: number, digits: number): string => String(Number(v.toPrecision(digits)));

/** docker's units.HumanSizeWithPrecision(v, 3): decimal units, "1.05kB". */
export function humanSize(v: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${sig(v, 3)}${units[i]}`;
}

/** docker's units.BytesSize: binary units, 4 significant digits, "1.523MiB". */
export function bytesSize(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${sig(v, 4)}${units[i]}`;
}

/** docker's CPU %: the container's share of the host's CPU time between two samples, times the CPUs. */
export function cpuPercent(prev: Sample, now: Sample): number {
  const cpu = now.cpuNs - prev.cpuNs;
  const system = now.systemNs - prev.systemNs;
  return cpu > 0 && system > 0 ? (cpu / system) * now.onlineCpus * 100 : 0;
}

export const HEADER = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];

export function statsRow(c: { id: string; name: string }, prev: Sample, now: Sample, noTrunc = false): string[] {
  const memPct = now.memLimit > 0 ? (now.memUsage / now.memLimit) * 100 : 0;
  return [
    noTrunc ? c.id : c.id.slice(0, 12),
    c.name,
    `${cpuPercent(prev, now).toFixed(2)}%`,
    `${bytesSize(now.memUsage)} / ${bytesSize(now.memLimit)}`,
    `${memPct.toFixed(2)}%`,
    `${humanSize(now.netRx)} / ${humanSize(now.netTx)}`,
    `${humanSize(now.blkRead)} / ${humanSize(now.blkWrite)}`,
    String(now.pids),
  ];
}
