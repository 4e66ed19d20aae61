import { describe, expect, it } from 'vitest';
import { deriveStatus, parseStat, findContainer, type ContainerState } from '../../../src/runtime/state.js';

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

describe('the names index', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { nameHolder, recordName, forgetName, saveConfig } = await import('../../../src/runtime/state.js');
  const { paths } = await import('../../../src/sys/paths.js');
  const withStore = async (fn: () => void | Promise<void>) => {
    const saved = process.env.MINID_ROOT;
    process.env.MINID_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-names-'));
    try {
      await fn();
    } finally {
      fs.rmSync(process.env.MINID_ROOT!, { recursive: true, force: true });
      if (saved === undefined) delete process.env.MINID_ROOT;
      else process.env.MINID_ROOT = saved;
    }
  };
  const cfg = (id: string, name: string) => {
    fs.mkdirSync(paths.container(id), { recursive: true });
    saveConfig({ id, name } as any);
  };
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);

  it('answers who holds a name; a forgotten or stale entry is free', () =>
    withStore(() => {
      cfg(A, 'web');
      recordName('web', A);
      expect(nameHolder('web')).toBe(A);
      expect(nameHolder('db')).toBeUndefined();
      forgetName('web', B); // not its holder: kept
      expect(nameHolder('web')).toBe(A);
      fs.rmSync(paths.container(A), { recursive: true }); // removed without forgetName (a crash)
      expect(nameHolder('web')).toBeUndefined();
      cfg(B, 'web');
      recordName('web', B);
      expect(nameHolder('web')).toBe(B);
      forgetName('web', B);
      expect(nameHolder('web')).toBeUndefined();
    }));

  it('is built from the configs for a store made before it existed', () =>
    withStore(() => {
      cfg(A, 'old-one');
      expect(fs.existsSync(paths.names())).toBe(false);
      expect(nameHolder('old-one')).toBe(A);
      expect(fs.readFileSync(path.join(paths.names(), 'old-one'), 'utf8')).toBe(A + '\n');
    }));
});
