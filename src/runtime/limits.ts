// Resource limits as the user types them (`-m 32m --cpus 0.5 --pids-limit 64`), parsed with
// docker's rules and messages into plain numbers. Pure: what the host offers (its CPUs, whether
// it accounts swap) is passed in; what the numbers become in the kernel's files is cgroup.ts.
import { fail } from '../errors.js';

export interface LimitFlags {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

/** docker's HostConfig fields, as `inspect` shows them; 0 / '' means "not set". */
export interface Limits {
  /** bytes */
  Memory: number;
  /** memory + swap, bytes; -1 unlimited swap */
  MemorySwap: number;
  /** CPUs x 1e9 */
  NanoCpus: number;
  CpuShares: number;
  CpusetCpus: string;
  /** 0: unlimited */
  PidsLimit: number;
}

export const NO_LIMITS: Limits = { Memory: 0, MemorySwap: 0, NanoCpus: 0, CpuShares: 0, CpusetCpus: '', PidsLimit: 0 };

export interface HostCpus {
  /** How many CPUs the host has online (docker's sysinfo.NumCPU). */
  count: number;
  /** The CPUs a container may be given: the root cpuset, e.g. "0-1". */
  available: string;
}

/** docker's minimum for --memory (linuxMinMemory). */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The kernel's range for cpu.shares (docker clamps to it). */
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262144;
/** The CFS period docker uses for --cpus. */
export const CFS_PERIOD_US = 100000;

const badFlag = (value: string, flag: string, why: string): never => fail(`invalid argument "${value}" for "${flag}" flag: ${why}`);

/**
 * A size as docker reads it (RAMInBytes): a number, maybe with a fraction, then an optional
 * unit b, k, m, g, t, p (any case, an optional "i" and "b": "32m", "32MiB", "1.5g"), all
 * powers of 1024. NaN when it is not one.
 */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) return NaN;
  const mult = { k: 1, m: 2, g: 3, t: 4, p: 5 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 0;
  return Math.floor(parseFloat(m[1]) * 1024 ** mult);
}

function sizeFlag(value: string, flag: string): number {
  const n = parseSize(value);
  if (!Number.isFinite(n)) badFlag(value, flag, `invalid size: '${value}'`);
  return n;
}

function intFlag(value: string, flag: string): number {
  if (!/^[+-]?\d+$/.test(value)) badFlag(value, flag, `strconv.ParseInt: parsing "${value}": invalid syntax`);
  return parseInt(value, 10);
}

/** A CPU list ("0-1,3") as the set of CPU numbers; null when it is not one. */
export function parseCpuList(s: string): Set<number> | null {
  const out = new Set<number>();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return null;
    for (let c = a; c <= b; c++) out.add(c);
  }
  return out;
}

/**
 * --cpus as docker reads it: a decimal number of CPUs, exactly (as a rational: "0.5", "1.25",
 * no more than nine decimals), times 1e9. Done on the digits, not a float: 0.1 must not
 * become 99999999 nanocpus.
 */
function parseNanoCpus(value: string): number {
  const m = /^(\+?)(\d*)(?:\.(\d*))?$/.exec(value);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) {
    if (/^-\d*(\.\d*)?$/.test(value) && value !== '-') return -1; // in range below
    badFlag(value, '--cpus', `failed to parse ${value} as a rational number`);
  }
  const frac = (m![3] ?? '').replace(/0+$/, '');
  if (frac.length > 9) badFlag(value, '--cpus', 'value is too precise');
  return Number(m![2] || '0') * 1e9 + Number(frac.padEnd(9, '0') || '0');
}

/**
 * The flags, checked as docker checks them (the CLI's parsing, then the daemon's checks), with
 * docker's messages. `memswAccounted`: the kernel limits memory+swap (v1 memory.memsw.*,
 * v2 memory.swap.max); `warn` gets docker's warning when it does not.
 */
export function parseLimits(f: LimitFlags, host: { cpus: HostCpus; memswAccounted: boolean }, warn: (line: string) => void = () => {}): Limits {
  const l: Limits = { ...NO_LIMITS };
  if (f.memory !== undefined) l.Memory = sizeFlag(f.memory, '-m, --memory');
  if (f.memorySwap !== undefined) l.MemorySwap = f.memorySwap === '-1' ? -1 : sizeFlag(f.memorySwap, '--memory-swap');
  if (l.Memory !== 0 && l.Memory < MIN_MEMORY) fail('Minimum memory limit allowed is 6MB');
  if (l.MemorySwap !== 0 && l.Memory === 0) fail('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (l.MemorySwap > 0 && l.MemorySwap < l.Memory) fail('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (l.Memory > 0 && l.MemorySwap === 0) l.MemorySwap = l.Memory * 2; // docker's default: as much swap as memory
  if (l.MemorySwap !== 0 && !host.memswAccounted) {
    warn('WARNING: Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    l.MemorySwap = -1;
  }

  if (f.cpus !== undefined) {
    l.NanoCpus = parseNanoCpus(f.cpus);
    const n = host.cpus.count;
    if (l.NanoCpus < 0 || l.NanoCpus > n * 1e9) fail(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`);
  }
  if (f.cpuShares !== undefined) {
    const s = intFlag(f.cpuShares, '-c, --cpu-shares');
    if (s < 0) fail(`invalid --cpu-shares ${s}: it must not be negative`);
    // docker clamps to the kernel's range, as the kernel itself would.
    l.CpuShares = s === 0 ? 0 : Math.min(Math.max(s, MIN_CPU_SHARES), MAX_CPU_SHARES);
  }
  if (f.cpusetCpus !== undefined) {
    const want = parseCpuList(f.cpusetCpus);
    if (!want) fail(`Invalid value ${f.cpusetCpus} for cpuset cpus`);
    const have = parseCpuList(host.cpus.available) ?? new Set<number>();
    if ([...want].some((c) => !have.has(c))) fail(`Requested CPUs are not available - requested ${f.cpusetCpus}, available: ${host.cpus.available}`);
    l.CpusetCpus = f.cpusetCpus;
  }
  if (f.pidsLimit !== undefined) {
    const p = intFlag(f.pidsLimit, '--pids-limit');
    l.PidsLimit = p <= 0 ? 0 : p; // docker: 0 or -1, unlimited
  }
  return l;
}

/** Is any limit set? */
export const hasLimits = (l: Limits): boolean => Object.entries(l).some(([k, v]) => v !== (NO_LIMITS as any)[k]);
