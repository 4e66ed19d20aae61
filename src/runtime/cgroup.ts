// Each container in its own cgroup: the kernel's way to count and limit what a group of
// processes uses (memory, CPU time, processes, devices, I/O).
//
// Two layouts exist. cgroup v1 (and the "hybrid" of many hosts, this one's) has one hierarchy
// per controller, each its own mount: /sys/fs/cgroup/memory, /sys/fs/cgroup/cpu, ...; a
// container gets a directory in every one. cgroup v2 has one hierarchy for all controllers
// at /sys/fs/cgroup; a container gets one directory there. Either way the path is
// <hierarchy>/minid/<id>, at the hierarchy's root as docker does (not under the cgroup of
// whoever runs minid): "minid" is a parent shared by every store on the host, kept while
// minid runs (only `system reset` removes it, and only where it is empty); <id> belongs to one
// container of one store, and only that store removes it.
//
// As with the network (src/network/step.ts), the setup is a plan of named steps, each printed
// by --explain as the commands a person would type (`mkdir ...`, `echo 33554432 > ...`), and
// undone on failure. The plan is pure (planCgroup): the layout and the host's facts come in.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { quote, run } from '../sys/exec.js';
import { packageRoot } from '../sys/paths.js';
import { CFS_PERIOD_US, NO_LIMITS, type Limits } from './limits.js';

/** The v1 controllers a container gets a cgroup in (one hierarchy each, or co-mounted ones). */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'devices', 'blkio', 'freezer'] as const;
/** The v2 controllers minid enables for its cgroups (those the host has). */
export const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'] as const;

export type Layout =
  /** One mount per hierarchy; `controllers` of co-mounted ones share a mount (cpu,cpuacct). */
  | { version: 1; hierarchies: { controllers: string[]; mount: string }[] }
  | { version: 2; mount: string };

export const PARENT = 'minid';

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

/**
 * The layout, from /proc/self/mountinfo: v1 when any v1 controller hierarchy is mounted (a
 * hybrid host's cgroup2 mount then carries no controllers: not ours), else v2 when cgroup2
 * is mounted; null when neither (no cgroups: minid runs containers without limits).
 */
export function detectLayout(mountinfo: string, only?: 2): Layout | null {
  const v1: { controllers: string[]; mount: string }[] = [];
  let v2: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const mount = unescapeMount(before[4] ?? '');
    if (fstype === 'cgroup') {
      const controllers = superOpts.split(',').filter((o) => (V1_CONTROLLERS as readonly string[]).includes(o));
      // The same hierarchy mounted twice (a bind mount): the first mount serves.
      if (controllers.length && !v1.some((h) => h.controllers.join() === controllers.join())) v1.push({ controllers, mount });
    } else if (fstype === 'cgroup2' && (v2 === undefined || mount === '/sys/fs/cgroup')) v2 = mount;
  }
  if (v1.length && only !== 2) return { version: 1, hierarchies: v1 };
  return v2 ? { version: 2, mount: v2 } : null;
}

/** What the plan needs to know of the host (probeCgroupHost reads it). */
export interface CgroupHost {
  /** v1: the cpuset hierarchy root's cpus and mems; of minid's parent ('' when empty or missing). */
  cpuset?: { rootCpus: string; rootMems: string; parentCpus: string; parentMems: string };
  /** v2: the controllers the root offers (cgroup.controllers), and those on in the root's and the parent's cgroup.subtree_control. */
  v2?: { available: string[]; rootSubtree: string[]; parentSubtree: string[] };
  /** The kernel limits memory+swap (v1 memory.memsw.limit_in_bytes exists; v2 memory.swap.max). */
  memsw: boolean;
}

export type CgOp =
  | { op: 'mkdir'; path: string; parents?: boolean }
  | { op: 'write'; file: string; value: string }
  | { op: 'rmdir'; path: string }
  /** cgroup v2: load and attach the device program (build/minid-devices, src/runtime/devices.c). */
  | { op: 'devices'; dir: string; rules: string[] };

export interface CgStep {
  name: string;
  why: string;
  apply: CgOp[];
  undo: CgOp[];
  /** Printed, not run: why the step does nothing here. */
  skip?: string;
}

export interface CgroupPlan {
  steps: CgStep[];
  /** The container's own cgroup directories, in the order made (removed in reverse). */
  dirs: string[];
  /** The cgroup.procs files a process writes itself into to join (one per hierarchy). */
  procs: string[];
  /** Does a device allow-list hold in the container's cgroup (see devicePolicyHolds)? */
  devicePolicy: boolean;
}

/** docker's default device allow-list (runc's AllowedDevices): "TYPE MAJOR:MINOR ACCESS". */
export const DEFAULT_DEVICES = [
  'c *:* m', // mknod of any character device (opening it is another matter)
  'b *:* m', // and of any block device
  'c 1:3 rwm', // /dev/null
  'c 1:5 rwm', // /dev/zero
  'c 1:7 rwm', // /dev/full
  'c 1:8 rwm', // /dev/random
  'c 1:9 rwm', // /dev/urandom
  'c 5:0 rwm', // /dev/tty
  'c 5:1 rwm', // /dev/console
  'c 5:2 rwm', // /dev/ptmx
  'c 136:* rwm', // /dev/pts/N
];

/**
 * Does a device policy hold for containers on this layout? On v1 the devices controller
 * enforces DEFAULT_DEVICES; on v2, a BPF_PROG_TYPE_CGROUP_DEVICE program that minid-devices
 * attaches to the container's cgroup. Without one (v1 without the devices controller, or no
 * cgroups at all) CAP_MKNOD must stay dropped: a container could make a node of a host disk
 * and open it.
 */
export function devicePolicyHolds(layout: Layout | null): boolean {
  if (!layout) return false;
  return layout.version === 2 || layout.hierarchies.some((h) => h.controllers.includes('devices'));
}

/** minid-devices, built beside minid-init by `make build`. */
export const devicesBinary = (): string => path.join(packageRoot(), 'build', 'minid-devices');

/** runc's conversion of cpu.shares (2..262144) to v2's cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The limits, the controller each needs, and docker's warning when the host lacks it. */
const LIMIT_CONTROLLERS: [keyof Limits, string, string][] = [
  ['Memory', 'memory', 'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.'],
  ['NanoCpus', 'cpu', 'Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. CPU quota discarded.'],
  ['CpuShares', 'cpu', 'Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.'],
  ['CpusetCpus', 'cpuset', 'Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.'],
  ['PidsLimit', 'pids', 'Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.'],
];

/** The controllers a container's cgroup gets on this host: v1's mounted hierarchies, v2's cgroup.controllers. */
export function hostControllers(layout: Layout, host: CgroupHost): string[] {
  return layout.version === 1 ? layout.hierarchies.flatMap((h) => h.controllers) : (host.v2?.available ?? []);
}

/**
 * A limit whose controller the host lacks (a v1 host without the pids hierarchy, a v2 host
 * whose root does not offer memory) would be silently ignored by the plan: as docker does, it
 * is discarded with a warning instead, so that neither the user nor `inspect` believes it holds.
 */
export function discardUnsupported(l: Limits, controllers: string[], warn: (line: string) => void): Limits {
  const out = { ...l };
  for (const [key, controller, message] of LIMIT_CONTROLLERS) {
    if (controllers.includes(controller) || out[key] === (NO_LIMITS as Limits)[key]) continue;
    warn(`WARNING: ${message}`);
    (out as Record<string, unknown>)[key] = (NO_LIMITS as Limits)[key];
    if (key === 'Memory') out.MemorySwap = NO_LIMITS.MemorySwap;
  }
  return out;
}

/** CFS quota for --cpus: that many periods' worth of CPU time per period. */
export const cfsQuota = (nanoCpus: number): number => Math.round((nanoCpus * CFS_PERIOD_US) / 1e9);

const write = (file: string, value: string | number): CgOp => ({ op: 'write', file, value: String(value) });

/**
 * The cgroup setup of one container: the directories made and the files written, as steps.
 * The parent "minid" is made if missing and kept (other containers, other stores use it);
 * the container's own directories are the undo.
 */
export function planCgroup(layout: Layout, id: string, l: Limits, host: CgroupHost): CgroupPlan {
  const steps: CgStep[] = [];
  const dirs: string[] = [];
  const within: Record<string, string> = {}; // controller -> the container's directory
  const parentSteps: CgOp[] = [];
  const ownSteps: CgOp[] = [];
  if (layout.version === 1) {
    for (const h of layout.hierarchies) {
      const parent = path.join(h.mount, PARENT);
      const dir = path.join(parent, id);
      parentSteps.push({ op: 'mkdir', path: parent, parents: true });
      ownSteps.push({ op: 'mkdir', path: dir });
      dirs.push(dir);
      for (const c of h.controllers) within[c] = dir;
      if (h.controllers.includes('cpuset')) {
        // A new cpuset cgroup starts with no CPUs and no memory nodes, and a process cannot
        // join it until it has some: copy the parent's (the parent's from the root).
        const cs = host.cpuset ?? { rootCpus: '', rootMems: '', parentCpus: '', parentMems: '' };
        if (!cs.parentCpus) parentSteps.push(write(path.join(parent, 'cpuset.cpus'), cs.rootCpus));
        if (!cs.parentMems) parentSteps.push(write(path.join(parent, 'cpuset.mems'), cs.rootMems));
        ownSteps.push(write(path.join(dir, 'cpuset.cpus'), l.CpusetCpus || cs.parentCpus || cs.rootCpus));
        ownSteps.push(write(path.join(dir, 'cpuset.mems'), cs.parentMems || cs.rootMems));
      }
    }
  } else {
    const parent = path.join(layout.mount, PARENT);
    const dir = path.join(parent, id);
    parentSteps.push({ op: 'mkdir', path: parent, parents: true });
    // v2: a controller works in a cgroup only when its parent hands it down (subtree_control).
    const v2 = host.v2 ?? { available: [], rootSubtree: [], parentSubtree: [] };
    const want = V2_CONTROLLERS.filter((c) => v2.available.includes(c));
    const missing = (on: string[]) => want.filter((c) => !on.includes(c)).map((c) => `+${c}`).join(' ');
    if (missing(v2.rootSubtree)) parentSteps.unshift(write(path.join(layout.mount, 'cgroup.subtree_control'), missing(v2.rootSubtree)));
    if (missing(v2.parentSubtree)) parentSteps.push(write(path.join(parent, 'cgroup.subtree_control'), missing(v2.parentSubtree)));
    ownSteps.push({ op: 'mkdir', path: dir });
    dirs.push(dir);
    for (const c of want) within[c] = dir;
    if (l.CpusetCpus && within.cpuset) ownSteps.push(write(path.join(dir, 'cpuset.cpus'), l.CpusetCpus));
  }
  steps.push({
    name: `create the parent cgroup ${PARENT}`,
    why: "shared by every container on the host, kept; made at the hierarchy's root, as docker does",
    apply: parentSteps,
    undo: [],
  });
  steps.push({
    name: "create the container's cgroup",
    why:
      layout.version === 1
        ? 'one directory per hierarchy (cgroup v1): its processes are counted and limited there'
        : 'one directory in the single hierarchy (cgroup v2): its processes are counted and limited there',
    apply: ownSteps,
    undo: [...dirs].reverse().map((d) => ({ op: 'rmdir', path: d })),
  });

  const limit = (name: string, why: string, ops: CgOp[]) => {
    if (ops.length) steps.push({ name, why, apply: ops, undo: [] });
  };
  const m = within.memory;
  if (m && l.Memory > 0) {
    if (layout.version === 1) {
      // memory first: memsw may never be below it.
      const ops = [write(path.join(m, 'memory.limit_in_bytes'), l.Memory)];
      if (l.MemorySwap > 0 && host.memsw) ops.push(write(path.join(m, 'memory.memsw.limit_in_bytes'), l.MemorySwap));
      limit('limit memory', `--memory${l.MemorySwap > 0 ? ' and --memory-swap (memory + swap)' : ''}: past it the kernel reclaims, then the OOM killer ends a process`, ops);
    } else {
      const ops = [write(path.join(m, 'memory.max'), l.Memory)];
      if (l.MemorySwap !== 0 && host.memsw) ops.push(write(path.join(m, 'memory.swap.max'), l.MemorySwap < 0 ? 'max' : l.MemorySwap - l.Memory));
      limit('limit memory', '--memory (memory.max) and the swap part of --memory-swap (memory.swap.max = memory-swap - memory)', ops);
    }
  }
  const cpu = within.cpu;
  if (cpu) {
    const ops: CgOp[] = [];
    if (layout.version === 1) {
      if (l.NanoCpus > 0) ops.push(write(path.join(cpu, 'cpu.cfs_period_us'), CFS_PERIOD_US), write(path.join(cpu, 'cpu.cfs_quota_us'), cfsQuota(l.NanoCpus)));
      if (l.CpuShares > 0) ops.push(write(path.join(cpu, 'cpu.shares'), l.CpuShares));
    } else {
      if (l.NanoCpus > 0) ops.push(write(path.join(cpu, 'cpu.max'), `${cfsQuota(l.NanoCpus)} ${CFS_PERIOD_US}`));
      if (l.CpuShares > 0) ops.push(write(path.join(cpu, 'cpu.weight'), sharesToWeight(l.CpuShares)));
    }
    limit('limit CPU', '--cpus: CPU time per period (CFS quota); --cpu-shares: the weight against other cgroups when the CPUs are busy', ops);
  }
  if (within.pids && l.PidsLimit > 0)
    limit('limit processes', '--pids-limit: fork() and clone() fail with EAGAIN past it (a fork bomb stops there)', [write(path.join(within.pids, 'pids.max'), l.PidsLimit)]);

  const devicePolicy = devicePolicyHolds(layout);
  const deviceWhy = "deny every device, then allow docker's list (null, zero, full, random, urandom, tty, console, ptmx, pts): a node of a host disk opens nothing";
  if (devicePolicy && layout.version === 1)
    steps.push({
      name: 'allow only the default devices',
      why: deviceWhy,
      apply: [write(path.join(within.devices, 'devices.deny'), 'a'), ...DEFAULT_DEVICES.map((d) => write(path.join(within.devices, 'devices.allow'), d))],
      undo: [],
    });
  else if (devicePolicy)
    // v2 has no devices.* files: the kernel asks an eBPF program attached to the cgroup. It
    // goes with the cgroup, so it needs no undo of its own.
    steps.push({
      name: 'allow only the default devices',
      why: `${deviceWhy} (cgroup v2: an eBPF device program attached to the cgroup)`,
      apply: [{ op: 'devices', dir: dirs[0], rules: DEFAULT_DEVICES }],
      undo: [],
    });
  else
    steps.push({
      name: 'allow only the default devices',
      why: 'the devices controller of cgroup v1 enforces the allow-list',
      apply: [],
      undo: [],
      skip: 'this host has no devices controller: no device policy, so CAP_MKNOD stays dropped',
    });

  const procs = dirs.map((d) => path.join(d, 'cgroup.procs'));
  return { steps, dirs, procs, devicePolicy };
}

// --- printing ---------------------------------------------------------------------------

/** One operation as a person would type it. */
export function formatOp(o: CgOp): string {
  if (o.op === 'mkdir') return `mkdir ${o.parents ? '-p ' : ''}${quote(o.path)}`;
  if (o.op === 'rmdir') return `rmdir ${quote(o.path)}`;
  if (o.op === 'devices') return [devicesBinary(), o.dir, ...o.rules].map(quote).join(' ');
  return `echo ${quote(o.value)} > ${quote(o.file)}`;
}

export function formatCgStep(s: CgStep, index: number, total: number): string[] {
  const head = `# [${index}/${total}] ${s.name}: ${s.why}`;
  if (s.skip) return [head, `#   (skipped: ${s.skip})`];
  return [head, ...s.apply.map(formatOp)];
}

// --- doing it ---------------------------------------------------------------------------

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function doOp(o: CgOp): Promise<void> {
  if (o.op === 'devices') await run([devicesBinary(), o.dir, ...o.rules]);
  else doOpSync(o);
}

function doOpSync(o: CgOp): void {
  if (o.op === 'mkdir') {
    try {
      fs.mkdirSync(o.path);
    } catch (e) {
      if (!(o.parents && (e as NodeJS.ErrnoException).code === 'EEXIST')) throw e;
    }
  } else if (o.op === 'write') {
    // One write(2) per value: the kernel takes each write as one command (devices.allow).
    fs.writeFileSync(o.file, o.value);
  } else if (o.op === 'rmdir') rmdirCgroup(o.path);
}

/**
 * rmdir a cgroup; gone already is fine. EBUSY: processes still in it (the last ones of a
 * container that was just killed are still exiting): wait a little.
 */
export function rmdirCgroup(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 100) throw e;
      sleepSync(10);
    }
  }
}

const errText = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}${err.code === 'EINVAL' ? ' (the kernel refused the value)' : ''}` : String(err.message ?? e);
};

/** Carry out the plan; on failure undo what was done and throw one error naming the step. */
export async function applyCgroupPlan(plan: CgroupPlan, opts: { explain?: (l: string) => void; title?: string } = {}): Promise<void> {
  const say = opts.explain;
  const total = plan.steps.length;
  if (opts.title) say?.(`# ${opts.title}`);
  const done: CgStep[] = [];
  for (let i = 0; i < total; i++) {
    const s = plan.steps[i];
    formatCgStep(s, i + 1, total).forEach((l) => say?.(l));
    if (s.skip) continue;
    done.push(s);
    for (const o of s.apply) {
      try {
        await doOp(o);
      } catch (e) {
        say?.(`# step ${i + 1}/${total} failed: ${formatOp(o)}: ${errText(e)}`);
        const left = undoCgroupSteps(done, say);
        throw new MinidError(
          `cgroup setup failed at step ${i + 1}/${total} "${s.name}": ${formatOp(o)}: ${errText(e)}${left.length ? ` (undo left: ${left[0]})` : '; undid the steps already applied'}`,
        );
      }
    }
  }
}

/** The undo of steps (in apply order), in reverse; failures collected, not thrown. */
function undoCgroupSteps(steps: CgStep[], say?: (l: string) => void): string[] {
  const errors: string[] = [];
  for (const s of [...steps].reverse())
    for (const o of s.undo) {
      say?.(formatOp(o));
      try {
        doOpSync(o);
      } catch (e) {
        errors.push(`${formatOp(o)}: ${errText(e)}`);
      }
    }
  return errors;
}

/** Remove a container's cgroups (leaf first, each only its own): rm, --rm, prune, a failed start. */
export function removeCgroups(dirs: string[], say?: (l: string) => void): string[] {
  return undoCgroupSteps([{ name: 'remove', why: '', apply: [], undo: [...dirs].reverse().map((d) => ({ op: 'rmdir', path: d }) as CgOp) }], say);
}

/**
 * `system reset`: remove the shared parent "minid" from every hierarchy where it is empty. A
 * parent that still holds a cgroup (a container of another store) is kept: rmdir refuses a
 * cgroup with children (EBUSY), so this never takes one from under anybody.
 */
export function removeEmptyParents(layout: Layout | null, say?: (l: string) => void): string[] {
  if (!layout) return [];
  const mounts = layout.version === 2 ? [layout.mount] : [...new Set(layout.hierarchies.map((h) => h.mount))];
  const removed: string[] = [];
  for (const m of mounts) {
    const dir = path.join(m, PARENT);
    if (!fs.existsSync(dir)) continue;
    say?.(formatOp({ op: 'rmdir', path: dir }));
    try {
      fs.rmdirSync(dir);
      removed.push(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EBUSY' && code !== 'ENOTEMPTY' && code !== 'ENOENT') throw e;
    }
  }
  return removed;
}

// --- the host ---------------------------------------------------------------------------

const readTrim = (f: string): string => {
  try {
    return fs.readFileSync(f, 'utf8').trim();
  } catch {
    return '';
  }
};

let cachedLayout: Layout | null | undefined;

/**
 * This host's layout. MINID_CGROUPS=off: none, containers run without cgroups. MINID_CGROUPS=v2:
 * the cgroup2 hierarchy even on a hybrid host, whose cgroup2 has no controllers (no limits;
 * they are discarded with a warning), but runs the rest of the v2 code for real: one directory
 * per container, the device program, the cgroup namespace, the removal. For tests.
 */
export function hostLayout(): Layout | null {
  if (cachedLayout !== undefined) return cachedLayout;
  const want = process.env.MINID_CGROUPS;
  if (want === 'off') return (cachedLayout = null);
  return (cachedLayout = detectLayout(readTrim('/proc/self/mountinfo'), want === 'v2' ? 2 : undefined));
}

/** The hierarchy that has a controller (v1), or the one hierarchy (v2). */
export function controllerMount(layout: Layout, controller: string): string | undefined {
  if (layout.version === 2) return layout.mount;
  return layout.hierarchies.find((h) => h.controllers.includes(controller))?.mount;
}

export function probeCgroupHost(layout: Layout): CgroupHost {
  if (layout.version === 1) {
    const cs = controllerMount(layout, 'cpuset');
    const mem = controllerMount(layout, 'memory');
    return {
      cpuset: cs
        ? {
            rootCpus: readTrim(path.join(cs, 'cpuset.cpus')),
            rootMems: readTrim(path.join(cs, 'cpuset.mems')),
            parentCpus: readTrim(path.join(cs, PARENT, 'cpuset.cpus')),
            parentMems: readTrim(path.join(cs, PARENT, 'cpuset.mems')),
          }
        : undefined,
      memsw: !!mem && fs.existsSync(path.join(mem, 'memory.memsw.limit_in_bytes')),
    };
  }
  const words = (f: string) => readTrim(f).split(/\s+/).filter(Boolean);
  return {
    v2: {
      available: words(path.join(layout.mount, 'cgroup.controllers')),
      rootSubtree: words(path.join(layout.mount, 'cgroup.subtree_control')),
      parentSubtree: words(path.join(layout.mount, PARENT, 'cgroup.subtree_control')),
    },
    // swap accounting is built in on v2 kernels unless swapaccount=0 (then the file is absent).
    memsw: !fs.existsSync(path.join(layout.mount, PARENT)) || fs.existsSync(path.join(layout.mount, PARENT, 'memory.swap.max')),
  };
}

/** The host's CPUs as docker counts them, and those a container may be given. */
export function hostCpus(layout: Layout | null): { count: number; available: string } {
  const online = readTrim('/sys/devices/system/cpu/online') || '0';
  const cs = layout && controllerMount(layout, 'cpuset');
  const available = (cs && readTrim(path.join(cs, layout!.version === 1 ? 'cpuset.cpus' : 'cpuset.cpus.effective'))) || online;
  let count = 0;
  for (const part of online.split(',')) {
    const [a, b] = part.split('-').map(Number);
    count += (b ?? a) - a + 1;
  }
  return { count, available };
}

/** Was a process of the cgroup killed for lack of memory (v1 memory.oom_control, v2 memory.events)? */
export function oomKilled(layout: Layout | null, id: string): boolean {
  const dir = layout && controllerMount(layout, 'memory');
  if (!dir) return false;
  const text = readTrim(path.join(dir, PARENT, id, layout!.version === 1 ? 'memory.oom_control' : 'memory.events'));
  const m = /^oom_kill (\d+)$/m.exec(text);
  return !!m && Number(m[1]) > 0;
}
