// Health checks: docker's HEALTHCHECK. A container may carry a check (from its image's config,
// or --health-cmd and friends); while it runs, its supervisor (shim.sh, launch.ts) keeps a
// health monitor beside it (`minid _health ID`, runtime/healthmonitor.ts) that runs the check
// inside the container every interval, as `minid exec` would, and records the outcome in
//
//   RUN/health.json   docker's State.Health: {Status, FailingStreak, Log: the last 5 results}
//
// which inspect, ps (its STATUS and --filter health=) and the Engine API read. This file holds
// the pure rules (durations, merging with the image, status transitions, ps text); it loads
// nothing heavy, as ps and inspect import it.
import path from 'node:path';
import { fail } from '../errors.js';
import { readJson } from '../sys/jsonfile.js';
import { paths } from '../sys/paths.js';

/** docker's container.HealthConfig, as its image config and Config.Healthcheck carry it (durations in nanoseconds; 0: the default). */
export interface Healthcheck {
  /** ["NONE"] | ["CMD", arg...] | ["CMD-SHELL", command] ([] or absent: the image's). */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** --health-* and --no-healthcheck as typed. */
export interface HealthFlags {
  cmd?: string;
  interval?: string;
  timeout?: string;
  retries?: string;
  startPeriod?: string;
  startInterval?: string;
  none?: boolean;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** docker's State.Health. */
export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

// docker's defaults (daemon/health.go).
export const DEFAULT_INTERVAL = 30e9;
export const DEFAULT_TIMEOUT = 30e9;
export const DEFAULT_START_INTERVAL = 5e9;
export const DEFAULT_RETRIES = 3;
/** Results kept in the Log, and the bytes of output kept of each. */
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_LEN = 4096;

// ----------------------------------------------------------------------------- durations

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * A Go duration (time.ParseDuration), in nanoseconds: "500ms", "2s", "1m30s", "1.5h", "0".
 * undefined when it is not one.
 */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(s)!;
  let rest = m[2];
  if (rest === '0') return 0;
  if (!rest) return undefined;
  let total = 0;
  while (rest) {
    const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!part) return undefined;
    total += parseFloat(part[1]) * UNITS[part[2]];
    rest = rest.slice(part[0].length);
  }
  return Math.round(m[1] === '-' ? -total : total);
}

/** Go's Duration.String(): 30s, 500ms, 1m30s, 1h0m0s, 1.5s. */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e9) {
    const [u, d] = ns < 1e3 ? ['ns', 1] : ns < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${sign}${trim(ns / (d as number))}${u}`;
  }
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trim(s)}s`;
}

const trim = (n: number) => String(Number(n.toFixed(9)));

/** A duration flag: Go's syntax, not negative; docker's daemon refuses 0 < d < 1ms. One line, exit 125. */
function durationFlag(flag: string, v: string): number {
  const ns = parseGoDuration(v);
  if (ns === undefined) fail(`invalid argument "${v}" for "--${flag}" flag: time: invalid duration "${v}": give a duration such as 500ms, 2s or 1m30s`);
  if (ns < 0) fail(`--${flag} cannot be negative: give a duration such as 500ms, 2s or 1m30s`);
  if (ns > 0 && ns < 1e6) fail(`--${flag} cannot be less than 1ms: give 0 (the default) or at least 1ms`);
  return ns;
}

// ----------------------------------------------------------------------------- the config

/**
 * The flags as docker's CLI turns them into a HealthConfig (cli/command/container/opts.go):
 * undefined when no health flag was given (the image's check stands); --no-healthcheck is
 * Test ["NONE"] and goes with no other health flag.
 */
export function parseHealthFlags(f: HealthFlags): Healthcheck | undefined {
  const given = f.cmd !== undefined || f.interval !== undefined || f.timeout !== undefined || f.retries !== undefined || f.startPeriod !== undefined || f.startInterval !== undefined;
  if (f.none) {
    if (given) fail('--no-healthcheck conflicts with --health-* options: give one or the other');
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  const hc: Healthcheck = {};
  if (f.cmd !== undefined && f.cmd !== '') hc.Test = ['CMD-SHELL', f.cmd];
  if (f.interval !== undefined) hc.Interval = durationFlag('health-interval', f.interval);
  if (f.timeout !== undefined) hc.Timeout = durationFlag('health-timeout', f.timeout);
  if (f.startPeriod !== undefined) hc.StartPeriod = durationFlag('health-start-period', f.startPeriod);
  if (f.startInterval !== undefined) hc.StartInterval = durationFlag('health-start-interval', f.startInterval);
  if (f.retries !== undefined) {
    if (!/^-?\d+$/.test(f.retries.trim())) fail(`invalid argument "${f.retries}" for "--health-retries" flag: give a whole number`);
    const n = parseInt(f.retries, 10);
    if (n < 0) fail('--health-retries cannot be negative: give a whole number (0: the default, 3)');
    hc.Retries = n;
  }
  return hc;
}

/** A Test as an image or the Engine API gives it: checked, so that a bad one is refused at create. */
export function checkTest(t: string[] | undefined): void {
  if (!t || !t.length) return;
  const kinds = ['NONE', 'CMD', 'CMD-SHELL'];
  if (!kinds.includes(t[0])) fail(`invalid health check test "${t[0]}": it must start with NONE, CMD or CMD-SHELL`);
  if (t[0] !== 'NONE' && t.length < 2) fail(`invalid health check: ${t[0]} needs a command`);
}

/**
 * The container's check: the user's over the image's, as docker's daemon merges them
 * (daemon/commit.go merge): no user config takes the image's whole; otherwise each field the
 * user left empty (no Test, a zero duration, zero retries) comes from the image. undefined:
 * no check at all (none anywhere, or Test ["NONE"] is kept as docker keeps it: see active).
 */
export function mergeHealthcheck(user: Healthcheck | undefined, image: Healthcheck | undefined | null): Healthcheck | undefined {
  if (!user) return image ? { ...image } : undefined;
  if (!image) return { ...user };
  const out: Healthcheck = { ...user };
  if (!out.Test?.length) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (!out[k] && image[k]) out[k] = image[k];
  return out;
}

/** Config.Healthcheck as docker prints it: Test, then the fields that are set (omitempty). */
export function healthConfigShape(hc: Healthcheck): Healthcheck {
  const out: Healthcheck = { Test: hc.Test ?? [] };
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (hc[k]) out[k] = hc[k];
  return out;
}

/** Is there a check to run? (no Test, or ["NONE"]: none, as docker's daemon sees it.) */
export function activeCheck(hc: Healthcheck | undefined): boolean {
  return !!hc?.Test?.length && hc.Test[0] !== 'NONE';
}

/** The check's command line inside the container: CMD-SHELL through /bin/sh -c, CMD as is. */
export function checkArgv(hc: Healthcheck): string[] {
  const t = hc.Test!;
  return t[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', t.slice(1).join(' ')] : t.slice(1);
}

/** The timings the monitor uses, defaults filled in (nanoseconds). */
export function timings(hc: Healthcheck): { interval: number; timeout: number; startPeriod: number; startInterval: number; retries: number } {
  return {
    interval: hc.Interval || DEFAULT_INTERVAL,
    timeout: hc.Timeout || DEFAULT_TIMEOUT,
    startPeriod: hc.StartPeriod || 0,
    startInterval: hc.StartInterval || DEFAULT_START_INTERVAL,
    retries: hc.Retries || DEFAULT_RETRIES,
  };
}

// ----------------------------------------------------------------------------- transitions

/** A fresh start (docker's initHealthMonitor): starting, no streak; the log of earlier runs stays. */
export function startingHealth(prev?: Health | null): Health {
  return { Status: 'starting', FailingStreak: 0, Log: prev?.Log ?? [] };
}

/**
 * One probe's result applied (docker's handleProbeResult): exit 0 is healthy and ends the
 * streak; a failure while still starting within the start period does not count; otherwise
 * the streak grows, and at `retries` the container is unhealthy. The log keeps the last 5.
 */
export function applyResult(h: Health, r: HealthLogEntry, o: { retries: number; inStartPeriod: boolean }): Health {
  const Log = [...h.Log, { ...r, Output: truncateOutput(r.Output) }].slice(-MAX_LOG_ENTRIES);
  if (r.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (h.Status === 'starting' && o.inStartPeriod) return { ...h, Log };
  const FailingStreak = h.FailingStreak + 1;
  return { Status: FailingStreak >= o.retries ? 'unhealthy' : h.Status, FailingStreak, Log };
}

/** The first 4096 bytes of a check's output, as docker keeps them. */
export function truncateOutput(s: string): string {
  const b = Buffer.from(s);
  return b.length <= MAX_OUTPUT_LEN ? s : b.subarray(0, MAX_OUTPUT_LEN).toString();
}

/**
 * How long until the next probe (docker's getInterval): within the start period, while still
 * starting, the start interval (default 5s, even when the interval is shorter: give
 * --health-start-interval with --health-start-period); else the interval.
 */
export function nextDelay(h: Health, t: ReturnType<typeof timings>, sinceStart: number): number {
  return sinceStart < t.startPeriod && h.Status === 'starting' ? t.startInterval : t.interval;
}

// ----------------------------------------------------------------------------- reading

export const healthFile = (id: string) => path.join(paths.containerRun(id), 'health.json');

/** The recorded health of a container that has a check; null: none (no check, or never started). */
export function readHealth(c: { id: string; healthcheck?: Healthcheck }): Health | null {
  if (!activeCheck(c.healthcheck)) return null;
  return readJson<Health>(healthFile(c.id));
}

/** ps's suffix to "Up 5 seconds": " (healthy)", " (health: starting)", " (unhealthy)"; '' without a check. */
export function healthSuffix(h: Health | null): string {
  if (!h) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}

/** ps --filter health=: starting, healthy, unhealthy, or none (no check, or not started). */
export function healthFilterValue(h: Health | null): string {
  return h ? h.Status : 'none';
}
