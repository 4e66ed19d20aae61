// Archives written by a real tool: skopeo turns our OCI layout into a docker-archive
// (`docker save` format, layer.tar files as symlinks) and an oci-archive; both must load
// to the same image.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, useTempStore } from '../../fixtures/image/env.js';
import { baseLayer, whiteoutLayer, writeOciLayout, type BuiltImage } from '../../fixtures/image/builder.js';
import { loadImages, layerPaths } from '../../../src/image/store.js';

requireRoot();
const t = useTempStore('image-formats');

let oci = '';
let built: BuiltImage;
beforeAll(() => {
  oci = path.join(t.work, 'oci');
  [built] = writeOciLayout(oci, [{ names: ['fmt:latest'], layers: [baseLayer(), whiteoutLayer()] }], 'tag');
});

describe('archives written by skopeo', () => {
  it('loads a docker-archive (docker save format)', async () => {
    const file = path.join(t.work, 'docker.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${oci}:latest`, `docker-archive:${file}:fmt:docker`]);
    const started = performance.now();
    const [img] = await loadImages(file);
    console.log(`load of the skopeo docker-archive: ${(performance.now() - started).toFixed(0)} ms`);
    expect(img.names).toEqual(['fmt:docker']);
    expect(img.id).toBe(built.configDigest);
    expect(img.layers.map((l) => l.diffId)).toEqual(built.layers.map((l) => l.diffId));
    const [, top] = layerPaths(img);
    expect(fs.lstatSync(path.join(top, 'var/lib/old')).isCharacterDevice()).toBe(true);
  });

  it('loads an oci-archive, adding its name to the same image', async () => {
    const file = path.join(t.work, 'oci.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${oci}:latest`, `oci-archive:${file}:fmt:oci`]);
    const [img] = await loadImages(file);
    expect(img.id).toBe(built.configDigest);
    expect(img.names).toEqual(['fmt:docker', 'fmt:oci']);
    expect(img.manifestDigest).toBe(built.manifestDigest);
    expect(fs.readdirSync(path.join(t.root, 'layers'))).toHaveLength(2);
  });
});
