// The pure parts of a pull: platforms, picking a manifest from an index, the download limit,
// and how progress is drawn (plain lines and the live display).
import { describe, expect, it } from 'vitest';
import { downloadLimit, isAttestation, parsePlatform, platformText, selectManifest } from '../../../src/image/pull.js';
import { parseConfig, transferLimit } from '../../../src/image/registry/config.js';
import { bar, humanSize, PullDisplay } from '../../../src/cli/progress.js';
import type { Descriptor } from '../../../src/image/source.js';

const msg = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
};

const M = 'application/vnd.oci.image.manifest.v1+json';
const d = (n: number, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: M,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 1,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

describe('platforms', () => {
  it('parses os/arch[/variant], with the usual aliases', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('Linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/am d64'])
      expect(msg(() => parsePlatform(bad))).toBe(`invalid platform ${JSON.stringify(bad)}: give it as os/arch[/variant], e.g. linux/amd64 or linux/arm/v7`);
    expect(platformText({ os: 'linux', architecture: 'arm', variant: 'v6' })).toBe('linux/arm/v6');
  });

  it('picks the platform from an index, never an attestation', () => {
    const att = d(1, { os: 'unknown', architecture: 'unknown' });
    const annotated = d(2, { os: 'linux', architecture: 'amd64' }, { 'vnd.docker.reference.type': 'attestation-manifest' });
    const amd = d(3, { os: 'linux', architecture: 'amd64' });
    const v7 = d(4, { os: 'linux', architecture: 'arm', variant: 'v7' });
    const v6 = d(5, { os: 'linux', architecture: 'arm', variant: 'v6' });
    const arm64 = d(6, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect([att, annotated, amd].map(isAttestation)).toEqual([true, true, false]);
    const index = [att, annotated, v6, v7, arm64, amd];
    expect(selectManifest(index, { os: 'linux', architecture: 'amd64' })).toBe(amd);
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(v7);
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64' })).toBe(arm64);
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v5' })).toBeUndefined();
    expect(selectManifest([att, annotated], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
    expect(selectManifest([att, v7], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
    // An index that names no platform at all (a plain layout): its one image.
    const bare = d(7);
    expect(selectManifest([bare], { os: 'linux', architecture: 'amd64' })).toBe(bare);
  });
});

describe('the download limit', () => {
  const cfg = (o: object) => parseConfig(JSON.stringify(o), '/etc/minid/config.json');
  it("is docker's 3 (5 for uploads), the config's max-concurrent-downloads|uploads, or MINID_MAX_CONCURRENT_DOWNLOADS|UPLOADS", () => {
    expect(downloadLimit(cfg({}), {})).toBe(3);
    expect(downloadLimit(cfg({ 'max-concurrent-downloads': 6 }), {})).toBe(6);
    expect(downloadLimit(cfg({ 'max-concurrent-downloads': 6 }), { MINID_MAX_CONCURRENT_DOWNLOADS: '1' })).toBe(1);
    expect(msg(() => downloadLimit(cfg({}), { MINID_MAX_CONCURRENT_DOWNLOADS: '0' }))).toBe('MINID_MAX_CONCURRENT_DOWNLOADS="0" must be a whole number of at least 1');
    expect(msg(() => cfg({ 'max-concurrent-downloads': 'many' }))).toBe('/etc/minid/config.json: "max-concurrent-downloads" must be a whole number of at least 1');
    // Pushes: docker's 5, "max-concurrent-uploads", MINID_MAX_CONCURRENT_UPLOADS.
    expect(transferLimit(cfg({}), 'uploads', {})).toBe(5);
    expect(transferLimit(cfg({ 'max-concurrent-uploads': 2, 'max-concurrent-downloads': 6 }), 'uploads', {})).toBe(2);
    expect(transferLimit(cfg({ 'max-concurrent-uploads': 2 }), 'uploads', { MINID_MAX_CONCURRENT_UPLOADS: '8', MINID_MAX_CONCURRENT_DOWNLOADS: '1' })).toBe(8);
    expect(msg(() => cfg({ 'max-concurrent-uploads': 0 }))).toBe('/etc/minid/config.json: "max-concurrent-uploads" must be a whole number of at least 1');
  });
});

describe('progress', () => {
  it('sizes and bars as docker draws them', () => {
    expect([humanSize(0), humanSize(999), humanSize(1000), humanSize(65_100), humanSize(1_050_000), humanSize(123_400_000)]).toEqual(['0B', '999B', '1.00kB', '65.1kB', '1.05MB', '123MB']);
    expect(bar(0, 100, 10)).toBe('[          ]');
    expect(bar(50, 100, 10)).toBe('[====>     ]');
    expect(bar(100, 100, 10)).toBe('[==========]');
  });

  const sink = (isTTY: boolean) => {
    const out = { text: '', isTTY, columns: 200, write: (s: string) => ((out.text += s), true) };
    return out;
  };
  const events = (show: PullDisplay) => {
    show.event({ kind: 'info', line: 'Pulling x over y' });
    show.event({ kind: 'layers', layers: [{ id: 'aaaaaaaaaaaa', size: 2000 }, { id: 'bbbbbbbbbbbb', size: 500 }] });
    show.event({ kind: 'layer', id: 'aaaaaaaaaaaa', status: 'Waiting' });
    show.event({ kind: 'layer', id: 'bbbbbbbbbbbb', status: 'Already exists' });
    for (const n of [0, 500, 1000, 1500, 2000]) show.event({ kind: 'layer', id: 'aaaaaaaaaaaa', status: 'Downloading', current: n, total: 2000 });
    for (const s of ['Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'] as const) show.event({ kind: 'layer', id: 'aaaaaaaaaaaa', status: s });
    show.finish();
  };

  it('not on a terminal: one plain line per layer event that matters, no bytes', () => {
    const out = sink(false);
    const show = new PullDisplay(out as unknown as NodeJS.WriteStream);
    events(show);
    expect(out.text).toBe(['Pulling x over y', 'aaaaaaaaaaaa: Pulling fs layer', 'bbbbbbbbbbbb: Already exists', 'aaaaaaaaaaaa: Download complete', 'aaaaaaaaaaaa: Pull complete', ''].join('\n'));
    expect(show.downloaded).toBe(true);
  });

  it('on a terminal: a block redrawn in place, ending with every layer done and the total', () => {
    const out = sink(true);
    events(new PullDisplay(out as unknown as NodeJS.WriteStream));
    expect(out.text).toContain('\x1b[3A'); // up over two layers and the total
    expect(out.text).toContain('aaaaaaaaaaaa: Downloading [');
    const last = out.text.slice(out.text.lastIndexOf('\x1b[3A') + 4);
    expect(last.split('\n').map((l) => l.replace('\x1b[2K', ''))).toEqual(['aaaaaaaaaaaa: Pull complete', 'bbbbbbbbbbbb: Already exists', expect.stringMatching(/^Total: 2.00kB\/2.00kB/), '']);
  });
});
