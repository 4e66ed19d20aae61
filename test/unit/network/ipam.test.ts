import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { allocate, attachedIds, ipamDir, release, reservations } from '../../../src/network/ipam.js';
import { tempRoots } from './helpers.js';

let roots: ReturnType<typeof tempRoots>;
beforeEach(() => {
  roots = tempRoots();
});
afterEach(() => roots.cleanup());

const id = (n: number): string => n.toString(16).padStart(64, 'c');

describe('ipam', () => {
  it('hands out addresses in order, never the network, gateway or broadcast address', async () => {
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push((await allocate('n', '10.9.0.0/29', '10.9.0.1', id(i)).catch((e) => ({ ip: String(e.message) }))).ip);
    expect(got).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    await expect(allocate('n', '10.9.0.0/29', '10.9.0.1', id(9))).rejects.toThrow('no free address left in network "n" (10.9.0.0/29): remove containers or create a larger network');
  });

  it('skips a gateway that is not the first address', async () => {
    const a = await allocate('n', '10.9.0.0/30', '10.9.0.1', id(1));
    expect(a).toEqual({ ip: '10.9.0.2', prefixLength: 30 });
    const b = await allocate('m', '10.9.1.0/30', '10.9.1.2', id(1));
    expect(b.ip).toBe('10.9.1.1');
  });

  it('stores one file per address holding the container id, like host-local', async () => {
    await allocate('n', '10.9.0.0/24', '10.9.0.1', id(1));
    expect(fs.readFileSync(path.join(ipamDir('n'), '10.9.0.2'), 'utf8')).toBe(`${id(1)}\neth0\n`);
    expect(fs.readFileSync(path.join(ipamDir('n'), 'last_reserved_ip.0'), 'utf8')).toBe('10.9.0.2');
    expect(reservations('n')).toEqual([{ ip: '10.9.0.2', containerId: id(1) }]);
    expect(attachedIds('n')).toEqual([id(1)]);
  });

  it('gives a container its existing address again', async () => {
    const a = await allocate('n', '10.9.0.0/24', '10.9.0.1', id(1));
    expect(await allocate('n', '10.9.0.0/24', '10.9.0.1', id(1))).toEqual(a);
  });

  it('releases on detach and does not reuse the freed address at once (round robin)', async () => {
    await allocate('n', '10.9.0.0/24', '10.9.0.1', id(1));
    await allocate('n', '10.9.0.0/24', '10.9.0.1', id(2));
    expect(await release('n', id(1))).toEqual(['10.9.0.2']);
    expect(await release('n', id(1))).toEqual([]);
    expect((await allocate('n', '10.9.0.0/24', '10.9.0.1', id(3))).ip).toBe('10.9.0.4');
  });

  it('dry-run peeks without reserving', async () => {
    expect((await allocate('n', '10.9.0.0/24', '10.9.0.1', id(1), { dryRun: true })).ip).toBe('10.9.0.2');
    expect(fs.existsSync(ipamDir('n'))).toBe(false);
  });

  it('20 concurrent allocations in separate processes never share an address', async () => {
    const { build } = await import('esbuild');
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'minid-ipam-child-')), 'child.mjs');
    onTestFinished(() => fs.rmSync(path.dirname(out), { recursive: true, force: true }));
    await build({
      entryPoints: [path.resolve(__dirname, '../../fixtures/network/ipam-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" },
    });
    fs.mkdirSync(roots.run, { recursive: true });
    const go = path.join(path.dirname(roots.run), 'go'); // beside the store: nothing foreign in it
    const children = Array.from({ length: 20 }, (_, i) => {
      const p = spawn(process.execPath, [out, 'race', '10.77.0.0/27', '10.77.0.1', id(100 + i), go], { env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const ready = new Promise<void>((res) => p.stdout.on('data', () => stdout.includes('ready') && res()));
      const done = new Promise<string>((res, rej) => p.on('exit', (code) => (code === 0 ? res(stdout.replace('ready\n', '').trim()) : rej(new Error(`child ${i}: ${stderr}`)))));
      return { ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    fs.writeFileSync(go, '');
    const ips = await Promise.all(children.map((c) => c.done));
    expect(new Set(ips).size).toBe(20);
    for (const ip of ips) expect(['10.77.0.0', '10.77.0.1', '10.77.0.31']).not.toContain(ip);
    expect(reservations('race')).toHaveLength(20);
  }, 60_000);
});
