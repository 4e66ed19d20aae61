import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadNetworkList, listNetworkNames } from '../../../src/cni/conf.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cni-conf-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const put = (name: string, v: unknown) => fs.writeFileSync(path.join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
const list = (name: string, extra: object = {}) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge' }], ...extra });

describe('loadNetworkList (libcni order)', () => {
  it('takes the first .conflist by file name with the matching name', () => {
    put('20-b.conflist', list('net', { plugins: [{ type: 'second' }] }));
    put('10-a.conflist', list('net', { plugins: [{ type: 'first' }] }));
    const l = loadNetworkList('net', dir);
    expect(l.plugins[0].type).toBe('first');
    expect(l.source).toBe(path.join(dir, '10-a.conflist'));
  });
  it('prefers .conflist over single .conf, and upgrades a .conf/.json to a list', () => {
    put('00-net.conf', { cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'x' });
    put('05-other.json', { cniVersion: '0.4.0', name: 'json', type: 'ptp' });
    const l = loadNetworkList('single', dir);
    expect(l.cniVersion).toBe('0.4.0');
    expect(l.plugins).toEqual([{ cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'x' }]);
    expect(loadNetworkList('json', dir).plugins[0].type).toBe('ptp');
  });
  it('picks the highest version minid speaks from cniVersions', () => {
    put('a.conflist', list('v', { cniVersion: '0.4.0', cniVersions: ['1.0.0', '1.1.0', '9.0.0'] }));
    const l = loadNetworkList('v', dir);
    expect(l.cniVersion).toBe('1.1.0');
    expect(l.cniVersions).toEqual(['1.1.0', '1.0.0', '0.4.0']);
  });
  it('names an unknown network and lists the known ones', () => {
    put('a.conflist', list('one'));
    expect(() => loadNetworkList('two', dir)).toThrow(/unknown CNI network "two".*known: one/);
    expect(() => loadNetworkList('x', path.join(dir, 'nope'))).toThrow(/no network configurations in/);
  });
  it('reports an unparsable file by name', () => {
    put('01-bad.conflist', '{ "name": "bad", ');
    put('02-good.conflist', list('good'));
    expect(() => loadNetworkList('good', dir)).toThrow(/cannot parse .*01-bad\.conflist/);
  });
  it('validates the list', () => {
    put('a.conflist', { cniVersion: '1.0.0', name: 'n', plugins: [] });
    expect(() => loadNetworkList('n', dir)).toThrow(/plugins" list is empty/);
    put('a.conflist', { cniVersion: '1.0.0', name: 'n', plugins: [{ type: '../evil' }] });
    expect(() => loadNetworkList('n', dir)).toThrow(/plain file name/);
    put('a.conflist', { cniVersion: '1.0.0', name: 'bad name', plugins: [{ type: 'x' }] });
    expect(() => loadNetworkList('bad name', dir)).toThrow(/invalid characters/);
  });
  it('lists network names', () => {
    put('b.conflist', list('two'));
    put('a.conflist', list('one'));
    put('c.conf', { name: 'three', type: 'x' });
    expect(listNetworkNames(dir)).toEqual(['one', 'two', 'three']);
  });
});
