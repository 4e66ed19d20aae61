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

export interface ImagesOptions {
  quiet?: boolean;
  json?: boolean;
  format?: string;
  digests?: boolean;
  trunc?: boolean; // --no-trunc sets it false
  all?: boolean;
}

/** `minid images [REPOSITORY[:TAG]]`: docker's columns (a DIGEST column with --digests), or a template per row. */
export async function images(repoOrOpts?: string | ImagesOptions, maybe: ImagesOptions = {}): Promise<void> {
  const opts = typeof repoOrOpts === 'object' ? repoOrOpts : maybe;
  const repo = typeof repoOrOpts === 'string' ? repoOrOpts : undefined;
  const { listImages } = await import('../../image/store.js');
  const { splitFamiliar } = await import('../../image/ref.js');
  let list = await listImages();
  if (repo) {
    // docker's reference filter: the repository (and tag, if given) of a name.
    const [r, t] = repo.includes(':') && !repo.slice(repo.lastIndexOf(':')).includes('/') ? [repo.slice(0, repo.lastIndexOf(':')), repo.slice(repo.lastIndexOf(':') + 1)] : [repo, undefined];
    list = list
      .map((img) => ({ ...img, names: img.names.filter((n) => { const f = splitFamiliar(n); return f.repository === r && (t === undefined || f.tag === t); }) }))
      .filter((img) => img.names.length);
  }
  if (opts.json) {
    out(JSON.stringify(list, null, 2));
    return;
  }
  const { since } = await import('../format.js');
  const full = opts.trunc === false;
  const rows = list.flatMap((img) => {
    const id = full ? img.id : img.id.replace(/^sha256:/, '').slice(0, 12);
    const names = img.names.length ? img.names.map((n) => splitFamiliar(n)) : [{ repository: '<none>', tag: '<none>' }];
    return names.map((n) => ({
      ID: () => id,
      Repository: () => n.repository,
      Tag: () => n.tag,
      Digest: () => img.manifestDigest || '<none>',
      CreatedSince: () => since(img.created),
      CreatedAt: () => (img.created ? new Date(img.created).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC') : ''),
      Size: () => humanSize(img.size),
      VirtualSize: () => humanSize(img.size),
      SharedSize: () => 'N/A',
      UniqueSize: () => 'N/A',
      Containers: () => 'N/A',
    }));
  });
  if (opts.quiet) {
    // One id per row, as docker's (an image with two names twice).
    if (rows.length) out(rows.map((r) => r.ID()).join('\n'));
    return;
  }
  if (opts.format && opts.format.trim() !== 'table') {
    const { formatRows } = await import('../template.js');
    const headers = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' };
    process.stdout.write(formatRows(opts.format, rows, { headers }));
    return;
  }
  const { table } = await import('../format.js');
  const cols = ['Repository', 'Tag', ...(opts.digests ? ['Digest'] : []), 'ID', 'CreatedSince', 'Size'] as const;
  const names: Record<string, string> = { Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE' };
  process.stdout.write(table(cols.map((c) => names[c]), rows.map((r) => cols.map((c) => (r as any)[c]()))));
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

/** The images as `image inspect` shows them (docker's shape, src/runtime/inspect.ts); a missing one is the store's error. */
export async function inspectImage(refs: string[], o: { format?: string } = {}): Promise<void> {
  const { imageObject, printInspected } = await import('./inspect.js');
  const list: unknown[] = [];
  for (const ref of refs) list.push(await imageObject(ref));
  await printInspected(list, o.format);
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
      stream.write(`Status: ${show.downloaded ? 'Downloaded newer image for' : 'Image is up to date for'} ${r?.digest ? r.full : (r?.familiar ?? img.names[0] ?? img.id)}\n`);
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
