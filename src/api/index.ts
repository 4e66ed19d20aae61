// minid's TypeScript API: `import { run, Container } from 'minid'`. For tests that need real
// containers: run one, wait until it serves, talk to it, and have it removed afterwards, even
// when the test process crashes (a session and its reaper: session.ts).
//
// The API is a second front end to the same runtime as the CLI: it calls src/runtime,
// src/image and src/network, as src/cli does, and never starts `minid` itself (only the
// runtime does, where it always does: a supervisor's exit hook). Importing it does nothing:
// every module of the runtime is loaded when a function first needs it, and MINID_ROOT,
// MINID_RUN (a private store) are read at each call, as the CLI reads them.
//
// Errors: a user mistake is a MinidError (exported), with the one line the CLI would print.
import './dispose.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Writable } from 'node:stream';
import { fail, MinidError } from '../errors.js';
import { Session, defaultSession } from './session.js';
import type {
  ConnectOptions, ContainerStatus, CopyOptions, ExecOptions, ExecResult, HealthCheck, Logs, LogsOptions, NetworkOptions, PortMapping,
  RunOptions, WaitForLogOptions, WaitOptions,
} from './types.js';

export type * from './types.js';
export { MinidError, Session, defaultSession };
export { SESSION_LABEL } from './reap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every call needs first: root (namespaces, mounts, iptables), and a store safe to write. */
export async function ready(): Promise<void> {
  if (process.getuid?.() !== 0) fail('the minid API must run as root (it creates namespaces, mounts and iptables rules): run the tests with sudo');
  (await import('../sys/paths.js')).secureStore();
}

/** A container of this store. Get one from `run()` or `Container.get()`. */
export class Container {
  /** The host address its published ports are reached at. */
  readonly host = '127.0.0.1';

  constructor(
    /** Its full id (64 hex digits). */
    readonly id: string,
    /** Its name. */
    readonly name: string,
  ) {}

  /** A container by name, id or unique id prefix (not necessarily this session's). */
  static async get(ref: string): Promise<Container> {
    await ready();
    const { findContainer } = await import('../runtime/state.js');
    const s = findContainer(ref);
    return new Container(s.config.id, s.config.name);
  }

  private async state() {
    const { loadState, NoSuchContainerError } = await import('../runtime/state.js');
    const s = loadState(this.id);
    if (!s) throw new NoSuchContainerError(this.id);
    return s;
  }

  /** created | running | exited. */
  async status(): Promise<ContainerStatus> {
    return (await this.state()).status;
  }

  /** docker inspect's JSON for it (docker 20.10's shape; minid's own facts under Minid). */
  async inspect(): Promise<Record<string, any>> {
    const { inspectContainer } = await import('../runtime/inspect.js');
    const { networkIds } = await import('../cli/commands/inspect.js'); // the networks' ids, as `minid inspect` gives them
    return inspectContainer(await this.state(), await networkIds());
  }

  /** Its published ports (`minid port`). */
  async ports(): Promise<PortMapping[]> {
    const ports = ((await this.state()).config.attachment as { ports?: PortMapping[] } | undefined)?.ports ?? [];
    return ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }));
  }

  /** The host port a container port is published on (`-p 80` picks a random one). */
  async port(containerPort: number, protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
    const p = (await this.ports()).find((m) => m.containerPort === containerPort && m.protocol === protocol);
    if (!p) fail(`container ${this.name} does not publish ${containerPort}/${protocol}: run it with ports: [${containerPort}]`);
    return p.hostPort;
  }

  /** http://127.0.0.1:HOSTPORT/PATH of a published container port. */
  async url(containerPort: number, urlPath = '/'): Promise<string> {
    return `http://${this.host}:${await this.port(containerPort)}${urlPath.startsWith('/') ? urlPath : `/${urlPath}`}`;
  }

  /** Its address on its (first) network: none with --network none or host. */
  async ip(): Promise<string | undefined> {
    return ((await this.state()).config.attachment as { ip?: string } | undefined)?.ip;
  }

  /** Its exit code once it has ended (`minid wait`); 255 if it is unknown. */
  async wait(): Promise<number> {
    const { waitExit } = await import('../runtime/container.js');
    return (await waitExit(this.id))?.exitCode ?? 255;
  }

  /** Run a command in it (`minid exec`), with its output captured. A non-zero exit is no error: see exitCode. */
  async exec(command: string[], o: ExecOptions = {}): Promise<ExecResult> {
    const { prepareExec } = await import('../runtime/exec.js');
    const { envFlags } = await import('./options.js');
    const { spawnProcess } = await import('../sys/exec.js');
    const { constants } = await import('node:os');
    const x = await prepareExec({ ref: this.id, command, user: o.user, workdir: o.workdir, env: envFlags(o.env), privileged: !!o.privileged });
    const child = await spawnProcess(x.argv, { env: x.env, cleanEnv: true, stdio: [o.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    if (o.input !== undefined) {
      child.stdin!.on('error', () => {}); // a command that does not read its input
      child.stdin!.end(o.input);
    }
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? ((constants.signals as Record<string, number>)[sig] ?? 0) : 0)));
    });
    return { exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  /** Its output so far (`minid logs`), stdout and stderr apart. */
  async logs(o: LogsOptions = {}): Promise<Logs> {
    const { readLogs, parseLogTime, recordTime } = await import('../runtime/logs.js');
    const time = (what: string, v: Date | string | undefined) => {
      if (v === undefined) return undefined;
      const t = v instanceof Date ? recordTime(v.getTime()) : parseLogTime(v);
      if (t === undefined) fail(`logs: ${what} ${v} is not a time: give a Date, a duration before now (10m), Unix seconds or an RFC 3339 time`);
      return t;
    };
    const text = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const sink = (to: Buffer[]) => new Writable({ write: (chunk, _enc, done) => (to.push(Buffer.from(chunk)), done()) });
    await readLogs(this.id, { tail: o.tail, timestamps: o.timestamps, since: time('since', o.since), until: time('until', o.until) }, { stdout: sink(text.stdout), stderr: sink(text.stderr) });
    return { stdout: Buffer.concat(text.stdout).toString(), stderr: Buffer.concat(text.stderr).toString() };
  }

  /**
   * Wait until its output matches `pattern` (`times` times: default once); resolves with the
   * last match. Fails when it times out or the container ends first, with its last lines.
   */
  async waitForLog(pattern: RegExp | string, o: WaitForLogOptions = {}): Promise<RegExpMatchArray> {
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    const want = o.times ?? 1;
    return this.until(`a log line matching ${re}${want > 1 ? ` ${want} times` : ''}`, o, async () => {
      const l = await this.logs();
      const text = o.stream === 'stdout' ? l.stdout : o.stream === 'stderr' ? l.stderr : `${l.stdout}\n${l.stderr}`;
      const found = [...text.matchAll(global)];
      return found.length >= want ? found[want - 1] : undefined;
    });
  }

  /**
   * Wait until a container port accepts TCP connections: at its published host port (what a
   * test reaches), else at the container's own address (with --network host: the host's).
   */
  async waitForPort(containerPort: number, o: WaitOptions = {}): Promise<void> {
    const published = (await this.ports()).find((p) => p.containerPort === containerPort && p.protocol === 'tcp');
    const hostNet = (await this.state()).config.net.mode === 'host';
    const ip = published ? (published.hostIp === '0.0.0.0' ? this.host : published.hostIp) : hostNet ? this.host : await this.ip();
    if (!ip) fail(`container ${this.name} has no address to reach port ${containerPort} at (network none?): publish it, or use waitForLog`);
    const port = published ? published.hostPort : containerPort;
    await this.until(`port ${containerPort} to accept connections (${ip}:${port})`, o, () => connects(ip, port));
  }

  /**
   * Wait until it is healthy. Without a check: by its own health check (the `healthcheck` run
   * option, --health-cmd, the image's HEALTHCHECK), as testcontainers' Wait.forHealthCheck:
   * healthy resolves, unhealthy fails. With one: by the test's own, a function that resolves
   * to anything but `false` without throwing, or a command that exits 0 in it.
   */
  async waitForHealthy(check?: HealthCheck | WaitOptions, o: WaitOptions = {}): Promise<void> {
    if (check === undefined || (typeof check === 'object' && !Array.isArray(check))) return this.waitForOwnHealth(check ?? o);
    let last = '';
    const what = Array.isArray(check) ? `\`${check.join(' ')}\` to exit 0` : 'the health check to pass';
    await this.until(what, o, async () => {
      try {
        if (Array.isArray(check)) {
          const r = await this.exec(check);
          last = r.exitCode === 0 ? '' : `exit ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;
          return r.exitCode === 0 || undefined;
        }
        const ok = await check(this);
        last = ok === false ? 'the check returned false' : '';
        return ok !== false || undefined;
      } catch (e) {
        last = (e as Error)?.message ?? String(e);
        return undefined;
      }
    }, () => last);
  }

  /** The container's own health check, as its health monitor records it (runtime/health.ts). */
  private async waitForOwnHealth(o: WaitOptions): Promise<void> {
    const { activeCheck, readHealth } = await import('../runtime/health.js');
    if (!activeCheck((await this.state()).config.healthcheck))
      fail(`container ${this.name} has no health check: run it with one (the healthcheck option, --health-cmd) or give waitForHealthy a check of your own`);
    let last = '';
    await this.until('its health check to say healthy', o, async () => {
      const h = readHealth((await this.state()).config);
      const out = h?.Log.at(-1);
      last = out ? `exit ${out.ExitCode}${out.Output.trim() ? `: ${out.Output.trim().split('\n').pop()}` : ''}` : '';
      if (h?.Status === 'unhealthy') fail(`container ${this.name} is unhealthy (failing streak ${h.FailingStreak}${last ? `; last: ${last}` : ''})`);
      return h?.Status === 'healthy' || undefined;
    }, () => last);
  }

  /** Poll `probe` until it gives a value; fail on time-out, or when the container is no longer running. */
  private async until<T>(what: string, o: WaitOptions, probe: () => Promise<T | undefined>, lastError?: () => string): Promise<T> {
    const timeout = o.timeout ?? 60_000;
    const end = Date.now() + timeout;
    for (;;) {
      const got = await probe();
      if (got !== undefined) return got;
      const status = await this.status();
      const why = status !== 'running' ? `it is ${status}` : Date.now() > end ? `not within ${timeout} ms` : undefined;
      if (why) {
        const tail = await this.logs({ tail: 5 }).catch(() => ({ stdout: '', stderr: '' }));
        const lines = `${tail.stdout}${tail.stderr}`.trim();
        const err = lastError?.();
        throw new MinidError(`container ${this.name}: waited for ${what}, but ${why}${err ? ` (last: ${err})` : ''}${lines ? `; its last lines:\n${lines}` : ''}`, 1);
      }
      await sleep(o.interval ?? 100);
    }
  }

  /** Copy a host file or folder into it (`minid cp HOST NAME:PATH`, docker's placement rules). */
  async copyTo(hostPath: string, containerPath: string, o: CopyOptions = {}): Promise<void> {
    const { copyToContainer } = await import('../runtime/cp.js');
    await copyToContainer(await this.state(), { host: hostPath }, absolute(containerPath), o);
  }

  /** Copy a file or folder out of it (`minid cp NAME:PATH HOST`). */
  async copyFrom(containerPath: string, hostPath: string, o: CopyOptions = {}): Promise<void> {
    const { copyFromContainer } = await import('../runtime/cp.js');
    await copyFromContainer(await this.state(), absolute(containerPath), { host: hostPath }, o);
  }

  /** Write `content` to a file in it (made, or replaced), through copyTo. */
  async writeFile(containerPath: string, content: string | Buffer): Promise<void> {
    await withTempDir(async (dir) => {
      const f = path.join(dir, path.posix.basename(containerPath) || 'file');
      fs.writeFileSync(f, content);
      await this.copyTo(f, containerPath);
    });
  }

  /** A file's content, read through copyFrom. */
  async readFile(containerPath: string): Promise<Buffer> {
    return withTempDir(async (dir) => {
      const f = path.join(dir, 'file');
      await this.copyFrom(containerPath, f, { followLink: true });
      return fs.readFileSync(f);
    });
  }

  /** `minid stop`: its stop signal, then SIGKILL after `timeout` seconds (default: its --stop-timeout, else 10). */
  async stop(o: { timeout?: number } = {}): Promise<void> {
    const { stopContainer } = await import('../runtime/container.js');
    await stopContainer(this.id, o.timeout);
  }

  /** `minid kill`: a signal (default SIGKILL). */
  async kill(signal = 'SIGKILL'): Promise<void> {
    const { killContainer } = await import('../runtime/container.js');
    await killContainer(this.id, signal);
  }

  /** `minid restart`. */
  async restart(o: { timeout?: number } = {}): Promise<void> {
    const { restartContainer } = await import('../runtime/start.js');
    await restartContainer(await this.state(), o.timeout);
  }

  /** `minid network connect`. */
  async connect(network: string | Network, o: ConnectOptions = {}): Promise<void> {
    const { connectContainer } = await import('../runtime/connect.js');
    await connectContainer(typeof network === 'string' ? network : network.name, this.id, { ip: o.ip, aliases: o.aliases });
  }

  /** `minid network disconnect`. */
  async disconnect(network: string | Network, o: { force?: boolean } = {}): Promise<void> {
    const { disconnectContainer } = await import('../runtime/connect.js');
    await disconnectContainer(typeof network === 'string' ? network : network.name, this.id, { force: !!o.force });
  }

  /**
   * `minid rm`: by default `rm -f -v` (killed if running, its anonymous volumes too). One
   * already gone is no error.
   */
  async remove(o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const { removeContainer } = await import('../runtime/container.js');
    const { NoSuchContainerError } = await import('../runtime/state.js');
    try {
      await removeContainer(this.id, o.force ?? true, undefined, o.volumes ?? true);
    } catch (e) {
      if (!(e instanceof NoSuchContainerError)) throw e;
    }
  }

  /** `await using c = await run(...)`: removed at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }
}

/** A user-defined network (`minid network create`). */
export class Network {
  constructor(
    readonly id: string,
    readonly name: string,
    readonly subnet: string,
    readonly gateway: string,
  ) {}

  /** `minid network connect NETWORK CONTAINER`. */
  async connect(container: Container | string, o: ConnectOptions = {}): Promise<void> {
    const c = typeof container === 'string' ? await Container.get(container) : container;
    await c.connect(this, o);
  }

  /** `minid network disconnect`. */
  async disconnect(container: Container | string, o: { force?: boolean } = {}): Promise<void> {
    const c = typeof container === 'string' ? await Container.get(container) : container;
    await c.disconnect(this, o);
  }

  /** `minid network rm` (refused while containers are on it). One already gone is no error. */
  async remove(): Promise<void> {
    const { records, removeNetwork } = await import('../network/networks.js');
    if (!records().some((r) => r.id === this.id)) return;
    await removeNetwork(this.name);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }
}

/**
 * `minid run -d`: a container of the default session (see Session), started; its image pulled
 * first when `pull` says so (default: when the store has none of that name).
 */
export async function run(image: string, options: RunOptions = {}): Promise<Container> {
  return (await defaultSession()).run(image, options);
}

/** `minid network create`, a network of the default session. */
export async function createNetwork(options: NetworkOptions = {}): Promise<Network> {
  return (await defaultSession()).createNetwork(options);
}

/** `minid pull REF`: from its registry (docs/registries.md: mirrors, offline switch). Resolves with the image's id. */
export async function pull(ref: string, o: { platform?: string } = {}): Promise<string> {
  await ready();
  const { pullImage } = await import('../image/pull.js');
  return (await pullImage(ref, { platform: o.platform })).id;
}

/** `minid load -i PATH`: an OCI layout (folder or tar) or a `docker save` tarball. Resolves with the names loaded (the id of one without). */
export async function load(input: string): Promise<string[]> {
  await ready();
  const { loadImages } = await import('../image/store.js');
  return (await loadImages(input)).flatMap((img) => (img.names.length ? img.names : [img.id]));
}

/** The containers of this store (`minid ps -a`), optionally those with a label (`key` or `key=value`). */
export async function containers(o: { label?: string } = {}): Promise<Container[]> {
  await ready();
  const { listStates } = await import('../runtime/state.js');
  const [k, v] = o.label ? [o.label.split('=')[0], o.label.includes('=') ? o.label.slice(o.label.indexOf('=') + 1) : undefined] : [];
  return listStates()
    .filter((s) => k === undefined || (k in (s.config.labels ?? {}) && (v === undefined || s.config.labels?.[k] === v)))
    .map((s) => new Container(s.config.id, s.config.name));
}

/** `minid network ls`'s user networks with a label, as Network objects. */
export async function networks(o: { label?: string } = {}): Promise<Network[]> {
  await ready();
  const { records } = await import('../network/networks.js');
  const [k, v] = o.label ? [o.label.split('=')[0], o.label.includes('=') ? o.label.slice(o.label.indexOf('=') + 1) : undefined] : [];
  return records()
    .filter((r) => !r.builtin && (k === undefined || (k in (r.labels ?? {}) && (v === undefined || r.labels?.[k] === v))))
    .map((r) => new Network(r.id, r.name, r.subnet, r.gateway));
}

/** A TCP connection to ip:port opens (then it is closed): true, else undefined. */
function connects(ip: string, port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: 1000 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok || undefined);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}

const absolute = (p: string) => (p.startsWith('/') ? p : `/${p}`);

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-api-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
