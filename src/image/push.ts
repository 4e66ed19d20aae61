// `minid push NAME[:TAG]`: send an image of the store to a registry with the Docker Registry
// HTTP API v2 (OCI distribution), as docker does. The requests are in src/image/registry/
// client.ts (its push section); this file decides their order:
//
//   for each blob of the manifest (layers and the config; max-concurrent-uploads at once, 5):
//     HEAD  the blob in the target repository        -> "Layer already exists"
//     POST  ?mount=DIGEST&from=OTHER                 -> "Mounted from OTHER"
//           (when the store knows the blob from another repository of the same registry:
//           the registry links it, nothing is sent)
//     POST, then PUT ?digest=DIGEST with the blob    -> "Pushed"
//   PUT the manifest under TAG                        -> "TAG: digest: sha256:... size: N"
//
// The blobs sent are the ones the store keeps: the layers exactly as they were pulled or
// loaded (compressed or not), the config and the manifest byte for byte. So the pushed image
// has the same manifest digest as the one in the store, and as the one it was pulled as.

import fs from 'node:fs';
import { fail } from '../errors.js';
import { parseReference } from './ref.js';
import { RegistryClient } from './registry/client.js';
import { loadConfig, transferLimit } from './registry/config.js';
import { endpointsFor } from './registry/endpoint.js';
import { MT, type Descriptor } from './source.js';
import { blobPath, listImages, type ImageRecord } from './store.js';
import { runJobs } from '../sys/jobs.js';

export interface PushResult {
  /** The full reference pushed: "127.0.0.1:5000/busybox:latest". */
  full: string;
  tag: string;
  digest: string;
  size: number;
}

/** The repositories of `registry` (other than `repository`) that the store knows to hold `digest`. */
function mountSources(images: ImageRecord[], self: ImageRecord, registry: string, repository: string, digest: string): string[] {
  const out: string[] = [];
  // The pushed image's own names first (it was most likely pulled as one of them).
  for (const img of [self, ...images.filter((i) => i.id !== self.id)]) {
    if (img.id !== digest && !img.layers.some((l) => l.digest === digest)) continue;
    for (const n of img.names) {
      const r = parseReference(n);
      if (r.registry === registry && r.repository !== repository && !out.includes(r.repository)) out.push(r.repository);
    }
  }
  return out;
}

export async function pushImage(ref: string, progress?: (line: string) => void): Promise<PushResult> {
  const r = parseReference(ref);
  if (r.digest) fail(`cannot push a digest reference (${JSON.stringify(ref)}): push NAME[:TAG], after \`minid tag IMAGE NAME:TAG\``, 1);
  const tag = r.tag!;
  const images = await listImages();
  const img = images.find((i) => i.names.includes(r.familiar));
  if (!img) fail(`An image does not exist locally with the tag: ${r.familiar}: name one with \`minid tag IMAGE ${r.familiar}\` (see \`minid images\`)`, 1);

  // The manifest as stored (its bytes are its digest), and the blobs it names.
  const read = (digest: string) => {
    try {
      return fs.readFileSync(blobPath(digest));
    } catch {
      fail(`the store has lost blob ${digest} of ${r.familiar}: remove the image and load or pull it again`, 1);
    }
  };
  const bytes = read(img.manifestDigest);
  const manifest = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; config: Descriptor; layers: Descriptor[] };
  const mediaType = manifest.mediaType ?? (manifest.config.mediaType === MT.dockerConfig ? MT.dockerManifest : MT.ociManifest);
  const diffIds = new Map(img.layers.map((l) => [l.digest, l.diffId]));

  // The registry itself: a push never goes to a mirror (as docker).
  const config = loadConfig();
  const ep = endpointsFor(r.registry, config).filter((e) => !e.mirror)[0];
  const client = new RegistryClient(r.registry, ep, config);
  await client.ping();
  progress?.(`The push refers to repository [${r.registry}/${r.repository}]`);

  const scope = `repository:${r.repository}:pull,push`;
  const blobs: (Descriptor & { layer: boolean })[] = [...manifest.layers.map((l) => ({ ...l, layer: true })), { ...manifest.config, layer: false }];
  // Up to max-concurrent-uploads blobs at once (docker's 5); a layer used twice is pushed once.
  const unique = blobs.filter((b, i) => blobs.findIndex((x) => x.digest === b.digest) === i);
  await runJobs(unique, transferLimit(config, 'uploads'), async (b) => {
    const file = blobPath(b.digest);
    if (!fs.existsSync(file)) read(b.digest);
    const size = fs.statSync(file).size;
    const id = (diffIds.get(b.digest) ?? b.digest).slice(7, 19); // docker shows the layer's diff ID
    const what = `${b.layer ? 'layer' : 'the config'} ${b.digest.slice(0, 19)} of ${r.familiar}`;
    const say = (status: string) => b.layer && progress?.(`${id}: ${status}`);

    if (await client.blobExists(r.repository, b.digest, scope, what)) return void say('Layer already exists');
    const from = mountSources(images, img, r.registry, r.repository, b.digest)[0];
    const session = await client.startUpload(r.repository, from ? `${scope} repository:${from}:pull` : scope, what, from ? { digest: b.digest, from } : undefined);
    if (session === 'mounted') return void say(`Mounted from ${from}`);
    await client.putBlob(session, b.digest, size, () => fs.createReadStream(file), scope, what);
    say('Pushed');
  });

  // The manifest once every blob it names is there (a registry refuses it before).
  const digest = await client.putManifest(r.repository, tag, mediaType, bytes, scope, `the manifest of ${r.familiar}`);
  if (digest && digest !== img.manifestDigest) fail(`${client.host} stored the manifest of ${r.familiar} as ${digest}, not ${img.manifestDigest}`, 1);
  return { full: r.full, tag, digest: img.manifestDigest, size: bytes.length };
}
