// The container table. One folder per container under /var/lib/minid/containers/<id> holds its
// config (what was asked), its log and its overlay upper/work dirs; the supervisor writes the
// exit record there too, so it survives a reboot. Live facts (pid, supervisor pid) sit under
// /run/minid/containers/<id>, which a reboot wipes. The status shown to users is always
// derived from those files and the kernel's process table, never cached, so `ps` is right
// after a container dies on its own, after `kill -9` of any minid process, and after a reboot.
import fs from 'node:fs';
import path from 'node:path';
import { fail, MinidError } from '../errors.js';
import { readJson, writeJsonAtomic } from '../sys/jsonfile.js';
import { paths, SECRET_FILE_MODE } from '../sys/paths.js';
import type { Volume } from './spec.js';
import type { SecurityOpts } from './security.js';
import type { Attachment, BridgeAttachment } from '../network/index.js';
import { pausedNow } from './pause.js';

export interface NetworkSettings {
  mode: string; // none | host | bridge | container:<name> | <user network> | cni:<name>
  network?: string;
  ports: string[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  /** --dns-option (resolv.conf's options line). */
  dnsOptions?: string[];
  addHosts: string[];
  /** --network-alias (user networks only). */
  aliases?: string[];
  cni?: { confDir?: string; path?: string };
}

export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  image: string;
  imageId: string;
  layers: string[];
  argv: string[];
  env: string[];
  cwd: string;
  user: string;
  uid: number;
  gid: number;
  hostname: string;
  tty: boolean;
  interactive: boolean;
  /** The Engine API's StdinOnce (`docker run -i`): stdin ends when the attached client's input does (launch.ts). */
  stdinOnce?: boolean;
  detach: boolean;
  /**
   * -t, started detached for a client that attached first (the Engine API's `docker run -it`):
   * minid-console keeps the terminal's output until that client connects. Set by each start.
   */
  waitClient?: boolean;
  autoRemove: boolean;
  volumes: Volume[];
  /** The image's VOLUME paths (inspect's Config.Volumes lists them, even one a -v covers). */
  imageVolumes?: string[];
  stopSignal: string;
  /** --stop-timeout: seconds `stop` waits before SIGKILL (absent: 10). */
  stopTimeout?: number;
  /** --read-only and --tmpfs (runtime/spec.ts parseTmpfs). */
  readOnly?: boolean;
  tmpfs?: import('./spec.js').Tmpfs[];
  /** --cidfile, as typed (HostConfig.ContainerIDFile). */
  cidfile?: string;
  exposedPorts: string[];
  net: NetworkSettings;
  /** What the network layer set up (its undo list included): present while attached. Read it with network fromStored(). */
  attachment?: Attachment;
  /** Networks added by `minid network connect` (eth1, eth2, ...), in connect order; see runtime/connect.ts. */
  extraAttachments?: BridgeAttachment[];
  startedAt?: string;
  /** --memory, --cpus, ... as docker's HostConfig has them (runtime/limits.ts). */
  limits?: import('./limits.js').Limits;
  /** The container's own cgroup directories (recorded before they are made, for prune) and the cgroup.procs files to join. */
  cgroup?: { dirs: string[]; procs: string[] };
  /** --cap-add / --cap-drop as typed, --privileged, --security-opt as parsed (profile text kept). */
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  security?: SecurityOpts;
  /** The capabilities the container's root keeps (CAP_ names), computed from the above. */
  caps?: string[];
  /** --log-opt max-size/max-file, parsed (runtime/logwriter.ts); absent: the defaults. */
  logOpts?: import('./logwriter.js').LogOpts;
  /** The image's labels with --label/--label-file over them (docker's Config.Labels). */
  labels?: Record<string, string>;
  /** Config.Entrypoint and Config.Cmd as docker records them (argv is the two joined). */
  entrypoint?: string[];
  cmd?: string[];
  /** --init: minid-init stays PID 1, reaps and forwards signals (HostConfig.Init). */
  init?: boolean;
  /** --restart (runtime/restart.ts); absent: no. */
  restartPolicy?: import('./restart.js').RestartPolicy;
  /** The health check (docker's Config.Healthcheck: the image's with --health-* over it; runtime/health.ts); absent: none. */
  healthcheck?: import('./health.js').Healthcheck;
}

export interface ExitRecord {
  exitCode: number;
  finishedAt: string;
}

/** restarting: its supervisor waits to run it again (--restart; runtime/restart.ts). */
export type Status = 'created' | 'running' | 'restarting' | 'exited';

export interface ContainerState {
  config: ContainerConfig;
  status: Status;
  pid?: number;
  exit?: ExitRecord;
  /** Running, but frozen by `minid pause` (runtime/pause.ts). */
  paused?: boolean;
}

export const configFile = (id: string) => path.join(paths.container(id), 'config.json');
export const exitFile = (id: string) => path.join(paths.container(id), 'exit.json');
export const logFile = (id: string) => path.join(paths.container(id), 'container.log');
export const pidFile = (id: string) => path.join(paths.containerRun(id), 'pid');
export const shimPidFile = (id: string) => path.join(paths.containerRun(id), 'shim.pid');
/** Written by a foreground minid that leaves its container to the supervisor (attach.ts). */
export const leftFile = (id: string) => path.join(paths.containerRun(id), 'left');
/** -t: minid-console's socket (mode 0600), where `run -t` and `attach` reach the container's terminal. */
export const attachSocket = (id: string) => path.join(paths.containerRun(id), 'attach.sock');

/**
 * Is the container's supervisor (shim.sh) still there? undefined: it never started (no
 * shim.pid yet). Its command line names this container's script, so a recycled pid is no match.
 */
export function supervisorAlive(id: string): boolean | undefined {
  let pid: number;
  try {
    pid = parseInt(fs.readFileSync(shimPidFile(id), 'utf8'), 10);
  } catch {
    return undefined;
  }
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '';
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return !state.startsWith('Z') && cmd.includes(path.join(paths.containerRun(id), 'shim.sh'));
  } catch {
    return false;
  }
}

/** Written by rename, readable by root only: a container's config holds its `-e` secrets. */
export function saveConfig(c: ContainerConfig): void {
  writeJsonAtomic(configFile(c.id), c, SECRET_FILE_MODE);
}

export function listIds(): string[] {
  try {
    return fs.readdirSync(paths.containers()).filter((f) => /^[0-9a-f]{64}$/.test(f));
  } catch {
    return [];
  }
}

/** "pid starttime" as written by the init script from the host's /proc/self/stat. */
export function readPid(id: string): { pid: number; start: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(pidFile(id), 'utf8');
  } catch {
    return undefined;
  }
  return parseStat(text);
}

/** Pid and start time (field 22) of a /proc/PID/stat line. The comm field may hold spaces. */
export function parseStat(stat: string): { pid: number; start: string } | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = parseInt(stat, 10);
  const rest = stat.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field 22 is rest[19]
  return Number.isFinite(pid) ? { pid, start: rest[19] } : undefined;
}

/** Is this process still the one we started (not a recycled pid)? */
export function processAlive(p: { pid: number; start: string }): boolean {
  try {
    const now = parseStat(fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8'));
    return !!now && now.start === p.start;
  } catch {
    return false;
  }
}

/** The supervisor's restart-wait file (runtime/restart.ts): "CODE SLEEP-PID", its mtime the exit's time. */
function readRestartWait(id: string): ExitRecord | undefined {
  const f = path.join(paths.containerRun(id), 'restart-wait');
  try {
    const code = parseInt(fs.readFileSync(f, 'utf8'), 10);
    return Number.isFinite(code) ? { exitCode: code, finishedAt: fs.statSync(f).mtime.toISOString() } : undefined;
  } catch {
    return undefined;
  }
}

/** The supervisor's exit record: {"exitCode":N}, written when the container ended (its mtime). */
export function readExitRecord(id: string): ExitRecord | undefined {
  // The supervisor writes it in place, in one write: empty means caught between its open and
  // its write, so read once more.
  const r = readJson<ExitRecord>(exitFile(id)) ?? readJson<ExitRecord>(exitFile(id)) ?? undefined;
  if (r && !r.finishedAt) r.finishedAt = fs.statSync(exitFile(id), { throwIfNoEntry: false })?.mtime.toISOString() ?? '';
  return r;
}

export function deriveStatus(c: ContainerConfig, exit: ExitRecord | undefined, alive: boolean): Status {
  if (exit) return 'exited';
  if (!c.startedAt) return 'created';
  return alive ? 'running' : 'exited';
}

export function loadState(id: string): ContainerState | undefined {
  const config = readJson<ContainerConfig>(configFile(id));
  if (!config) return undefined;
  let exit = readExitRecord(id);
  const p = readPid(id);
  const alive = !!p && processAlive(p);
  let status = deriveStatus(config, exit, alive);
  if (status === 'exited' && !exit && config.startedAt) {
    // PID 1 has just ended and its supervisor records the code a moment later (once the log
    // relay has drained): until then it is still running, as docker says until containerd
    // reports the exit (`wait` would otherwise print 255 for a container that exits 42).
    exit = readExitRecord(id);
    if (!exit && supervisorAlive(id)) status = 'running';
    // Died without its supervisor recording it (supervisor killed, or a reboot): the code is
    // unknown, and said so with 255, the code containerd reports for an exit it could not learn.
    else if (!exit) exit = { exitCode: 255, finishedAt: '' };
  }
  // Restarted by its supervisor (--restart): this run started when its init wrote its pid.
  if (alive && config.restartPolicy && fs.existsSync(path.join(paths.containerRun(id), 'restart-count'))) {
    const t = fs.statSync(pidFile(id), { throwIfNoEntry: false })?.mtime;
    if (t) config.startedAt = t.toISOString();
  }
  // Between two runs of a --restart container: its supervisor waits out the back-off.
  if (status === 'running' && !alive && config.restartPolicy) {
    const wait = readRestartWait(id);
    if (wait) return { config, status: 'restarting', exit: wait, paused: false };
  }
  return { config, status, pid: alive ? p!.pid : undefined, exit, paused: pausedNow(config, status === 'running') };
}

export function listStates(): ContainerState[] {
  return listIds()
    .map(loadState)
    .filter((s): s is ContainerState => !!s)
    .sort((a, b) => b.config.created.localeCompare(a.config.created));
}

/**
 * The names index (paths.names()/NAME holds the id): who is called NAME, without reading every
 * container's config (a start must not cost more as containers accumulate). An entry whose
 * container is gone, or is called otherwise, is free. Callers hold the 'containers' lock.
 */
export function nameHolder(name: string): string | undefined {
  ensureNamesIndex();
  let id: string;
  try {
    id = fs.readFileSync(path.join(paths.names(), name), 'utf8').trim();
  } catch {
    return undefined;
  }
  return /^[0-9a-f]{64}$/.test(id) && readJson<ContainerConfig>(configFile(id))?.name === name ? id : undefined;
}

export function recordName(name: string, id: string): void {
  ensureNamesIndex();
  fs.writeFileSync(path.join(paths.names(), name), id + '\n');
}

export function forgetName(name: string, id: string): void {
  const f = path.join(paths.names(), name);
  try {
    if (fs.readFileSync(f, 'utf8').trim() === id) fs.unlinkSync(f);
  } catch {
    /* not indexed */
  }
}

/** A store from before the index: build it once from the configs. */
function ensureNamesIndex(): void {
  if (fs.existsSync(paths.names())) return;
  const tmp = `${paths.names()}.${process.pid}.tmp`;
  fs.mkdirSync(tmp, { recursive: true });
  for (const n of listNames()) if (n.name) fs.writeFileSync(path.join(tmp, n.name), n.id + '\n');
  try {
    fs.renameSync(tmp, paths.names());
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // someone else built it first
  }
}

/** Every container's id and name (configs only: no process checks). */
export function listNames(): { id: string; name: string }[] {
  return listIds()
    .map((id) => readJson<ContainerConfig>(configFile(id)))
    .filter((c): c is ContainerConfig => !!c)
    .map((c) => ({ id: c.id, name: c.name }));
}

/** Find a container by full id, name, or unique id prefix, like docker. */
export function findContainer(ref: string, states: ContainerState[] = listStates()): ContainerState {
  const exact = states.find((s) => s.config.id === ref || s.config.name === ref || s.config.name === ref.replace(/^\//, ''));
  if (exact) return exact;
  if (/^[0-9a-f]+$/.test(ref)) {
    const m = states.filter((s) => s.config.id.startsWith(ref));
    if (m.length === 1) return m[0];
    if (m.length > 1) fail(`container id prefix "${ref}" is ambiguous: it matches ${m.length} containers; give more characters`);
  }
  throw new NoSuchContainerError(ref);
}

/** No container by that name or id (`rm -f` of one is no failure, as with docker). */
export class NoSuchContainerError extends MinidError {
  constructor(ref: string) {
    super(`no such container: ${ref} (see \`minid ps -a\`)`);
  }
}
