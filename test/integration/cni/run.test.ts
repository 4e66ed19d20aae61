// `minid run --cni NAME` end to end, as a user runs it: nginx attached by a CNI chain (Debian's
// reference plugins, then minid's own), its published port served on 127.0.0.1 through the
// portmap plugin, CNI CHECK through `minid network check`, and nothing left after `minid rm`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, requireRoot, type Store } from '../../helpers/minid.js';
import { MINID_BIN, REF_BIN, freeSubnet, rand, removeSharedRefChains, reservations, settledLeftovers, snapshot, type Snapshot } from './helpers.js';
import { freePort } from '../network/helpers.js';

let store: Store;
let before: Snapshot;
let confDir: string;
beforeAll(async () => {
  requireRoot();
  store = makeStore('cnirun');
  await loadImages(store, ['nginx']);
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-cni-conf-'));
  before = await snapshot();
});
afterAll(async () => {
  await store?.cleanup();
  await removeSharedRefChains(before);
  fs.rmSync(confDir, { recursive: true, force: true });
});

describe.each([
  ['reference', REF_BIN, { bridge: 'bridge', ipam: 'host-local', portmap: 'portmap', version: '1.0.0' }],
  ['minid', MINID_BIN, { bridge: 'minid-bridge', ipam: 'minid-host-local', portmap: 'minid-portmap', version: '1.1.0' }],
])('minid run --cni with the %s plugins', (_kind, binDir, t) => {
  it('serves a published port on 127.0.0.1 and cleans up on rm', async () => {
    const net = await freeSubnet();
    const name = `mdt-${rand()}`;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdt-cni-data-'));
    const bridge = `mdtcni${rand(3)}`;
    const conf = {
      cniVersion: t.version,
      name,
      plugins: [
        {
          type: t.bridge,
          bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: t.ipam, ranges: [[{ subnet: net.cidr, gateway: net.gw }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
        },
        { type: t.portmap, capabilities: { portMappings: true }, snat: true },
      ],
    };
    try {
      fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify(conf));
      const port = await freePort();
      const cni = ['--cni', name, '--cni-conf-dir', confDir, '--cni-path', binDir];
      const r = await minid(store, ['run', '-d', '--name', name, ...cni, '-p', `${port}:80`, 'nginx']);
      expect(r.exitCode, r.stderr).toBe(0);
      const ins = JSON.parse((await minid(store, ['inspect', name])).stdout)[0];
      expect(ins.NetworkSettings.Networks[name].IPAddress.startsWith(net.base)).toBe(true);
      let page = '';
      for (let i = 0; i < 50 && !/Welcome to nginx/.test(page); i++) {
        const c = await fetch(`http://127.0.0.1:${port}/`).then((x) => x.text()).catch(() => '');
        page = c;
        if (!page) await new Promise((res) => setTimeout(res, 100));
      }
      expect(page).toMatch(/Welcome to nginx/);
      // The reference portmap 1.1.1 cannot CHECK an IPv4-only container on a host with IPv6.
      if (t.portmap === 'minid-portmap') {
        const chk = await minid(store, ['network', 'check', name]);
        expect(chk.exitCode, chk.stderr).toBe(0);
      }
      expect(reservations(dataDir).length).toBe(1);
      const rm = await minid(store, ['rm', '-f', name]);
      expect(rm.exitCode, rm.stderr).toBe(0);
      expect(reservations(dataDir)).toEqual([]);
      expect(fs.readdirSync(path.join(store.root, 'cni', 'cache', 'results')).filter((f) => f.includes(name))).toEqual([]);
      // Bridge plugins never delete their bridge (other containers may use it): the test does.
      await execa('ip', ['link', 'del', bridge], { reject: false });
      await removeSharedRefChains(before);
      expect(await settledLeftovers(before)).toEqual([]);
    } finally {
      // Also when an expectation failed: the container, the bridge, the plugins' data.
      await minid(store, ['rm', '-f', name]);
      await execa('ip', ['link', 'del', bridge], { reject: false });
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

it('a CNI error names the plugin and leaves nothing behind', async () => {
  const name = `mdt-${rand()}`;
  fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'no-such-plugin' }] }));
  const r = await minid(store, ['run', '--rm', '--cni', name, '--cni-conf-dir', confDir, '--cni-path', REF_BIN, 'nginx', 'true']);
  expect(r.exitCode).toBe(125);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/no-such-plugin/);
  expect((await minid(store, ['ps', '-aq'])).stdout.trim()).toBe('');
  expect(await settledLeftovers(before)).toEqual([]);
});
