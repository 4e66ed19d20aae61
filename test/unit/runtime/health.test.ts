import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  activeCheck, applyResult, checkArgv, checkTest, formatGoDuration, healthConfigShape, healthFilterValue, healthSuffix, mergeHealthcheck,
  nextDelay, parseGoDuration, parseHealthFlags, startingHealth, timings, truncateOutput, type Health,
} from '../../../src/runtime/health.js';
import { shimScript, unshareArgs } from '../../../src/runtime/launch.js';
import { statusText } from '../../../src/cli/format.js';
import type { ContainerState } from '../../../src/runtime/state.js';

const MS = 1e6;
const S = 1e9;

describe('Go durations (the --health-* flags, as docker parses them)', () => {
  it('reads what time.ParseDuration reads', () => {
    expect(parseGoDuration('500ms')).toBe(500 * MS);
    expect(parseGoDuration('2s')).toBe(2 * S);
    expect(parseGoDuration('1m30s')).toBe(90 * S);
    expect(parseGoDuration('1.5h')).toBe(5400 * S);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10us')).toBe(10_000);
    expect(parseGoDuration('-1s')).toBe(-S);
  });
  it('refuses what it refuses: no unit, unknown units, empty', () => {
    for (const bad of ['5', '', 's', '5x', '1d', '1s ', ' 1s', '1..5s']) expect(parseGoDuration(bad)).toBeUndefined();
  });
  it("writes them as Go's Duration.String()", () => {
    expect(formatGoDuration(30 * S)).toBe('30s');
    expect(formatGoDuration(500 * MS)).toBe('500ms');
    expect(formatGoDuration(90 * S)).toBe('1m30s');
    expect(formatGoDuration(3600 * S)).toBe('1h0m0s');
    expect(formatGoDuration(1.5 * S)).toBe('1.5s');
  });
});

describe('the flags, and the image config merged as docker merges them', () => {
  it('no health flag: undefined (the image decides); --health-cmd is CMD-SHELL', () => {
    expect(parseHealthFlags({})).toBeUndefined();
    expect(parseHealthFlags({ cmd: 'curl -f localhost', interval: '2s', retries: '5', startPeriod: '1m', timeout: '500ms', startInterval: '100ms' })).toEqual({
      Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 2 * S, Retries: 5, StartPeriod: 60 * S, Timeout: 500 * MS, StartInterval: 100 * MS,
    });
    expect(parseHealthFlags({ none: true })).toEqual({ Test: ['NONE'] });
  });
  it('bad values: one line each, exit 125', () => {
    const why = (f: Parameters<typeof parseHealthFlags>[0]) => {
      try {
        parseHealthFlags(f);
      } catch (e) {
        return [(e as { exitCode: number }).exitCode, (e as Error).message];
      }
      return 'accepted';
    };
    expect(why({ interval: '5x' })).toEqual([125, expect.stringContaining('invalid argument "5x" for "--health-interval" flag')]);
    expect(why({ timeout: '-1s' })).toEqual([125, expect.stringContaining('--health-timeout cannot be negative')]);
    expect(why({ startPeriod: '10us' })).toEqual([125, expect.stringContaining('less than 1ms')]);
    expect(why({ retries: 'three' })).toEqual([125, expect.stringContaining('--health-retries')]);
    expect(why({ retries: '-1' })).toEqual([125, expect.stringContaining('cannot be negative')]);
    expect(why({ none: true, cmd: 'true' })).toEqual([125, expect.stringContaining('--no-healthcheck conflicts with --health-* options')]);
    for (const w of [why({ interval: '5x' }), why({ none: true, cmd: 'x' })]) expect((w as string[])[1]).not.toContain('\n');
    expect(() => checkTest(['SHELL', 'x'])).toThrow(/NONE, CMD or CMD-SHELL/);
    expect(() => checkTest(['CMD'])).toThrow(/needs a command/);
  });
  const image = { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 10 * S, Retries: 4 };
  it("no flags: the image's; flags: theirs, each empty field from the image", () => {
    expect(mergeHealthcheck(undefined, image)).toEqual(image);
    expect(mergeHealthcheck(undefined, undefined)).toBeUndefined();
    expect(mergeHealthcheck({ Retries: 2 }, image)).toEqual({ ...image, Retries: 2 });
    expect(mergeHealthcheck({ Test: ['CMD-SHELL', 'true'], Timeout: S }, image)).toEqual({ Test: ['CMD-SHELL', 'true'], Timeout: S, Interval: 10 * S, Retries: 4 });
    // --no-healthcheck: kept as docker keeps it (Config.Healthcheck.Test ["NONE"]), and nothing runs.
    const none = mergeHealthcheck({ Test: ['NONE'] }, image);
    expect(none?.Test).toEqual(['NONE']);
    expect(activeCheck(none)).toBe(false);
    expect(activeCheck(image)).toBe(true);
    expect(activeCheck({ Interval: S })).toBe(false);
  });
  it('runs CMD-SHELL by /bin/sh -c and CMD as is; the defaults (30s, 30s, 0s, 5s, 3)', () => {
    expect(checkArgv({ Test: ['CMD-SHELL', 'exit 1'] })).toEqual(['/bin/sh', '-c', 'exit 1']);
    expect(checkArgv({ Test: ['CMD', 'pg_isready', '-q'] })).toEqual(['pg_isready', '-q']);
    expect(timings({ Test: ['CMD', 'x'] })).toEqual({ interval: 30 * S, timeout: 30 * S, startPeriod: 0, startInterval: 5 * S, retries: 3 });
  });
  it("Config.Healthcheck as docker prints it: zero fields left out", () => {
    expect(healthConfigShape({ Test: ['CMD-SHELL', 'x'], Interval: S, Retries: 0 })).toEqual({ Test: ['CMD-SHELL', 'x'], Interval: S });
  });
});

describe('status transitions (docker\'s handleProbeResult)', () => {
  const at = (ExitCode: number, Output = '') => ({ Start: '2026-01-01T00:00:00Z', End: '2026-01-01T00:00:01Z', ExitCode, Output });
  const apply = (h: Health, codes: number[], inStartPeriod = false, retries = 3) => codes.reduce((x, c) => applyResult(x, at(c), { retries, inStartPeriod }), h);
  it('starts as starting; a success makes it healthy and ends the streak', () => {
    const h = startingHealth();
    expect(h).toEqual({ Status: 'starting', FailingStreak: 0, Log: [] });
    expect(apply(h, [1, 0])).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
  });
  it('unhealthy once the streak reaches the retries (not before)', () => {
    const h = startingHealth();
    expect(apply(h, [1, 1])).toMatchObject({ Status: 'starting', FailingStreak: 2 });
    expect(apply(h, [1, 1, 1])).toMatchObject({ Status: 'unhealthy', FailingStreak: 3 });
    expect(apply(h, [0, 1, 1])).toMatchObject({ Status: 'healthy', FailingStreak: 2 });
    expect(apply(h, [0, 1, 1, 1, 1])).toMatchObject({ Status: 'unhealthy', FailingStreak: 4 });
    expect(apply(h, [0, 1, 1, 1, 0])).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    expect(apply(h, [1], false, 1)).toMatchObject({ Status: 'unhealthy' });
  });
  it('the start period: failures do not count while starting; a success counts', () => {
    const h = startingHealth();
    expect(apply(h, [1, 1, 1, 1], true)).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(apply(h, [1, 1, 0], true)).toMatchObject({ Status: 'healthy' });
    // Healthy once within the period: its failures count from then on.
    expect(apply(apply(h, [0], true), [1, 1, 1], true)).toMatchObject({ Status: 'unhealthy', FailingStreak: 3 });
  });
  it('keeps the last 5 results, each output cut at 4096 bytes; a restart keeps the log, resets the rest', () => {
    const h = apply(startingHealth(), [1, 2, 3, 4, 5, 6, 7]);
    expect(h.Log.map((l) => l.ExitCode)).toEqual([3, 4, 5, 6, 7]);
    expect(applyResult(h, at(0, 'x'.repeat(5000)), { retries: 3, inStartPeriod: false }).Log.at(-1)!.Output).toHaveLength(4096);
    expect(Buffer.byteLength(truncateOutput('é'.repeat(3000)))).toBeLessThanOrEqual(4096 + 3);
    expect(startingHealth(h)).toEqual({ Status: 'starting', FailingStreak: 0, Log: h.Log });
  });
  it('probes at the start interval while starting within the start period, else at the interval', () => {
    const t = timings({ Test: ['CMD', 'x'], Interval: 10 * S, StartPeriod: 60 * S, StartInterval: S });
    expect(nextDelay(startingHealth(), t, 5 * S)).toBe(S);
    expect(nextDelay({ ...startingHealth(), Status: 'healthy' }, t, 5 * S)).toBe(10 * S);
    expect(nextDelay(startingHealth(), t, 61 * S)).toBe(10 * S);
    expect(nextDelay(startingHealth(), timings({ Test: ['CMD', 'x'], Interval: 10 * S }), 0)).toBe(10 * S);
  });
});

describe('what ps says', () => {
  const running = { config: { startedAt: '2026-01-01T00:59:55Z' }, status: 'running' } as unknown as ContainerState;
  const now = Date.parse('2026-01-01T01:00:00Z');
  const h = (Status: Health['Status']): Health => ({ Status, FailingStreak: 0, Log: [] });
  it('"Up 5 seconds (healthy)", "(health: starting)", "(unhealthy)"; nothing without a check', () => {
    expect(statusText(running, now, h('healthy'))).toBe('Up 5 seconds (healthy)');
    expect(statusText(running, now, h('starting'))).toBe('Up 5 seconds (health: starting)');
    expect(statusText(running, now, h('unhealthy'))).toBe('Up 5 seconds (unhealthy)');
    expect(statusText(running, now, null)).toBe('Up 5 seconds');
    expect(statusText(running, now)).toBe('Up 5 seconds');
    expect(statusText({ ...running, paused: true }, now, h('healthy'))).toBe('Up 5 seconds (Paused)');
    expect(healthSuffix(null)).toBe('');
  });
  it('--filter health: the status, or none', () => {
    expect(healthFilterValue(h('starting'))).toBe('starting');
    expect(healthFilterValue(null)).toBe('none');
  });
});

describe('the supervisor runs the monitor beside each run of the container', () => {
  const base = { id: 'a'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/exit.json', launch: unshareArgs({ newNet: false }), init: ['/b/minid-init'] };
  const health = ['/m/bin/minid', '_health', 'a'.repeat(64)];
  it('hcstart before the run, hcstop after it (before the exit is recorded); stdio and the handshake fds closed', () => {
    const s = shimScript({ ...base, health, healthLog: '/r/health.err' });
    expect(s).toContain(`hcstart() { /m/bin/minid _health ${'a'.repeat(64)} $$ </dev/null >/dev/null 2>>/r/health.err 3>&- 4<&- 5>&- & hc=$!; }`);
    const lines = s.split('\n');
    expect(lines).toContain('hcstart; run unshare --pid --fork --kill-child --mount --uts --ipc --propagation private -- /b/minid-init; hcstop');
    expect(lines.findIndex((l) => l.startsWith('hcstart;'))).toBeLessThan(lines.findIndex((l) => l.startsWith('printf ')));
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
    expect(shimScript(base)).not.toContain('hcstart');
  });
  it('with --restart: each run (the first and every restart) gets its own monitor', () => {
    const s = shimScript({ ...base, health, restart: { Name: 'always', MaximumRetryCount: 0 }, initAgain: ['/b/minid-init', '--again'], stoppedFile: '/c/stopped' });
    expect(s).toMatch(/then hcstart; run .* \/b\/minid-init; hcstop; exec 4<&- 5>&-; else hcstart; run .* --again; hcstop; fi/);
    expect(execFileSync('sh', ['-n', '-c', s]).toString()).toBe('');
  });
  it('hcstop ends the monitor and waits for it; the run\'s exit code stays', () => {
    const fns = s2();
    const out = execFileSync('sh', ['-c', `${fns}\nhcstart; code=7; hcstop; echo "$code $hc"; kill -0 $last 2>/dev/null && echo alive || echo gone`]).toString();
    expect(out).toBe('7 \ngone\n');
  });
});

/** hcstart/hcstop with `sleep 30` as the monitor (its pid kept in $last). */
function s2(): string {
  const s = shimScript({ id: 'b'.repeat(64), name: 'n', runDir: '/r', exitFile: '/c/e', launch: ['true'], init: [], health: ['sleep'], healthLog: '/dev/null' });
  return s.split('\n').filter((l) => l.startsWith('hcstart()') || l.startsWith('hcstop()')).join('\n').replace('hc=$!;', 'hc=$!; last=$!;');
}
