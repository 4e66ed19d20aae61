// `minid create`, `start`, `restart`. `create` is the first half of `run`: the container's
// record, its name, its folder and writable layer, nothing that runs or touches the kernel
// (docker's "Created" status). `start` does the rest, as `run -d` would (`start -a`: as a
// foreground `run`, attached to its output; `-i`: and to its stdin). A container that ran before is started again
// from the same record and writable layer: what its last run left (exit record, run folder,
// cgroup) is cleared first, under its lock. `restart` is stop, then start.
import fs from 'node:fs';
import path from 'node:path';
import { MinidError } from '../errors.js';
import { withLock } from '../sys/lock.js';
import { paths } from '../sys/paths.js';
import { removeCgroups } from './cgroup.js';
import { stoppedMarker } from './restart.js';
import { exitFile, loadState, saveConfig, supervisorAlive, type ContainerConfig, type ContainerState } from './state.js';

/** While `restart` stops a container: its release keeps a --rm container (container.ts). */
export const restartingFile = (id: string) => path.join(paths.containerRun(id), 'restarting');

/** What the last run left, gone: the container is as `create` left it, but for its files. */
async function clearLastRun(id: string): Promise<ContainerConfig> {
  // The last run's supervisor first ends (it records the exit, then runs the release hook):
  // its hook must not come after the new run has started and release that one's network.
  for (let i = 0; i < 500 && supervisorAlive(id); i++) await new Promise((r) => setTimeout(r, 20));
  if (supervisorAlive(id)) throw new MinidError(`container ${id.slice(0, 12)} is still stopping: try again in a moment`, 1);
  return withLock(`container-${id}`, async () => {
    const s = loadState(id);
    if (!s) throw new MinidError(`no such container: ${id}`, 1);
    if (s.status === 'running') throw new MinidError(`container ${s.config.name} is running`, 1);
    fs.rmSync(exitFile(id), { force: true });
    fs.rmSync(stoppedMarker(id), { force: true }); // started again: --restart applies again
    fs.rmSync(paths.containerRun(id), { recursive: true, force: true });
    if (s.config.cgroup) {
      const errors = removeCgroups(s.config.cgroup.dirs);
      if (errors.length) throw new MinidError(`cannot start container ${s.config.name} again: its old cgroup stays: ${errors[0]}`, 1);
      delete s.config.cgroup;
    }
    delete s.config.startedAt;
    saveConfig(s.config);
    return s.config;
  });
}

/**
 * Start a created or exited container. Detached (the default) resolves with 0 once its
 * command runs; attached (`-a`) with the container's exit code (a -t one: or 0 once the
 * detach keys leave it running). A running one is left as it
 * is (docker's `start` of a running container succeeds).
 */
export async function startExisting(s: ContainerState, o: { attach?: boolean; interactive?: boolean; detachKeys?: Buffer; waitClient?: boolean }): Promise<number> {
  if (s.status === 'running' || s.status === 'restarting') return 0;
  const c = await clearLastRun(s.config.id);
  const rt = await import('./container.js');
  const { ForegroundSupervisor, holdSignals, runForeground, signalContainer } = await import('./attach.js');
  c.detach = !o.attach;
  c.waitClient = c.tty && !!o.waitClient;
  saveConfig(c);
  const held = holdSignals();
  // Attached, the container reads our stdin only with -i (and only if it was created with -i), as docker's start -ai.
  const fg = c.detach ? undefined : new ForegroundSupervisor({ ...c, interactive: c.interactive && !!o.interactive });
  const spawn = fg ? fg.spawn : rt.spawnDetachedSupervisor(c);
  let started;
  try {
    held.check();
    started = await rt.startContainer(c, { spawn, interrupted: held.check });
  } catch (e) {
    held.release();
    throw e;
  }
  // -t: the detach keys (default ctrl-p,ctrl-q) leave it running, as for `run -it`.
  if (!c.detach) return runForeground({ ...c, interactive: c.interactive && !!o.interactive }, fg, held, { detachKeys: o.detachKeys });
  try {
    await rt.spawnDetached(c, started);
  } finally {
    held.release((sig) => signalContainer(c.id, sig));
  }
  return 0;
}

/** `restart`: stop (stop signal, SIGKILL after `timeoutSec`), then start detached. */
export async function restartContainer(s: ContainerState, timeoutSec?: number): Promise<void> {
  const rt = await import('./container.js');
  if (s.status === 'running' || s.status === 'restarting') {
    // A --rm container is restarted, not removed (docker's rule): the release after this stop
    // sees the marker and keeps it; the start clears the run folder, marker and all.
    fs.writeFileSync(restartingFile(s.config.id), '');
    await rt.stopContainer(s.config.id, timeoutSec);
  }
  const now = loadState(s.config.id);
  if (!now) throw new MinidError(`no such container: ${s.config.name}`, 1);
  await startExisting(now, {});
  const { containerAttributes, recordEvent } = await import('./events.js');
  recordEvent('container', 'restart', now.config.id, containerAttributes(now.config));
}
