// --restart: docker's restart policies, and what the supervisor (launch.ts, shimScript) and a
// reboot (bootCheck) do with them.
//
//   no               never restart (the default)
//   on-failure[:N]   restart when the command exits non-zero, at most N times (none: no limit)
//   always           restart whatever the exit code; after a reboot too
//   unless-stopped   as always, but not after a reboot if the user had stopped it
//
// A container stopped or killed by the user (`minid stop`, `kill`, `rm -f`, `restart`) is not
// restarted by its supervisor, whatever its policy (docker's HasBeenManuallyStopped): those
// commands leave a marker file first (markStopped). Between two runs the supervisor waits
// docker's back-off: 100 ms, doubled at each restart, back to 100 ms once a run lasted 10 s.
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { paths } from '../sys/paths.js';

export interface RestartPolicy {
  Name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  MaximumRetryCount: number;
}

export const NO_RESTART: RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };

/** --restart as typed ("on-failure:3"), checked; `rm` is --rm (docker refuses the two together). */
export function parseRestartPolicy(v: string | undefined, rm = false): RestartPolicy {
  if (v === undefined || v === '' || v === 'no') return { ...NO_RESTART };
  const [name, count, ...more] = v.split(':');
  const how = 'use no, on-failure[:MAX-RETRIES], always or unless-stopped';
  if (!['on-failure', 'always', 'unless-stopped'].includes(name) || more.length) fail(`invalid restart policy "${v}": ${how}`);
  if (count !== undefined && name !== 'on-failure') fail(`invalid restart policy "${v}": a maximum retry count is only for on-failure (on-failure:3)`);
  if (count !== undefined && !/^\d+$/.test(count)) fail(`invalid restart policy "${v}": the maximum retry count must be a whole number (on-failure:3)`);
  if (rm) fail(`conflicting options: --restart ${v} and --rm: a container removed when it exits cannot be restarted; drop one of them`);
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

/**
 * Set by the user's stop, kill, rm -f and restart (before the signal): the supervisor does not
 * restart the container, and after a reboot an unless-stopped one stays stopped. In the store
 * (a reboot keeps it); a start clears it.
 */
export const stoppedMarker = (id: string) => path.join(paths.container(id), 'stopped-by-user');

export function markStopped(id: string): void {
  try {
    fs.writeFileSync(stoppedMarker(id), '');
  } catch {
    /* removed meanwhile */
  }
}

/** The supervisor's count of restarts of this run (docker's RestartCount); a start resets it. */
export const restartCountFile = (id: string) => path.join(paths.containerRun(id), 'restart-count');
/** Present while the supervisor waits to restart the container (docker's State.Restarting). */
export const restartWaitFile = (id: string) => path.join(paths.containerRun(id), 'restart-wait');

export function restartCount(id: string): number {
  try {
    return parseInt(fs.readFileSync(restartCountFile(id), 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

export const isRestarting = (id: string): boolean => fs.existsSync(restartWaitFile(id));

/** A user's stop while the supervisor waits to restart: its sleep ended (the loop then sees the marker). */
export function endRestartWait(id: string): void {
  let pid: number;
  try {
    pid = parseInt(fs.readFileSync(restartWaitFile(id), 'utf8').split(' ')[1], 10);
  } catch {
    return;
  }
  try {
    // Only the supervisor's sleep (a recycled pid would be another process).
    if (pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0')) process.kill(pid, 'SIGTERM');
  } catch {
    /* gone */
  }
}

/**
 * The supervisor's loop (sh), around the line that runs the container (`run`, which sets
 * $code). After each exit: should it run again (the policy, the user's stop marker), after
 * how long (the back-off), counted in restart-count; restart-wait is there while it waits.
 * `first` is the first run's line, `again` a restart's (no handshake with minid then).
 */
export function restartLoop(p: RestartPolicy, files: { count: string; wait: string; stopped: string }, first: string, again: string, onStart: string, onExit: string): string[] {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const L: string[] = [];
  L.push(`restarts=0 delay=100 cmd=first`);
  L.push(`while :; do`);
  L.push(`  began=$(date +%s)`);
  L.push(`  ${onStart}`);
  L.push(`  if [ $cmd = first ]; then ${first}; else ${again}; fi`);
  L.push(`  ${onExit}`);
  L.push(`  cmd=again`);
  // What the policy says about this exit.
  const wants =
    p.Name === 'on-failure'
      ? `[ $code != 0 ]${p.MaximumRetryCount ? ` && [ $restarts -lt ${p.MaximumRetryCount} ]` : ''}`
      : 'true';
  L.push(`  [ -e ${q(files.stopped)} ] && break`);
  L.push(`  ${wants} || break`);
  // 10 s up: the back-off starts again from 100 ms.
  L.push(`  [ $(( $(date +%s) - began )) -ge 10 ] && delay=100`);
  L.push(`  restarts=$((restarts + 1)); echo $restarts > ${q(files.count)}`);
  // The wait: "CODE PID" (the exit code, for ps and inspect; the sleep, which a user's stop ends).
  L.push(`  echo $code > ${q(files.wait)}`);
  L.push(`  sleep $(printf '%d.%03d' $((delay / 1000)) $((delay % 1000))) & echo "$code $!" > ${q(files.wait)}; wait $!`);
  L.push(`  delay=$((delay * 2)); [ $delay -gt 60000 ] && delay=60000`);
  L.push(`  rm -f ${q(files.wait)}`);
  L.push(`  [ -e ${q(files.stopped)} ] && break`);
  L.push(`done`);
  return L;
}
