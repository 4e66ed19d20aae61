// /containers/...: create, start, stop, restart, kill, wait, inspect, list, logs, attach,
// archive (cp) and remove. A request becomes what the CLI would have parsed from flags (a
// RunRequest, a ref and options) and goes to the same runtime functions.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { RunRequest } from '../runtime/container.js';
import { type ContainerState, findContainer, loadState, NoSuchContainerError } from '../runtime/state.js';
import { type Ctx, badRequest, conflict, framed, notFound, qbool, readJson, sendEmpty, sendJson, upgraded } from './http.js';
import { parseFilters } from './images.js';
import { paths } from '../sys/paths.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container a path names, or docker's 404 ("No such container: X"). */
export function container(ref: string): ContainerState {
  try {
    return findContainer(ref);
  } catch (e) {
    if (e instanceof NoSuchContainerError) throw notFound(`No such container: ${ref}`);
    throw e;
  }
}

/** A string or a list of strings (docker's StrSlice); null/absent: undefined. */
function strSlice(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw badRequest(`${field} must be a list of strings`);
}

/**
 * HostConfig.Mounts ([{Type, Source, Target, ReadOnly, TmpfsOptions}]) -> --mount specs, which
 * the runtime checks as it checks the flag's (one parser).
 */
export function mountSpecs(mounts: unknown): string[] {
  if (mounts === undefined || mounts === null) return [];
  if (!Array.isArray(mounts)) throw badRequest('HostConfig.Mounts must be a list of mounts');
  return mounts.map((m: any) => {
    if (!m || typeof m !== 'object') throw badRequest('HostConfig.Mounts: each mount is an object with Type, Source and Target');
    const f = [`type=${m.Type ?? 'volume'}`];
    if (m.Source) f.push(`source=${m.Source}`);
    if (m.Target) f.push(`target=${m.Target}`);
    if (m.ReadOnly) f.push('readonly');
    if (m.VolumeOptions?.NoCopy) f.push('volume-nocopy');
    if (m.TmpfsOptions?.SizeBytes) f.push(`tmpfs-size=${m.TmpfsOptions.SizeBytes}`);
    if (m.TmpfsOptions?.Mode) f.push(`tmpfs-mode=${Number(m.TmpfsOptions.Mode).toString(8)}`);
    if (f.some((x) => x.includes(','))) throw badRequest(`HostConfig.Mounts: a comma in ${JSON.stringify(m.Source ?? m.Target)} is not supported`);
    return f.join(',');
  });
}

/** HostConfig.PortBindings -> -p specs ("8080:80/tcp", "127.0.0.1::80/tcp"; HostPort "" or "0": a random one). */
export function portSpecs(bindings: unknown): string[] {
  if (!bindings) return [];
  if (typeof bindings !== 'object') throw badRequest('HostConfig.PortBindings must be an object like {"80/tcp": [{"HostPort": "8080"}]}');
  const specs: string[] = [];
  for (const [key, list] of Object.entries(bindings as Record<string, unknown>)) {
    const [port, proto = 'tcp'] = key.split('/');
    for (const b of (Array.isArray(list) && list.length ? list : [{}]) as { HostIp?: string; HostPort?: string }[]) {
      const ip = b.HostIp && b.HostIp !== '0.0.0.0' ? b.HostIp : '';
      const hp = b.HostPort && b.HostPort !== '0' ? b.HostPort : '';
      specs.push(ip ? `${ip}:${hp}:${port}/${proto}` : hp ? `${hp}:${port}/${proto}` : `${port}/${proto}`);
    }
  }
  return specs;
}

/** The network mode docker's HostConfig.NetworkMode names ("default": the bridge). */
function networkMode(m: unknown): string {
  if (m === undefined || m === null || m === '' || m === 'default') return 'bridge';
  if (typeof m !== 'string') throw badRequest('HostConfig.NetworkMode must be a string');
  return m;
}

/** A create request's body as `minid create`'s flags would have given it. */
export function runRequestOf(body: any, name: string | undefined): { req: RunRequest; entrypoint?: string[]; cmd?: string[] } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object (docker\'s container config)');
  if (typeof body.Image !== 'string' || !body.Image) throw badRequest('Config.Image is required: name the image to create the container from');
  const hc = body.HostConfig ?? {};
  const cmd = strSlice(body.Cmd, 'Cmd');
  const entrypoint = strSlice(body.Entrypoint, 'Entrypoint');
  // minid's --entrypoint is one program; a longer Entrypoint's other words go before Cmd.
  // An Entrypoint given resets the image's Cmd (docker's rule).
  let args = cmd ?? [];
  let ep: string | undefined;
  if (entrypoint !== undefined) {
    ep = entrypoint[0] ?? '';
    args = [...entrypoint.slice(1), ...(cmd ?? [])];
  }
  const mode = networkMode(hc.NetworkMode);
  const env = (strSlice(body.Env, 'Env') ?? []).filter((e) => e.includes('=')); // "KEY" alone: the service's own value, never
  const labels = body.Labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw badRequest('Labels must be an object of strings');
  const publish = portSpecs(hc.PortBindings);
  const hostish = mode === 'host' || mode === 'none' || mode.startsWith('container:');
  const req: RunRequest = {
    image: body.Image,
    args,
    detach: true,
    rm: !!hc.AutoRemove,
    name,
    env,
    envFiles: [],
    workdir: body.WorkingDir || undefined,
    user: body.User || undefined,
    hostname: body.Hostname || undefined,
    volumes: strSlice(hc.Binds, 'HostConfig.Binds') ?? [],
    mounts: mountSpecs(hc.Mounts),
    init: !!hc.Init,
    tty: !!body.Tty,
    interactive: !!body.OpenStdin,
    stdinOnce: !!body.OpenStdin && !!body.StdinOnce,
    entrypoint: ep,
    net: {
      mode,
      network: hostish || mode === 'bridge' ? (mode === 'bridge' ? 'bridge' : undefined) : mode,
      ports: hostish ? [] : publish,
      publishAll: !hostish && !!hc.PublishAllPorts,
      dns: strSlice(hc.Dns, 'HostConfig.Dns') ?? [],
      dnsSearch: strSlice(hc.DnsSearch, 'HostConfig.DnsSearch') ?? [],
      dnsOptions: strSlice(hc.DnsOptions, 'HostConfig.DnsOptions') ?? [],
      addHosts: strSlice(hc.ExtraHosts, 'HostConfig.ExtraHosts') ?? [],
      // NetworkingConfig's endpoint for the network it is created on (compose: the service's name).
      aliases: strSlice(body.NetworkingConfig?.EndpointsConfig?.[mode]?.Aliases, 'NetworkingConfig.EndpointsConfig.Aliases') ?? [],
    },
    limits: {
      memory: hc.Memory ? String(hc.Memory) : undefined,
      cpus: hc.NanoCpus ? String(hc.NanoCpus / 1e9) : undefined,
      pidsLimit: hc.PidsLimit ? String(hc.PidsLimit) : undefined,
    },
    capAdd: strSlice(hc.CapAdd, 'HostConfig.CapAdd') ?? [],
    capDrop: strSlice(hc.CapDrop, 'HostConfig.CapDrop') ?? [],
    privileged: !!hc.Privileged,
    securityOpt: strSlice(hc.SecurityOpt, 'HostConfig.SecurityOpt') ?? [],
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
    expose: Object.keys(body.ExposedPorts ?? {}),
    stopSignal: body.StopSignal || undefined,
    stopTimeout: body.StopTimeout !== undefined && body.StopTimeout !== null ? String(body.StopTimeout) : undefined,
    readOnly: !!hc.ReadonlyRootfs,
    tmpfs: Object.entries((hc.Tmpfs ?? {}) as Record<string, string>).map(([p, o]) => (o ? `${p}:${o}` : p)),
    // Config.Healthcheck as docker's (durations in nanoseconds), merged with the image's at create.
    ...(body.Healthcheck ? { healthcheck: healthcheckOf(body.Healthcheck) } : {}),
  };
  return { req, entrypoint, cmd };
}

/** Config.Healthcheck of a create body: only its known fields, numbers where numbers go. */
function healthcheckOf(h: any): import('../runtime/health.js').Healthcheck {
  const num = (k: string) => {
    const v = h[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`Healthcheck.${k}: give a whole, non-negative number (nanoseconds; retries)`);
    if (k !== 'Retries' && v > 0 && v < 1e6) throw badRequest(`Healthcheck.${k} cannot be less than 1ms`);
    return v;
  };
  const out: import('../runtime/health.js').Healthcheck = {};
  const test = strSlice(h.Test, 'Healthcheck.Test');
  if (test?.length) out.Test = test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const v = num(k);
    if (v) out[k] = v;
  }
  return out;
}

/** POST /containers/create?name=NAME: 201 {"Id", "Warnings"}. */
export async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx);
  const raw = ctx.query.get('name');
  const name = raw ? raw.replace(/^\//, '') : undefined;
  const { req, entrypoint, cmd } = runRequestOf(body, name);
  const { findLocalImage } = await import('../image/store.js');
  // docker's CLI pulls on this 404 (minid's service does not pull on its own: POST /images/create does).
  if (!(await findLocalImage(req.image))) throw notFound(`No such image: ${req.image}`);
  const rt = await import('../runtime/container.js');
  const c = await rt.createContainer(req);
  if (entrypoint !== undefined && entrypoint.length > 1) {
    // Recorded as it was asked for (inspect's Config.Entrypoint and Cmd).
    const { saveConfig } = await import('../runtime/state.js');
    c.entrypoint = entrypoint;
    c.cmd = cmd ?? [];
    saveConfig(c);
  }
  sendJson(ctx.res, 201, { Id: c.id, Warnings: [] });
}

/** POST /containers/{id}/start: 204; 304 when it runs already. */
export async function start(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  if (s.status === 'running') return sendEmpty(ctx.res, 304);
  const { startExisting } = await import('../runtime/start.js');
  // StdinOnce and no client attached to its stdin: the container's stdin FIFO waits for a
  // writer (launch.ts); we are that writer, and close it at once: its stdin is empty.
  let started = false;
  const noInput = s.config.stdinOnce && !s.config.tty && !stdinClients.has(s.config.id);
  if (noInput) void openStdin(s.config.id, () => started).then((w) => w?.destroy(), () => {});
  try {
    // A client attached to its terminal before the start: the output is kept for it.
    await startExisting(s, { waitClient: terminalClients.has(s.config.id) });
  } finally {
    started = true;
  }
  const pid = loadState(s.config.id)?.pid;
  if (pid) await settled(pid);
  sendEmpty(ctx.res, 204);
}

/** Containers whose stdin a hijacked attach is about to feed (docker's CLI attaches, then starts). */
const stdinClients = new Set<string>();

/**
 * The write end of a container's stdin FIFO (launch.ts keepStdin), once it has a reader (the
 * shim opens it as it starts the container); undefined if `stop()` said so first. Opened
 * without blocking (O_NONBLOCK, retried), so no thread of the service waits on a FIFO that
 * nobody will read.
 */
async function openStdin(id: string, stop: () => boolean): Promise<net.Socket | undefined> {
  const fifo = path.join(paths.containerRun(id), 'stdin');
  while (!stop()) {
    try {
      const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      return new net.Socket({ fd, readable: false, writable: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENXIO') throw e; // not there yet / no reader yet
    }
    await sleep(5);
  }
  return undefined;
}

/** The client's bytes (raw, never framed) into the container's stdin, until it half-closes. */
async function relayStdin(id: string, sock: import('node:stream').Duplex, head: Buffer, stop: () => boolean): Promise<void> {
  sock.pause(); // kept until the FIFO is open
  try {
    const to = await openStdin(id, stop);
    if (!to) return;
    to.on('error', () => sock.unpipe(to).resume()); // the container has stopped reading: the rest is dropped
    if (head.length) to.write(head);
    sock.pipe(to); // the client's half-close ends it: with StdinOnce, the container reads end-of-file
  } catch {
    sock.resume(); // no stdin to give it to: read and dropped
  } finally {
    stdinClients.delete(id);
  }
}

/** How long `start` waits at most for the command to settle (a command that never sleeps). */
const SETTLE_MS = 50;

/**
 * Until the container's command has exec'd and it and all its processes sleep (or it has
 * ended), SETTLE_MS at most. minid's start returns right before minid-init's execve, some
 * 20-80 ms earlier than docker's (which returns after runc and containerd have answered): a
 * client that probes a published port at once (testcontainers' HTTP wait probes, then waits a
 * second before the next probe) found nginx not yet listening in most cycles. Processes that
 * all wait in the kernel (/proc/PID/stat state S: accept, epoll, a signal) are done with
 * their start-up work as far as anyone can tell from outside. All of them: nginx's image
 * starts with a shell script that waits (S) for the commands it runs before it execs nginx.
 */
async function settled(pid: number): Promise<void> {
  const fs = await import('node:fs');
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined; // gone
    }
  };
  // The state letter of PID (after "PID (comm) "), undefined when it is gone.
  const state = (p: number) => {
    const stat = read(`/proc/${p}/stat`);
    return stat && stat[stat.lastIndexOf(')') + 2];
  };
  // Every process under PID (its threads' children, recursively): all asleep?
  const asleep = (p: number): boolean => {
    const s = state(p);
    if (s === undefined) return true;
    if (s !== 'S') return false;
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return true; // gone
    }
    return tasks.every((t) => (read(`/proc/${p}/task/${t}/children`) ?? '').split(' ').filter(Boolean).every((c) => asleep(Number(c))));
  };
  const until = Date.now() + SETTLE_MS;
  let calm = 0; // polls in a row that found them all asleep: two, to pass over a short wait
  while (Date.now() < until) {
    const s = state(pid);
    if (s === undefined || s === 'Z') return; // it has ended
    calm = read(`/proc/${pid}/comm`)?.trim() !== 'minid-init' && asleep(pid) ? calm + 1 : 0;
    if (calm === 2) return;
    await sleep(1);
  }
}

/** ?t=SECONDS as docker reads it (absent: the container's own timeout). */
function seconds(ctx: Ctx): number | undefined {
  const t = ctx.query.get('t');
  if (t === null || t === '') return undefined;
  if (!/^-?\d+$/.test(t)) throw badRequest(`invalid t "${t}": give whole seconds`);
  return Number(t);
}

/** POST /containers/{id}/stop?t=: 204; 304 when it is not running. */
export async function stop(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const t = seconds(ctx);
  if (s.status !== 'running') return sendEmpty(ctx.res, 304);
  const rt = await import('../runtime/container.js');
  await rt.stopContainer(s.config.id, t);
  sendEmpty(ctx.res, 204);
}

export async function restart(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { restartContainer } = await import('../runtime/start.js');
  await restartContainer(s, seconds(ctx));
  sendEmpty(ctx.res, 204);
}

/** POST /containers/{id}/kill?signal=: 204; 409 when it is not running. */
export async function kill(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const rt = await import('../runtime/container.js');
  const sig = ctx.query.get('signal') || 'SIGKILL';
  try {
    rt.signalNumber(sig);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  await rt.killContainer(s.config.id, sig);
  sendEmpty(ctx.res, 204);
}

/**
 * POST /containers/{id}/wait?condition=not-running|next-exit|removed: {"StatusCode"} once the
 * condition holds. The headers go at once (docker's CLI sends this before start). The exit code
 * is read while waiting: a --rm container may be gone by the time the condition holds.
 */
export async function wait(ctx: Ctx): Promise<void> {
  const cond = ctx.query.get('condition') || 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw badRequest(`invalid condition "${cond}": use not-running, next-exit or removed`);
  const first = container(ctx.params[0]);
  const id = first.config.id;
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res.flushHeaders();
  let gone = false;
  ctx.res.on('close', () => (gone = true));
  const startExit = first.exit?.finishedAt;
  let code = first.exit?.exitCode ?? 0;
  let unrecorded = 0;
  for (let delay = 5; !gone; delay = Math.min(delay * 2, 20)) {
    const s = loadState(id);
    if (!s) break; // removed
    if (s.exit) code = s.exit.exitCode;
    // Its process has ended, and the supervisor writes the exit record a moment later: wait for it (3 s at most).
    const recorded = s.status !== 'exited' || (!!s.exit && s.exit.finishedAt !== startExit) || ++unrecorded > 150;
    if (cond === 'not-running' && s.status !== 'running' && (recorded || s.exit)) break;
    if (cond === 'next-exit' && s.status === 'exited' && s.exit && s.exit.finishedAt !== startExit) break;
    await sleep(delay); // 'removed': until it is gone (its --rm, or someone's DELETE)
  }
  if (!gone) ctx.res.end(JSON.stringify({ StatusCode: code, Error: null }));
}

/** GET /containers/{id}/json: `minid inspect`'s object. */
export async function inspect(ctx: Ctx): Promise<void> {
  const rt = await import('../runtime/container.js');
  const { listStates } = await import('../runtime/state.js');
  const { inspectContainer } = await import('../runtime/inspect.js');
  const { networkIds } = await import('../cli/commands/inspect.js');
  const states = await rt.releaseOrphans(listStates());
  let s: ContainerState;
  try {
    s = findContainer(ctx.params[0], states);
  } catch (e) {
    if (e instanceof NoSuchContainerError) throw notFound(`No such container: ${ctx.params[0]}`);
    throw e;
  }
  sendJson(ctx.res, 200, inspectContainer(s, await networkIds()));
}

/** What docker's container lists (GET /containers/json, /system/df) say of every container. */
export function containerSummary(s: ContainerState, now: number, statusText: (s: ContainerState, now: number) => string) {
  const c = s.config;
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: c.argv.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' '),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Labels: c.labels ?? {},
    State: s.paused ? 'paused' : s.status,
    Status: statusText(s, now),
  };
}

/** GET /containers/json?all=&filters=&limit=: docker's container summaries, newest first. */
export async function list(ctx: Ctx): Promise<void> {
  const rt = await import('../runtime/container.js');
  const { listStates } = await import('../runtime/state.js');
  const { inspectContainer } = await import('../runtime/inspect.js');
  const { networkIds } = await import('../cli/commands/inspect.js');
  const ps = await import('../cli/commands/ps.js');
  const { statusText } = await import('../cli/format.js');
  const { MinidError } = await import('../errors.js');
  const f = parseFilters(ctx.query.get('filters'));
  let filters;
  try {
    filters = ps.parseFilters(Object.entries(f).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
  } catch (e) {
    if (e instanceof MinidError) throw badRequest(e.message);
    throw e;
  }
  const every = await rt.releaseOrphans(listStates());
  const ids = await networkIds();
  let states = every.filter((s) => ps.matches(s, filters, every, ids));
  if (!qbool(ctx.query, 'all') && !filters.has('status') && !filters.has('exited')) states = states.filter((s) => s.status === 'running');
  const limit = Number(ctx.query.get('limit') ?? -1);
  if (limit > 0) states = states.slice(0, limit);
  const now = Date.now();
  const out = states.map((s) => {
    const c = s.config;
    const full = inspectContainer(s, ids) as any;
    const ports = ((c.attachment as any)?.ports ?? []).map((p: any) => ({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol }));
    return {
      ...containerSummary(s, now, statusText),
      Ports: ports,
      HostConfig: { NetworkMode: full.HostConfig.NetworkMode },
      NetworkSettings: { Networks: full.NetworkSettings.Networks },
      Mounts: full.Mounts,
    };
  });
  sendJson(ctx.res, 200, out);
}

/** ?since= / ?until=: Unix seconds (fractions allowed) or minid's forms; 0 or absent: none. */
async function logTime(v: string | null, what: string): Promise<string | undefined> {
  if (v === null || v === '' || v === '0') return undefined;
  const { parseLogTime } = await import('../runtime/logs.js');
  const t = parseLogTime(v);
  if (t === undefined) throw badRequest(`invalid ${what} "${v}": give Unix seconds`);
  return t;
}

/** A container's output to `out`: framed (stdout 1, stderr 2) unless it has a terminal (raw, as docker). */
async function streamLogs(s: ContainerState, out: NodeJS.WritableStream, o: { follow: boolean; stdout: boolean; stderr: boolean; since?: string; until?: string; tail?: number; timestamps?: boolean; signal: AbortSignal }): Promise<void> {
  const { readLogs } = await import('../runtime/logs.js');
  const mux = !s.config.tty;
  const sink = new PassThrough();
  sink.resume(); // a stream not asked for: read and dropped
  const streams = { stdout: o.stdout ? framed(out, 1, mux) : sink, stderr: o.stderr ? framed(out, 2, mux) : sink };
  try {
    await readLogs(s.config.id, { follow: o.follow, since: o.since, until: o.until, tail: o.tail, timestamps: o.timestamps, signal: o.signal }, streams);
  } catch (e) {
    if (!(e instanceof NoSuchContainerError)) throw e; // removed while followed (--rm): the end
  }
}

/** GET /containers/{id}/logs?follow&stdout&stderr&since&until&timestamps&tail. */
export async function logs(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const q = ctx.query;
  const stdout = qbool(q, 'stdout');
  const stderr = qbool(q, 'stderr');
  if (!stdout && !stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const tailRaw = q.get('tail') ?? 'all';
  if (tailRaw !== 'all' && !/^-?\d+$/.test(tailRaw)) throw badRequest(`invalid tail "${tailRaw}": give a number or "all"`);
  const tail = tailRaw === 'all' || Number(tailRaw) < 0 ? undefined : Number(tailRaw);
  const since = await logTime(q.get('since'), 'since');
  const until = await logTime(q.get('until'), 'until');
  const ac = new AbortController();
  ctx.res.on('close', () => ac.abort());
  ctx.res.writeHead(200, { 'Content-Type': s.config.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  ctx.res.flushHeaders();
  await streamLogs(s, ctx.res, { follow: qbool(q, 'follow'), stdout, stderr, since, until, tail, timestamps: qbool(q, 'timestamps'), signal: ac.signal });
  ctx.res.end();
}

/**
 * POST /containers/{id}/attach?stream&stdout&stderr&logs: the container's output from now on
 * (and, with logs=1, what it wrote before), until it exits. Hijacked (docker's CLI: 101 and the
 * raw connection) or a plain streamed answer (dockerode). minid attaches to the log the
 * supervisor writes. With stdin=1 on a hijacked connection, to a container created with
 * OpenStdin, what the client sends goes to its stdin (with StdinOnce, its end ends it).
 */
export async function attach(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const q = ctx.query;
  if (ctx.upgrade && s.config.tty && qbool(q, 'stream', true)) return attachTerminal(ctx, s);
  const stdout = qbool(q, 'stdout');
  const stderr = qbool(q, 'stderr');
  const { recordTime } = await import('../runtime/logs.js');
  const since = qbool(q, 'logs') ? undefined : recordTime(Date.now());
  const contentType = s.config.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  let out: NodeJS.WritableStream;
  const ac = new AbortController();
  let ended = false;
  if (ctx.upgrade) {
    await readJson(ctx).catch(() => ({})); // a body, if any, is not ours to use
    // stdin=1 of a container created with OpenStdin (no terminal): the client's input is its stdin
    const input = qbool(q, 'stdin') && s.config.interactive && !s.config.tty;
    if (input) stdinClients.add(s.config.id);
    const sock = upgraded(ctx, contentType);
    sock.on('close', () => ac.abort());
    if (input) void relayStdin(s.config.id, sock, ctx.upgrade.head, () => ac.signal.aborted || ended);
    else sock.resume(); // stdin: not attached (read and dropped)
    out = sock;
  } else {
    ctx.res.writeHead(200, { 'Content-Type': contentType });
    ctx.res.flushHeaders();
    ctx.res.on('close', () => ac.abort());
    out = ctx.res;
  }
  if (qbool(q, 'stream', true)) {
    // Attached before start (docker's CLI does so): wait for the container to run.
    while (!ac.signal.aborted && loadState(s.config.id)?.status === 'created') await sleep(10);
  }
  if (!ac.signal.aborted && loadState(s.config.id)) {
    await streamLogs(s, out, { follow: qbool(q, 'stream', true), stdout, stderr, since, signal: ac.signal });
  }
  ended = true;
  out.end();
}

/**
 * Containers a hijacked attach waits on to connect to their terminal (docker's CLI attaches,
 * then starts, then resizes): the start makes minid-console keep the output for it, and a
 * resize waits until it is connected (or the console would take the resize's connection for
 * its first client and give it the output).
 */
const terminalClients = new Map<string, Promise<void>>();

/**
 * A hijacked attach to a container with a terminal (`docker run -it`, `docker attach`): the
 * connection is relayed to minid-console (console.c), as `minid attach` is: the terminal's
 * output raw to the client; with stdin=1 (and OpenStdin) the client's keys to the terminal,
 * until the detach keys (?detachKeys=, docker's default ctrl-p,ctrl-q), which leave it running.
 */
async function attachTerminal(ctx: Ctx, s: ContainerState): Promise<void> {
  const { relayConsole } = await import('./terminal.js');
  const { attachSocket } = await import('../runtime/state.js');
  const id = s.config.id;
  const keys = await detachKeysOf(ctx.query);
  await readJson(ctx).catch(() => ({})); // a body, if any, is not ours to use
  let connected!: () => void;
  terminalClients.set(id, new Promise<void>((r) => (connected = r)));
  const head = ctx.upgrade!.head;
  const sock = upgraded(ctx, 'application/vnd.docker.raw-stream');
  let gone = false;
  sock.on('close', () => (gone = true));
  try {
    // Attached before start (docker's CLI does so): wait for the container to run.
    while (!gone && loadState(id)?.status === 'created') await sleep(10);
    const input = qbool(ctx.query, 'stdin') && s.config.interactive;
    await relayConsole(sock, head, attachSocket(id), { input, keys, waiting: () => loadState(id)?.status === 'running', connected });
  } finally {
    connected();
    terminalClients.delete(id);
  }
}

/** `?detachKeys=` (docker's default ctrl-p,ctrl-q), checked: a bad one is docker's 400. */
export async function detachKeysOf(q: URLSearchParams): Promise<Buffer> {
  const { parseDetachKeys, DEFAULT_DETACH_KEYS } = await import('../runtime/console.js');
  try {
    return parseDetachKeys(q.get('detachKeys') ?? DEFAULT_DETACH_KEYS, 1);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

/** POST /containers/{id}/resize?h=ROWS&w=COLS: the terminal's size (a container without one: nothing to do). */
export async function resize(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { resizeConsole, sizeOf } = await import('./terminal.js');
  const size = sizeOf(ctx.query);
  if (!size) throw badRequest(`invalid terminal size h=${JSON.stringify(ctx.query.get('h'))} w=${JSON.stringify(ctx.query.get('w'))}: give rows and columns as whole numbers`);
  if (s.status !== 'running') throw conflict(`Container ${s.config.id} is not running`);
  if (s.config.tty) {
    const { attachSocket } = await import('../runtime/state.js');
    // A client attaching now connects first (see terminalClients); a second at most.
    await Promise.race([terminalClients.get(s.config.id), sleep(2000)]);
    await resizeConsole(attachSocket(s.config.id), size.rows, size.cols);
  }
  sendEmpty(ctx.res, 200);
}

/** DELETE /containers/{id}?force&v: 204; 409 when it runs and force is not given. */
export async function remove(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const rt = await import('../runtime/container.js');
  try {
    await rt.removeContainer(s.config.id, qbool(ctx.query, 'force'), undefined, qbool(ctx.query, 'v'));
  } catch (e) {
    if (e instanceof NoSuchContainerError) throw notFound(`No such container: ${ctx.params[0]}`);
    throw e;
  }
  sendEmpty(ctx.res, 204);
}

/** The path of an archive request, absolute in the container. */
function archivePath(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw badRequest('path is required: the file or folder in the container');
  return p.startsWith('/') ? p : `/${p}`;
}

/**
 * GET /containers/{id}/archive?path=: a tar of the path (`minid cp CONTAINER:PATH -`). The
 * X-Docker-Container-Path-Stat header is docker's stat of the path (its name, at least).
 */
export async function getArchive(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const p = archivePath(ctx);
  const { copyFromContainer } = await import('../runtime/cp.js');
  const stat = await pathStat(s, p);
  const tar = new PassThrough();
  const res = ctx.res;
  let begun = false;
  tar.on('data', (d: Buffer) => {
    if (!begun) {
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': stat });
      begun = true;
    }
    if (!res.write(d)) {
      tar.pause();
      res.once('drain', () => tar.resume());
    }
  });
  try {
    await copyFromContainer(s, p, { stream: tar }, {});
  } catch (e) {
    if (begun) return void res.destroy();
    throw e;
  }
  const drained = new Promise<void>((r) => tar.once('end', r));
  tar.end();
  await drained;
  if (!begun) res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': stat });
  res.end();
}

/** docker's stat header of a container path (base64 JSON), or 404 when it is not there. */
async function pathStat(s: ContainerState, p: string): Promise<string> {
  const { statInContainer } = await import('../runtime/cp.js');
  const st = await statInContainer(s, p);
  if (!st) throw notFound(`Could not find the file ${p} in container ${s.config.name}`);
  return Buffer.from(JSON.stringify(st)).toString('base64');
}

/** HEAD /containers/{id}/archive?path=: the stat header alone (docker cp asks it first). */
export async function statArchive(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': await pathStat(s, archivePath(ctx)) });
  ctx.res.end();
}

/** PUT /containers/{id}/archive?path=: the body (a tar) unpacked into that folder (`minid cp - CONTAINER:PATH`). */
export async function putArchive(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const p = archivePath(ctx);
  const { copyToContainer } = await import('../runtime/cp.js');
  await copyToContainer(s, { stream: ctx.req }, p, {});
  sendEmpty(ctx.res, 200);
}
