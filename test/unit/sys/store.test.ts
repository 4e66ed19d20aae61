// The store's identity (sys/store.ts): made once, kept in the store, the same for every
// process; and the comments that carry it (network/names.ts) parse back in all their forms.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storeRef, STORE_ID_RE } from '../../../src/sys/store.js';
import { comment, parseComment } from '../../../src/network/names.js';
import { minidRules, ofNetwork, ofStore, parseSave } from '../../../src/network/iptables.js';

let base: string;
beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-store-unit-'));
  process.env.MINID_ROOT = path.join(base, 'lib');
  process.env.MINID_RUN = path.join(base, 'run');
});
afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

describe('storeRef', () => {
  it('makes a short random id once, keeps it in the store (0644), and reads it back', async () => {
    const a = await storeRef();
    expect(a.id).toMatch(STORE_ID_RE);
    expect(a.legacy).toBe(false);
    expect(a.root).toBe(process.env.MINID_ROOT);
    const file = path.join(process.env.MINID_ROOT!, 'store-id');
    expect(fs.readFileSync(file, 'utf8')).toBe(`${a.id}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect((await storeRef()).id).toBe(a.id);
  });

  it('another store gets another id', async () => {
    const a = await storeRef();
    process.env.MINID_ROOT = path.join(base, 'lib2');
    expect((await storeRef()).id).not.toBe(a.id);
  });

  it('processes starting together agree on one id', async () => {
    const { build } = await import('esbuild');
    const out = path.join(base, 'child.mjs');
    await build({
      stdin: { contents: "import { storeRef } from './src/sys/store.ts'; storeRef().then((r) => process.stdout.write(r.id));", resolveDir: path.resolve(__dirname, '../../..'), loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" },
    });
    const one = (): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(process.execPath, [out], { env: process.env, encoding: 'utf8' }, (e, stdout) => (e ? reject(e) : resolve(stdout))),
      );
    const ids = await Promise.all(Array.from({ length: 6 }, one));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(STORE_ID_RE);
    expect(fs.readFileSync(path.join(process.env.MINID_ROOT!, 'store-id'), 'utf8').trim()).toBe(ids[0]);
  });
});

describe('rule comments', () => {
  it('name the store, the network and the container; parse back', () => {
    expect(comment('feedc0de', 'bridge')).toBe('minid:feedc0de:bridge');
    expect(comment('feedc0de', 'bridge', 'web', '3f2a1b4c5d6e7f80')).toBe('minid:feedc0de:bridge:web:3f2a1b4c5d6e');
    expect(parseComment('"minid:feedc0de:bridge"')).toEqual({ store: 'feedc0de', network: 'bridge' });
    expect(parseComment('minid:feedc0de:bridge:web:3f2a1b4c5d6e')).toEqual({ store: 'feedc0de', network: 'bridge', containerName: 'web', containerId12: '3f2a1b4c5d6e' });
    expect(parseComment('minid')).toEqual({});
    expect(parseComment('netavark firewall plugin rules')).toBeNull();
  });

  it('an older minid\'s comments (no store) parse too', () => {
    expect(parseComment('minid:bridge')).toEqual({ network: 'bridge' });
    expect(parseComment('minid:bridge:web:3f2a1b4c5d6e')).toEqual({ network: 'bridge', containerName: 'web', containerId12: '3f2a1b4c5d6e' });
  });

  it('fit the 256 characters iptables allows, at the longest names', () => {
    expect(comment('feedc0de', 'n'.repeat(64), 'c'.repeat(128), 'f'.repeat(64)).length).toBeLessThanOrEqual(256);
  });
});

describe('which rules are a store\'s', () => {
  const net = { id: 'b'.repeat(64), name: 'bridge', driver: 'bridge' as const, bridge: 'minid0', subnet: '172.30.0.0/16', gateway: '172.30.0.1', created: '' };
  const rules = minidRules(
    parseSave(
      [
        '*nat',
        '-A MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment "minid:feedc0de:bridge" -j MASQUERADE',
        '-A MINID-POSTROUTING -s 10.99.0.0/24 ! -o mst0ther0 -m comment --comment "minid:0a0b0c0d:bridge" -j MASQUERADE',
        '-A MINID-POSTROUTING -s 172.30.0.0/16 ! -o minid0 -m comment --comment "minid:bridge" -j MASQUERADE',
        '-A MINID-DNAT -p tcp -m tcp --dport 8080 -m comment --comment "minid:bridge:web:3f2a1b4c5d6e" -j DNAT --to-destination 172.30.0.2:80',
        '-A MINID-DNAT -p tcp -m tcp --dport 9090 -m comment --comment "minid:bridge:db:9a8b7c6d5e4f" -j DNAT --to-destination 10.99.0.2:80',
        '-A POSTROUTING -m comment --comment minid -j MINID-POSTROUTING',
        'COMMIT',
      ].join('\n'),
    ),
  );
  const dports = (keep: (r: (typeof rules)[number]) => boolean): string[] => rules.filter(keep).map((r) => r.args.join(' ').match(/--dport (\d+)|-s (\S+) ! -o (\S+)/)![0]);
  const store = { id: 'feedc0de', legacy: false, root: '/tmp/x' };
  const dflt = { ...store, legacy: true, root: '/var/lib/minid' };

  it('a store takes the rules with its id, never another store\'s nor the host-wide ones', () => {
    expect(dports((r) => ofStore(store, r))).toEqual(['-s 172.30.0.0/16 ! -o minid0']);
    expect(dports((r) => ofNetwork(store, net, r))).toEqual(['-s 172.30.0.0/16 ! -o minid0']);
  });

  it('the default store also takes an older minid\'s rules, by network only where they name its bridge or subnet', () => {
    expect(dports((r) => ofStore(dflt, r))).toEqual(['-s 172.30.0.0/16 ! -o minid0', '-s 172.30.0.0/16 ! -o minid0', '--dport 8080', '--dport 9090']);
    expect(dports((r) => ofNetwork(dflt, net, r))).toEqual(['-s 172.30.0.0/16 ! -o minid0', '-s 172.30.0.0/16 ! -o minid0', '--dport 8080']);
  });
});
