// minid's CNI runtime against fake plugins: the exec wrapper's runner is replaced, so nothing
// runs and nothing on the host changes. The plugin files exist (lookup in CNI_PATH is real).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setRunner, type RunOptions } from '../../../src/sys/exec.js';
import {
  addNetworkList,
  checkNetworkList,
  delNetworkList,
  gcNetworkList,
  statusNetworkList,
} from '../../../src/cni/libcni.js';
import { clearVersionMemo } from '../../../src/cni/invoke.js';
import { cacheFile, readCache } from '../../../src/cni/cache.js';
import { MinidError } from '../../../src/errors.js';

interface Call {
  plugin: string;
  env: Record<string, string>;
  conf: any;
}

type Behaviour = (env: Record<string, string>, conf: any) => { exitCode?: number; stdout?: string; stderr?: string };

let base: string;
let bin: string;
let confDir: string;
let cacheDir: string;
let netns: string;
let calls: Call[];
let behaviours: Record<string, Behaviour>;
let versions: Record<string, string[]>;
const saved = { root: process.env.MINID_ROOT, run: process.env.MINID_RUN };

const ifaceResult = (v: string) => ({
  cniVersion: v,
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: netns }],
  ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1', interface: 0 }],
  routes: [{ dst: '0.0.0.0/0' }],
});

function plugin(name: string) {
  fs.writeFileSync(path.join(bin, name), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
}

function writeList(name: string, plugins: object[], extra: object = {}) {
  fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify({ cniVersion: '1.0.0', name, plugins, ...extra }));
}

beforeAll(() => {
  setRunner(async (argv: string[], opts: RunOptions) => {
    const name = path.basename(argv[0]);
    const env = opts.env ?? {};
    if (env.CNI_COMMAND === 'VERSION') return { exitCode: 0, stdout: JSON.stringify({ cniVersion: '1.1.0', supportedVersions: versions[name] ?? ['0.4.0', '1.0.0', '1.1.0'] }), stderr: '' };
    const conf = JSON.parse(opts.input ?? '{}');
    calls.push({ plugin: name, env, conf });
    const b = behaviours[name];
    if (b) {
      const r = b(env, conf);
      return { exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    }
    // Default: ADD passes prevResult through; everything else prints nothing.
    if (env.CNI_COMMAND === 'ADD') return { exitCode: 0, stdout: JSON.stringify(conf.prevResult ?? ifaceResult(conf.cniVersion)), stderr: '' };
    return { exitCode: 0, stdout: '', stderr: '' };
  });
});
afterAll(() => setRunner(null));

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-libcni-'));
  bin = path.join(base, 'bin');
  confDir = path.join(base, 'net.d');
  cacheDir = path.join(base, 'cache');
  fs.mkdirSync(bin);
  fs.mkdirSync(confDir);
  netns = path.join(base, 'netns');
  fs.writeFileSync(netns, '');
  process.env.MINID_ROOT = path.join(base, 'root');
  process.env.MINID_RUN = path.join(base, 'run');
  calls = [];
  behaviours = {};
  versions = {};
  clearVersionMemo();
  for (const p of ['iface', 'tune', 'ports']) plugin(p);
  writeList('net', [
    { type: 'iface', bridge: 'br9', ipam: { type: 'ipam9' }, capabilities: { mac: true } },
    { type: 'tune', sysctl: { a: '1' } },
    { type: 'ports', capabilities: { portMappings: true } },
  ]);
});
afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true });
  process.env.MINID_ROOT = saved.root;
  process.env.MINID_RUN = saved.run;
  if (saved.root === undefined) delete process.env.MINID_ROOT;
  if (saved.run === undefined) delete process.env.MINID_RUN;
});

const opts = (extra: object = {}) => ({ containerId: 'c1', netns, confDir, cniPath: bin, cacheDir, ...extra });
const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];

describe('addNetworkList', () => {
  it('runs the chain in order, injecting name, cniVersion, prevResult and runtimeConfig', async () => {
    const r = await addNetworkList('net', opts({ args: { IgnoreUnknown: '1' }, capabilityArgs: { portMappings, ips: ['10.9.0.9/24'] } }));
    expect(calls.map((c) => c.plugin)).toEqual(['iface', 'tune', 'ports']);
    const [a, b, c] = calls;
    expect(a.env).toMatchObject({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1', CNI_PATH: bin });
    expect(a.conf).toMatchObject({ cniVersion: '1.0.0', name: 'net', type: 'iface', bridge: 'br9' });
    expect(a.conf.prevResult).toBeUndefined();
    expect(a.conf.capabilities).toBeUndefined();
    // "mac" is a capability of iface, but no mac was given; "ips" was given but not declared.
    expect(a.conf.runtimeConfig).toBeUndefined();
    expect(b.conf.prevResult).toEqual(ifaceResult('1.0.0'));
    expect(b.conf.runtimeConfig).toBeUndefined();
    expect(c.conf.runtimeConfig).toEqual({ portMappings });
    expect(r).toEqual(ifaceResult('1.0.0'));
  });

  it('caches the final result in libcni format', async () => {
    await addNetworkList('net', opts({ capabilityArgs: { portMappings } }));
    const f = cacheFile('net', 'c1', 'eth0', cacheDir);
    expect(f).toBe(path.join(cacheDir, 'results', 'net-c1-eth0'));
    const c = JSON.parse(fs.readFileSync(f, 'utf8'));
    expect(c.kind).toBe('cniCacheV1');
    expect(c.networkName).toBe('net');
    expect(c.ifName).toBe('eth0');
    expect(c.netns).toBe(netns);
    expect(JSON.parse(Buffer.from(c.config, 'base64').toString()).name).toBe('net');
    expect(c.result).toEqual(ifaceResult('1.0.0'));
    expect(c.capabilityArgs).toEqual({ portMappings });
  });

  it('converts a 0.4.0 result to the list version before passing it on', async () => {
    behaviours.iface = () => ({
      stdout: JSON.stringify({ ...ifaceResult('0.4.0'), ips: [{ version: '4', address: '10.9.0.2/24', gateway: '10.9.0.1', interface: 0 }] }),
    });
    const r = await addNetworkList('net', opts());
    expect(calls[1].conf.prevResult.ips[0]).toEqual({ address: '10.9.0.2/24', gateway: '10.9.0.1', interface: 0 });
    expect(r.cniVersion).toBe('1.0.0');
  });

  it('rolls back with DEL in reverse order when a plugin fails, naming the plugin and its error', async () => {
    behaviours.tune = (env) =>
      env.CNI_COMMAND === 'ADD'
        ? { exitCode: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'bad sysctl', details: 'a=1 not allowed' }) }
        : {};
    const err = await addNetworkList('net', opts()).catch((e) => e);
    expect(err).toBeInstanceOf(MinidError);
    expect(err.message).toMatch(/CNI plugin tune \(.*\/tune\) ADD .*failed: bad sysctl \(a=1 not allowed\) \[code 7: invalid network configuration\]; rolled back/);
    expect(calls.map((c) => `${c.plugin}:${c.env.CNI_COMMAND}`)).toEqual(['iface:ADD', 'tune:ADD', 'tune:DEL', 'iface:DEL']);
    expect(calls[2].conf.prevResult).toEqual(ifaceResult('1.0.0'));
    expect(readCache('net', 'c1', 'eth0', cacheDir)).toBeNull();
  });

  it('refuses a missing plugin before running anything', async () => {
    fs.rmSync(path.join(bin, 'ports'));
    await expect(addNetworkList('net', opts())).rejects.toThrow(/CNI plugin "ports" not found in the plugin path/);
    expect(calls).toEqual([]);
  });

  it('refuses an incompatible version with the plugin and a fix', async () => {
    versions.tune = ['0.3.1', '0.4.0', '1.0.0'];
    writeList('new', [{ type: 'iface' }, { type: 'tune' }], { cniVersion: '1.1.0' });
    await expect(addNetworkList('new', opts())).rejects.toThrow(/needs cniVersion 1\.1\.0.*tune \(.*\) supports 0\.3\.1, 0\.4\.0, 1\.0\.0.*set "cniVersion": "1\.0\.0"/);
    expect(calls).toEqual([]);
  });

  it('checks the delegated IPAM plugin version too', async () => {
    plugin('ipam9');
    versions.ipam9 = ['0.4.0', '1.0.0'];
    writeList('new', [{ type: 'iface', ipam: { type: 'ipam9' } }], { cniVersion: '1.1.0' });
    await expect(addNetworkList('new', opts())).rejects.toThrow(/ipam9 \(IPAM of iface\)/);
  });

  it('negotiates the highest common version from cniVersions', async () => {
    versions.tune = ['0.4.0', '1.0.0'];
    writeList('multi', [{ type: 'iface' }, { type: 'tune' }], { cniVersion: '1.1.0', cniVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    const r = await addNetworkList('multi', opts());
    expect(calls[0].conf.cniVersion).toBe('1.0.0');
    expect(r.cniVersion).toBe('1.0.0');
    // DEL speaks the version the ADD chose, without asking again.
    calls = [];
    await delNetworkList('multi', opts());
    expect(calls.every((c) => c.conf.cniVersion === '1.0.0')).toBe(true);
  });

  it('explains every call as a shell line with the config and the result', async () => {
    const lines: string[] = [];
    await addNetworkList('net', opts({ explain: (l: string) => lines.push(l) }));
    const call = lines.find((l) => l.startsWith('CNI_COMMAND=ADD') && l.includes(`${bin}/iface <<'EOF'`))!;
    expect(call).toMatch(/^CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=\S+ CNI_IFNAME=eth0 CNI_PATH=\S+ \S+\/iface <<'EOF'\n\{\n {2}"cniVersion": "1.0.0",\n {2}"name": "net",[\s\S]*\nEOF$/);
    expect(lines.some((l) => /^# result: \{"cniVersion":"1.0.0"/.test(l))).toBe(true);
    expect(lines.some((l) => /^# iface ADD took \d+ ms$/.test(l))).toBe(true);
  });

  it('refuses an unknown network and bad attachment parameters', async () => {
    await expect(addNetworkList('nope', opts())).rejects.toThrow(/unknown CNI network "nope"/);
    await expect(addNetworkList('net', opts({ ifName: 'x'.repeat(20) }))).rejects.toThrow(/too long/);
    await expect(addNetworkList('net', opts({ containerId: '-bad' }))).rejects.toThrow(/invalid characters in container ID/);
    await expect(addNetworkList('net', opts({ netns: path.join(base, 'gone') }))).rejects.toThrow(/does not exist/);
  });

  it('names a plugin that crashes without an error result', async () => {
    behaviours.iface = () => ({ exitCode: 2, stderr: 'panic: runtime error\ngoroutine 1' });
    await expect(addNetworkList('net', opts())).rejects.toThrow(/CNI plugin iface .* failed: panic: runtime error \| goroutine 1/);
  });
});

describe('delNetworkList', () => {
  it('runs in reverse with the cached result, then forgets the attachment; repeating is fine', async () => {
    await addNetworkList('net', opts({ capabilityArgs: { portMappings } }));
    calls = [];
    await delNetworkList('net', opts());
    expect(calls.map((c) => `${c.plugin}:${c.env.CNI_COMMAND}`)).toEqual(['ports:DEL', 'tune:DEL', 'iface:DEL']);
    expect(calls[0].conf.prevResult).toEqual(ifaceResult('1.0.0'));
    // capability args come back from the cache, as CRI runtimes do
    expect(calls[0].conf.runtimeConfig).toEqual({ portMappings });
    expect(readCache('net', 'c1', 'eth0', cacheDir)).toBeNull();
    calls = [];
    await delNetworkList('net', opts());
    expect(calls).toHaveLength(3);
    expect(calls[0].conf.prevResult).toBeUndefined();
  });

  it('passes no CNI_NETNS when the namespace is gone', async () => {
    await addNetworkList('net', opts());
    fs.rmSync(netns);
    calls = [];
    await delNetworkList('net', opts());
    expect(calls.every((c) => c.env.CNI_NETNS === '')).toBe(true);
  });

  it('uses the cached configuration when the file was removed', async () => {
    await addNetworkList('net', opts());
    fs.rmSync(path.join(confDir, 'net.conflist'));
    calls = [];
    await delNetworkList('net', opts());
    expect(calls.map((c) => c.plugin)).toEqual(['ports', 'tune', 'iface']);
  });

  it('stops at a failing plugin and keeps the cache for a retry', async () => {
    await addNetworkList('net', opts());
    behaviours.tune = () => ({ exitCode: 1, stdout: JSON.stringify({ code: 11, msg: 'busy' }) });
    await expect(delNetworkList('net', opts())).rejects.toThrow(/tune .* DEL .*busy \[code 11: try again later\]/);
    expect(readCache('net', 'c1', 'eth0', cacheDir)).not.toBeNull();
  });
});

describe('checkNetworkList', () => {
  it('checks every plugin with the cached result', async () => {
    await addNetworkList('net', opts());
    calls = [];
    await checkNetworkList('net', opts());
    expect(calls.map((c) => `${c.plugin}:${c.env.CNI_COMMAND}`)).toEqual(['iface:CHECK', 'tune:CHECK', 'ports:CHECK']);
    expect(calls.every((c) => JSON.stringify(c.conf.prevResult) === JSON.stringify(ifaceResult('1.0.0')))).toBe(true);
  });
  it('needs an ADD first, and honours disableCheck', async () => {
    await expect(checkNetworkList('net', opts())).rejects.toThrow(/not attached to network "net"/);
    writeList('nocheck', [{ type: 'iface' }], { disableCheck: true });
    await checkNetworkList('nocheck', opts());
    expect(calls).toEqual([]);
  });
});

describe('GC and STATUS', () => {
  it('GC deletes stale cached attachments and sends GC only to plugins speaking 1.1.0', async () => {
    versions.tune = ['0.4.0', '1.0.0'];
    await addNetworkList('net', opts({ containerId: 'live' }));
    await addNetworkList('net', opts({ containerId: 'dead' }));
    calls = [];
    const lines: string[] = [];
    const r = await gcNetworkList('net', { confDir, cniPath: bin, cacheDir, validAttachments: [{ containerID: 'live', ifname: 'eth0' }], explain: (l) => lines.push(l) });
    expect(r.deleted).toEqual([{ containerID: 'dead', ifname: 'eth0' }]);
    const gcs = calls.filter((c) => c.env.CNI_COMMAND === 'GC');
    expect(gcs.map((c) => c.plugin)).toEqual(['iface', 'ports']);
    expect(gcs[0].conf.cniVersion).toBe('1.1.0');
    expect(gcs[0].conf['cni.dev/valid-attachments']).toEqual([{ containerID: 'live', ifname: 'eth0' }]);
    expect(r.skipped).toEqual(['tune']);
    expect(lines.some((l) => /tune .* does not speak CNI 1\.1\.0: no GC sent/.test(l))).toBe(true);
    expect(readCache('net', 'live', 'eth0', cacheDir)).not.toBeNull();
    expect(readCache('net', 'dead', 'eth0', cacheDir)).toBeNull();
  });

  it('STATUS reports a plugin that is not available', async () => {
    behaviours.ports = (env) => (env.CNI_COMMAND === 'STATUS' ? { exitCode: 1, stdout: JSON.stringify({ code: 50, msg: 'no addresses left' }) } : {});
    await expect(statusNetworkList('net', { confDir, cniPath: bin })).rejects.toThrow(/ports .* STATUS .*no addresses left \[code 50: plugin not available\]/);
    delete behaviours.ports;
    const r = await statusNetworkList('net', { confDir, cniPath: bin });
    expect(r.checked).toEqual(['iface', 'tune', 'ports']);
  });
});
