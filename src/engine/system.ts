// GET/HEAD /_ping, GET /version, GET /info, GET /events.
import { badRequest, type Ctx, sendJson } from './http.js';

/** "OK", with the headers a client negotiates the API version from (Api-Version, set by the server). */
export function ping(ctx: Ctx): void {
  ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
}

export async function version(ctx: Ctx): Promise<void> {
  const { versionObject } = await import('../cli/commands/sysinfo.js');
  sendJson(ctx.res, 200, versionObject().Server);
}

export async function info(ctx: Ctx): Promise<void> {
  const { infoObject } = await import('../cli/commands/sysinfo.js');
  const i = await infoObject();
  // What clients read beyond `minid info`'s fields: an empty index server (testcontainers
  // then assumes docker.io's name for it, for its auth lookups only), no swarm, no runtimes.
  sendJson(ctx.res, 200, { ...i, IndexServerAddress: '', Labels: [], Runtimes: { minid: { path: 'minid' } }, Swarm: { LocalNodeState: 'inactive' }, ExperimentalBuild: false });
}

/**
 * GET /events?since=&until=&filters=: the store's events (runtime/events.ts) as JSON lines, the
 * recorded ones from `since`, then new ones as they come, until `until` or the client leaves.
 * since/until are unix times in seconds (fractions allowed), as the docker CLI sends them.
 */
export async function events(ctx: Ctx): Promise<void> {
  const ev = await import('../runtime/events.js');
  const { parseFilters } = await import('./images.js');
  const time = (name: string): bigint | undefined => {
    const v = ctx.query.get(name);
    if (!v) return undefined;
    const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
    if (!m) throw badRequest(`invalid ${name} "${v}": give a unix time in seconds (1700000000 or 1700000000.5)`);
    return BigInt(m[1]) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
  };
  const since = time('since');
  const until = time('until');
  let filters;
  try {
    filters = ev.parseEventFilters(Object.entries(parseFilters(ctx.query.get('filters'))).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const ac = new AbortController();
  ctx.res.on('close', () => ac.abort());
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res.flushHeaders();
  await ev.watchEvents({ since, until, filters, signal: ac.signal }, (e) => void ctx.res.write(ev.eventJson(e) + '\n'));
  ctx.res.end();
}

/**
 * GET /system/df: docker's disk usage, the lists its CLI sums up (`docker system df`):
 * LayersSize (a layer shared by images counted once: `minid system df`'s Images size), the
 * image summaries (with SharedSize), the containers with what they wrote (SizeRw), the
 * volumes with their bytes and users (UsageData), and no build cache (minid builds nothing).
 */
export async function df(ctx: Ctx): Promise<void> {
  const { diskUsage, writableSize } = await import('../runtime/housekeeping.js');
  const { imageSummaries } = await import('./images.js');
  const { listStates } = await import('../runtime/state.js');
  const { volumeUsages } = await import('../runtime/volumes.js');
  const { statusText } = await import('../cli/format.js');
  const rows = await diskUsage();
  const images = await imageSummaries({ shared: true });
  const sizeOf = new Map(images.map((i) => [i.record.id, i.record.size]));
  const states = listStates();
  const now = Date.now();
  const { containerSummary } = await import('./containers.js');
  const containers = states.map((s) => {
    const rw = writableSize(s);
    return { ...containerSummary(s, now, statusText), SizeRw: rw, SizeRootFs: rw + (sizeOf.get(s.config.imageId) ?? 0), Mounts: [] };
  });
  const volumes = volumeUsages(states).map((u) => ({ ...u.volume, UsageData: { Size: u.size, RefCount: u.refCount } }));
  sendJson(ctx.res, 200, {
    LayersSize: rows.find((r) => r.type === 'Images')?.size ?? 0,
    Images: images.map((i) => i.summary),
    Containers: containers,
    Volumes: volumes,
    BuildCache: [],
  });
}

/** POST /build/prune: minid builds no images and keeps no build cache; nothing to remove (`docker system prune` asks). */
export function buildPrune(ctx: Ctx): void {
  sendJson(ctx.res, 200, { CachesDeleted: null, SpaceReclaimed: 0 });
}
