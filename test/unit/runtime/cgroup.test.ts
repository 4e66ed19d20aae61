import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DEVICES, detectLayout, devicePolicyHolds, discardUnsupported, formatCgStep, hostControllers, oomKilled, planCgroup, probeCgroupHost, sharesToWeight,
  type CgroupHost, type Layout,
} from '../../../src/runtime/cgroup.js';
import { sample } from '../../../src/runtime/stats.js';
import { NO_LIMITS, type Limits } from '../../../src/runtime/limits.js';

// This machine's /proc/self/mountinfo (the hybrid: v1 controllers, cgroup2 without controllers).
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
// systemd's v1 layout: cpu and cpuacct co-mounted.
const COMOUNTED = `30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory`;
const PURE_V2 = `25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
26 30 0:5 / /proc rw - proc proc rw`;

const ID = 'a'.repeat(64);
const v1Host: CgroupHost = { cpuset: { rootCpus: '0-1', rootMems: '0', parentCpus: '', parentMems: '' }, memsw: true };
const v2Host: CgroupHost = { v2: { available: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'], rootSubtree: ['memory'], parentSubtree: [] }, memsw: true };
const L = (l: Partial<Limits>): Limits => ({ ...NO_LIMITS, ...l });
const script = (p: ReturnType<typeof planCgroup>) => p.steps.flatMap((s, i) => formatCgStep(s, i + 1, p.steps.length));

describe('detectLayout', () => {
  it('v1 hybrid: every controller hierarchy, not name=systemd, not the empty cgroup2', () => {
    const l = detectLayout(HYBRID)!;
    expect(l.version).toBe(1);
    if (l.version !== 1) return;
    expect(l.hierarchies.map((h) => h.mount)).toEqual(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'].map((c) => `/sys/fs/cgroup/${c}`));
  });
  it('v1 with co-mounted controllers: one hierarchy for both', () =>
    expect(detectLayout(COMOUNTED)).toEqual({ version: 1, hierarchies: [{ controllers: ['cpu', 'cpuacct'], mount: '/sys/fs/cgroup/cpu,cpuacct' }, { controllers: ['memory'], mount: '/sys/fs/cgroup/memory' }] }));
  it('pure v2', () => expect(detectLayout(PURE_V2)).toEqual({ version: 2, mount: '/sys/fs/cgroup' }));
  it("the hybrid's cgroup2 when asked for v2 only (MINID_CGROUPS=v2)", () => {
    expect(detectLayout(HYBRID, 2)).toEqual({ version: 2, mount: '/sys/fs/cgroup/unified' });
    expect(detectLayout(COMOUNTED, 2)).toBeNull();
  });
  it('none', () => expect(detectLayout('26 30 0:5 / /proc rw - proc proc rw')).toBeNull());
});

describe('planCgroup on v1 (this machine)', () => {
  const layout = detectLayout(HYBRID)!;
  const p = planCgroup(layout, ID, L({ Memory: 33554432, MemorySwap: 67108864, NanoCpus: 5e8, CpuShares: 512, PidsLimit: 64 }), v1Host);
  const lines = script(p);
  it('a directory per hierarchy under minid/, joined through each cgroup.procs', () => {
    expect(p.dirs).toHaveLength(8);
    expect(p.dirs).toContain(`/sys/fs/cgroup/memory/minid/${ID}`);
    expect(p.procs).toContain(`/sys/fs/cgroup/pids/minid/${ID}/cgroup.procs`);
  });
  it('writes the limits as a person would type them', () => {
    expect(lines).toContain(`mkdir -p /sys/fs/cgroup/memory/minid`);
    expect(lines).toContain(`mkdir /sys/fs/cgroup/memory/minid/${ID}`);
    expect(lines).toContain(`echo 33554432 > /sys/fs/cgroup/memory/minid/${ID}/memory.limit_in_bytes`);
    expect(lines).toContain(`echo 67108864 > /sys/fs/cgroup/memory/minid/${ID}/memory.memsw.limit_in_bytes`);
    expect(lines).toContain(`echo 100000 > /sys/fs/cgroup/cpu/minid/${ID}/cpu.cfs_period_us`);
    expect(lines).toContain(`echo 50000 > /sys/fs/cgroup/cpu/minid/${ID}/cpu.cfs_quota_us`);
    expect(lines).toContain(`echo 512 > /sys/fs/cgroup/cpu/minid/${ID}/cpu.shares`);
    expect(lines).toContain(`echo 64 > /sys/fs/cgroup/pids/minid/${ID}/pids.max`);
    // memory before memory+swap: the kernel refuses memsw below the memory limit
    expect(lines.findIndex((l) => l.includes('limit_in_bytes'))).toBeLessThan(lines.findIndex((l) => l.includes('memsw')));
  });
  it("copies the parent's cpuset (a new one starts empty), the parent's from the root", () => {
    expect(lines).toContain('echo 0-1 > /sys/fs/cgroup/cpuset/minid/cpuset.cpus');
    expect(lines).toContain('echo 0 > /sys/fs/cgroup/cpuset/minid/cpuset.mems');
    expect(lines).toContain(`echo 0-1 > /sys/fs/cgroup/cpuset/minid/${ID}/cpuset.cpus`);
    const again = script(planCgroup(layout, ID, L({ CpusetCpus: '1' }), { ...v1Host, cpuset: { rootCpus: '0-1', rootMems: '0', parentCpus: '0-1', parentMems: '0' } }));
    expect(again).not.toContain('echo 0-1 > /sys/fs/cgroup/cpuset/minid/cpuset.cpus');
    expect(again).toContain(`echo 1 > /sys/fs/cgroup/cpuset/minid/${ID}/cpuset.cpus`);
  });
  it("denies every device, then allows docker's list", () => {
    const dev = `/sys/fs/cgroup/devices/minid/${ID}`;
    const i = lines.indexOf(`echo a > ${dev}/devices.deny`);
    expect(i).toBeGreaterThan(0);
    expect(lines.slice(i + 1)).toEqual(DEFAULT_DEVICES.map((d) => `echo '${d}' > ${dev}/devices.allow`));
    expect(p.devicePolicy).toBe(true);
    expect(devicePolicyHolds(layout)).toBe(true);
  });
  it('undoes only its own directories (leaf first), never the shared parent', () => {
    const undo = p.steps.flatMap((s) => s.undo);
    expect(undo.map((o) => o.op)).toEqual(Array(8).fill('rmdir'));
    expect(undo.map((o) => (o as { path: string }).path)).toEqual([...p.dirs].reverse());
  });
  it('without limits: the cgroups and the device policy only', () => {
    const names = planCgroup(layout, ID, NO_LIMITS, v1Host).steps.map((s) => s.name);
    expect(names).toEqual(['create the parent cgroup minid', "create the container's cgroup", 'allow only the default devices']);
  });
  it('no memsw accounting: no memsw file written', () =>
    expect(script(planCgroup(layout, ID, L({ Memory: 33554432, MemorySwap: 67108864 }), { ...v1Host, memsw: false })).join('\n')).not.toMatch(/memsw/));
});

describe('planCgroup on pure v2', () => {
  const layout = detectLayout(PURE_V2)!;
  const p = planCgroup(layout, ID, L({ Memory: 33554432, MemorySwap: 67108864, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', PidsLimit: 64 }), v2Host);
  const lines = script(p);
  const dir = `/sys/fs/cgroup/minid/${ID}`;
  it('one directory, controllers handed down through subtree_control', () => {
    expect(p.dirs).toEqual([dir]);
    expect(p.procs).toEqual([`${dir}/cgroup.procs`]);
    expect(lines).toContain("echo '+cpuset +cpu +io +pids' > /sys/fs/cgroup/cgroup.subtree_control");
    expect(lines).toContain("echo '+cpuset +cpu +io +memory +pids' > /sys/fs/cgroup/minid/cgroup.subtree_control");
  });
  it('v2 files and values', () => {
    expect(lines).toContain(`echo 33554432 > ${dir}/memory.max`);
    expect(lines).toContain(`echo 33554432 > ${dir}/memory.swap.max`); // memory+swap less memory
    expect(lines).toContain(`echo '50000 100000' > ${dir}/cpu.max`);
    expect(lines).toContain(`echo ${sharesToWeight(512)} > ${dir}/cpu.weight`);
    expect(lines).toContain(`echo 0 > ${dir}/cpuset.cpus`);
    expect(lines).toContain(`echo 64 > ${dir}/pids.max`);
    expect(script(planCgroup(layout, ID, L({ Memory: 33554432, MemorySwap: -1 }), v2Host))).toContain(`echo max > ${dir}/memory.swap.max`);
  });
  it("attaches docker's device list as an eBPF program (minid-devices)", () => {
    expect(p.devicePolicy).toBe(true);
    expect(devicePolicyHolds(layout)).toBe(true);
    const cmd = lines.find((l) => l.includes('minid-devices'));
    expect(cmd).toMatch(new RegExp(`/build/minid-devices ${dir} 'c \\*:\\* m' 'b \\*:\\* m' 'c 1:3 rwm'`));
    expect(cmd).toContain("'c 136:* rwm'");
  });
  it("runc's shares to weight conversion", () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });
});

describe('a limit the host has no controller for is discarded with docker\'s warning, not silently ignored', () => {
  const limits = L({ Memory: 33554432, MemorySwap: 67108864, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', PidsLimit: 64 });
  it('v1 with every hierarchy: kept whole, no warning', () => {
    const warned: string[] = [];
    expect(discardUnsupported(limits, hostControllers(detectLayout(HYBRID)!, v1Host), (l) => warned.push(l))).toEqual(limits);
    expect(warned).toEqual([]);
  });
  it('v2 whose root offers no memory nor pids (a delegated subtree): those two go, with a warning each', () => {
    const warned: string[] = [];
    const host: CgroupHost = { ...v2Host, v2: { available: ['cpuset', 'cpu', 'io'], rootSubtree: [], parentSubtree: [] } };
    const kept = discardUnsupported(limits, hostControllers(detectLayout(PURE_V2)!, host), (l) => warned.push(l));
    expect(kept).toEqual({ ...limits, Memory: 0, MemorySwap: 0, PidsLimit: 0 });
    expect(warned).toEqual([
      'WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
      'WARNING: Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.',
    ]);
    // and the plan writes nothing for them
    expect(script(planCgroup(detectLayout(PURE_V2)!, ID, kept, host)).join('\n')).not.toMatch(/memory\.|pids\./);
  });
  it('v1 without a pids hierarchy (COMOUNTED has cpu,cpuacct and memory only)', () => {
    const warned: string[] = [];
    const kept = discardUnsupported(L({ PidsLimit: 64, Memory: 33554432 }), hostControllers(detectLayout(COMOUNTED)!, v1Host), (l) => warned.push(l));
    expect(kept).toEqual(L({ Memory: 33554432 }));
    expect(warned).toHaveLength(1);
  });
});

// The files a v2 host's kernel keeps, in a temporary tree laid out as /sys/fs/cgroup is: what
// minid reads there (OOM kills, stats, the host's controllers) without a v2 host to run on.
describe('reading a cgroup v2 tree', () => {
  let root: string;
  let layout: Layout;
  const put = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-unit-cgv2-'));
    layout = { version: 2, mount: root };
    put('cgroup.controllers', 'cpuset cpu io memory hugetlb pids rdma misc\n');
    put('cgroup.subtree_control', 'cpu memory\n');
    put('minid/cgroup.subtree_control', 'cpuset cpu io memory pids\n');
    put('minid/memory.swap.max', 'max\n');
    put(`minid/${ID}/memory.events`, 'low 0\nhigh 0\nmax 41\noom 1\noom_kill 1\noom_group_kill 0\n');
    put(`minid/${ID}/cpu.stat`, 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 30\n');
    put(`minid/${ID}/memory.current`, '10485760\n');
    put(`minid/${ID}/memory.stat`, 'anon 8388608\nfile 2097152\nactive_file 0\ninactive_file 2097152\n');
    put(`minid/${ID}/memory.max`, '33554432\n');
    put(`minid/${ID}/io.stat`, '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n');
    put(`minid/${ID}/pids.current`, '3\n');
    const calm = 'b'.repeat(64);
    put(`minid/${calm}/memory.events`, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
    put(`minid/${calm}/memory.max`, 'max\n');
  });
  afterAll(() => root && fs.rmSync(root, { recursive: true, force: true }));

  it('OOMKilled from memory.events oom_kill', () => {
    expect(oomKilled(layout, ID)).toBe(true);
    expect(oomKilled(layout, 'b'.repeat(64))).toBe(false);
    expect(oomKilled(layout, 'c'.repeat(64))).toBe(false); // no cgroup (any more)
  });
  it("the host's controllers and subtree_control, swap accounting", () => {
    expect(probeCgroupHost(layout)).toEqual({
      v2: { available: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'], rootSubtree: ['cpu', 'memory'], parentSubtree: ['cpuset', 'cpu', 'io', 'memory', 'pids'] },
      memsw: true,
    });
  });
  it("a stats sample: CPU time, memory less inactive file cache, the limit, I/O, processes", () => {
    const s = sample(layout, ID, undefined);
    expect(s).toMatchObject({ cpuNs: 1.5e9, memUsage: 8388608, memLimit: 33554432, blkRead: 4096, blkWrite: 8192, pids: 3, netRx: 0, netTx: 0 });
    // memory.max "max": the host's memory is the limit, as docker shows it
    expect(sample(layout, 'b'.repeat(64), undefined).memLimit).toBe(os.totalmem());
  });
});
