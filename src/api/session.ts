// A session: what one test process starts, labelled minid.session=<its id> (reap.ts), so
// that all of it can be found and removed at the end, by `close()` (or `await using`) or, if
// the process never gets there (it crashed, it was killed with SIGKILL), by its reaper: a
// detached process started with the session that waits for the end of a pipe from this
// process (reaper.ts). The top-level run() and createNetwork() use a default session made on
// first use, whose reaper cleans up when the process exits.
import './dispose.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { SESSION_LABEL, reapSession, type Reaped } from './reap.js';
import type { NetworkOptions, RunOptions, SessionOptions } from './types.js';
import type { Container, Network } from './index.js';

type Pipe = { destroy(): void; unref?(): void };

export class Session {
  /** Its id: the value of the minid.session label on everything it made. */
  readonly id = crypto.randomBytes(16).toString('hex');
  /** The labels its containers and networks get. */
  readonly labels: Readonly<Record<string, string>> = { [SESSION_LABEL]: this.id };
  /** The reaper's pid (none without one). */
  reaperPid?: number;
  private pipe?: Pipe;
  private closed = false;

  private constructor() {}

  /** A new session, with its reaper started (unless `reaper: false`). */
  static async start(o: SessionOptions = {}): Promise<Session> {
    const { ready } = await import('./index.js');
    await ready();
    const s = new Session();
    if (o.reaper !== false) await s.startReaper(o.reaperLog ?? (process.env.MINID_REAPER_LOG || undefined));
    return s;
  }

  private async startReaper(log?: string): Promise<void> {
    // dist/api/reaper.js, next to this module (the API is bundled into dist/api: scripts/bundle.mjs).
    const script = fileURLToPath(new URL('./reaper.js', import.meta.url));
    if (!fs.existsSync(script)) fail(`${script} is missing: the API's reaper is built by \`make build\``);
    const { spawnProcess } = await import('../sys/exec.js');
    // The environment of this process (MINID_ROOT, MINID_RUN: the same store), but not Node's
    // options for it (a test runner's loaders are not the reaper's).
    const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'NODE_OPTIONS'));
    const out = log ? fs.openSync(log, 'a') : 'ignore';
    try {
      const child = await spawnProcess([process.execPath, script, this.id], { env, cleanEnv: true, stdio: ['pipe', 'ignore', out], detached: true });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e) => reject(new Error(`cannot start the session's reaper: ${e.message}`)));
      });
      // Nothing keeps this process alive for it: its exit is what the reaper waits for.
      child.unref();
      const pipe = child.stdin as unknown as Pipe;
      pipe.unref?.();
      this.pipe = pipe;
      this.reaperPid = child.pid;
    } finally {
      if (typeof out === 'number') fs.closeSync(out);
    }
  }

  private check(): void {
    if (this.closed) fail('this minid session is closed: start another (Session.start())');
  }

  /** `minid run -d` in this session (labelled with it). */
  async run(image: string, o: RunOptions = {}): Promise<Container> {
    this.check();
    const { ready, Container } = await import('./index.js');
    await ready();
    const { runRequest } = await import('./options.js');
    const req = await runRequest(image, o, { ...this.labels });
    await pullIfNeeded(image, o);
    const rt = await import('../runtime/container.js');
    const c = await rt.createContainer(req);
    try {
      const started = await rt.startContainer(c, { explain: o.explain, spawn: rt.spawnDetachedSupervisor(c) });
      // minid-init's report: the command runs, or the error `minid run -d` would say (not found: 127).
      await rt.spawnDetached(c, started);
    } catch (e) {
      // Not started: not kept either (the error says why; the CLI keeps it for `minid logs`).
      await rt.removeContainer(c.id, true, undefined, true).catch(() => {});
      if (c.cidfile) fs.rmSync(c.cidfile, { force: true });
      throw e;
    }
    return new Container(c.id, c.name);
  }

  /** `minid network create` in this session. */
  async createNetwork(o: NetworkOptions = {}): Promise<Network> {
    this.check();
    const { ready, Network } = await import('./index.js');
    await ready();
    const { createNetwork } = await import('../network/networks.js');
    const name = o.name ?? `minid-api-${crypto.randomBytes(4).toString('hex')}`;
    const r = await createNetwork({ name, subnet: o.subnet, gateway: o.gateway, driver: o.driver, labels: { ...(o.labels ?? {}), ...this.labels } });
    return new Network(r.id, r.name, r.subnet, r.gateway);
  }

  /** Its containers (all states). */
  async containers(): Promise<Container[]> {
    const { containers } = await import('./index.js');
    return containers({ label: `${SESSION_LABEL}=${this.id}` });
  }

  /** Its networks. */
  async networks(): Promise<Network[]> {
    const { networks } = await import('./index.js');
    return networks({ label: `${SESSION_LABEL}=${this.id}` });
  }

  /** Remove everything of this session (containers, then networks) and stop its reaper. */
  async close(): Promise<Reaped> {
    this.closed = true;
    if (this === current) current = undefined;
    try {
      return await reapSession(this.id);
    } finally {
      // The pipe's end: the reaper finds nothing left and exits.
      this.pipe?.destroy();
      this.pipe = undefined;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const r = await this.close();
    if (r.errors.length) fail(`minid session ${this.id.slice(0, 12)}: could not remove everything: ${r.errors.join('; ')}`);
  }
}

let current: Promise<Session> | Session | undefined;

/** The session of the top-level run() and createNetwork(): made on first use. */
export async function defaultSession(): Promise<Session> {
  if (!current) {
    const starting = Session.start();
    current = starting;
    starting.then((s) => current === starting && (current = s), () => current === starting && (current = undefined));
  }
  return current;
}

/** The image, pulled when --pull says so: always; missing (default) when the store has none of that name; never. */
async function pullIfNeeded(image: string, o: RunOptions): Promise<void> {
  const policy = o.pull ?? 'missing';
  if (!['always', 'missing', 'never'].includes(policy)) fail(`invalid pull option: ${JSON.stringify(policy)}: must be one of "always", "missing" or "never"`);
  const { findLocalImage } = await import('../image/store.js');
  const local = await findLocalImage(image);
  if (policy === 'never' && !local) fail(`image ${JSON.stringify(image)} not found locally, and pull: "never" forbids pulling it: pull it (pull("${image}")) or load it first`);
  if (policy === 'always' || (policy === 'missing' && !local)) {
    const { tryParseReference } = await import('../image/ref.js');
    if (!local && !tryParseReference(image)) return; // not a name (an ID prefix): the store's own error follows
    const { pullImage } = await import('../image/pull.js');
    await pullImage(image, { platform: o.platform });
  }
}
