// /containers/{id}/...: the everyday verbs of docker's CLI: stats, top, pause, unpause, rename,
// changes (diff), export, and /containers/prune (update: a clear 501, minid has no such verb). Each calls the runtime module the minid
// command calls (src/runtime: stats, top, pause, rename, diff, export, housekeeping) and says
// what it found in docker's JSON.
import { Writable } from 'node:stream';
import { isMinidError } from '../errors.js';
import type { Sample } from '../runtime/stats.js';
import { type ContainerState, loadState } from '../runtime/state.js';
import { container } from './containers.js';
import { type Ctx, ApiError, badRequest, conflict, qbool, sendEmpty, sendJson } from './http.js';
import { parseFilters } from './images.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A runtime error whose words say it is a conflict with the container's state: docker's 409. */
function conflictOn(e: unknown, re: RegExp): unknown {
  return isMinidError(e) && re.test((e as Error).message) ? conflict((e as Error).message) : e;
}

// --- stats -------------------------------------------------------------------------------

/** Go's zero time: docker's `read`/`preread` where there is no sample. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** docker's cpu_stats of one sample (none: the empty one a container that is not running gets). */
function cpuStats(x: Sample | undefined) {
  if (!x) return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    cpu_usage: { total_usage: x.cpuNs, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: x.systemNs,
    online_cpus: x.onlineCpus,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/**
 * One stats object in docker's shape (types.StatsJSON). The CLI computes its columns from it:
 * CPU % from cpu_stats less precpu_stats (container and host time, times online_cpus), MEM
 * USAGE from memory_stats.usage less stats.total_inactive_file (v1) or inactive_file (v2),
 * NET I/O from networks, BLOCK I/O from blkio_stats, PIDS from pids_stats.current.
 */
export function statsJson(s: ContainerState, now: { at: string; x?: Sample }, pre: { at: string; x?: Sample } | undefined) {
  const x = now.x;
  const d = x?.detail;
  return {
    read: now.at,
    preread: pre?.at ?? ZERO_TIME,
    pids_stats: x ? { current: x.pids } : {},
    blkio_stats: {
      io_service_bytes_recursive: d ? d.blkio.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value })) : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(x),
    precpu_stats: cpuStats(pre?.x),
    memory_stats: x ? { usage: d?.memRaw ?? x.memUsage, stats: d?.memStat ?? {}, limit: x.memLimit } : {},
    name: `/${s.config.name}`,
    id: s.config.id,
    ...(x
      ? {
          networks: Object.fromEntries(
            Object.entries(d?.nets ?? {}).map(([n, c]) => [
              n,
              { rx_bytes: c.rxBytes, rx_packets: c.rxPackets, rx_errors: c.rxErrors, rx_dropped: c.rxDropped, tx_bytes: c.txBytes, tx_packets: c.txPackets, tx_errors: c.txErrors, tx_dropped: c.txDropped },
            ]),
          ),
        }
      : {}),
  };
}

/**
 * GET /containers/{id}/stats?stream=1|0&one-shot=: as docker's daemon. stream=1 (the default):
 * one object a second (the first with an empty precpu_stats) until the client leaves or the
 * container is removed; stream=0: two samples a second apart, one object (so that CPU % has a
 * delta); with one-shot=1, one sample at once. A container that is not running gives empty
 * objects (the CLI shows zeros), as docker's.
 */
export async function stats(ctx: Ctx): Promise<void> {
  const first = container(ctx.params[0]);
  const id = first.config.id;
  const stream = qbool(ctx.query, 'stream', true);
  const oneShot = qbool(ctx.query, 'one-shot');
  if (stream && oneShot) throw badRequest('cannot have stream=true and one-shot=true');
  const { hostLayout } = await import('../runtime/cgroup.js');
  const { sample } = await import('../runtime/stats.js');
  const layout = hostLayout();
  // One sample: undefined once the container is gone; `x` absent while it is not running.
  const take = (): { s: ContainerState; at: string; x?: Sample } | undefined => {
    const s = loadState(id);
    if (!s) return undefined;
    const at = new Date().toISOString();
    if (s.status !== 'running' || !layout || !s.config.cgroup) return { s, at };
    return { s, at, x: sample(layout, id, s.pid) };
  };
  let gone = false;
  ctx.res.on('close', () => (gone = true));
  let pre = take();
  if (!pre) return void container(ctx.params[0]); // removed meanwhile: its 404
  if (!stream) {
    if (!oneShot && pre.x) {
      await sleep(1000);
      const now = take() ?? pre;
      return sendJson(ctx.res, 200, statsJson(now.s, now, now === pre ? undefined : pre));
    }
    return sendJson(ctx.res, 200, statsJson(pre.s, pre, undefined));
  }
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  let prev: typeof pre | undefined;
  for (let now: typeof pre | undefined = pre; now && !gone; now = take()) {
    ctx.res.write(JSON.stringify(statsJson(now.s, now, prev)) + '\n');
    prev = now;
    for (let t = 0; t < 10 && !gone; t++) await sleep(100); // a second, ended early when the client leaves
  }
  ctx.res.end();
}

// --- top, pause, unpause, rename ----------------------------------------------------------

/** GET /containers/{id}/top?ps_args=: {"Titles", "Processes"} of the host's ps, the container's rows; 409 when it is not running. */
export async function top(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const args = (ctx.query.get('ps_args') ?? '').trim().split(/\s+/).filter(Boolean);
  const rt = await import('../runtime/top.js');
  const { titles, rows } = await rt.top(s, args).catch((e) => {
    throw conflictOn(e, /is not running/);
  });
  sendJson(ctx.res, 200, { Titles: titles, Processes: rows });
}

/** POST /containers/{id}/pause: 204; 409 when it is not running or already paused. */
export async function pause(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { pauseContainer } = await import('../runtime/pause.js');
  await pauseContainer(s).catch((e) => {
    throw conflictOn(e, /is not running|already paused/);
  });
  sendEmpty(ctx.res, 204);
}

/** POST /containers/{id}/unpause: 204; 409 when it is not paused. */
export async function unpause(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { unpauseContainer } = await import('../runtime/pause.js');
  await unpauseContainer(s).catch((e) => {
    throw conflictOn(e, /is not paused/);
  });
  sendEmpty(ctx.res, 204);
}

/** POST /containers/{id}/rename?name=: 204; 400 a bad or unchanged name, 409 a name in use. */
export async function rename(ctx: Ctx): Promise<void> {
  const name = ctx.query.get('name') ?? '';
  const s = container(ctx.params[0]);
  if (!name) throw badRequest('Neither old nor new names may be empty');
  const { renameContainer } = await import('../runtime/rename.js');
  await renameContainer(s, name).catch((e) => {
    throw conflictOn(e, /already in use/);
  });
  sendEmpty(ctx.res, 204);
}

/**
 * POST /containers/{id}/update: minid has no update verb (a container's limits are fixed when
 * it is created), so docker's 501 with what to do instead, rather than "page not found".
 */
export function update(ctx: Ctx): void {
  container(ctx.params[0]); // no such container: its 404 first, as docker's
  throw new ApiError(501, 'minid cannot change a running container\'s limits (it has no update verb): recreate the container with the new ones (docker run -m, --cpus, --pids-limit)');
}

// --- changes, export ------------------------------------------------------------------------

/** docker's change kinds: 0 modified, 1 added, 2 deleted. */
const KINDS: Record<string, number> = { C: 0, A: 1, D: 2 };

/** GET /containers/{id}/changes: [{"Path", "Kind"}] of `minid diff`'s lines. */
export async function changes(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { containerDiff } = await import('../runtime/diff.js');
  const out = containerDiff(s).map((l) => ({ Path: l.slice(2), Kind: KINDS[l[0]] }));
  sendJson(ctx.res, 200, out);
}

/**
 * GET /containers/{id}/export: the container's file system as a tar stream (`minid export`).
 * The 200 goes with the first bytes, so a failure before them is a plain error answer; a client
 * that leaves makes the rest be read and dropped (tar runs to its end and exits).
 */
export async function exportFs(ctx: Ctx): Promise<void> {
  const s = container(ctx.params[0]);
  const { exportContainer } = await import('../runtime/export.js');
  const res = ctx.res;
  let begun = false;
  let dropped = false;
  res.on('close', () => (dropped = true));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (dropped) return done();
      if (!begun) {
        res.writeHead(200, { 'Content-Type': 'application/x-tar' });
        begun = true;
      }
      if (res.write(chunk)) return done();
      const go = () => (res.off('drain', go), res.off('close', go), done());
      res.on('drain', go).on('close', go);
    },
  });
  try {
    await exportContainer(s, sink);
  } catch (e) {
    if (begun) return void res.destroy();
    throw e;
  }
  if (!begun) res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  res.end();
}

// --- prune ---------------------------------------------------------------------------------

/** A prune filter's `until`: Unix seconds, an RFC 3339 date, or a Go duration back from now ("24h", "1h30m"). */
export function untilTime(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const units: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1 };
  if (/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) ms += Number(m[1]) * units[m[2]];
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`invalid until "${v}": give Unix seconds, a date (2006-01-02T15:04:05Z) or a duration (24h)`);
  return t;
}

/** Does a container pass docker's prune filters (label=K[=V] all hold, label!= none holds, created before until)? */
export function prunePicks(f: Record<string, string[]>, now = Date.now()): (s: ContainerState) => boolean {
  for (const k of Object.keys(f)) if (!['label', 'label!', 'until'].includes(k)) throw badRequest(`Invalid filter '${k}'`);
  const has = (labels: Record<string, string>, l: string) => {
    const [k, v] = l.split(/=(.*)/s);
    return k in labels && (v === undefined || labels[k] === v);
  };
  const until = (f.until ?? []).map((v) => untilTime(v, now));
  return (s) => {
    const labels = s.config.labels ?? {};
    return (f.label ?? []).every((l) => has(labels, l)) && !(f['label!'] ?? []).some((l) => has(labels, l)) && until.every((t) => Date.parse(s.config.created) < t);
  };
}

/** POST /containers/prune?filters=: {"ContainersDeleted", "SpaceReclaimed"} (`minid container prune`). */
export async function prune(ctx: Ctx): Promise<void> {
  const pick = prunePicks(parseFilters(ctx.query.get('filters')));
  const { pruneContainers } = await import('../runtime/housekeeping.js');
  const { ids, reclaimed } = await pruneContainers(pick);
  sendJson(ctx.res, 200, { ContainersDeleted: ids.length ? ids : null, SpaceReclaimed: reclaimed });
}
