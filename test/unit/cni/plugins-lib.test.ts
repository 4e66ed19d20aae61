// Pure parts of minid's plugins: IP arithmetic, host-local's config/allocator/store, iptables
// bookkeeping, the skeleton's dispatch, and the flock helper. Nothing here needs root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatIP, parseCidr, parseIP, networkString } from '../../../cni-plugins/lib/ip.js';
import { loadIpamConf } from '../../../cni-plugins/host-local/config.js';
import { allocate, hasFree } from '../../../cni-plugins/host-local/allocator.js';
import { DiskStore, MemoryStore } from '../../../cni-plugins/host-local/store.js';
import { chainName, commentOf, ownerComment, parseOwner, parseSave, removalLines } from '../../../cni-plugins/lib/iptables.js';
import { CniError, ErrorCode, dispatch, setSiblings, toCniError, type PluginFuncs } from '../../../cni-plugins/lib/skel.js';
import { lockFile } from '../../../cni-plugins/lib/flock.js';
import { configureIfaceLines, delegate } from '../../../cni-plugins/lib/net.js';
import { run, withoutHelper } from '../../../src/sys/exec.js';
import { routeDev } from '../../../cni-plugins/portmap/main.js';

/** The code of the CniError f throws ("no error" if it throws none). */
function codeOf(f: () => unknown): number | string {
  try {
    f();
  } catch (e) {
    return (e as CniError).code;
  }
  return 'no error';
}

describe('ip', () => {
  it('parses and formats IPv4 and IPv6', () => {
    for (const s of ['10.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fd00::5', '2001:db8::1:0:0:1', 'fe80::1:2:3:4']) expect(formatIP(parseIP(s)!)).toBe(s);
    expect(formatIP(parseIP('2001:0db8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(formatIP(parseIP('::ffff:10.0.0.1')!)).toBe('::ffff:a00:1');
    for (const s of ['10.0.0.256', '1.2.3', 'x', '1::2::3', '12345::']) expect(parseIP(s)).toBeNull();
  });
  it('computes networks', () => {
    expect(networkString(parseCidr('10.1.2.3/24')!)).toBe('10.1.2.0/24');
    expect(networkString(parseCidr('fd00::1234/64')!)).toBe('fd00::/64');
  });
});

describe('host-local config', () => {
  const conf = (ipam: object, extra: object = {}) => ({ name: 'n', ipam: { type: 'minid-host-local', ...ipam }, ...extra });
  it('fills the reference defaults', () => {
    const c = loadIpamConf(conf({ subnet: '10.5.0.0/24' }), {});
    const r = c.rangeSets[0][0];
    expect(formatIP(r.start)).toBe('10.5.0.1');
    expect(formatIP(r.end)).toBe('10.5.0.254');
    expect(formatIP(r.gateway)).toBe('10.5.0.1');
    expect(c.dataDir).toBe('/var/lib/cni/networks');
  });
  it('rejects what the reference rejects', () => {
    expect(() => loadIpamConf(conf({ subnet: '10.5.0.1/24' }), {})).toThrow(/host bits set/);
    expect(() => loadIpamConf(conf({ subnet: '10.5.0.0/31' }), {})).toThrow(/too small/);
    expect(() => loadIpamConf(conf({ subnet: '10.5.0.0/24', rangeStart: '10.6.0.1' }), {})).toThrow(/RangeStart 10.6.0.1 not in network/);
    expect(() => loadIpamConf(conf({}), {})).toThrow(/no IP ranges/);
    expect(() => loadIpamConf(conf({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.0/25' }]] }), {})).toThrow(/overlaps/);
    expect(codeOf(() => loadIpamConf(conf({ subnet: 'nope' }), {}))).toBe(ErrorCode.INVALID_NETWORK_CONFIG);
  });
  it('collects requested IPs from runtimeConfig, args and CNI_ARGS', () => {
    const c = loadIpamConf(conf({ subnet: '10.5.0.0/24' }, { runtimeConfig: { ips: ['10.5.0.9/24'] } }), { IP: '10.5.0.10' });
    expect(c.requested.map(formatIP)).toEqual(['10.5.0.9', '10.5.0.10']);
  });
});

describe('host-local allocator', () => {
  const rs = () => loadIpamConf({ name: 'n', ipam: { subnet: '10.5.0.0/29' } }, {}).rangeSets[0];
  it('hands out addresses round-robin, skipping the gateway, and runs out cleanly', () => {
    const s = new MemoryStore();
    const got = ['a', 'b', 'c', 'd', 'e'].map((id) => allocate(s, rs(), '0', id, 'eth0').address);
    expect(got).toEqual(['10.5.0.2/29', '10.5.0.3/29', '10.5.0.4/29', '10.5.0.5/29', '10.5.0.6/29']);
    expect(hasFree(s, rs())).toBe(false);
    expect(() => allocate(s, rs(), '0', 'f', 'eth0')).toThrow(/no IP addresses available in range set: 10.5.0.1-10.5.0.6/);
    s.releaseById('b', 'eth0');
    expect(allocate(s, rs(), '0', 'g', 'eth0').address).toBe('10.5.0.3/29');
  });
  it('continues after the last reserved address instead of reusing a released one', () => {
    const s = new MemoryStore();
    allocate(s, rs(), '0', 'a', 'eth0');
    allocate(s, rs(), '0', 'b', 'eth0');
    s.releaseById('a', 'eth0');
    expect(allocate(s, rs(), '0', 'c', 'eth0').address).toBe('10.5.0.4/29');
  });
  it('refuses a duplicate allocation and a requested gateway', () => {
    const s = new MemoryStore();
    allocate(s, rs(), '0', 'a', 'eth0');
    expect(() => allocate(s, rs(), '0', 'a', 'eth0')).toThrow(/duplicate allocation is not allowed/);
    expect(allocate(s, rs(), '0', 'a', 'eth1').address).toBe('10.5.0.3/29');
    expect(() => allocate(s, rs(), '0', 'x', 'eth0', parseIP('10.5.0.1')!)).toThrow(/gateway/);
    expect(allocate(s, rs(), '0', 'x', 'eth0', parseIP('10.5.0.6')!).address).toBe('10.5.0.6/29');
    expect(() => allocate(s, rs(), '0', 'y', 'eth0', parseIP('10.5.0.6')!)).toThrow(/not available/);
  });
  it('stores reservations in the reference format', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-hl-'));
    try {
      const s = new DiskStore(path.join(dir, 'net'));
      allocate(s, rs(), '0', 'ctr1', 'eth0');
      expect(fs.readFileSync(path.join(dir, 'net', '10.5.0.2'), 'utf8')).toBe('ctr1\r\neth0');
      expect(fs.readFileSync(path.join(dir, 'net', 'last_reserved_ip.0'), 'utf8')).toBe('10.5.0.2');
      // A reservation written by an old reference version (id only) is found and released.
      fs.writeFileSync(path.join(dir, 'net', '10.5.0.5'), 'old');
      expect(s.getById('old', 'eth0').map(formatIP)).toEqual(['10.5.0.5']);
      s.releaseById('old', 'eth0');
      s.releaseById('ctr1', 'eth0');
      expect(fs.readdirSync(path.join(dir, 'net')).sort()).toEqual(['last_reserved_ip.0']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('iptables bookkeeping', () => {
  it('names chains within iptables limits, stable per attachment', () => {
    const c = chainName('MASQ', 'a-very-long-network-name', 'f'.repeat(64), 'eth0');
    expect(c.length).toBeLessThanOrEqual(28);
    expect(c).toMatch(/^MINID-CNI-MASQ-[0-9a-f]+$/);
    expect(chainName('MASQ', 'n', 'c', 'eth0')).toBe(chainName('MASQ', 'n', 'c', 'eth0'));
    expect(chainName('MASQ', 'n', 'c', 'eth1')).not.toBe(chainName('MASQ', 'n', 'c', 'eth0'));
  });
  it('removes exactly the owned chains, their jumps and commented rules', () => {
    const cm = ownerComment('minid-portmap', 'n', 'c1', 'eth0');
    expect(parseOwner(cm)).toEqual({ plugin: 'minid-portmap', network: 'n', containerId: 'c1', ifName: 'eth0' });
    const save = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':MINID-CNI-DN-1 - [0:0]',
      ':OTHER - [0:0]',
      `-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "${cm}" -j MINID-CNI-DN-1`,
      '-A PREROUTING -j OTHER',
      `-A MINID-CNI-DN-1 -p tcp -m tcp --dport 80 -m comment --comment "${cm}" -j DNAT --to-destination 10.0.0.2:80`,
      `-A POSTROUTING -m comment --comment "${cm}" -j MASQUERADE`,
      'COMMIT',
    ].join('\n');
    const t = parseSave(save);
    expect(commentOf(t.rules[0].line)).toBe(cm);
    expect(removalLines(t, ['MINID-CNI-DN-1', 'MINID-CNI-SN-1'], cm)).toEqual([
      `-D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "${cm}" -j MINID-CNI-DN-1`,
      `-D POSTROUTING -m comment --comment "${cm}" -j MASQUERADE`,
      '-F MINID-CNI-DN-1',
      '-X MINID-CNI-DN-1',
    ]);
  });
});

describe('configureIfaceLines', () => {
  it('adds the addresses and routes of one interface', () => {
    const lines = configureIfaceLines('eth0', 2, {
      cniVersion: '1.0.0',
      ips: [
        { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 },
        { address: 'fd00::2/64', interface: 2 },
        { address: '10.1.0.2/24', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.0.0.254', priority: 5 }],
    });
    expect(lines).toEqual([
      'addr add 10.0.0.2/24 dev eth0',
      'addr add fd00::2/64 dev eth0 nodad',
      'link set eth0 up',
      'route add 0.0.0.0/0 via 10.0.0.1 dev eth0',
      'route add 192.168.0.0/16 via 10.0.0.254 dev eth0 metric 5',
    ]);
  });
});

describe('skel dispatch', () => {
  const funcs: PluginFuncs = {
    add: async (a) => ({ cniVersion: a.cniVersion, ips: [{ address: '10.0.0.2/24', interface: 0 }], interfaces: [{ name: 'eth0' }] }),
    del: async () => {},
    check: async () => {},
  };
  const info = { name: 't', about: 't' };
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/nonexistent', CNI_IFNAME: 'eth0', CNI_PATH: '/x' };
  const code = async (e: object, stdin: string) => {
    try {
      await dispatch(funcs, info, { ...env, ...e }, () => stdin);
      return 0;
    } catch (err) {
      return (err as CniError).code;
    }
  };
  it('answers VERSION without reading stdin', async () => {
    const out = await dispatch(funcs, info, { CNI_COMMAND: 'VERSION' }, () => {
      throw new Error('stdin read');
    });
    expect(JSON.parse(out!)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
  it('uses the spec error codes', async () => {
    expect(await code({}, '{bad')).toBe(6);
    expect(await code({ CNI_NETNS: '' }, '{}')).toBe(4);
    expect(await code({ CNI_IFNAME: 'a/b' }, '{"name":"n","cniVersion":"1.0.0"}')).toBe(4);
    expect(await code({}, '{"cniVersion":"1.0.0"}')).toBe(7);
    expect(await code({}, '{"name":"n","cniVersion":"2.0.0"}')).toBe(1);
    expect(await code({ CNI_COMMAND: 'CHECK' }, '{"name":"n","cniVersion":"0.3.1"}')).toBe(1);
    expect(await code({ CNI_COMMAND: 'GC' }, '{"name":"n","cniVersion":"1.0.0"}')).toBe(1);
    expect(await code({ CNI_COMMAND: 'BOGUS' }, '{}')).toBe(4);
    expect(await code({ CNI_NETNS: '/proc/self/ns/net' }, '{"name":"n","cniVersion":"1.0.0"}')).toBe(8);
  });
  it('passes a CniError on with its code; an error no plugin foresaw becomes 999 (internal)', async () => {
    const failing: PluginFuncs = { ...funcs, add: async () => Promise.reject(new CniError(ErrorCode.RULES_FAILURE, 'x')) };
    await expect(dispatch(failing, info, env, () => '{"name":"n","cniVersion":"1.0.0"}')).rejects.toMatchObject({ code: 103 });
    expect(toCniError(new TypeError('x is undefined'))).toMatchObject({ code: 999, message: 'x is undefined' });
  });
  it('prints the result in the config version', async () => {
    const out = JSON.parse((await dispatch(funcs, info, env, () => '{"name":"n","cniVersion":"0.4.0"}'))!);
    expect(out).toEqual({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.0.0.2/24', interface: 0 }], interfaces: [{ name: 'eth0' }] });
  });
});

describe('flock', () => {
  it('holds an exclusive flock(2) that util-linux flock sees, until released', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-flock-'));
    try {
      const f = path.join(dir, 'lock');
      const release = await lockFile(f);
      expect(spawnSync('flock', ['-n', f, 'true']).status).toBe(1);
      release();
      expect(spawnSync('flock', ['-n', f, 'true']).status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the plugins' runner (minid's runner without minid-spawner)", () => {
  // What pluginMain sets up for the whole plugin process.
  withoutHelper();

  it('gives a command killed by signal N the exit code 128+N, as a shell does', async () => {
    expect((await run(['sh', '-c', 'kill -TERM $$'], { allowFail: true })).exitCode).toBe(143);
    expect((await run(['sh', '-c', 'kill -KILL $$'], { allowFail: true, input: 'x' })).exitCode).toBe(137);
  });

  it('streams input that comes later (inputMore): the command starts on the first part', async () => {
    // The command reads and answers the first line (a file it writes) before the rest exists.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cni-more-'));
    try {
      const mark = path.join(dir, 'first');
      let more!: (s: string) => void;
      const r = run(['sh', '-c', 'read a; echo "got $a" >"$0"; cat', mark], { input: 'one\n', inputMore: new Promise((res) => (more = res)) });
      while (!fs.existsSync(mark)) await new Promise((res) => setTimeout(res, 5));
      expect(fs.readFileSync(mark, 'utf8')).toBe('got one\n');
      more('two\nthree\n');
      expect((await r).stdout).toBe('two\nthree\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // A rejected rest just closes stdin: the command sees the end of its input.
    expect((await run(['cat'], { input: 'only\n', inputMore: Promise.reject(new Error('no answer')) })).stdout).toBe('only\n');
    // An `ip -batch`-like reader that stops early (exit 1 after line one) does not hang the caller.
    const early = await run(['sh', '-c', 'read a; exit 1'], { input: 'x\n', inputMore: new Promise((res) => setTimeout(() => res('y\n'), 50)), allowFail: true });
    expect(early.exitCode).toBe(1);
  });

  it('names 128+N when a delegated plugin is killed by a signal', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cni-kill-'));
    try {
      fs.writeFileSync(path.join(dir, 'killed-ipam'), '#!/bin/sh\ncat >/dev/null\nkill -INT $$\n', { mode: 0o755 });
      const a = { command: 'ADD', containerId: 'c', netns: '/x', ifName: 'eth0', args: '', path: dir, stdinData: '{}', conf: {}, cniVersion: '1.0.0' };
      await expect(delegate('killed-ipam', 'ADD', a)).rejects.toThrow('killed-ipam ADD failed: exit 130');
      // No error result of its own: minid's code for a delegate that failed so.
      await expect(delegate('killed-ipam', 'ADD', a)).rejects.toMatchObject({ code: ErrorCode.DELEGATE_FAILURE });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('delegation to one of minid\'s own plugins', () => {
  it("runs in this process when CNI_PATH leads to this program's own launcher, else as a process", async () => {
    const ours = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cni-ours-'));
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-cni-other-'));
    try {
      // The same name in both folders: a launcher of ours, and someone else's plugin.
      fs.writeFileSync(path.join(ours, 'minid-host-local'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
      fs.writeFileSync(path.join(other, 'minid-host-local'), '#!/bin/sh\necho \'{"cniVersion":"1.0.0","ips":[{"address":"10.9.9.9/24"}]}\'\n', { mode: 0o755 });
      const seen: string[] = [];
      const ipam: PluginFuncs = {
        add: async (a) => (seen.push(`${a.command} ${a.containerId}`), { cniVersion: a.cniVersion, ips: [{ address: '10.0.0.7/24' }] }),
        del: async (a) => void seen.push(`${a.command} ${a.containerId}`),
      };
      setSiblings({ 'minid-host-local': { funcs: ipam, info: { name: 'minid-host-local', about: '' } } }, ours);
      const env = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/nonexistent', CNI_IFNAME: 'eth0', CNI_PATH: ours };
      Object.assign(process.env, env);
      try {
        const a = { command: 'ADD', containerId: 'c1', netns: '/nonexistent', ifName: 'eth0', args: '', path: ours, stdinData: '{"cniVersion":"1.0.0","name":"n"}', conf: {}, cniVersion: '1.0.0' };
        expect((await delegate('minid-host-local', 'ADD', a))!.ips).toEqual([{ address: '10.0.0.7/24' }]);
        await delegate('minid-host-local', 'DEL', a);
        expect(seen).toEqual(['ADD c1', 'DEL c1']);
        // Another plugin of that name first in CNI_PATH: it is run, as any plugin.
        expect((await delegate('minid-host-local', 'ADD', { ...a, path: `${other}:${ours}` }))!.ips).toEqual([{ address: '10.9.9.9/24' }]);
        expect(seen).toHaveLength(2);
      } finally {
        for (const k of Object.keys(env)) delete process.env[k];
      }
    } finally {
      fs.rmSync(ours, { recursive: true, force: true });
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe("portmap's route lookup (/proc/net/route, for route_localnet)", () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'cni0\t0000E70A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0', // 10.231.0.0/16
    'br1\t0001E70A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0', // 10.231.1.0/24
    'br2\t0001E70A\t00000000\t0001\t0\t0\t5\t00FFFFFF\t0\t0\t0', // the same, a higher metric
    'down\t0501E70A\t00000000\t0000\t0\t0\t0\tFFFFFFFF\t0\t0\t0', // 10.231.1.5/32, not up
  ].join('\n');
  it('takes the longest prefix, then the lowest metric, of the routes that are up', () => {
    expect(routeDev('10.231.1.5', table)).toBe('br1');
    expect(routeDev('10.231.7.1', table)).toBe('cni0');
    expect(routeDev('192.0.2.1', table)).toBe('eth0');
    expect(routeDev('fd00::1', table)).toBeUndefined();
  });
});

describe("the plugins' error codes", () => {
  it('are named: no plugin source passes a bare number to CniError', () => {
    const root = path.join(__dirname, '../../../cni-plugins');
    const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    const bare = files.flatMap((f) =>
      fs
        .readFileSync(path.join(root, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
        .filter((l) => /CniError\(\s*\d/.test(l.line)),
    );
    expect(bare).toEqual([]);
  });
});
