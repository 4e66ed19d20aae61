import { describe, expect, it } from 'vitest';
import { humanDuration, since, statusText, table } from '../../../src/cli/format.js';
import type { ContainerState } from '../../../src/runtime/state.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

describe('how long ago, as docker says it (units.HumanDuration)', () => {
  it('cuts seconds and minutes, rounds hours', () => {
    expect(humanDuration(0)).toBe('Less than a second');
    expect(humanDuration(999)).toBe('Less than a second');
    expect(humanDuration(1.9 * S)).toBe('1 second');
    expect(humanDuration(59.9 * S)).toBe('59 seconds');
    expect(humanDuration(60 * S)).toBe('About a minute');
    expect(humanDuration(119 * S)).toBe('About a minute');
    expect(humanDuration(2 * MIN)).toBe('2 minutes');
    expect(humanDuration(59 * MIN + 59 * S)).toBe('59 minutes');
    expect(humanDuration(89 * MIN)).toBe('About an hour');
    expect(humanDuration(90 * MIN)).toBe('2 hours');
    expect(humanDuration(47 * H + 29 * MIN)).toBe('47 hours');
    expect(humanDuration(47 * H + 30 * MIN)).toBe('2 days');
    expect(humanDuration(13 * DAY)).toBe('13 days');
    expect(humanDuration(14 * DAY)).toBe('2 weeks');
    expect(humanDuration(60 * DAY)).toBe('2 months');
    expect(humanDuration(730 * DAY)).toBe('2 years');
    expect(humanDuration(-5 * S)).toBe('Less than a second');
  });
  it('"ago" for CREATED columns, N/A without a time', () => {
    const now = Date.parse('2024-03-01T00:00:00Z');
    expect(since('2024-02-29T23:59:30Z', now)).toBe('30 seconds ago');
    expect(since('2024-02-29T23:00:00Z', now)).toBe('About an hour ago');
    expect(since('2024-02-27T00:00:00Z', now)).toBe('3 days ago');
    expect(since('2024-01-10T00:00:00Z', now)).toBe('7 weeks ago');
    expect(since('2023-10-01T00:00:00Z', now)).toBe('5 months ago');
    expect(since('2021-01-01T00:00:00Z', now)).toBe('3 years ago');
    expect(since(undefined, now)).toBe('N/A');
    expect(since('not a time', now)).toBe('N/A');
  });
});

describe("docker ps's STATUS", () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  const state = (s: Partial<ContainerState>, startedAt?: string): ContainerState =>
    ({ config: { startedAt } as ContainerState['config'], status: 'created', ...s }) as ContainerState;
  it('created, up, exited', () => {
    expect(statusText(state({}), now)).toBe('Created');
    expect(statusText(state({ status: 'running' }, '2026-01-01T00:59:57Z'), now)).toBe('Up 3 seconds');
    expect(statusText(state({ status: 'exited', exit: { exitCode: 0, finishedAt: '2026-01-01T00:55:00Z' } }), now)).toBe('Exited (0) 5 minutes ago');
    expect(statusText(state({ status: 'exited', exit: { exitCode: 255, finishedAt: '' } }), now)).toBe('Exited (255)');
    expect(statusText(state({ status: 'exited' }), now)).toBe('Exited (255)');
  });
});

describe('tables', () => {
  // docker's tabwriter (minwidth 10, padding 3), as `docker ps` printed it on this machine:
  // "CONTAINER ID   IMAGE     COMMAND       CREATED ..." (IMAGE padded to 10 for "busybox").
  it('pad columns to at least ten characters, three spaces after the longest cell, the last one not', () => {
    expect(table(['A', 'BB'], [['ccc', 'd']])).toBe('A         BB\nccc       d\n');
    expect(table(['A', 'BB'], [['longer-than-7', 'y']])).toBe('A               BB\nlonger-than-7   y\n');
    expect(table(['A', 'PORTS', 'NAMES'], [['a', '', 'web']])).toBe(`A${' '.repeat(9)}PORTS${' '.repeat(5)}NAMES\na${' '.repeat(19)}web\n`);
    expect(table(['A', 'B'], [])).toBe('A         B\n');
  });
});
