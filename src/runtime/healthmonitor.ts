// The health monitor (`minid _health ID`): what dockerd's health goroutine does, for one
// container, as a process its supervisor starts with each run of the container and ends when
// that run ends (shim.sh's hcstart/hcstop: launch.ts). It never outlives the supervisor: if
// that one is gone (killed), the monitor sees its parent change and ends too.
//
// Every interval it runs the check inside the container the way `minid exec` enters it
// (prepareExec: minid-init --exec joins the container's namespaces and cgroup, becomes its
// user), in a process group of its own so that a check past its timeout is killed whole
// (SIGKILL to the group: the check's shell and whatever it started). Each result goes through
// health.ts's rules into RUN/health.json (written by rename); a change of status is an event,
// docker's `health_status: healthy`.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { paths } from '../sys/paths.js';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { spawnProcess } from '../sys/exec.js';
import { loadState } from './state.js';
import { containerAttributes, recordEvent } from './events.js';
import {
  activeCheck, applyResult, checkArgv, formatGoDuration, healthFile, nextDelay, startingHealth, timings, truncateOutput,
  type Health, type HealthLogEntry,
} from './health.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `supervisor`: the supervisor's pid, as it says it ($$): our parent until it is gone. */
export async function healthMonitor(id: string, supervisor: number): Promise<void> {
  const s0 = loadState(id);
  const hc = s0?.config.healthcheck;
  if (!s0 || !hc || !activeCheck(hc)) return;
  const t = timings(hc);
  // (Not process.ppid at our start: the supervisor may already be gone by then.)
  if (process.ppid !== supervisor) return;
  const started = Date.now();
  let check: ChildProcess | undefined;
  let h: Health = startingHealth(readJson<Health>(healthFile(id)));

  // The end: the supervisor's SIGTERM (its run ended) or the supervisor gone. The check's group
  // goes with us (the container's end kills it anyway: it runs in the container's PID namespace).
  // As docker's, a stopped monitor leaves the status "unhealthy" (its words: "for compatibility
  // reasons"); the log stays.
  const end = () => {
    if (check?.pid) killGroup(check.pid);
    try {
      writeJsonAtomic(healthFile(id), { ...h, Status: 'unhealthy' });
    } catch {
      /* the run dir is gone (rm) */
    }
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, end);
  setInterval(() => process.ppid !== supervisor && end(), 250);

  writeJsonAtomic(healthFile(id), h);
  for (;;) {
    await sleep(nextDelay(h, t, (Date.now() - started) * 1e6) / 1e6);
    const s = loadState(id);
    // Removed (the supervisor should have ended us first): nothing left to watch.
    if (!s) end();
    // Not running yet (the start handshake), paused, or ending: no probe this time.
    if (!s || s.status !== 'running' || s.paused) continue;
    let result: HealthLogEntry;
    try {
      result = await probe(id, checkArgv(hc), t.timeout, (c) => (check = c));
    } catch {
      continue; // the container ended meanwhile (prepareExec refused)
    }
    check = undefined;
    // A check the container's end cut short says nothing of its health. (Its PID 1 may be dead
    // while `ps` still says running: the supervisor has not recorded the exit yet; no pid then.)
    const after = loadState(id);
    if (after?.status !== 'running' || !after.pid || !livePid(after.pid)) continue;
    const before = h.Status;
    h = applyResult(h, result, { retries: t.retries, inStartPeriod: (Date.now() - started) * 1e6 < t.startPeriod });
    writeJsonAtomic(healthFile(id), h);
    if (h.Status !== before) {
      recordEvent('container', `health_status: ${h.Status}`, id, containerAttributes(s.config));
      // A cluster node's container: the services' endpoints follow its readiness.
      const { supervisorSync, syncInBackground } = await import('../cluster/follow.js');
      const sync = supervisorSync(s.config);
      if (sync && fs.existsSync(sync.record)) await syncInBackground(sync, `health: ${h.Status}`);
    }
  }
}

/** The container's health FIFO (RUN/health.out), made once: the checks' stdout and stderr. */
async function outputFifo(id: string): Promise<string> {
  const fifo = path.join(paths.containerRun(id), 'health.out');
  if (!fs.statSync(fifo, { throwIfNoEntry: false })?.isFIFO()) {
    fs.rmSync(fifo, { force: true });
    const p = await spawnProcess(['mkfifo', '-m', '600', fifo], { stdio: 'ignore' });
    await new Promise((r) => p.on('close', r));
  }
  return fifo;
}

/** Is the process there and not a zombie (a killed PID 1 waiting for its parent to reap it)? */
function livePid(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * One run of the check: its exit code and output (stdout and stderr together, the first 4 KiB),
 * or, past the timeout, docker's -1 and "Health check exceeded timeout (1s)".
 */
async function probe(id: string, command: string[], timeoutNs: number, running: (c: ChildProcess) => void): Promise<HealthLogEntry> {
  const { prepareExec } = await import('./exec.js');
  const { argv, env } = await prepareExec({ ref: id, command, env: [], privileged: false });
  const Start = new Date().toISOString();
  // detached: a session and process group of its own (minid-init's waiter leads it; the check
  // stays in it), so one kill(-pgid) ends them all.
  // Its stdout and stderr: one FIFO, a real pipe, as docker's. (Node's 'pipe' is a socket pair,
  // and a check that opens /dev/stderr, as nginx -t does for an error log linked there, fails
  // on a socket with ENXIO.)
  const fifo = await outputFifo(id);
  const out = new net.Socket({ fd: fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false });
  const w = fs.openSync(fifo, fs.constants.O_WRONLY);
  let child: ChildProcess;
  try {
    child = await spawnProcess(argv, { env, cleanEnv: true, stdio: ['ignore', w, w], detached: true });
  } catch (e) {
    out.destroy();
    throw e;
  } finally {
    fs.closeSync(w);
  }
  running(child);
  const chunks: Buffer[] = [];
  let size = 0;
  out.on('data', (d: Buffer) => {
    if (size < 2 * 4096) chunks.push(d);
    size += d.length;
  });
  out.on('error', () => {});
  const drained = new Promise((r) => out.once('close', r));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid!);
  }, timeoutNs / 1e6);
  const code = await new Promise<number>((res) => {
    child.on('error', () => res(-1));
    child.on('exit', (c, sig) => res(c ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0)));
  });
  clearTimeout(timer);
  // The output to its end; what the check left behind in its group is ended (no leak).
  await Promise.race([drained, sleep(200)]);
  killGroup(child.pid!);
  out.destroy();
  const End = new Date().toISOString();
  if (timedOut) return { Start, End, ExitCode: -1, Output: `Health check exceeded timeout (${formatGoDuration(timeoutNs)})` };
  return { Start, End, ExitCode: code, Output: truncateOutput(Buffer.concat(chunks).toString()) };
}
