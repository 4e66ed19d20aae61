import { describe, expect, it } from 'vitest';
import { HEADER, blkioEntries, bytesSize, cpuPercent, humanSize, netInterfaces, parseBlkio, parseNetDev, statsRow, systemCpuNs, type Sample } from '../../../src/runtime/stats.js';
import { table } from '../../../src/cli/format.js';

const base: Sample = { cpuNs: 0, systemNs: 0, onlineCpus: 2, memUsage: 0, memLimit: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0 };

describe("docker's units", () => {
  it('decimal, 3 significant digits (net and block I/O)', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(1048)).toBe('1.05kB');
    expect(humanSize(12_345_678)).toBe('12.3MB');
  });
  it('binary, 4 significant digits (memory)', () => {
    expect(bytesSize(2_249_000)).toBe('2.145MiB');
    expect(bytesSize(33554432)).toBe('32MiB');
    expect(bytesSize(512)).toBe('512B');
  });
});

describe('reading the kernel files', () => {
  it('net less lo', () => {
    const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2500      20    0    0    0     0          0         0      700       7    0    0    0     0       0          0`;
    expect(parseNetDev(dev)).toEqual({ rx: 2500, tx: 700 });
    expect(netInterfaces(dev)).toEqual({ eth0: { rxBytes: 2500, rxPackets: 20, rxErrors: 0, rxDropped: 0, txBytes: 700, txPackets: 7, txErrors: 0, txDropped: 0 } });
  });
  it('block I/O on v1 and v2', () => {
    expect(parseBlkio('254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\nTotal 12288', 1)).toEqual({ read: 4096, write: 8192 });
    expect(parseBlkio('254:0 rbytes=4096 wbytes=100 rios=1 wios=1\n253:0 rbytes=4 wbytes=0', 2)).toEqual({ read: 4100, write: 100 });
    expect(blkioEntries('254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\nTotal 12288', 1)).toEqual([
      { major: 254, minor: 0, op: 'Read', value: 4096 },
      { major: 254, minor: 0, op: 'Write', value: 8192 },
    ]);
    expect(blkioEntries('8:16 rbytes=4 wbytes=5 rios=1', 2)).toEqual([
      { major: 8, minor: 16, op: 'Read', value: 4 },
      { major: 8, minor: 16, op: 'Write', value: 5 },
    ]);
  });
  it("the host's CPU time", () => expect(systemCpuNs('cpu  100 0 50 850 0 0 0 0 0 0\ncpu0 1 2 3')).toBe(1000 * 1e7));
});

describe('a row', () => {
  it("CPU % as docker computes it: the container's share of the host's time, times the CPUs", () => {
    // half a core on a 2-CPU host over 1 s: 0.5e9 of 2e9 ns, x2 = 50%
    expect(cpuPercent(base, { ...base, cpuNs: 5e8, systemNs: 2e9 })).toBeCloseTo(50);
    expect(cpuPercent(base, base)).toBe(0);
  });
  it('every column', () => {
    const now = { ...base, cpuNs: 5e8, systemNs: 2e9, memUsage: 2_249_000, memLimit: 33554432, netRx: 1048, netTx: 0, pids: 3 };
    const row = statsRow({ id: 'd22da27c6aaa222cf8cd', name: 'web' }, base, now);
    expect(row).toEqual(['d22da27c6aaa', 'web', '50.00%', '2.145MiB / 32MiB', '6.70%', '1.05kB / 0B', '0B / 0B', '3']);
    expect(statsRow({ id: 'd22da27c6aaa222cf8cd', name: 'web' }, base, now, true)[0]).toBe('d22da27c6aaa222cf8cd');
    // docker's tabwriter: columns at least ten wide ("NAME      CPU %     MEM USAGE / LIMIT ...").
    expect(table(HEADER, [row]).split('\n')[0]).toBe('CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O   PIDS');
  });
});
