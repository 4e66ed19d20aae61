// `minid load | images | rmi | image inspect | pull`: thin printing over src/image/store.ts.
// Data comes from the store as plain records; this file only renders them. The store is
// imported lazily so that loading this module costs nothing.

import type { ImageRecord } from '../../image/store.js';

type UsageProbe = (imageId: string) => string[];
let usageProbe: UsageProbe = () => [];

/** The runtime tells rmi which containers use an image (wired by the CLI; default: none). */
export function setImageUsageProbe(fn: UsageProbe): void {
  usageProbe = fn;
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

export async function load(opts: { input: string; quiet?: boolean }): Promise<void> {
  const { loadImages } = await import('../../image/store.js');
  const loaded = await loadImages(opts.input);
  if (opts.quiet) return;
  for (const img of loaded) {
    if (img.names.length === 0) out(`Loaded image ID: ${img.id}`);
    for (const n of img.names) out(`Loaded image: ${n}`);
  }
}

/** Docker's human sizes: decimal units, 3 significant digits ("4.26MB", "187MB", "1.2kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : Number(n.toPrecision(3))}${units[i]}`;
}

/** "3 days ago", like docker's CREATED column. */
export function humanAge(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return 'N/A';
  const s = Math.max(0, (now - t) / 1000);
  const plural = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'} ago`;
  if (s < 1) return 'Less than a second ago';
  if (s < 60) return plural(Math.floor(s), 'second');
  if (s < 3600) return Math.floor(s / 60) === 1 ? 'About a minute ago' : plural(Math.floor(s / 60), 'minute');
  if (s < 86400) return Math.floor(s / 3600) === 1 ? 'About an hour ago' : plural(Math.floor(s / 3600), 'hour');
  if (s < 86400 * 14) return plural(Math.floor(s / 86400), 'day');
  if (s < 86400 * 60) return plural(Math.floor(s / 86400 / 7), 'week');
  if (s < 86400 * 365 * 2) return plural(Math.floor(s / 86400 / 30), 'month');
  return plural(Math.floor(s / 86400 / 365), 'year');
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd()).join('\n') + '\n';
}

export async function imageRows(images: ImageRecord[]): Promise<string[][]> {
  const { splitFamiliar } = await import('../../image/ref.js');
  const rows: string[][] = [];
  for (const img of images) {
    const id = img.id.replace(/^sha256:/, '').slice(0, 12);
    const rest = [id, humanAge(img.created), humanSize(img.size)];
    if (img.names.length === 0) rows.push(['<none>', '<none>', ...rest]);
    for (const n of img.names) {
      const { repository, tag } = splitFamiliar(n);
      rows.push([repository, tag, ...rest]);
    }
  }
  return rows;
}

export async function images(opts: { quiet?: boolean; json?: boolean } = {}): Promise<void> {
  const { listImages } = await import('../../image/store.js');
  const list = await listImages();
  if (opts.json) {
    out(JSON.stringify(list, null, 2));
    return;
  }
  const rows = await imageRows(list);
  if (opts.quiet) {
    if (rows.length) out(rows.map((r) => r[2]).join('\n'));
    return;
  }
  process.stdout.write(table([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows]));
}

/** `minid rmi REF...`: every ref is tried; the first error is raised at the end (others printed). */
export async function rmi(refs: string[], opts: { force?: boolean } = {}): Promise<void> {
  const { removeImage } = await import('../../image/store.js');
  const errors: Error[] = [];
  for (const ref of refs) {
    try {
      out((await removeImage(ref, { force: opts.force, usedBy: usageProbe })).join('\n'));
    } catch (e) {
      errors.push(e as Error);
    }
  }
  if (errors.length === 0) return;
  for (const e of errors.slice(0, -1)) process.stderr.write(`minid: ${e.message}\n`);
  throw errors[errors.length - 1];
}

/**
 * `minid image inspect REF...`: docker's JSON shape (Id, RepoTags, RepoDigests, Config,
 * RootFS.Layers, ...); where the layers are unpacked is GraphDriver.Data.LowerDir, top first,
 * as docker's overlay2 says it.
 */
export async function inspectImage(refs: string[]): Promise<void> {
  const { resolveImage, layerPaths } = await import('../../image/store.js');
  const { splitFamiliar } = await import('../../image/ref.js');
  const list: unknown[] = [];
  for (const ref of refs) {
    const img = await resolveImage(ref);
    const repos = [...new Set(img.names.map((n) => splitFamiliar(n).repository))];
    list.push({
      Id: img.id,
      RepoTags: img.names,
      RepoDigests: repos.map((r) => `${r}@${img.manifestDigest}`),
      Parent: '',
      Comment: '',
      Created: img.created ?? img.config.created ?? '',
      Author: img.config.author ?? '',
      Config: img.config.config ?? {},
      Architecture: img.config.architecture ?? '',
      ...(img.config.variant ? { Variant: img.config.variant } : {}),
      Os: img.config.os ?? '',
      Size: img.size,
      GraphDriver: { Name: 'overlay', Data: { LowerDir: [...layerPaths(img)].reverse().join(':') } },
      RootFS: { Type: img.config.rootfs?.type ?? 'layers', Layers: img.layers.map((l) => l.diffId) },
    });
  }
  out(JSON.stringify(list, null, 2));
}

/**
 * Pull REF, showing its progress on `stream` (a live display on a terminal, plain lines
 * elsewhere, nothing with `quiet`), then docker's closing lines.
 */
async function pullShown(ref: string, stream: NodeJS.WriteStream, opts: { quiet?: boolean; platform?: string; forRun?: boolean }): Promise<ImageRecord> {
  const { pullImage } = await import('../../image/pull.js');
  const { PullDisplay } = await import('../progress.js');
  const { tryParseReference } = await import('../../image/ref.js');
  const show = opts.quiet ? null : new PullDisplay(stream);
  const r = tryParseReference(ref);
  if (show && !opts.forRun && r && !r.digest && !/:[^/]*$/.test(ref)) stream.write(`Using default tag: ${r.tag}\n`);
  try {
    const img = await pullImage(ref, { platform: opts.platform, onEvent: show?.event });
    show?.finish();
    if (show) {
      stream.write(`Digest: ${img.manifestDigest}\n`);
      stream.write(`Status: ${show.downloaded ? 'Downloaded image for' : 'Image is up to date for'} ${r?.digest ? r.full : (r?.familiar ?? img.names[0] ?? img.id)}\n`);
    }
    return img;
  } finally {
    show?.finish();
  }
}

/** `minid pull REF`: from any registry (src/image/registry/); failures exit 1, as docker's. -q prints the reference only. */
export async function pull(ref: string, opts: { quiet?: boolean; platform?: string } = {}): Promise<void> {
  const { exitOne } = await import('./login.js');
  await exitOne(() => pullShown(ref, process.stdout, opts));
  const { parseReference } = await import('../../image/ref.js');
  out(parseReference(ref).full); // docker's last line (with -q, the only one)
}

/**
 * `minid run`'s image: pull it when --pull says so (always; missing, the default, when the
 * store has no such image or one for another --platform; never). Progress on stderr, as
 * docker's; a failure exits 125.
 */
export async function pullForRun(ref: string, policy: string | undefined, platform: string | undefined): Promise<void> {
  const { fail, MinidError } = await import('../../errors.js');
  const p = policy ?? 'missing';
  if (!['always', 'missing', 'never'].includes(p)) fail(`invalid pull option: ${JSON.stringify(p)}: must be one of "always", "missing" or "never"`);
  try {
    const { findLocalImage } = await import('../../image/store.js');
    const { tryParseReference } = await import('../../image/ref.js');
    const name = tryParseReference(ref)?.familiar ?? ref; // as docker names it: "busybox:latest"
    const local = await findLocalImage(ref);
    let wrongPlatform = false;
    if (local && platform) {
      const { parsePlatform } = await import('../../image/pull.js');
      const want = parsePlatform(platform);
      wrongPlatform = (local.config.os ?? 'linux') !== want.os || (local.config.architecture !== undefined && local.config.architecture !== want.architecture);
    }
    if (p === 'never') {
      if (!local) fail(`image ${JSON.stringify(name)} not found locally, and --pull never forbids pulling it: pull it with \`minid pull ${name}\` first`);
      return;
    }
    if (p === 'missing' && local && !wrongPlatform) return;
    if (!local && !tryParseReference(ref)) return; // not a name (an ID prefix): the store's own error follows
    if (!local) process.stderr.write(`Unable to find image '${name}' locally\n`);
    await pullShown(ref, process.stderr, { platform, forRun: true });
  } catch (e) {
    // docker run's code for a failed pull (and everything else of minid's own): 125.
    if (e instanceof MinidError && e.exitCode !== 125) throw new MinidError(e.message, 125);
    throw e;
  }
}
