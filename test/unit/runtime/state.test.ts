import { describe, expect, it } from 'vitest';
import { ago, deriveStatus, parseStat, findContainer, type ContainerState } from '../../../src/runtime/state.js';

describe('process identity', () => {
  it('reads pid and start time from /proc/PID/stat, even with spaces in comm', () => {
    const line = '4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10';
    expect(parseStat(line)).toEqual({ pid: 4242, start: '987654' });
  });
});

describe('status transitions', () => {
  const base: any = { created: '2026-01-01T00:00:00Z' };
  it('created until started', () => expect(deriveStatus(base, undefined, false)).toBe('created'));
  it('running while the process lives', () => expect(deriveStatus({ ...base, startedAt: 'x' }, undefined, true)).toBe('running'));
  it('exited once an exit is recorded', () => expect(deriveStatus({ ...base, startedAt: 'x' }, { exitCode: 0, finishedAt: '' }, true)).toBe('exited'));
  it('exited when the process is gone without a record (kill -9 of the supervisor, reboot)', () =>
    expect(deriveStatus({ ...base, startedAt: 'x' }, undefined, false)).toBe('exited'));
});

describe('container lookup', () => {
  const mk = (id: string, name: string) => ({ config: { id, name }, status: 'exited' }) as unknown as ContainerState;
  const states = [mk('abc1'.padEnd(64, '0'), 'web'), mk('abc2'.padEnd(64, '0'), 'db')];
  it('by name, id, or unique prefix', () => {
    expect(findContainer('web', states).config.name).toBe('web');
    expect(findContainer('abc2', states).config.name).toBe('db');
  });
  it('refuses ambiguous prefixes and unknown names', () => {
    expect(() => findContainer('abc', states)).toThrow(/ambiguous/);
    expect(() => findContainer('nope', states)).toThrow(/no such container: nope/);
  });
});

describe('human times', () => {
  it('reads like docker', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(ago('2026-01-01T00:59:30Z', now)).toBe('30 seconds');
    expect(ago('2026-01-01T00:00:00Z', now)).toBe('About an hour');
  });
});
