// /volumes: list, create, inspect, remove, prune (runtime/volumes.ts does the work, as for
// `minid volume ...`); docker's shapes: a volume is {Name, Driver, Mountpoint, CreatedAt,
// Labels, Options, Scope}. docker-compose makes a project's named volumes here.
import crypto from 'node:crypto';
import { MinidError } from '../errors.js';
import { type Ctx, badRequest, conflict, notFound, qbool, readJson, sendEmpty, sendJson } from './http.js';
import { parseFilters } from './images.js';

const vols = () => import('../runtime/volumes.js');

/** {"label": ["a=b"], "dangling": ["true"]} as the CLI's KEY=VALUE list. */
const filterList = (raw: string | null): string[] => Object.entries(parseFilters(raw)).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`));

/** A MinidError of the volume layer (bad filter, bad name) as docker's 400. */
async function checked<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MinidError) throw badRequest(e.message);
    throw e;
  }
}

/** GET /volumes?filters=: {"Volumes": [...], "Warnings": null}. */
export async function list(ctx: Ctx): Promise<void> {
  const v = await vols();
  const filters = await checked(() => v.parseVolumeFilters(filterList(ctx.query.get('filters')), 'ls'));
  const used = filters.has('dangling') ? await v.usedVolumes() : new Set<string>();
  sendJson(ctx.res, 200, { Volumes: v.listVolumes().filter((x) => v.volumeMatches(x, filters, used)), Warnings: null });
}

/** POST /volumes/create {"Name", "Driver", "DriverOpts", "Labels"}: 201 and the volume (an existing one: it, as docker). */
export async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx);
  if (body.Driver && body.Driver !== 'local') throw badRequest(`volume driver "${body.Driver}" is not supported: minid has the local driver only`);
  if (body.DriverOpts && Object.keys(body.DriverOpts).length) throw badRequest('volume driver options are not supported: minid has the local driver without options');
  const labels = body.Labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw badRequest('Labels must be an object of strings');
  // No name: docker's anonymous volume, named by 32 random bytes in hex.
  const name: string = body.Name || crypto.randomBytes(32).toString('hex');
  const v = await vols();
  await checked(() => v.withVolumesLock(async () => void v.createVolume(name, Object.fromEntries(Object.entries(labels).map(([k, x]) => [k, String(x)])))));
  sendJson(ctx.res, 201, v.getVolume(name));
}

/** GET /volumes/{name}: the volume, or 404. */
export async function inspect(ctx: Ctx): Promise<void> {
  const v = await vols();
  try {
    sendJson(ctx.res, 200, v.getVolume(ctx.params[0]));
  } catch (e) {
    if (e instanceof v.NoSuchVolumeError) throw notFound(`get ${ctx.params[0]}: no such volume`);
    throw e;
  }
}

/** DELETE /volumes/{name}?force: 204; 404 none such; 409 in use by a container. */
export async function remove(ctx: Ctx): Promise<void> {
  const v = await vols();
  const name = ctx.params[0];
  try {
    await v.removeVolume(name, qbool(ctx.query, 'force'));
  } catch (e) {
    if (e instanceof v.NoSuchVolumeError) throw notFound(`get ${name}: no such volume`);
    if (e instanceof MinidError) throw conflict(e.message);
    throw e;
  }
  sendEmpty(ctx.res, 204);
}

/** POST /volumes/prune?filters=: {"VolumesDeleted": [...], "SpaceReclaimed": N}. */
export async function prune(ctx: Ctx): Promise<void> {
  const v = await vols();
  const filters = await checked(() => v.parseVolumeFilters(filterList(ctx.query.get('filters')), 'prune'));
  const { names, reclaimed } = await v.pruneVolumes(filters);
  sendJson(ctx.res, 200, { VolumesDeleted: names.length ? names : null, SpaceReclaimed: reclaimed });
}
