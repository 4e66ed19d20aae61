// Container lifecycle: create, start, wait, stop, kill, remove, exec. Each function reads like
// the recipe it is; the kernel work is done by the scripts in launch.ts and the network layer.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { fail, MinidError } from '../errors.js';
import { paths, packageRoot, helperBinary, secureStore, PRIVATE_DIR_MODE, SECRET_FILE_MODE } from '../sys/paths.js';
import { withHostLock, withLock } from '../sys/lock.js';
import { startProcess, type Started } from '../sys/exec.js';
import os from 'node:os';
import * as spec from './spec.js';
import * as sec from './security.js';
import { resolveUser } from './users.js';
import { readImageFile } from './rootfs.js';
import { MASKED_PROC, READONLY_PROC, fstabs, initArgs, shimScript, unshareArgs, type SecurityInit } from './launch.js';
import { supervisorSync } from '../cluster/follow.js';
import { NO_LIMITS, parseLimits, type LimitFlags } from './limits.js';
import { GO_FD, REPORT_FD, decodeReport, readReportLine, sendGo } from './protocol.js';
import * as cgroup from './cgroup.js';
import { loggerArgv, parseLogOpts } from './logwriter.js';
import { endRestartWait, isRestarting, markStopped, parseRestartPolicy, stoppedMarker } from './restart.js';
import { containerAttributes, eventsFile, recordEvent, writeAttributesFile } from './events.js';
import { activeCheck, checkTest, mergeHealthcheck, parseHealthFlags } from './health.js';
import {
  ContainerConfig, ContainerState, ExitRecord, NetworkSettings, configFile, exitFile, findContainer, forgetName, listStates,
  attachSocket, leftFile, loadState, logFile, nameHolder, NoSuchContainerError, readPid, processAlive, recordName, saveConfig, shimPidFile, supervisorAlive,
} from './state.js';

export interface RunRequest {
  image: string;
  args: string[];
  detach: boolean;
  rm: boolean;
  name?: string;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volumes: string[];
  /** --mount type=bind|volume|tmpfs,... (spec.parseMount). */
  mounts?: string[];
  tty: boolean;
  interactive: boolean;
  /** The Engine API's StdinOnce: see ContainerConfig. */
  stdinOnce?: boolean;
  entrypoint?: string;
  net: NetworkSettings;
  /** --memory, --cpus, ... as typed (checked here, runtime/limits.ts). */
  limits?: LimitFlags;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  /** --log-opt KEY=VALUE as typed (runtime/logwriter.ts). */
  logOpts?: string[];
  /** --label / --label-file, parsed (cli). */
  labels?: Record<string, string>;
  /** --expose PORT[/proto] as typed (added to the image's exposed ports; -P publishes them). */
  expose?: string[];
  /** --stop-signal (default: the image's StopSignal, else SIGTERM) and --stop-timeout as typed. */
  stopSignal?: string;
  stopTimeout?: string;
  /** --cidfile: where the new container's id is written (it must not exist yet). */
  cidfile?: string;
  /** --read-only: the container's root is mounted read-only. */
  readOnly?: boolean;
  /** --tmpfs /path[:opts] as typed. */
  tmpfs?: string[];
  /** --init: a tiny init as PID 1 (minid-init stays, reaps and forwards signals). */
  init?: boolean;
  /** --restart as typed (runtime/restart.ts). */
  restart?: string;
  /** --health-cmd, --health-interval, ..., --no-healthcheck as typed (runtime/health.ts). */
  health?: import('./health.js').HealthFlags;
  /** A health check as the Engine API's create gives it (instead of `health`). */
  healthcheck?: import('./health.js').Healthcheck;
  explain?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function initBinary(): string {
  return helperBinary('minid-init');
}

/** minid-console (src/runtime/console.c): the host side of a container's terminal. */
export function consoleBinary(): string {
  return helperBinary('minid-console');
}

/** Validate everything the user typed before touching anything (`net`: the network layer, for its input checks). */
function parseRequest(r: RunRequest, net: Pick<typeof import('../network/index.js'), 'validateNetFileInput' | 'validateDnsOption'>) {
  if (r.name !== undefined) spec.validateName(r.name);
  const restartPolicy = parseRestartPolicy(r.restart, r.rm);
  const volumes = [...r.volumes.map(spec.parseVolume), ...(r.mounts ?? []).map(spec.parseMount)];
  for (const v of volumes) {
    // -v makes a missing host folder (docker does); --mount type=bind does not.
    if (v.mustExist && !fs.existsSync(v.host)) fail(`invalid mount config for type "bind": bind source path does not exist: ${v.host}`);
  }
  if (r.user) spec.parseUserFlag(r.user);
  if (r.workdir !== undefined && !path.isAbsolute(r.workdir)) fail(`invalid working directory "${r.workdir}": it must be absolute`);
  // Checked here, not when the files are written: by then the network is set up.
  net.validateNetFileInput({ hostname: r.hostname, mode: r.net.mode, dns: r.net.dns, dnsSearch: r.net.dnsSearch, addHosts: r.net.addHosts });
  (r.net.dnsOptions ?? []).forEach((o) => net.validateDnsOption(o));
  const fileEnv = r.envFiles.flatMap((f) => {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      fail(`cannot read env file ${f}: check the path`);
    }
    return spec.parseEnvFile(text, f);
  });
  const flagEnv = r.env.map((e) => spec.parseEnvFlag(e)).filter((e): e is string => e !== null);
  // Limits are checked against what this host offers (its CPUs, swap accounting).
  const layout = cgroup.hostLayout();
  const flags = r.limits ?? {};
  if (!layout && Object.values(flags).some((v) => v !== undefined)) fail('resource limits need cgroups, and this host has none mounted (see /proc/self/mountinfo)');
  const warn = (line: string) => process.stderr.write(line + '\n');
  const host = layout ? cgroup.probeCgroupHost(layout) : undefined;
  const controllers = layout && host ? cgroup.hostControllers(layout, host) : [];
  // Without a memory controller the memory limit itself goes (below): no word about its swap.
  const memswAccounted = !!host?.memsw || !controllers.includes('memory');
  let limits = parseLimits(flags, { cpus: cgroup.hostCpus(layout), memswAccounted }, warn);
  if (layout) limits = cgroup.discardUnsupported(limits, controllers, warn);
  // Capabilities and seccomp: the profile is compiled once here, so that its mistakes are said
  // now. CAP_MKNOD is docker's, where a device policy holds (the devices cgroup: see cgroup.ts).
  const security = sec.parseSecurityOpts(r.securityOpt, (f) => fs.readFileSync(f, 'utf8'));
  const caps = sec.computeCaps({ add: r.capAdd, drop: r.capDrop, privileged: r.privileged, base: sec.defaultCaps({ devicePolicy: cgroup.devicePolicyHolds(layout) }) });
  sec.seccompRules(security, { caps, privileged: r.privileged, host: sec.thisHost(process.arch, os.release()) });
  const logOpts = parseLogOpts(r.logOpts ?? []);
  const expose = (r.expose ?? []).flatMap(spec.parseExpose);
  if (r.stopSignal !== undefined) signalNumber(r.stopSignal);
  const stopTimeout = r.stopTimeout !== undefined ? spec.parseStopTimeout(r.stopTimeout) : undefined;
  if (r.cidfile !== undefined) checkCidfile(r.cidfile);
  const tmpfs = (r.tmpfs ?? []).map(spec.parseTmpfs);
  // One mount a path (docker: "Duplicate mount point").
  const seen = new Set<string>();
  for (const p of [...volumes.map((v) => v.container), ...tmpfs.map((t) => t.container)]) {
    if (seen.has(p)) fail(`duplicate mount point ${p}: give each container path one -v, --mount or --tmpfs`);
    seen.add(p);
  }
  const userHealth = r.healthcheck ?? parseHealthFlags(r.health ?? {});
  checkTest(userHealth?.Test);
  return { volumes, userEnv: [...fileEnv, ...flagEnv], limits, security, caps, logOpts, expose, stopTimeout, tmpfs, restartPolicy, userHealth };
}

/** docker's rule: --cidfile refuses a file that exists (another container's id, maybe). */
function checkCidfile(f: string): void {
  if (!f) fail('invalid --cidfile "": give a file path');
  if (fs.existsSync(f)) fail(`container ID file found, make sure the other container isn't running or delete ${f}`);
  if (!fs.statSync(path.dirname(path.resolve(f)), { throwIfNoEntry: false })?.isDirectory())
    fail(`cannot create the container ID file ${f}: its directory does not exist: create it first`);
}

/** Write --cidfile (O_EXCL: a file made meanwhile is not overwritten). */
export function writeCidfile(f: string, id: string): void {
  try {
    fs.writeFileSync(f, id, { flag: 'wx' });
  } catch (e) {
    fail(`cannot create the container ID file ${f}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists now: delete it' : (e as Error).message}`);
  }
}

/**
 * Names on a user network (network/dns/): aliases must be DNS names, and only user networks
 * have names; the container's name and aliases must not be another container's there.
 */
async function checkNetworkNames(r: RunRequest): Promise<void> {
  const aliases = r.net.aliases ?? [];
  const net = await import('../network/index.js');
  await net.validateAliases(aliases);
  const user = r.net.network && r.net.network !== 'bridge' && !r.net.mode.includes(':') ? r.net.network : undefined;
  if (aliases.length && !user) fail('--network-alias is only for containers on a user-defined network: create one (`minid network create NET`) and run with --network NET');
  if (!user) return;
  const record = await net.getNetwork(user);
  if (net.hasNames(record)) await net.checkNames(record.name, { containerId: '', containerName: r.name ?? '', aliases });
}

/**
 * What the mounts need on the host before the container exists: a missing host folder of
 * `-v` made (0755, as docker does), a named volume made on first use and, while it is empty,
 * given the image's files at its mount point (docker's copy-up).
 */
async function prepareVolumes(volumes: spec.Volume[], layers: string[]): Promise<void> {
  if (!volumes.some((v) => v.type !== 'tmpfs')) return;
  const vols = await import('./volumes.js');
  for (const v of volumes) if (v.type !== 'tmpfs' && v.type !== 'volume' && !fs.existsSync(v.host)) fs.mkdirSync(v.host, { recursive: true, mode: 0o755 });
  const named = volumes.filter((v) => v.type === 'volume' && (v.name || v.anonymous));
  if (!named.length) return;
  await vols.withVolumesLock(async () => {
    for (const v of named) {
      // An anonymous volume gets its name now: 32 random bytes in hex, as docker names it.
      if (!v.name) v.name = crypto.randomBytes(32).toString('hex');
      vols.createVolume(v.name!);
      v.host = vols.dataDir(v.name!);
      if (!v.noCopy) await vols.populateFromImage(v.name!, layers, v.container);
    }
  });
}

/**
 * --dry-run: refuse what `run` would refuse (the same one line, exit 125), before the plan is
 * printed; nothing is created or changed.
 */
export async function checkRunRequest(r: RunRequest): Promise<void> {
  parseRequest(r, await import('../network/index.js'));
  await checkNetworkNames(r);
}

export async function createContainer(r: RunRequest): Promise<ContainerConfig> {
  const { volumes, userEnv, limits, security, caps, logOpts, expose, stopTimeout, tmpfs, restartPolicy, userHealth } = parseRequest(r, await import('../network/index.js'));
  await checkNetworkNames(r);
  const store = await import('../image/store.js');
  const img = await store.resolveImage(r.image);
  const cfg = img.config?.config ?? {};
  const layers = store.layerPaths(img);
  volumes.push(...spec.imageVolumes(cfg, [...volumes, ...tmpfs]));
  await prepareVolumes(volumes, layers);
  const argv = spec.resolveCommand(cfg, r.args, r.entrypoint);
  const userSpec = r.user ?? cfg.User ?? '';
  const user = resolveUser(userSpec || undefined, readImageFile(layers, '/etc/passwd'), readImageFile(layers, '/etc/group'));
  const id = crypto.randomBytes(32).toString('hex');
  const hostname = r.hostname ?? id.slice(0, 12);
  let env = spec.mergeEnv([`PATH=${spec.DEFAULT_PATH}`], cfg.Env ?? [], [`HOSTNAME=${hostname}`], r.tty ? ['TERM=xterm'] : [], userEnv);
  if (!env.some((e) => e.startsWith('HOME='))) env = [...env, `HOME=${user.home || '/'}`];
  // The image's HEALTHCHECK with the flags over it, as docker merges them.
  const healthcheck = mergeHealthcheck(userHealth, (cfg as spec.ImageRuntimeConfig).Healthcheck);

  const config: ContainerConfig = {
    id,
    name: r.name ?? '',
    created: new Date().toISOString(),
    image: r.image,
    imageId: img.id,
    layers,
    argv,
    env,
    cwd: r.workdir || cfg.WorkingDir || '/',
    user: userSpec,
    uid: user.uid,
    gid: user.gid,
    hostname,
    tty: r.tty,
    interactive: r.interactive,
    stdinOnce: r.stdinOnce || undefined,
    detach: r.detach,
    autoRemove: r.rm,
    volumes,
    ...(Object.keys(cfg.Volumes ?? {}).length ? { imageVolumes: Object.keys(cfg.Volumes ?? {}) } : {}),
    stopSignal: r.stopSignal || cfg.StopSignal || 'SIGTERM',
    ...(stopTimeout !== undefined ? { stopTimeout } : {}),
    ...(r.cidfile ? { cidfile: r.cidfile } : {}),
    ...(r.readOnly ? { readOnly: true } : {}),
    ...(tmpfs.length ? { tmpfs } : {}),
    ...(r.init ? { init: true } : {}),
    ...(restartPolicy.Name !== 'no' ? { restartPolicy } : {}),
    // The image's HEALTHCHECK with the flags over it, as docker merges them.
    ...(healthcheck ? { healthcheck } : {}),
    exposedPorts: [...new Set([...Object.keys(cfg.ExposedPorts ?? {}), ...expose])],
    net: r.net,
    limits,
    capAdd: r.capAdd,
    capDrop: r.capDrop,
    privileged: r.privileged,
    security,
    caps,
    logOpts,
    labels: { ...((cfg as spec.ImageRuntimeConfig).Labels ?? {}), ...(r.labels ?? {}) },
    entrypoint: r.entrypoint !== undefined ? (r.entrypoint ? [r.entrypoint] : []) : cfg.Entrypoint ?? [],
    cmd: r.args.length ? r.args : r.entrypoint !== undefined ? [] : cfg.Cmd ?? [],
  };
  await withLock('containers', async () => {
    if (r.name) {
      const holder = nameHolder(r.name);
      if (holder)
        fail(`the container name "${r.name}" is already in use by container ${holder.slice(0, 12)}: remove it (\`minid rm ${r.name}\`) or pick another name`);
    } else {
      do config.name = spec.randomName();
      while (nameHolder(config.name));
    }
    if (r.cidfile) writeCidfile(r.cidfile, id);
    const dir = paths.container(id);
    secureStore();
    fs.mkdirSync(dir, { mode: PRIVATE_DIR_MODE }); // its config and log: root's only
    for (const d of ['upper', 'work', 'rootfs']) fs.mkdirSync(path.join(dir, d));
    saveConfig(config);
    recordName(config.name, id);
  }).catch(async (e) => {
    // Not made (its name is taken...): nor are the anonymous volumes made for it.
    if (volumes.some((v) => v.anonymous)) await (await import('./volumes.js')).removeAnonymous(volumes);
    throw e;
  });
  recordEvent('container', 'create', id, containerAttributes(config));
  return config;
}

// The start handshake's fds (src/runtime/protocol.ts), as the supervisor's callers need them.
export { GO_FD, REPORT_FD };

/** The supervisor's stdio, but for its stdin, stdout and stderr: fd 3 unused, the go, the report. */
export const SUPERVISOR_FDS = ['null', 'read', 'write'] as const;

/** Starts the supervisor (`/bin/sh shim.sh`) with pipes at GO_FD and REPORT_FD; who calls decides the rest of its stdio. */
export type SupervisorSpawner = (argv: string[]) => Promise<Started>;

/**
 * Set up the network and write the scripts; undoes itself on failure. With `spawn`, the
 * supervisor starts first, while the network is set up (runc's create/start split): minid-init
 * makes the container's root, /proc, /dev, devpts, /dev/shm and /proc's masks, then waits on
 * GO_FD; when the network is ready
 * minid writes one byte there (`go`), and minid-init joins the network namespace, mounts the
 * rest and starts the command. (Closing GO_FD instead makes it exit quietly.) Without `spawn`,
 * or when the namespace is only known once the network is attached (container:NAME, CNI),
 * the caller starts the supervisor afterwards.
 * Returns the supervisor when it started it.
 */
export async function startContainer(
  c: ContainerConfig,
  io: { explain?: (l: string) => void; spawn?: SupervisorSpawner; interrupted?: () => void },
): Promise<Started | undefined> {
  const runDir = paths.containerRun(c.id);
  const dir = paths.container(c.id);
  secureStore();
  fs.mkdirSync(runDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const mode = c.net.mode;
  const known = !mode.startsWith('container:') && !mode.startsWith('cni:');
  const { netnsPath } = await import('../network/index.js');
  const netns: string | undefined = known && mode !== 'host' ? netnsPath(c.id) : undefined;
  const early = known && !!io.spawn;
  const envFile = path.join(runDir, 'env');
  const init = {
    id: c.id, name: c.name, runDir, rootfs: path.join(dir, 'rootfs'), lowerdirs: c.layers,
    upperdir: path.join(dir, 'upper'), workdir: path.join(dir, 'work'), hostname: c.hostname,
    volumes: c.volumes, tmpfs: c.tmpfs, readOnly: c.readOnly, etcFiles: [] as { name: string; source: string }[], initBin: initBinary(), envFile, uid: c.uid, gid: c.gid,
    cwd: c.cwd, argv: c.argv, loopbackUp: false, netns, waitFd: early ? GO_FD : undefined,
    reportFd: REPORT_FD,
    // -t: the container's own terminal, its master held by minid-console (console.c).
    consoleSocket: c.tty ? path.join(runDir, 'pty.sock') : undefined,
    hostProc: [...READONLY_PROC, ...MASKED_PROC, 'acpi'].filter((f) => fs.existsSync(`/proc/${f}`)),
    hostSysFirmware: fs.existsSync('/sys/firmware'),
    cgroupProcs: undefined as string[] | undefined,
    security: securityInit(c),
    init: !!c.init,
  };
  const writeScripts = () => {
    if (init.security.seccomp) fs.writeFileSync(init.security.seccomp, seccompText(c)!);
    const t = fstabs(init);
    fs.writeFileSync(path.join(runDir, 'fstab.root'), t.root);
    fs.writeFileSync(path.join(runDir, 'fstab.devproc'), t.devproc);
    if (t.ro) fs.writeFileSync(path.join(runDir, 'fstab.ro'), t.ro);
    // A foreground minid releases the container itself, unless it has left (leftFile).
    const hook = [path.join(packageRoot(), 'bin', 'minid'), '_exited', c.id];
    fs.writeFileSync(
      path.join(runDir, 'shim.sh'),
      shimScript({
        id: c.id, name: c.name, runDir, exitFile: exitFile(c.id), launch: unshareArgs({ newNet: false }),
        // -t: the terminal's output is logged by the supervisor, foreground or not (one stream, stdout, as docker's).
        init: initArgs(init), hook, hookIf: c.detach ? undefined : leftFile(c.id), logger: c.detach || c.tty ? loggerArgv(c.id, c.logOpts) : undefined,
        keepStdin: c.detach && c.interactive && !c.tty ? (c.stdinOnce ? 'once' : true) : false,
        // A foreground run attaches before the container writes: minid-console keeps its output until then.
        console: c.tty ? [consoleBinary(), ...(c.detach && !c.waitClient ? [] : ['--wait-client']), attachSocket(c.id), init.consoleSocket!, '--'] : undefined,
        restart: c.restartPolicy,
        initAgain: c.restartPolicy ? initArgs({ ...init, waitFd: undefined, reportFd: undefined }) : undefined,
        stoppedFile: stoppedMarker(c.id),
        events: { file: eventsFile(), image: c.image },
        // On a cluster node: the services follow the container (src/cluster/follow.ts).
        serviceSync: supervisorSync(c),
        // A health check: its monitor runs beside each run (runtime/healthmonitor.ts).
        ...(activeCheck(c.healthcheck) ? { health: [path.join(packageRoot(), 'bin', 'minid'), '_health', c.id], healthLog: path.join(runDir, 'health.err') } : {}),
      }),
    );
    writeAttributesFile(runDir, c);
  };
  let child: Started | undefined;
  try {
    // Its cgroup first: minid-init joins it before it does anything else.
    init.cgroupProcs = await makeCgroup(c, io.explain);
    if (early) {
      writeScripts();
      child = await io.spawn!(['/bin/sh', path.join(runDir, 'shim.sh')]);
    }
    const { attachNetwork } = await import('./netglue.js');
    const net = await attachNetwork(c, io.explain);
    c.attachment = net.attachment;
    saveConfig(c);
    (await import('../sys/testhooks.js')).crashPoint('after-network');
    if (early && net.joinNetns !== netns) throw new Error(`network namespace ${net.joinNetns} is not the one planned (${netns})`);
    init.netns = net.joinNetns;

    // What minid-init reads after the go: the /etc files, the rest of the mounts, the environment.
    init.etcFiles = Object.entries(net.etcFiles).map(([name, text]) => {
      const source = path.join(dir, name);
      fs.writeFileSync(source, text);
      return { name, source };
    });
    fs.writeFileSync(envFile, c.env.map((e) => e + '\0').join(''), { mode: SECRET_FILE_MODE }); // -e secrets
    recordEvent('container', 'start', c.id, containerAttributes(c)); // from here on, the supervisor records its exit
    fs.writeFileSync(path.join(runDir, 'fstab.rest'), fstabs(init).rest);
    if (!early) writeScripts();
    c.startedAt = new Date().toISOString();
    saveConfig(c);
    // Ctrl-C meanwhile (holdSignals): undo below instead of going. Node runs a signal's
    // handler from its event loop, once its poll phase has read the signal: let one poll
    // phase pass (two check phases), or a signal that came during the steps above would only
    // be seen once the container runs.
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    io.interrupted?.();
    if (child) await go(child);
    return child;
  } catch (e) {
    // A start that failed is not restarted (--restart): the supervisor, which ends after this
    // abort, finds the marker (a later start clears it).
    markStopped(c.id);
    if (child) await abort(child);
    await releaseContainer(c.id).catch(() => {});
    try {
      dropCgroup(c);
    } catch {
      /* still recorded: rm or prune retries */
    }
    throw e;
  }
}

/**
 * The container's cgroup (runtime/cgroup.ts): recorded in its config before the directories
 * are made, so that `system prune` finds what a crash half-way leaves; the cgroup.procs files
 * to join. None when the host has no cgroups.
 */
async function makeCgroup(c: ContainerConfig, explain?: (l: string) => void): Promise<string[] | undefined> {
  const layout = cgroup.hostLayout();
  if (!layout) return undefined;
  // Host-wide, as the shared parent "minid" is: another store's `system reset` removing it
  // while empty must not come between reading it (its cpuset) and making our cgroup in it.
  return withHostLock('cgroups', async () => {
    const plan = cgroup.planCgroup(layout, c.id, c.limits ?? NO_LIMITS, cgroup.probeCgroupHost(layout));
    c.cgroup = { dirs: plan.dirs, procs: plan.procs };
    saveConfig(c);
    try {
      await cgroup.applyCgroupPlan(plan, { explain, title: `cgroups for container ${c.name} (${c.id.slice(0, 12)}), cgroup v${layout.version}` });
    } catch (e) {
      delete c.cgroup;
      saveConfig(c);
      throw e;
    }
    return plan.procs;
  });
}

/** --dry-run: the cgroup steps a run with these limits would take (for an id of zeros), changing nothing. */
export function dryRunCgroup(flags: LimitFlags, explain: (l: string) => void): void {
  const layout = cgroup.hostLayout();
  if (!layout) return explain('# no cgroups on this host: the container would run without limits');
  const host = cgroup.probeCgroupHost(layout);
  const controllers = cgroup.hostControllers(layout, host);
  const parsed = parseLimits(flags, { cpus: cgroup.hostCpus(layout), memswAccounted: host.memsw || !controllers.includes('memory') }, explain);
  const limits = cgroup.discardUnsupported(parsed, controllers, explain);
  const plan = cgroup.planCgroup(layout, '0'.repeat(64), limits, host);
  explain(`# cgroups, cgroup v${layout.version} (dry run: nothing is changed)`);
  plan.steps.forEach((s, i) => cgroup.formatCgStep(s, i + 1, plan.steps.length).forEach(explain));
}

/** The container's cgroups removed (its processes are gone); the record after them. */
function dropCgroup(c: ContainerConfig, explain?: (l: string) => void): void {
  if (!c.cgroup) return;
  explain?.("# remove the container's cgroups: leaf first, only its own (the shared parent minid stays)");
  const errors = cgroup.removeCgroups(c.cgroup.dirs, explain);
  if (errors.length) throw new MinidError(`cannot remove the cgroup of container ${c.name}: ${errors[0]}`);
  delete c.cgroup;
  saveConfig(c);
}

/** The seccomp rules for minid-init (security.ts), or undefined for none. */
function seccompText(c: ContainerConfig): string | undefined {
  // A container from before these options: docker's defaults.
  const security = c.security ?? { seccomp: 'default' as const, noNewPrivileges: false };
  const caps = c.caps ?? sec.defaultCaps({ devicePolicy: false });
  return sec.seccompRules(security, { caps, privileged: !!c.privileged, host: sec.thisHost(process.arch, os.release()) });
}

/** What minid-init is told of the container's capabilities, seccomp filter and no_new_privs. */
function securityInit(c: ContainerConfig): SecurityInit {
  const caps = c.caps ?? sec.defaultCaps({ devicePolicy: false });
  return {
    caps: sec.capNumbers(caps),
    seccomp: c.privileged || c.security?.seccomp === 'unconfined' ? undefined : path.join(paths.containerRun(c.id), 'seccomp'),
    noNewPrivs: !!c.security?.noNewPrivileges,
    privileged: !!c.privileged,
  };
}

/** `minid exec`'s minid-init options: the container's own (the rules file it runs with), or all capabilities. */
export function execSecurityArgs(c: ContainerConfig, privileged: boolean): string[] {
  const s = securityInit(c);
  const caps = privileged ? sec.capNumbers([...sec.CAPABILITIES]) : s.caps;
  return ['--caps', caps, ...(s.seccomp ? ['--seccomp', s.seccomp] : []), ...(s.noNewPrivs ? ['--no-new-privs'] : [])];
}

/** The go on GO_FD (src/runtime/protocol.ts). EPIPE there: minid-init failed; the supervisor records 125. */
function go(child: Started): Promise<void> {
  return sendGo(child.stdio[GO_FD] as import('node:net').Socket);
}

/** No go: GO_FD closed, minid-init exits (125) before the command starts; wait for the supervisor. */
async function abort(child: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref(); // a detached supervisor is unref'd: keep minid alive until it has gone
  const closed = new Promise((resolve) => child.once('exit', resolve));
  (child.stdio[GO_FD] as import('node:net').Socket).destroy();
  await closed;
}

/** Wait until the container's init has written its pid, or the supervisor recorded an early exit. */
export async function waitStarted(id: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (readPid(id) || fs.existsSync(exitFile(id))) return;
    await sleep(2);
  }
  fail(`container ${id.slice(0, 12)} did not start within ${timeoutMs / 1000}s: see \`minid logs ${id.slice(0, 12)}\``);
}

/** Start detached: the supervisor outlives this process; its output goes to the log. */
export const spawnDetachedSupervisor = (c: ContainerConfig): SupervisorSpawner => async (argv) => {
  const log = { append: logFile(c.id) };
  const child = await startProcess(argv, { stdio: ['null', log, log, ...SUPERVISOR_FDS], detached: true });
  child.unref();
  for (const fd of [GO_FD, REPORT_FD]) (child.stdio[fd] as import('node:net').Socket | null)?.unref();
  return child;
};

/**
 * After startContainer: start the supervisor if it did not, then wait for minid-init's report
 * (--report-fd): "0", the command is about to run; "CODE MESSAGE", it cannot (not found,
 * not executable, a mount failed), which is this command's error and exit code, as with
 * `docker run -d`. The container stays, exited, for `logs` and `rm` (or goes, with --rm).
 */
export async function spawnDetached(c: ContainerConfig, started?: Started): Promise<void> {
  const child = started ?? (await spawnDetachedSupervisor(c)(['/bin/sh', path.join(paths.containerRun(c.id), 'shim.sh')]));
  (child.stdio[GO_FD] as import('node:net').Socket).destroy(); // the go was said (or there is none)
  const pipe = child.stdio[REPORT_FD] as import('node:net').Socket;
  pipe.ref(); // spawnDetachedSupervisor unref'd it: minid waits for this
  const line = await readReportLine(pipe);
  pipe.destroy();
  if (line !== null) {
    const report = decodeReport(line);
    if (report.started) return;
    markStopped(c.id); // not restarted (--restart): it never started (the supervisor waits 100 ms before it would)
    fail(report.message, report.code);
  }
  markStopped(c.id);
  // No report: minid-init did not get that far (its supervisor ended first).
  fail(`container ${c.name} could not start${c.autoRemove ? '' : `: see \`minid logs ${c.id.slice(0, 12)}\``}`);
}

/**
 * After the container's process has ended: release its network (veth, address, rules) and,
 * with --rm, remove it. Idempotent: the supervisor hook, `rm`, `stop` and `system prune` may all
 * call it.
 */
export async function releaseContainer(id: string, opts: { remove?: boolean; volumes?: boolean; explain?: (l: string) => void } = {}): Promise<void> {
  if (!fs.existsSync(configFile(id))) return; // already removed (e.g. by rm -f, before the supervisor's hook)
  await withLock(`container-${id}`, () => releaseLocked(id, opts));
  forgetLock(id);
}

/**
 * The supervisor's hook, once the container has ended for good (`minid _exited`): an OOM kill
 * said (event oom), then the release.
 */
export async function containerExited(id: string): Promise<void> {
  const s = loadState(id);
  if (s?.config.cgroup && cgroup.oomKilled(cgroup.hostLayout(), id)) recordEvent('container', 'oom', id, containerAttributes(s.config));
  await releaseContainer(id);
}

/** The lock's placeholder file goes with the container. */
function forgetLock(id: string): void {
  if (!fs.existsSync(configFile(id))) fs.rmSync(path.join(paths.locks(), `container-${id}`), { force: true });
}

/** releaseContainer's work, under the container's lock. False: the container is gone already. */
async function releaseLocked(id: string, opts: { remove?: boolean; volumes?: boolean; explain?: (l: string) => void }): Promise<boolean> {
  const s = loadState(id);
  if (!s) return false;
  if (s.config.extraAttachments?.length) {
    // Networks added by `network connect` first: their interfaces live in the primary's namespace.
    const { releaseExtraAttachments } = await import('./connect.js');
    await releaseExtraAttachments(s.config, opts.explain);
    saveConfig(s.config);
  }
  // --rm is for an exit, not for `minid restart`'s stop (runtime/start.ts: restartingFile).
  const remove = opts.remove ?? (s.config.autoRemove && !fs.existsSync(path.join(paths.containerRun(id), 'restarting')));
  // docker's --rm is `rm -v`: the container's anonymous volumes go with it (named ones stay).
  const dropVolumes = remove && (opts.volumes ?? opts.remove === undefined);
  // To be removed, the container's own files (its scripts, writable layer, log, /etc files)
  // go while the kernel takes its network down; its record (config.json, the exit record)
  // goes last, when nothing is left that `minid system prune` would need it for. The
  // supervisor writes the exit record right after the container ends: let it finish first
  // (it is quick, and gone if the supervisor was killed).
  const files = remove ? waitExitRecord(id).then(() => removeFiles(id)) : undefined;
  files?.catch(() => {}); // awaited below, unless the network fails first
  if (s.config.attachment) {
    const { detachNetwork } = await import('./netglue.js');
    await detachNetwork(s.config, opts.explain);
    delete s.config.attachment;
    saveConfig(s.config);
  }
  if (remove) {
    await files;
    // The cgroups before the record: a crash in between leaves a record that prune still finds.
    dropCgroup(s.config, opts.explain);
    fs.rmSync(paths.container(id), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    forgetName(s.config.name, id);
    // After its record: a volume is removed only when no container names it any more.
    if (dropVolumes && s.config.volumes.some((v) => v.anonymous)) await (await import('./volumes.js')).removeAnonymous(s.config.volumes);
    recordEvent('container', 'destroy', id, containerAttributes(s.config));
  }
  return true;
}

/** A removed container's files, but for its record: its run folder, its layer, its log. */
async function removeFiles(id: string): Promise<void> {
  const dir = paths.container(id);
  const keep = new Set([path.basename(configFile(id)), path.basename(exitFile(id))]);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    /* gone already */
  }
  const doomed = [paths.containerRun(id), ...names.filter((n) => !keep.has(n)).map((n) => path.join(dir, n))];
  await Promise.all(doomed.map((p) => fs.promises.rm(p, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 })));
}

/** Wait (briefly) until the supervisor has recorded the exit, if it is still alive to do so. */
async function waitExitRecord(id: string, timeoutMs = 3000): Promise<void> {
  let shim: number;
  try {
    shim = parseInt(fs.readFileSync(shimPidFile(id), 'utf8'), 10);
  } catch {
    return;
  }
  const end = Date.now() + timeoutMs;
  while (!(fs.statSync(exitFile(id), { throwIfNoEntry: false })?.size) && Date.now() < end) {
    let state = '';
    try {
      state = fs.readFileSync(`/proc/${shim}/stat`, 'utf8').split(') ')[1] ?? '';
    } catch {
      return; // the supervisor is gone
    }
    if (state.startsWith('Z')) return;
    await sleep(5);
  }
}

/**
 * A user's stop of a container whose supervisor waits to restart it: end the wait's sleep and
 * wait until the supervisor has left the wait and recorded the exit (`ps` says exited), so that
 * `stop` returns with the container stopped, as docker's does. The supervisor writes the wait
 * file before it starts its sleep and names the sleep's PID a moment later, so the sleep is
 * ended again until the wait is over (the stop marker, written first, makes the loop end).
 */
async function endRestarting(id: string): Promise<void> {
  let shim: number;
  try {
    shim = parseInt(fs.readFileSync(shimPidFile(id), 'utf8'), 10);
  } catch {
    return;
  }
  // The longest back-off is 60 s; ending its sleep takes milliseconds.
  const end = Date.now() + 65_000;
  while (isRestarting(id) && Date.now() < end) {
    try {
      if ((fs.readFileSync(`/proc/${shim}/stat`, 'utf8').split(') ')[1] ?? '').startsWith('Z')) return;
    } catch {
      return; // the supervisor is gone
    }
    endRestartWait(id);
    await sleep(10);
  }
  await waitExitRecord(id);
}

/**
 * A user's stop, kill or rm -f of a running or restarting container: the stop marker first (no
 * --restart after it), then whatever the supervisor is doing as the marker appears is ended:
 * a run (`endRun`: the stop signal or SIGKILL, and its exit awaited) or a back-off's wait. The
 * supervisor may have passed its look at the marker a moment before it appeared, and so begin
 * one more wait, or one more run, after the first is ended: each is ended in turn, until the
 * container has exited (at most a run, a wait and a run).
 */
async function endRuns(id: string, endRun: (s: ContainerState) => Promise<void>): Promise<void> {
  markStopped(id);
  for (let round = 0; round < 4; round++) {
    const now = loadState(id);
    if (now?.status === 'restarting') await endRestarting(id);
    else if (now?.status === 'running' && now.pid) await endRun(now);
    else if (now?.status === 'running') await waitExit(id, 10_000); // between a run's end and its record
    else return;
  }
}

/**
 * Containers that ended after their supervisor was killed (no exit record, no supervisor): no
 * one else will release their network or honour their --rm, so whoever looks next (ps,
 * inspect, rm, system prune) does, as docker's daemon does once it learns that a shim died.
 */
export async function releaseOrphans(states: ContainerState[]): Promise<ContainerState[]> {
  let released = false;
  for (const s of states) {
    const id = s.config.id;
    if (s.status !== 'exited' || !s.config.attachment || fs.existsSync(exitFile(id)) || supervisorAlive(id) !== false) continue;
    await releaseContainer(id).catch(() => {});
    released = true;
  }
  return released ? listStates() : states;
}

export async function waitExit(id: string, timeoutMs = Infinity): Promise<ExitRecord | undefined> {
  const end = Date.now() + timeoutMs;
  for (let delay = 5; Date.now() < end; delay = Math.min(delay * 2, 100)) {
    const s = loadState(id);
    if (!s) return undefined;
    if (s.status === 'restarting') return s.exit; // it ended; its supervisor will run it again (--restart)
    if (s.status !== 'running') {
      // Its PID 1 has ended; the supervisor records the exit once the log writer has written
      // the last lines: a moment to wait, not an unknown exit (255).
      if (fs.statSync(exitFile(id), { throwIfNoEntry: false })?.size) return s.exit;
      await waitExitRecord(id);
      return loadState(id)?.exit;
    }
    await sleep(delay);
  }
  return undefined;
}

export function signalNumber(sig: string): NodeJS.Signals | number {
  const s = sig.toUpperCase();
  if (/^\d+$/.test(s)) return +s;
  const name = (s.startsWith('SIG') ? s : `SIG${s}`) as NodeJS.Signals;
  if (!(name in osConstants.signals)) fail(`invalid signal "${sig}": use a name like SIGTERM or a number`);
  return name;
}

/** Signal a container's process; false if it has ended meanwhile (ESRCH is no error here). */
function signalIfAlive(pid: number, sig: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

export async function killContainer(ref: string, signal = 'SIGKILL'): Promise<ContainerState> {
  const s = findContainer(ref);
  if (s.status !== 'running' || !s.pid) fail(`container ${s.config.name} is not running`);
  const sig = signalNumber(signal);
  markStopped(s.config.id); // the user's kill: no --restart after it (docker's rule)
  let alive: boolean;
  try {
    alive = signalIfAlive(s.pid, sig);
  } catch (e) {
    throw new MinidError(`cannot signal container ${s.config.name}: ${(e as Error).message}`);
  }
  if (!alive) fail(`container ${s.config.name} is not running`);
  if (s.paused) await (await import('./pause.js')).thawAfterSignal(s); // a frozen process takes a signal once thawed
  recordEvent('container', 'kill', s.config.id, { ...containerAttributes(s.config), signal: signalAttribute(sig) });
  return s;
}

/**
 * `stop`: the stop signal, then SIGKILL after the timeout: `-t` if given, else the container's
 * --stop-timeout, else 10 s (docker's); a negative timeout waits for ever.
 */
export async function stopContainer(ref: string, timeoutSec?: number, explain?: (l: string) => void): Promise<ContainerState> {
  const s = findContainer(ref);
  explain?.(`# stop container ${s.config.name} (${s.config.id.slice(0, 12)}): its stop signal ${s.config.stopSignal ?? 'SIGTERM'}, SIGKILL after the timeout; then its network is released`);
  const live = s.status === 'running' || s.status === 'restarting';
  // The user's stop: the supervisor does not restart it (--restart); one waiting to, gives up.
  if (live)
    await endRuns(s.config.id, async (now) => {
      const sig = signalNumber(now.config.stopSignal);
      recordEvent('container', 'kill', now.config.id, { ...containerAttributes(now.config), signal: signalAttribute(sig) });
      signalIfAlive(now.pid!, sig);
      if (now.paused) await (await import('./pause.js')).thawAfterSignal(now);
      const t = timeoutSec ?? now.config.stopTimeout ?? 10;
      let exit = await waitExit(now.config.id, t < 0 ? Infinity : t * 1000);
      if (!exit) {
        const p = readPid(now.config.id);
        if (p && processAlive(p)) signalIfAlive(p.pid, 'SIGKILL');
        exit = await waitExit(now.config.id, 10_000);
      }
    });
  // Release here rather than wait for the supervisor's hook (a node process of its own): both
  // run under the container's lock and whoever comes second finds nothing left to do.
  let said = 0;
  await releaseContainer(s.config.id, { remove: false, explain: explain && ((l) => (said++, explain(l))) });
  if (explain && said === 0 && s.config.attachment) {
    await explainReleased(s.config, explain).catch(() => explain("# the container's supervisor released its network as it exited"));
  }
  if (live) recordEvent('container', 'stop', s.config.id, containerAttributes(s.config));
  return s;
}

/** A signal as docker's events name it: its number ("15"). */
function signalAttribute(sig: NodeJS.Signals | number): string {
  return String(typeof sig === 'number' ? sig : osConstants.signals[sig]);
}

/**
 * `stop --explain` when the container's supervisor released the network first (as the
 * container exited): the steps it ran, from the attachment read before the stop.
 */
async function explainReleased(c: ContainerConfig, explain: (l: string) => void): Promise<void> {
  const net = await import('../network/index.js');
  if (!c.attachment) return explain('# no network to release');
  const att = net.fromStored(c.attachment, { cni: c.net.cni });
  if (att.mode === 'cni') return explain(`# the container's supervisor released its CNI attachment as it exited (CNI DEL of "${att.cni.name}")`);
  const steps = 'undo' in att ? net.planDetach(att) : [];
  if (!steps.length) return explain('# no network to release');
  explain("# the container's supervisor released the network as the container exited (before minid stop got to it): it ran these steps");
  for (const l of net.formatPlan(steps, `detach container ${c.name} (${c.id.slice(0, 12)})`).trimEnd().split('\n')) explain(l);
}

/**
 * Remove a container (with `force`, killing it first). Decided under the container's lock, from
 * its state then: of concurrent removals of one container, one removes it and the others find
 * it gone (NoSuchContainerError), as they would had they come later.
 */
export async function removeContainer(ref: string, force: boolean, explain?: (l: string) => void, volumes = false): Promise<ContainerState> {
  const id = findContainer(ref).config.id;
  const removed = await withLock(`container-${id}`, async () => {
    const s = loadState(id);
    if (!s) return undefined;
    if (s.status === 'running' || s.status === 'restarting') {
      if (!force)
        fail(`cannot remove container ${s.config.name}: it is ${s.status}: stop it first (\`minid stop ${s.config.name}\`) or use \`minid rm -f\``);
      // No --restart: it goes.
      await endRuns(id, async (now) => {
        signalIfAlive(now.pid!, 'SIGKILL');
        if (now.paused) await (await import('./pause.js')).thawAfterSignal(now);
        await waitExit(id, 10_000);
      });
    }
    return (await releaseLocked(id, { remove: true, volumes, explain })) ? s : undefined;
  });
  forgetLock(id);
  if (!removed) throw new NoSuchContainerError(ref);
  return removed;
}

export function imageInUse(imageId: string): string[] {
  return listStates()
    .filter((s) => s.config.imageId === imageId)
    .map((s) => s.config.name);
}

