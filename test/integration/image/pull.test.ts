// Pull from a real registry on 127.0.0.1: Debian's docker-registry (distribution 2.8) with a
// config of our own, an image pushed with skopeo, pulled with minid. The registry is stopped
// by the PID we started.
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, useTempStore, errorOf } from '../../fixtures/image/env.js';
import { baseLayer, whiteoutLayer, writeOciLayout, type BuiltImage } from '../../fixtures/image/builder.js';
import { httpAddr, loopbackPort, skopeoPush, startRegistry, stopAll } from '../../fixtures/registry/servers.js';
import { pullImage } from '../../../src/image/pull.js';
import { layerPaths, resolveImage } from '../../../src/image/store.js';

requireRoot();
const t = useTempStore('image-pull');

let registry: ChildProcess | null = null;
let port = 0;
let built: BuiltImage;

beforeAll(async () => {
  port = await loopbackPort();
  registry = (await startRegistry(t.base, 'pull', port, httpAddr(port))).proc;
  const oci = path.join(t.work, 'busybox-oci');
  [built] = writeOciLayout(oci, [{ names: ['busybox:latest'], layers: [baseLayer(), whiteoutLayer()] }], 'tag');
  await skopeoPush(oci, 'latest', `127.0.0.1:${port}/library/busybox:latest`);
}, 60_000);

afterAll(() => stopAll(registry ? [registry] : []));

describe('pull from a local registry', () => {
  it('pulls an image and unpacks it like a loaded one', async () => {
    const lines: string[] = [];
    const started = performance.now();
    const img = await pullImage(`127.0.0.1:${port}/library/busybox`, { onEvent: (e) => void (e.kind === 'info' && lines.push(e.line)) });
    console.log(`pull of the 2-layer fixture: ${(performance.now() - started).toFixed(0)} ms`);
    expect(img.names).toEqual([`127.0.0.1:${port}/library/busybox:latest`]);
    expect(img.id).toBe(built.configDigest);
    expect(img.layers.map((l) => l.digest)).toEqual(built.layers.map((l) => l.digest));
    expect(lines[0]).toBe(`Pulling 127.0.0.1:${port}/library/busybox:latest over http://127.0.0.1:${port}`);
    const [, top] = layerPaths(await resolveImage(`127.0.0.1:${port}/library/busybox:latest`));
    expect(fs.lstatSync(path.join(top, 'home/gone.txt')).isCharacterDevice()).toBe(true);
    expect(fs.readdirSync(path.join(t.root, 'tmp'))).toEqual([]);
  });

  it('pulls by digest', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v2/library/busybox/manifests/latest`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const digest = res.headers.get('docker-content-digest')!;
    const img = await pullImage(`127.0.0.1:${port}/library/busybox@${digest}`);
    expect(img.manifestDigest).toBe(digest);
  });

  it('says clearly what is missing or refused', async () => {
    expect((await errorOf(() => pullImage(`127.0.0.1:${port}/library/nothere:1`))).message).toBe(
      `repository 127.0.0.1:${port}/library/nothere not found: check the name (a private repository may also need \`minid login 127.0.0.1:${port}\`)`,
    );
    expect((await errorOf(() => pullImage(`127.0.0.1:${port}/library/busybox:nope`))).message).toBe(
      `manifest for 127.0.0.1:${port}/library/busybox:nope not found: 127.0.0.1:${port}/library/busybox has no tag "nope"`,
    );
    // The suite runs offline (vitest.config.ts): Docker Hub is refused before any lookup.
    expect((await errorOf(() => pullImage('busybox'))).message).toMatch(/^refusing to connect to registry-1\.docker\.io \(the registry\): minid is offline/);
    const closed = await loopbackPort();
    expect((await errorOf(() => pullImage(`127.0.0.1:${closed}/x`))).message).toMatch(`cannot reach the registry at 127.0.0.1:${closed} (ECONNREFUSED): is it running?`);
  });
});
