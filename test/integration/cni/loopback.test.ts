// minid-loopback, the C plugin (cni-plugins/loopback/main.c): the CNI contract at its edges —
// the environment, a config that is not the JSON it must be, versions, prevResult passed on
// unchanged, DEL twice and without a namespace — with the same messages and error codes as
// minid's other plugins (cni-plugins/lib/skel.ts). The common cases (ADD brings lo up, CHECK,
// DEL) also run in conformance.test.ts, beside the reference loopback. Needs root (namespaces).
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SUPPORTED_VERSIONS } from '../../../src/cni/spec.js';
import { MINID_BIN, Owned, invoke, must, ownedPerTest, rand, requireRootAndBuild } from './helpers.js';

requireRootAndBuild();

let owned: Owned;
ownedPerTest((o) => (owned = o));

const LO = 'minid-loopback';
const conf = (v = '1.0.0', extra: object = {}) => ({ cniVersion: v, name: `mdt-cni-lo-${rand()}`, type: LO, ...extra });
const env = (netns: string) => ({ containerId: `ctr${rand()}`, netns, ifName: 'lo' });
const loUp = async (ns: string) => /<[^>]*\bUP\b/.test(await must(['ip', '-n', ns, '-o', 'link', 'show', 'lo']));

/** One call with raw stdin and exactly the given environment (no defaults filled in). */
function raw(environment: Record<string, string>, stdin = '') {
  const r = spawnSync(path.join(MINID_BIN, LO), [], { input: stdin, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...environment }, encoding: 'utf8' });
  let out: any = null;
  try {
    out = r.stdout.trim() ? JSON.parse(r.stdout) : null;
  } catch {
    out = null;
  }
  return { code: r.status, out, stdout: r.stdout, stderr: r.stderr };
}
/** A config through GC (cniVersion 1.1.0): every check of the skeleton, nothing touched. */
const gc = (stdin: string) => raw({ CNI_COMMAND: 'GC', CNI_PATH: MINID_BIN }, stdin);

describe('minid-loopback: environment and VERSION', () => {
  it('VERSION lists the versions of minid\'s plugins, without reading stdin', () => {
    const r = raw({ CNI_COMMAND: 'VERSION' });
    expect(r.code).toBe(0);
    expect(r.out).toEqual({ cniVersion: '1.1.0', supportedVersions: SUPPORTED_VERSIONS });
  });

  it('without CNI_COMMAND says what it is on stderr and exits 0', () => {
    const r = raw({});
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`minid-loopback: bring up lo (minid, CNI)\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`);
  });

  it('an unknown command, missing or invalid variables: code 4, naming them', () => {
    expect(raw({ CNI_COMMAND: 'FROB' }).out).toEqual({ cniVersion: '1.1.0', code: ErrorCode.INVALID_ENVIRONMENT_VARIABLES, msg: 'unknown CNI_COMMAND: FROB' });
    const missing = raw({ CNI_COMMAND: 'ADD', CNI_NETNS: '/x', CNI_IFNAME: '' });
    expect(missing.code).toBe(1);
    expect(missing.out.msg).toBe('required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing');
    expect(missing.stderr).toBe('minid-loopback: ADD failed: required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing\n');
    const base = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'lo', CNI_PATH: MINID_BIN };
    expect(raw({ ...base, CNI_CONTAINERID: '-bad' }).out).toMatchObject({ code: 4, msg: 'invalid characters in container ID "-bad"', details: 'CNI_CONTAINERID' });
    expect(raw({ ...base, CNI_IFNAME: 'a/b' }).out).toMatchObject({ code: 4, details: 'CNI_IFNAME' });
    expect(raw({ ...base, CNI_IFNAME: 'x'.repeat(16) }).out).toMatchObject({ code: 4, details: 'CNI_IFNAME' });
  });
});

describe('minid-loopback: the config', () => {
  it('malformed JSON is refused with code 6 (decoding failure)', () => {
    const bad = ['', ' ', '{', '{"cniVersion":"1.1.0","name":"n",}', '{"cniVersion":"1.1.0","name":"n"} {}', '{"cniVersion":"1.1.0" "name":"n"}',
      '{"cniVersion":"1.1.0","name":"n","x":01}', '{"cniVersion":"1.1.0","name":"n","x":1.}', '{"cniVersion":"1.1.0","name":"n","x":-}',
      '{"cniVersion":"1.1.0","name":"n","x":"\\x"}', '{"cniVersion":"1.1.0","name":"n","x":"\\u12"}', '{"cniVersion":"1.1.0","name":"n","x":"a\tb"}',
      '{"cniVersion":"1.1.0","name":"n","x":tru}', "{'cniVersion':'1.1.0'}", '{"cniVersion":"1.1.0","name":"n"', '{"a" 1}', '{1:2}',
      `{"cniVersion":"1.1.0","name":"n","x":${'['.repeat(100)}${']'.repeat(100)}}`];
    for (const s of bad) expect(gc(s).out, s).toEqual({ cniVersion: '1.1.0', code: ErrorCode.DECODING_FAILURE, msg: 'error decoding network config: not valid JSON' });
    for (const s of ['[]', '"x"', '1', 'null'])
      expect(gc(s).out, s).toEqual({ cniVersion: '1.1.0', code: ErrorCode.DECODING_FAILURE, msg: 'error decoding network config: not a JSON object' });
    // Valid JSON that looks odd is taken: escapes, numbers, nesting, whitespace, a key twice.
    const odd = '\r\n\t{ "cniVersion" : "1.\\u0031.0", "name":"first", "name" : "n\\u0031", "x" : [ -0.5e+3, 0, 1E2, true, false, null, "\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00é", {"a": [{}]} ] } ';
    expect(gc(odd).code, gc(odd).stdout).toBe(0);
  });

  it('agrees with JSON.parse on what is JSON (a few hundred seeded mutations of configs)', () => {
    const bases = ['{"cniVersion":"1.1.0","name":"n","type":"t","x":[1,-2.5e+3,true,false,null,"a\\u00e9\\ud83d\\ude00\\n",{"k":{}}],"prevResult":{"ips":[]}}', '{"name":"n1","cniVersion":"1.1.0","a":"\\"\\\\\\/"}'];
    const alphabet = '{}[]",:\\ tfn0123456789.eE+-u\u00e9\x01a';
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const differ: string[] = [];
    for (let i = 0; i < 300; i++) {
      let s = bases[rnd(bases.length)];
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(s.length + 1);
        const c = alphabet[rnd(alphabet.length)];
        s = [s.slice(0, at) + s.slice(at + 1), s.slice(0, at) + c + s.slice(at), s.slice(0, at) + c + s.slice(at + 1)][rnd(3)];
      }
      let valid = true;
      try {
        JSON.parse(s);
      } catch {
        valid = false;
      }
      const notJson = gc(s).out?.msg === 'error decoding network config: not valid JSON';
      if (notJson === valid) differ.push(s);
    }
    expect(differ).toEqual([]);
  });

  it('a config larger than 1 MiB is refused with code 5 (I/O failure)', () => {
    const r = gc(JSON.stringify({ ...conf('1.1.0'), pad: 'x'.repeat(1 << 20) }));
    expect(r.out).toMatchObject({ code: ErrorCode.IO_FAILURE, msg: 'error reading from stdin: the config is larger than 1048576 bytes' });
  });

  it('name and cniVersion: missing, invalid, unsupported', () => {
    expect(gc('{"cniVersion":"1.1.0"}').out).toEqual({ cniVersion: '1.1.0', code: ErrorCode.INVALID_NETWORK_CONFIG, msg: 'missing network name' });
    expect(gc('{"cniVersion":"1.1.0","name":""}').out?.code).toBe(ErrorCode.INVALID_NETWORK_CONFIG);
    expect(gc('{"cniVersion":"1.1.0","name":"a b"}').out).toMatchObject({ code: ErrorCode.INVALID_NETWORK_CONFIG, msg: 'invalid characters in network name "a b"' });
    const details = `plugin supports [${SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(' ')}]`;
    // No cniVersion is 0.1.0 (the spec's first), which minid's plugins no longer speak.
    expect(gc('{"name":"n"}').out).toEqual({ cniVersion: '1.1.0', code: ErrorCode.INCOMPATIBLE_CNI_VERSION, msg: 'incompatible CNI versions', details: `config is "0.1.0", ${details}` });
    expect(gc('{"cniVersion":"2.0.0","name":"n"}').out).toMatchObject({ code: ErrorCode.INCOMPATIBLE_CNI_VERSION, details: `config is "2.0.0", ${details}` });
    expect(gc('{"cniVersion":1,"name":"n"}').out).toMatchObject({ code: ErrorCode.DECODING_FAILURE, msg: 'invalid cniVersion 1' });
    expect(gc('{"cniVersion":"1.0.0-rc1","name":"n"}').out).toMatchObject({ code: ErrorCode.DECODING_FAILURE, msg: 'invalid cniVersion "1.0.0-rc1"' });
    // GC and STATUS are 1.1.0's; CHECK is 0.4.0's.
    expect(gc('{"cniVersion":"1.0.0","name":"n"}').out).toEqual({
      cniVersion: '1.0.0', code: ErrorCode.INCOMPATIBLE_CNI_VERSION, msg: 'config version does not allow GC', details: 'GC needs cniVersion 1.1.0 or later, the config is 1.0.0' });
    const status = raw({ CNI_COMMAND: 'STATUS', CNI_PATH: MINID_BIN }, JSON.stringify(conf('1.1.0')));
    expect([status.code, status.stdout]).toEqual([0, '']);
  });
});

describe('minid-loopback: in a namespace', () => {
  it('ADD brings lo up with the result of its version; CHECK; DEL sets it down, twice; CHECK then fails', async () => {
    const ns = await owned.netns('lo');
    const e = env(ns.path);
    expect(await loUp(ns.name)).toBe(false);
    const ipv6 = fs.existsSync('/proc/net/if_inet6');
    for (const v of ['0.4.0', '1.0.0']) {
      const add = await invoke(MINID_BIN, LO, 'ADD', conf(v), e);
      expect(add.code, add.raw).toBe(0);
      const version = v === '0.4.0' ? (x: string) => ({ version: x }) : () => ({});
      expect(add.out).toEqual({
        cniVersion: v,
        interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: ns.path }],
        ips: [{ ...version('4'), address: '127.0.0.1/8', interface: 0 }, ...(ipv6 ? [{ ...version('6'), address: '::1/128', interface: 0 }] : [])],
      });
    }
    expect(await loUp(ns.name)).toBe(true);
    expect((await invoke(MINID_BIN, LO, 'CHECK', conf('1.0.0'), e)).code).toBe(0);
    const old = await invoke(MINID_BIN, LO, 'CHECK', conf('0.3.1'), e);
    expect(old.out).toMatchObject({ cniVersion: '0.3.1', code: ErrorCode.INCOMPATIBLE_CNI_VERSION, msg: 'config version does not allow CHECK' });
    for (let i = 0; i < 2; i++) {
      const del = await invoke(MINID_BIN, LO, 'DEL', conf('1.0.0'), e);
      expect([del.code, del.raw]).toEqual([0, '']);
      expect(await loUp(ns.name)).toBe(false);
    }
    const down = await invoke(MINID_BIN, LO, 'CHECK', conf('1.0.0'), e);
    expect(down.out).toEqual({ cniVersion: '1.0.0', code: ErrorCode.CHECK_MISMATCH, msg: `lo is down in ${ns.path}` });
  });

  it('a namespace that is not there: DEL succeeds, ADD fails with code 100, CHECK with code 3; its own namespace is refused', async () => {
    const gone = `/run/netns/mdt-cni-lo-gone-${rand()}`;
    const e = env(gone);
    expect((await invoke(MINID_BIN, LO, 'DEL', conf(), e)).code).toBe(0);
    expect((await invoke(MINID_BIN, LO, 'DEL', conf(), { ...e, netns: '' })).code).toBe(0); // CNI_NETNS unset
    const add = await invoke(MINID_BIN, LO, 'ADD', conf(), e);
    expect(add.code).toBe(1);
    expect(add.out).toEqual({ cniVersion: '1.0.0', code: ErrorCode.INTERFACE_FAILURE, msg: `failed to set lo up in ${gone}: open: No such file or directory` });
    expect((await invoke(MINID_BIN, LO, 'CHECK', conf(), e)).out).toMatchObject({ code: ErrorCode.UNKNOWN_CONTAINER, msg: `no lo in ${gone}` });
    const own = await invoke(MINID_BIN, LO, 'ADD', conf(), env('/proc/self/ns/net'));
    expect(own.out).toMatchObject({ code: ErrorCode.INVALID_NETNS, msg: "plugin's netns and netns from CNI_NETNS should not be the same" });
  });

  it('chained: prevResult comes back unchanged (as JSON), with the config\'s cniVersion; a prevResult that is no object is refused', async () => {
    const ns = await owned.netns('lo');
    const prev = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'mdtbr0', mac: '0a:58:0a:e7:00:01' }, { name: 'veth1234', mac: '12:34:56:78:9a:bc' }, { name: 'eth0', mac: 'de:ad:be:ef:00:01', sandbox: ns.path }],
      ips: [{ address: '10.231.0.5/24', gateway: '10.231.0.1', interface: 2 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.231.0.1', mtu: 1400, priority: -1.5e2 }],
      dns: { nameservers: ['10.231.0.1'], search: ['ex\u00e4mple', 'q"uote\\d \u2028 \ud83d\ude00'] },
      'x-extra': { nested: [[], {}, null, true, 0] },
    };
    // Pretty-printed, with the version given last: the output is compact, but the same JSON.
    const stdin = JSON.stringify({ ...conf('1.1.0'), prevResult: prev }, null, 2);
    const add = await invoke(MINID_BIN, LO, 'ADD', stdin, env(ns.path));
    expect(add.code, add.raw).toBe(0);
    expect(add.out).toEqual({ ...prev, cniVersion: '1.1.0' });
    expect(Object.keys(add.out)[0]).toBe('cniVersion');
    expect(await loUp(ns.name)).toBe(true);
    // prevResult null is no prevResult: lo's own result.
    const none = await invoke(MINID_BIN, LO, 'ADD', conf('1.0.0', { prevResult: null }), env(ns.path));
    expect(none.out.interfaces).toEqual([{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: ns.path }]);
    for (const bad of ['a string', 3, [1]]) {
      const r = await invoke(MINID_BIN, LO, 'ADD', conf('1.0.0', { prevResult: bad }), env(ns.path));
      expect(r.out, JSON.stringify(bad)).toEqual({ cniVersion: '1.0.0', code: ErrorCode.DECODING_FAILURE, msg: 'could not parse prevResult: result is not a JSON object' });
    }
  });

  it('MINID_DEBUG=1 marks the call on stderr, as the other plugins do', async () => {
    const ns = await owned.netns('lo');
    const r = spawnSync(path.join(MINID_BIN, LO), [], {
      input: JSON.stringify(conf()),
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: ns.path, CNI_IFNAME: 'lo', CNI_PATH: MINID_BIN, MINID_DEBUG: '1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^\[minid +\d+\.\d\] -- minid-loopback ADD\n\[minid +\d+\.\d\] -- minid-loopback ADD: done\n$/);
  });
});
