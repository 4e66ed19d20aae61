// `minid pause` / `unpause`: the cgroup freezer, as docker does it. The kernel stops every
// process of the container's cgroup where it stands (no signal the container could catch or
// see; a process forked meanwhile is frozen too) and lets them go on at `unpause`:
//   cgroup v1: echo FROZEN > /sys/fs/cgroup/freezer/minid/<id>/freezer.state   (THAWED to go on)
//   cgroup v2: echo 1 > /sys/fs/cgroup/minid/<id>/cgroup.freeze                (0 to go on)
// A container started without cgroups (MINID_CGROUPS=off, a host without a freezer) gets the
// fallback: SIGSTOP to every process of its PID namespace (SIGCONT to go on), and a `paused`
// file under its run directory says so.
// Also here: the container's processes, for `top` and the freezer's own checks.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { paths } from '../sys/paths.js';
import type { ContainerConfig, ContainerState } from './state.js';

type Freezer = { kind: 'v1' | 'v2'; file: string } | { kind: 'signal'; marker: string };

/**
 * How this container is frozen: the freezer file of its cgroup (v1: the directory that has a
 * freezer.state is in the freezer hierarchy; v2: cgroup.freeze), or signals (no freezer).
 */
function freezerOf(c: ContainerConfig): Freezer {
  for (const dir of c.cgroup?.dirs ?? []) {
    if (fs.existsSync(path.join(dir, 'freezer.state'))) return { kind: 'v1', file: path.join(dir, 'freezer.state') };
    if (fs.existsSync(path.join(dir, 'cgroup.freeze'))) return { kind: 'v2', file: path.join(dir, 'cgroup.freeze') };
  }
  return { kind: 'signal', marker: path.join(paths.containerRun(c.id), 'paused') };
}

const readOr = (file: string, fallback: string) => {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
};

/** Is the container (running: `alive`) paused: frozen, or FREEZING on its way there? */
export function pausedNow(c: ContainerConfig, alive: boolean): boolean {
  if (!alive) return false;
  const f = freezerOf(c);
  if (f.kind === 'signal') return fs.existsSync(f.marker);
  const v = readOr(f.file, '');
  return f.kind === 'v1' ? v === 'FROZEN' || v === 'FREEZING' : v === '1';
}

const isPaused = (s: ContainerState) => pausedNow(s.config, s.status === 'running');

/**
 * The host pids of the container's processes: its cgroup's cgroup.procs (exec'd commands
 * join it too), or, without cgroups, every process in its PID namespace.
 */
export function containerPids(s: ContainerState): number[] {
  if (!s.pid) return [];
  const dir = s.config.cgroup?.dirs[0];
  if (dir && fs.existsSync(path.join(dir, 'cgroup.procs')))
    return readOr(path.join(dir, 'cgroup.procs'), '').split('\n').filter(Boolean).map(Number);
  const ns = (pid: number | string) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const mine = ns(s.pid);
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && ns(p) === mine)
    .map(Number);
}

const notRunning = (s: ContainerState) => new MinidError(`container ${s.config.name} is not running: start it first (\`minid start ${s.config.name}\`)`, 1);

/** Freeze (or thaw) every process of the container, and wait until the kernel says it is done. */
async function setFrozen(s: ContainerState, frozen: boolean): Promise<void> {
  const f = freezerOf(s.config);
  if (f.kind === 'signal') {
    for (const pid of containerPids(s)) {
      try {
        process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
      } catch {
        /* gone meanwhile */
      }
    }
    if (frozen) fs.writeFileSync(f.marker, '');
    else fs.rmSync(f.marker, { force: true });
    return;
  }
  const want = f.kind === 'v1' ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0';
  fs.writeFileSync(f.file, want);
  // v1: FREEZING until every task has stopped (a task in an uninterruptible sleep takes a
  // moment); v2: cgroup.events says "frozen 1" once it is done.
  const done = () => (f.kind === 'v1' ? readOr(f.file, '') === want : readOr(path.join(path.dirname(f.file), 'cgroup.events'), '').includes(`frozen ${want}`));
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!done()) throw new MinidError(`container ${s.config.name} did not ${frozen ? 'freeze' : 'thaw'} within 2 seconds (${f.file} says ${readOr(f.file, '?')})`, 1);
}

export async function pauseContainer(s: ContainerState): Promise<void> {
  if (s.status !== 'running') throw notRunning(s);
  if (isPaused(s)) throw new MinidError(`container ${s.config.name} is already paused: \`minid unpause ${s.config.name}\` lets it go on`, 1);
  await setFrozen(s, true);
  const { containerAttributes, recordEvent } = await import('./events.js');
  recordEvent('container', 'pause', s.config.id, containerAttributes(s.config));
}

export async function unpauseContainer(s: ContainerState): Promise<void> {
  if (s.status !== 'running' || !isPaused(s)) throw new MinidError(`container ${s.config.name} is not paused`, 1);
  await setFrozen(s, false);
  const { containerAttributes, recordEvent } = await import('./events.js');
  recordEvent('container', 'unpause', s.config.id, containerAttributes(s.config));
}

/**
 * After stop, kill or rm -f signalled a paused container: thaw it, so that the signal is
 * delivered (a frozen process takes even SIGKILL only once thawed).
 */
export async function thawAfterSignal(s: ContainerState): Promise<void> {
  if (isPaused(s)) await setFrozen(s, false).catch(() => {});
}
