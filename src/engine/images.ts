// POST /images/create (pull, with docker's progress as JSON lines), GET /images/json,
// GET /images/{name}/json, and the image commands of docker's CLI: tag, rmi, image prune,
// history, save (GET /images/get) and load (POST /images/load). Each calls what `minid tag`,
// `minid rmi`, `minid image prune`, `minid save` and `minid load` call (src/image/store.ts,
// src/image/save.ts, src/runtime/housekeeping.ts); this file only speaks docker's shapes.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MinidError } from '../errors.js';
import { type Ctx, ApiError, badRequest, conflict, notFound, qbool, sendEmpty, sendJson } from './http.js';

/**
 * A pull, streamed as docker streams it: one JSON object a line ({"status", "id",
 * "progressDetail"}), an error after the 200 as {"errorDetail", "error"}. An error before the
 * first line is a plain error answer (404 for an unknown image).
 */
export async function pull(ctx: Ctx): Promise<void> {
  const q = ctx.query;
  const from = q.get('fromImage');
  if (q.get('fromSrc')) throw badRequest('importing a root filesystem (fromSrc) is not supported by minid: use `minid load`');
  if (!from) throw badRequest('fromImage is required: give the image to pull, e.g. fromImage=busybox&tag=latest');
  const tag = q.get('tag');
  const ref = !tag ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`;
  const { tryParseReference } = await import('../image/ref.js');
  const parsed = tryParseReference(ref);
  if (!parsed) throw badRequest(`invalid reference format: ${JSON.stringify(ref)}`);
  const { pullImage } = await import('../image/pull.js');
  const res = ctx.res;
  let started = false;
  const early: unknown[] = [];
  const line = (o: unknown) => {
    if (!started) {
      // The first line says the pull is under way: from here on an error is a line too.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      started = true;
      res.write(JSON.stringify({ status: `Pulling from ${parsed.name}`, id: parsed.tag ?? parsed.digest ?? 'latest' }) + '\r\n');
    }
    if (!res.destroyed) res.write(JSON.stringify(o) + '\r\n');
  };
  try {
    const img = await pullImage(ref, {
      platform: q.get('platform') || undefined,
      onEvent: (e) => {
        if (e.kind === 'layer') line({ status: e.status, progressDetail: e.current !== undefined ? { current: e.current, total: e.total } : {}, id: e.id });
        // Said once the pull is under way (the manifest found): an unknown image is still a 404.
        else if (e.kind === 'info') (started ? line({ status: e.line }) : early.push({ status: e.line }));
        else if (e.kind === 'layers') early.splice(0).forEach(line);
      },
    });
    early.splice(0).forEach(line);
    line({ status: `Digest: ${img.manifestDigest}` });
    line({ status: `Status: Downloaded newer image for ${parsed.familiar}` });
  } catch (e) {
    // Before any progress: docker's plain error answer (404 for an image no registry has).
    if (!started) throw e;
    const message = (e as Error).message;
    line({ errorDetail: { message }, error: message });
  }
  res.end();
}

/**
 * docker's image summaries (GET /images/json, and GET /system/df's Images): SharedSize is
 * what an image's layers hold that another image uses too (docker's CLI subtracts it in
 * `system df`); -1 (not computed) unless `shared` is asked for, as docker's list.
 */
export async function imageSummaries(o: { shared?: boolean } = {}) {
  const { listImages, layerSizes } = await import('../image/store.js');
  const { listStates } = await import('../runtime/state.js');
  const used = new Map<string, number>();
  for (const s of listStates()) used.set(s.config.imageId, (used.get(s.config.imageId) ?? 0) + 1);
  const images = await listImages();
  const sizes = o.shared ? layerSizes() : {};
  const layersOf = (i: (typeof images)[number]) => new Set(i.layers.map((l) => l.diffId.replace(/^sha256:/, '')));
  const sharedSize = (i: (typeof images)[number]) => {
    const others = new Set(images.filter((x) => x !== i).flatMap((x) => [...layersOf(x)]));
    return [...layersOf(i)].filter((l) => others.has(l)).reduce((n, l) => n + (sizes[l] ?? 0), 0);
  };
  return images.map((i) => ({
    record: i,
    summary: {
      Id: i.id,
      ParentId: '',
      RepoTags: i.names.length ? i.names : ['<none>:<none>'],
      // A dangling image is docker's "<none>:<none>" and "<none>@<none>" (its CLI lists it by these).
      RepoDigests: !i.names.length ? ['<none>@<none>'] : i.manifestDigest ? [...new Set(i.names.map((n) => `${n.replace(/:[^:/]*$/, '')}@${i.manifestDigest}`))] : [],
      Created: Math.floor(Date.parse(i.config?.created ?? i.created ?? '') / 1000) || 0,
      Size: i.size,
      SharedSize: o.shared ? sharedSize(i) : -1,
      VirtualSize: i.size,
      Labels: (i.config?.config as any)?.Labels ?? {},
      Containers: used.get(i.id) ?? 0,
    },
  }));
}

/** GET /images/json: docker's image summaries. */
export async function list(ctx: Ctx): Promise<void> {
  const filters = parseFilters(ctx.query.get('filters'));
  const refs = filters.reference ?? [];
  const labels = filters.label ?? [];
  const matches = (n: string) => refs.some((r) => n === r || n.replace(/:[^:/]*$/, '') === r);
  const out = (await imageSummaries())
    .filter(({ record: i }) => !refs.length || i.names.some(matches))
    .filter(({ record: i }) => labels.every((l) => {
      const [k, v] = l.split(/=(.*)/s);
      const have = (i.config?.config as any)?.Labels ?? {};
      return k in have && (v === undefined || have[k] === v);
    }))
    // As docker: a reference filter lists only the names that match (`docker images -q busybox`: one line).
    .map(({ summary }) => (refs.length ? { ...summary, RepoTags: summary.RepoTags.filter(matches), RepoDigests: summary.RepoDigests.filter((d) => matches(d.replace(/@.*/, ''))) } : summary));
  sendJson(ctx.res, 200, out);
}

/** GET /images/{name}/json: `minid image inspect`'s object. */
export async function inspect(ctx: Ctx): Promise<void> {
  const { findLocalImage, layerPaths } = await import('../image/store.js');
  const { inspectImage } = await import('../runtime/inspect.js');
  const name = ctx.params[0];
  const img = await findLocalImage(name);
  if (!img) throw notFound(`No such image: ${name}`);
  sendJson(ctx.res, 200, inspectImage(img, layerPaths(img)));
}

/** docker's filters query: JSON {"key": ["v", ...]} (or the old {"key": {"v": true}}). */
export function parseFilters(raw: string | null): Record<string, string[]> {
  if (!raw) return {};
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filters: ${raw}: give JSON like {"label":["a=b"]}`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw badRequest(`invalid filters: ${raw}: give JSON like {"label":["a=b"]}`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]);
    else throw badRequest(`invalid filters: the value of "${k}" must be a list`);
  }
  return out;
}

/** The image NAME names, or docker's 404 "No such image". */
async function image(name: string) {
  const { findLocalImage } = await import('../image/store.js');
  let img;
  try {
    img = await findLocalImage(name);
  } catch (e) {
    if (e instanceof MinidError) throw badRequest(e.message); // an ambiguous ID prefix
    throw e;
  }
  if (!img) throw notFound(`No such image: ${name}`);
  return img;
}

/** POST /images/{name}/tag?repo=&tag=: 201 (`minid tag`); 404 no such image, 400 a bad name. */
export async function tag(ctx: Ctx): Promise<void> {
  const repo = ctx.query.get('repo');
  if (!repo) throw badRequest('repo is required: give the new name, e.g. repo=127.0.0.1:5000/team/app&tag=1.0');
  const t = ctx.query.get('tag');
  const target = t ? `${repo}:${t}` : repo;
  const { tryParseReference } = await import('../image/ref.js');
  if (!tryParseReference(target)) throw badRequest(`invalid reference format: ${JSON.stringify(target)}: give NAME[:TAG] in lowercase`);
  await image(ctx.params[0]);
  const { tagImage } = await import('../image/store.js');
  try {
    await tagImage(ctx.params[0], target);
  } catch (e) {
    if (e instanceof MinidError && !/not found/.test(e.message)) throw badRequest(e.message); // a digest as the tag
    throw e;
  }
  sendEmpty(ctx.res, 201);
}

/** minid's lines ("Untagged: x", "Deleted: sha256:...", "Deleted: HEX (layer)") as docker's items. */
type DeleteItem = { Untagged: string } | { Deleted: string };
function deleteItems(lines: string[]): DeleteItem[] {
  return lines.flatMap((l): DeleteItem[] => {
    const m = /^(untagged|deleted): (\S+)/i.exec(l);
    if (!m) return [];
    const v = m[2];
    return /^untagged$/i.test(m[1]) ? [{ Untagged: v }] : [{ Deleted: v.startsWith('sha256:') ? v : `sha256:${v}` }];
  });
}

/**
 * DELETE /images/{name}?force=&noprune=: `minid rmi` (a name: that name untagged, the image
 * deleted once it has none). 404 no such image; 409 when a container uses it or it has
 * several names, without force (with force, an image a container uses is untagged and kept).
 */
export async function remove(ctx: Ctx): Promise<void> {
  const name = ctx.params[0];
  await image(name);
  const { removeImage } = await import('../image/store.js');
  const { imageInUse } = await import('../runtime/container.js');
  let lines: string[];
  try {
    lines = await removeImage(name, { force: qbool(ctx.query, 'force'), usedBy: imageInUse });
  } catch (e) {
    if (e instanceof MinidError && /is used by container|must be forced/.test(e.message)) throw conflict(`conflict: unable to remove ${JSON.stringify(name)} (must force): ${e.message}`);
    throw e;
  }
  sendJson(ctx.res, 200, deleteItems(lines));
}

/**
 * POST /images/prune?filters={"dangling":["false"]}: `minid image prune` (dangling images; with
 * dangling=false, as `docker image prune -a`, every image no container uses).
 */
export async function prune(ctx: Ctx): Promise<void> {
  const f = parseFilters(ctx.query.get('filters'));
  for (const k of Object.keys(f)) if (k !== 'dangling') throw badRequest(`invalid filter '${k}': minid's image prune takes only dangling=true|false`);
  const d = f.dangling ?? [];
  if (d.some((v) => !/^(true|false|1|0)$/i.test(v))) throw badRequest(`invalid filter 'dangling=${d.join(',')}': give dangling=true or dangling=false`);
  const all = d.length > 0 && d.every((v) => /^(false|0)$/i.test(v));
  const { pruneImages } = await import('../runtime/housekeeping.js');
  const { lines, reclaimed } = await pruneImages(all);
  const items = deleteItems(lines);
  sendJson(ctx.res, 200, { ImagesDeleted: items.length ? items : null, SpaceReclaimed: reclaimed });
}

/**
 * GET /images/{name}/history: the image config's history, newest first, as docker: an entry
 * that made a layer has that layer's unpacked size; the newest carries the image's ID and
 * names, the others "<missing>" (minid keeps no intermediate images).
 */
export async function history(ctx: Ctx): Promise<void> {
  const img = await image(ctx.params[0]);
  const { layerSizes } = await import('../image/store.js');
  const sizes = layerSizes();
  const layerSize = (i: number) => (img.layers[i] ? (sizes[img.layers[i].diffId.replace(/^sha256:/, '')] ?? 0) : 0);
  const time = (t?: string) => Math.floor(Date.parse(t ?? '') / 1000) || 0;
  // An image without a history (some tools write none): one entry per layer.
  const steps = img.config?.history?.length ? img.config.history : img.layers.map(() => ({ created: img.config?.created }) as NonNullable<typeof img.config.history>[number]);
  let layer = 0;
  const out = steps.map((h) => ({
    Id: '<missing>',
    Created: time(h.created),
    CreatedBy: h.created_by ?? '',
    Tags: null as string[] | null,
    Size: h.empty_layer ? 0 : layerSize(layer++),
    Comment: h.comment ?? '',
  }));
  out.reverse();
  if (out.length) Object.assign(out[0], { Id: img.id, Tags: img.names.length ? img.names : null });
  sendJson(ctx.res, 200, out);
}

/**
 * GET /images/get?names=A&names=B and GET /images/{name}/get: `minid save`'s docker-archive
 * tar (src/image/save.ts). Every name is checked first, so that a missing one is a 404, not
 * a cut tar; a failure once the tar has begun ends the connection (the client sees a short tar).
 */
export async function save(ctx: Ctx): Promise<void> {
  const names = ctx.params[0] ? [ctx.params[0]] : ctx.query.getAll('names').flatMap((n) => n.split(',')).filter(Boolean);
  if (!names.length) throw badRequest('names is required: give the images to save, e.g. names=busybox:latest');
  for (const n of names) await image(n);
  const { saveImages } = await import('../image/save.js');
  ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await saveImages(names, 'docker-archive', ctx.res);
  ctx.res.end();
}

/**
 * POST /images/load?quiet=: the body, a tar as `docker save` writes it, is streamed to a file
 * in the store's work folder (never held in memory: images are large) and loaded by `minid
 * load`'s loadImages: the same tar parser and checks (no entry escaping, no devices) as a
 * file given to `minid load -i`. Answered as docker does: JSON messages, {"stream": "Loaded
 * image: NAME\n"} (quiet changes nothing: minid shows no progress bars).
 */
export async function load(ctx: Ctx): Promise<void> {
  const { ensureWorkDir, loadImages } = await import('../image/store.js');
  const { paths } = await import('../sys/paths.js');
  await ensureWorkDir();
  // Named as the store's other work folders (img-PID-...): a crashed service's is cleaned up by the next load.
  const work = fs.mkdtempSync(path.join(paths.tmp(), `img-${process.pid}-upload-`));
  const file = path.join(work, 'image.tar');
  try {
    try {
      await pipeline(ctx.req, fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new ApiError(500, 'no space left on device while receiving the image: free space in the store and retry');
      throw badRequest(`the image archive did not arrive whole: ${(e as Error).message}`);
    }
    if (fs.statSync(file).size === 0) throw badRequest('the request body is empty: send the tar `docker save` writes');
    let loaded;
    try {
      loaded = await loadImages(file);
    } catch (e) {
      // minid load's message names the file: here it is the request's body.
      const { NoSpaceLeftError } = await import('../image/store.js');
      const message = e instanceof Error ? e.message.split(JSON.stringify(file)).join('the archive sent') : '';
      if (e instanceof NoSpaceLeftError) throw new ApiError(500, message);
      if (e instanceof MinidError) throw badRequest(message);
      throw e;
    }
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    for (const img of loaded) {
      const said = img.names.length ? img.names.map((n) => `Loaded image: ${n}`) : [`Loaded image ID: ${img.id}`];
      for (const s of said) ctx.res.write(JSON.stringify({ stream: `${s}\n` }) + '\n');
    }
    ctx.res.end();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
