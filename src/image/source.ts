// Reading what `minid load -i FILE` is given, into a list of images to import.
//
// Two formats, each as a directory or as a tar (optionally gzipped) of that directory:
//
//   OCI image layout                      docker save
//   ├── oci-layout                        ├── manifest.json  [{Config, RepoTags, Layers}]
//   ├── index.json  -> manifests          ├── <config-hex>.json
//   └── blobs/sha256/<hex>                └── <id>/layer.tar  (or blobs/sha256/<hex> since docker 25)
//
// A tar is first unpacked (by minid's own reader and writer, which refuse absolute and ".."
// names and writes through symlinks) into the store's tmp/ directory. Every file named by a manifest is resolved inside that directory
// (symlinks included) and every content-addressed blob is checked against its digest.

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { MinidError } from '../errors.js';
import { parseReference, isValidTag, tryParseReference } from './ref.js';
import { normalizeEntryPath } from './safety.js';

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

const INDEX_TYPES = new Set<string>([MT.ociIndex, MT.dockerList]);
const MANIFEST_TYPES = new Set<string>([MT.ociManifest, MT.dockerManifest]);
export const SHA256 = /^sha256:[0-9a-f]{64}$/;

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
  urls?: string[];
}

export interface SourceLayer {
  /** Absolute path of the blob in the source. */
  file: string;
  /** Digest and size the manifest promises (docker save has none). */
  digest?: string;
  size?: number;
  mediaType?: string;
}

export interface SourceImage {
  /** Familiar names ("busybox:latest"). */
  names: string[];
  /** The manifest as stored in the source, or null (docker save): the store writes one. */
  manifest: { digest: string; bytes: Buffer } | null;
  config: { digest: string; bytes: Buffer; json: ImageConfig };
  layers: SourceLayer[];
}

/** The OCI image configuration (the parts minid uses; the rest is kept as is). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    StopSignal?: string;
    Labels?: Record<string, string>;
    [k: string]: unknown;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
  [k: string]: unknown;
}

/** Errors about the input itself: "FILE is not a valid image: why". */
export class SourceError extends MinidError {}

export function sha256(buf: Uint8Array): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

export function hostArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

/** Pick the manifest for this machine (linux/<arch>) from an index's descriptors. */
export function pickPlatform(manifests: Descriptor[], arch = hostArch()): Descriptor | undefined {
  const usable = manifests.filter((m) => !m.mediaType || MANIFEST_TYPES.has(m.mediaType));
  const match = usable.filter((m) => m.platform?.os === 'linux' && m.platform?.architecture === arch);
  if (match.length) return match.find((m) => !m.platform?.variant || m.platform.variant === 'v8') ?? match[0];
  // An index without platforms (a plain image layout): take the only manifest.
  const untagged = usable.filter((m) => !m.platform);
  return untagged.length === 1 ? untagged[0] : undefined;
}

/** The repository to name images by when an OCI layout only says "latest": the file's name. */
export function fallbackRepository(input: string): string | null {
  const base = path.basename(input.replace(/\/+$/, '')).replace(/(\.oci)?(\.tar(\.gz)?|\.tgz)?$/i, '').replace(/\.oci$/i, '');
  const r = tryParseReference(base);
  return r && r.tag === 'latest' && !base.includes(':') && !base.includes('/') ? r.name : null;
}

export class ImageSource {
  private readonly rootReal: string;

  constructor(
    /** Directory holding the layout (the input itself, or where its tar was unpacked). */
    public readonly dir: string,
    /** What the user typed, for messages. */
    public readonly input: string,
  ) {
    this.rootReal = fs.realpathSync(dir);
  }

  bad(why: string): never {
    throw new SourceError(`${JSON.stringify(this.input)} is not a valid image: ${why}`);
  }

  /** Resolve a path named by the archive inside it, symlinks included. */
  resolve(rel: string): string {
    let norm: string;
    try {
      norm = normalizeEntryPath(rel);
    } catch {
      this.bad(`it refers to ${JSON.stringify(rel)}, outside the archive`);
    }
    let real: string;
    try {
      real = fs.realpathSync(path.join(this.rootReal, norm));
    } catch {
      this.bad(`${JSON.stringify(rel)} is missing`);
    }
    if (!real.startsWith(this.rootReal + path.sep)) this.bad(`${JSON.stringify(rel)} points outside the archive`);
    if (!fs.statSync(real).isFile()) this.bad(`${JSON.stringify(rel)} is not a file`);
    return real;
  }

  blobPath(digest: string): string {
    if (!SHA256.test(digest)) this.bad(`unsupported or malformed digest ${JSON.stringify(digest)} (only sha256 is supported)`);
    return this.resolve(`blobs/sha256/${digest.slice(7)}`);
  }

  /** Read a small blob (index, manifest, config) and check its digest and size. */
  readBlob(desc: Descriptor, what: string): Buffer {
    const file = this.blobPath(desc.digest);
    const bytes = fs.readFileSync(file);
    if (typeof desc.size === 'number' && bytes.length !== desc.size) {
      this.bad(`${what} ${desc.digest} has ${bytes.length} bytes, the descriptor says ${desc.size}`);
    }
    const got = sha256(bytes);
    if (got !== desc.digest) this.bad(`${what} ${desc.digest} does not match its digest (got ${got})`);
    return bytes;
  }

  parseJson<T>(bytes: Buffer, what: string): T {
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (e) {
      this.bad(`${what} is not valid JSON (${(e as Error).message})`);
    }
  }

  /** A descriptor as JSON gives it: an object with a string digest, or a refusal naming `where`. */
  descriptor(d: unknown, where: string): Descriptor {
    const o = d as Descriptor | null;
    if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o.digest !== 'string') this.bad(`${where} has a malformed descriptor ${JSON.stringify(d)}`);
    return o;
  }

  exists(rel: string): boolean {
    return fs.existsSync(path.join(this.rootReal, rel));
  }

  /** All images in the source, merged by image id (config digest). */
  images(): SourceImage[] {
    const byId = new Map<string, SourceImage>();
    const add = (img: SourceImage) => {
      const prev = byId.get(img.config.digest);
      if (!prev) byId.set(img.config.digest, img);
      else for (const n of img.names) if (!prev.names.includes(n)) prev.names.push(n);
    };
    const isOci = this.exists('index.json');
    const isDocker = this.exists('manifest.json');
    if (!isOci && !isDocker) {
      this.bad('it has neither index.json (OCI image layout) nor manifest.json (docker save)');
    }
    const dockerImages = isDocker ? this.dockerImages() : [];
    if (isOci) {
      // docker >= 25 writes both: take the OCI manifests, and names from manifest.json too.
      for (const img of this.ociImages()) {
        for (const d of dockerImages) {
          if (d.config.digest === img.config.digest) for (const n of d.names) if (!img.names.includes(n)) img.names.push(n);
        }
        add(img);
      }
    } else {
      for (const img of dockerImages) add(img);
    }
    if (byId.size === 0) this.bad(`it holds no image for linux/${hostArch()}`);
    return [...byId.values()];
  }

  private checkConfig(bytes: Buffer, digest: string): ImageConfig {
    const json = this.parseJson<ImageConfig>(bytes, `image config ${digest}`);
    if (!json || typeof json !== 'object' || json.rootfs?.type !== 'layers' || !Array.isArray(json.rootfs.diff_ids)) {
      this.bad(`image config ${digest} has no rootfs.diff_ids`);
    }
    for (const d of json.rootfs.diff_ids) if (!SHA256.test(d)) this.bad(`image config ${digest} lists a bad diff_id ${JSON.stringify(d)}`);
    if (json.os && json.os !== 'linux') this.bad(`image ${digest} is for ${json.os}, not linux`);
    return json;
  }

  private name(ref: string): string {
    try {
      return parseReference(ref).familiar;
    } catch (e) {
      this.bad(`image name ${JSON.stringify(ref)}: ${(e as Error).message}`);
    }
  }

  /** Names an OCI index descriptor gives its image. */
  private ociNames(desc: Descriptor): string[] {
    const a = desc.annotations ?? {};
    if (a['io.containerd.image.name']) return [this.name(a['io.containerd.image.name'])];
    const ref = a['org.opencontainers.image.ref.name'];
    if (!ref) return [];
    if (/[:/@]/.test(ref)) return [this.name(ref)];
    if (!isValidTag(ref)) this.bad(`bad tag ${JSON.stringify(ref)} in index.json`);
    const repo = a['io.minid.image.name'] ?? fallbackRepository(this.input);
    return repo ? [this.name(`${repo}:${ref}`)] : [];
  }

  private ociImages(): SourceImage[] {
    const index = this.parseJson<{ manifests?: Descriptor[] } | null>(fs.readFileSync(this.resolve('index.json')), 'index.json');
    if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) this.bad('index.json has no manifests');
    const out: SourceImage[] = [];
    for (const top of index.manifests.map((d) => this.descriptor(d, 'index.json'))) {
      let desc: Descriptor | undefined = top;
      for (let depth = 0; desc && this.kindOf(desc) === 'index'; depth++) {
        if (depth > 4) this.bad('index.json nests indexes too deeply');
        const nested = this.parseJson<{ manifests?: Descriptor[] } | null>(this.readBlob(desc, 'image index'), `image index ${desc.digest}`);
        const where = `image index ${desc.digest}`;
        desc = pickPlatform(Array.isArray(nested?.manifests) ? nested.manifests.map((d) => this.descriptor(d, where)) : []);
      }
      if (!desc) continue; // no linux/<arch> image in this index
      const bytes = this.readBlob(desc, 'manifest');
      const m = this.parseJson<{ config?: Descriptor; layers?: Descriptor[]; mediaType?: string } | null>(bytes, `manifest ${desc.digest}`);
      if (!m || typeof m !== 'object' || !m.config || !Array.isArray(m.layers)) this.bad(`manifest ${desc.digest} has no config or layers`);
      this.descriptor(m.config, `manifest ${desc.digest}`);
      for (const l of m.layers) this.descriptor(l, `manifest ${desc.digest}`);
      const cfgBytes = this.readBlob(m.config, 'image config');
      const config = this.checkConfig(cfgBytes, m.config.digest);
      if (config.rootfs.diff_ids.length !== m.layers.length) {
        this.bad(`manifest ${desc.digest} has ${m.layers.length} layers, its config ${config.rootfs.diff_ids.length} diff_ids`);
      }
      const layers = m.layers.map((l) => {
        if (l.mediaType === MT.dockerForeign || l.urls?.length) this.bad(`layer ${l.digest} is a foreign layer, which minid cannot fetch`);
        return { file: this.blobPath(l.digest), digest: l.digest, size: l.size, mediaType: l.mediaType };
      });
      out.push({
        names: this.ociNames(top),
        manifest: { digest: desc.digest, bytes },
        config: { digest: m.config.digest, bytes: cfgBytes, json: config },
        layers,
      });
    }
    return out;
  }

  private kindOf(desc: Descriptor): 'index' | 'manifest' {
    if (desc.mediaType && INDEX_TYPES.has(desc.mediaType)) return 'index';
    if (desc.mediaType && MANIFEST_TYPES.has(desc.mediaType)) return 'manifest';
    // No (or an unknown) media type on the descriptor: look inside.
    const j = this.parseJson<{ manifests?: unknown } | null>(this.readBlob(desc, 'manifest'), `manifest ${desc.digest}`);
    return Array.isArray(j?.manifests) ? 'index' : 'manifest';
  }

  private dockerImages(): SourceImage[] {
    type Entry = { Config?: string; RepoTags?: string[] | null; Layers?: string[] };
    const list = this.parseJson<Entry[]>(fs.readFileSync(this.resolve('manifest.json')), 'manifest.json');
    if (!Array.isArray(list)) this.bad('manifest.json is not a list');
    return list.map((e) => {
      if (e?.RepoTags != null && (!Array.isArray(e.RepoTags) || e.RepoTags.some((t) => typeof t !== 'string'))) this.bad('manifest.json has RepoTags that are not a list of names');
      if (!e || typeof e.Config !== 'string' || !Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) this.bad('manifest.json has an entry without Config or Layers');
      const cfgBytes = fs.readFileSync(this.resolve(e.Config));
      const digest = sha256(cfgBytes);
      const hexInName = /([0-9a-f]{64})(\.json)?$/.exec(e.Config)?.[1];
      if (hexInName && `sha256:${hexInName}` !== digest) this.bad(`${e.Config} does not match its digest (got ${digest})`);
      const config = this.checkConfig(cfgBytes, digest);
      if (config.rootfs.diff_ids.length !== e.Layers.length) {
        this.bad(`${e.Config} lists ${config.rootfs.diff_ids.length} diff_ids, manifest.json ${e.Layers.length} layers`);
      }
      return {
        names: (e.RepoTags ?? []).map((t) => this.name(t)),
        manifest: null,
        config: { digest, bytes: cfgBytes, json: config },
        layers: e.Layers.map((l) => {
          const file = this.resolve(l);
          // docker >= 25 stores layers as blobs/sha256/<hex>: the name is a digest to check.
          const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(normalizeEntryPath(l));
          return { file, digest: m ? `sha256:${m[1]}` : undefined };
        }),
      };
    });
  }
}

/**
 * Unpack an image tar (a docker save or a tarred OCI layout, maybe gzipped) into `dest`:
 * each entry checked like a layer entry (only files, directories and symlinks, nothing
 * escaping, nothing through a symlink) and then written by the same pass, as plain files.
 * Only a regular file is read: a device or a pipe (`-i /dev/zero`) would never end.
 */
export async function unpackArchive(file: string, dest: string): Promise<void> {
  const { sniffCompression, scanLayer, CorruptLayerError } = await import('./layer.js');
  const st = fs.statSync(file);
  if (!st.isFile()) {
    const kind = st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new CorruptLayerError(`is ${kind}, not a file or a directory`);
  }
  const compression = await sniffCompression(file);
  fs.mkdirSync(dest, { recursive: true });
  const scan = await scanLayer(file, compression, undefined, { allow: new Set(['file', 'dir', 'symlink']), dest, archive: true, stopAtEnd: true });
  if (scan.plan.entries === 0) throw new CorruptLayerError('is not a tar archive (no entries)');
}
