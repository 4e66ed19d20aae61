// The pure parts of the containers' everyday verbs: the stats object in docker's shape (what the
// CLI computes its columns from) and container prune's filters.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/engine/http.js';
import { prunePicks, statsJson, untilTime } from '../../../src/engine/verbs.js';
import type { Sample } from '../../../src/runtime/stats.js';
import type { ContainerState } from '../../../src/runtime/state.js';

const state = (labels: Record<string, string> = {}, created = '2026-01-01T00:00:00Z') =>
  ({ config: { id: 'a'.repeat(64), name: 'web', labels, created }, status: 'running' }) as unknown as ContainerState;

const x: Sample = {
  cpuNs: 2e9, systemNs: 9e9, onlineCpus: 2, memUsage: 1000, memLimit: 64 << 20, netRx: 10, netTx: 20, blkRead: 4, blkWrite: 5, pids: 3,
  detail: {
    memRaw: 1500,
    memStat: { total_inactive_file: 500 },
    nets: { eth0: { rxBytes: 10, rxPackets: 1, rxErrors: 0, rxDropped: 0, txBytes: 20, txPackets: 2, txErrors: 0, txDropped: 0 } },
    blkio: [{ major: 8, minor: 0, op: 'Read', value: 4 }, { major: 8, minor: 0, op: 'Write', value: 5 }],
  },
};

describe('engine: stats', () => {
  it("docker's StatsJSON: usage before the cache is taken off (the CLI takes total_inactive_file off), precpu from the sample before", () => {
    const j = statsJson(state(), { at: '2026-01-01T00:00:01Z', x }, { at: '2026-01-01T00:00:00Z', x: { ...x, cpuNs: 1e9, systemNs: 7e9 } });
    expect(j).toMatchObject({
      read: '2026-01-01T00:00:01Z',
      preread: '2026-01-01T00:00:00Z',
      name: '/web',
      pids_stats: { current: 3 },
      memory_stats: { usage: 1500, limit: 64 << 20, stats: { total_inactive_file: 500 } },
      cpu_stats: { cpu_usage: { total_usage: 2e9 }, system_cpu_usage: 9e9, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1e9 }, system_cpu_usage: 7e9 },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20, rx_packets: 1, tx_packets: 2 } },
      blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 4 }, { major: 8, minor: 0, op: 'Write', value: 5 }] },
    });
  });
  it('a container that is not running: the empty object, Go zero times', () => {
    const j = statsJson(state(), { at: '2026-01-01T00:00:01Z' }, undefined);
    expect(j).toMatchObject({ preread: '0001-01-01T00:00:00Z', memory_stats: {}, pids_stats: {}, cpu_stats: { cpu_usage: { total_usage: 0 } } });
    expect(j).not.toHaveProperty('networks');
  });
});

describe('engine: container prune filters', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  it('until: Unix seconds, a date, a duration back from now; anything else is 400', () => {
    expect(untilTime('1767225600', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(untilTime('2026-01-01T00:00:00Z', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(untilTime('1h30m', now)).toBe(now - 5400e3);
    expect(() => untilTime('yesterday', now)).toThrow(ApiError);
  });
  it('label=K[=V] must all hold, label!= none; created before until; other keys are 400', () => {
    const pick = prunePicks({ label: ['team', 'env=dev'], 'label!': ['keep'] }, now);
    expect(pick(state({ team: 'x', env: 'dev' }))).toBe(true);
    expect(pick(state({ team: 'x', env: 'prod' }))).toBe(false);
    expect(pick(state({ team: 'x', env: 'dev', keep: '1' }))).toBe(false);
    expect(prunePicks({ until: ['12h'] }, now)(state({}, '2026-01-01T00:00:00Z'))).toBe(true);
    expect(prunePicks({ until: ['48h'] }, now)(state({}, '2026-01-01T00:00:00Z'))).toBe(false);
    expect(prunePicks({}, now)(state())).toBe(true);
    expect(() => prunePicks({ color: ['red'] })).toThrow("Invalid filter 'color'");
  });
});
