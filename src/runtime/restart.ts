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
import { paths, runRoot } from '../sys/paths.js';

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
 * `first` is the first run's line, `again` a restart's (no handshake with minid then);
 * `onWait` runs once the wait file says "restarting" (a cluster node's container: the services
 * drop it as an endpoint until it runs again).
 */
export function restartLoop(p: RestartPolicy, files: { count: string; wait: string; stopped: string }, first: string, again: string, onStart: string, onExit: string, onWait = ':'): string[] {
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
  // Each file is written whole, then renamed over the old one: a reader (inspect, ps) never
  // sees it empty (`>` truncates first).
  L.push(`  restarts=$((restarts + 1)); echo $restarts > ${q(files.count + '.new')}; mv -f ${q(files.count + '.new')} ${q(files.count)}`);
  // The wait: "CODE PID" (the exit code, for ps and inspect; the sleep, which a user's stop ends).
  L.push(`  echo $code > ${q(files.wait + '.new')}; mv -f ${q(files.wait + '.new')} ${q(files.wait)}`);
  if (onWait !== ':') L.push(`  ${onWait}`);
  L.push(`  sleep $(printf '%d.%03d' $((delay / 1000)) $((delay % 1000))) & echo "$code $!" > ${q(files.wait + '.new')}; mv -f ${q(files.wait + '.new')} ${q(files.wait)}; wait $!`);
  L.push(`  delay=$((delay * 2)); [ $delay -gt 60000 ] && delay=60000`);
  L.push(`  rm -f ${q(files.wait)}`);
  L.push(`  [ -e ${q(files.stopped)} ] && break`);
  L.push(`done`);
  return L;
}

// ----------------------------------------------------------------------------- after a reboot

/** Which boot the --restart containers were last brought back for: the kernel's boot id. */
export const bootMarker = () => path.join(runRoot(), 'boot');

function currentBoot(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * A reboot ends every container and its supervisor; there is no daemon to bring them back.
 * So the first minid command after a boot (any command run as root: a stat and two small
 * reads when there is nothing to do) starts again, as dockerd does when it starts, each
 * container that ran before and whose policy says so: always; unless-stopped, unless the
 * user had stopped it; on-failure, if it did not exit 0 (a reboot's end counts as a failure).
 * `minid system boot` does the same at boot time (a systemd unit: docs/lifecycle.md). Returns
 * the names started, and why others could not be.
 */
export const lastBoot: { started: string[]; failed: string[] } = { started: [], failed: [] };

export async function bootCheck(): Promise<{ started: string[]; failed: string[] }> {
  const none = { started: [], failed: [] };
  const boot = currentBoot();
  const seen = () => {
    try {
      return fs.readFileSync(bootMarker(), 'utf8').trim() === boot;
    } catch {
      return false;
    }
  };
  if (seen()) return none;
  const { withLock } = await import('../sys/lock.js');
  return withLock('boot', async () => {
    if (seen()) return none;
    // First (at most once a boot: a container that cannot start is not retried by every command).
    fs.writeFileSync(bootMarker(), boot + '\n');
    const { listStates } = await import('./state.js');
    const wanted = listStates().filter((s) => {
      const p = s.config.restartPolicy;
      if (!p || s.status !== 'exited' || !s.config.startedAt) return false;
      if (p.Name === 'always') return true;
      if (p.Name === 'unless-stopped') return !fs.existsSync(stoppedMarker(s.config.id));
      return p.Name === 'on-failure' && (s.exit?.exitCode ?? 255) !== 0;
    });
    if (!wanted.length) return none;
    const { releaseContainer } = await import('./container.js');
    const { startExisting } = await import('./start.js');
    const { loadState } = await import('./state.js');
    // What the last boot left attached (its network records, its undo steps) released first.
    for (const w of wanted) await releaseContainer(w.config.id, { remove: false }).catch(() => {});
    const started: string[] = [];
    const failed: string[] = [];
    for (const w of wanted) {
      const s = loadState(w.config.id);
      if (!s) continue;
      try {
        await startExisting(s, {});
        started.push(s.config.name);
      } catch (e) {
        failed.push(`${s.config.name}: ${(e as Error).message}`);
      }
    }
    Object.assign(lastBoot, { started, failed });
    return { started, failed };
  });
}
