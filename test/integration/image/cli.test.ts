// The command functions behind `minid load | images | rmi | image inspect`: what they print.
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireRoot, useTempStore, errorOf } from '../../fixtures/image/env.js';
import { writeDockerSaveDir, baseLayer } from '../../fixtures/image/builder.js';
import { load, images, rmi, inspectImage, setImageUsageProbe } from '../../../src/cli/commands/image.js';

requireRoot();
const t = useTempStore('image-cli');

async function capture(fn: () => Promise<unknown>): Promise<string> {
  let text = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return text;
}

afterEach(() => setImageUsageProbe(() => []));

describe('commands', () => {
  it('load prints one line per name', async () => {
    const dir = path.join(t.work, 'save');
    writeDockerSaveDir(dir, [
      { names: ['web:1', 'web:latest'], layers: [{ ...baseLayer(), compression: 'none' }] },
      { names: [], layers: [{ entries: [{ path: 'x', data: 'x' }], compression: 'none' }] },
    ]);
    const out = await capture(() => load({ input: dir }));
    expect(out).toMatch(/^Loaded image: web:1\nLoaded image: web:latest\nLoaded image ID: sha256:[0-9a-f]{64}\n$/);
    expect(await capture(() => load({ input: dir, quiet: true }))).toBe('');
  });

  it('images prints a table, ids with -q, records with --json', async () => {
    const out = await capture(() => images({}));
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    expect(lines.slice(1).map((l) => l.split(/ {3,}/).slice(0, 2))).toEqual([
      ['web', '1'],
      ['web', 'latest'],
      ['<none>', '<none>'],
    ]);
    expect(lines[1]).toMatch(/^web +1 +[0-9a-f]{12} +\S.* ago +\d/);
    const ids = (await capture(() => images({ quiet: true }))).trim().split('\n');
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}$/);
    const json = JSON.parse(await capture(() => images({ json: true })));
    expect(json[0].names).toEqual(['web:1', 'web:latest']);
  });

  it("image inspect prints docker's JSON array, with the layer directories", async () => {
    const [rec] = JSON.parse(await capture(() => inspectImage(['web:1'])));
    expect(rec.RepoTags).toEqual(['web:1', 'web:latest']);
    expect(rec.GraphDriver.Data.LowerDir.split(':').at(-1)).toBe(path.join(t.root, 'layers', rec.RootFS.Layers[0].slice(7)));
    expect((await errorOf(() => inspectImage(['nope']))).message).toMatch(/^image "nope:latest" not found/);
  });

  it('rmi asks the usage probe, prints Untagged/Deleted, and reports every failure', async () => {
    setImageUsageProbe(() => ['web1']);
    expect(await capture(() => rmi(['web:1']))).toBe('Untagged: web:1\n');
    const e = await errorOf(() => capture(() => rmi(['web:latest'])));
    expect(e.message).toMatch(/^image web:latest \(sha256:[0-9a-f]{12}\) is used by container web1: remove it with `minid rm` first$/);
    setImageUsageProbe(() => []);
    const out = await capture(() => rmi(['web:latest']));
    expect(out).toMatch(/^Untagged: web:latest\nDeleted: sha256:[0-9a-f]{64}\nDeleted: sha256:[0-9a-f]{64} \(layer\)\n$/);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const last = await errorOf(() => rmi(['gone1', 'gone2']));
      expect(last.message).toMatch(/^image "gone2:latest" not found/);
      expect(stderr).toHaveBeenCalledWith(expect.stringMatching(/^minid: image "gone1:latest" not found/));
    } finally {
      stderr.mockRestore();
    }
  });
});
