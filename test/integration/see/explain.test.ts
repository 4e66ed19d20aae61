// --explain as teaching material (root; CI runs it): the script `run --explain=script` prints on
// stdout replays in bash to the same kernel state minid made (on a user network: its DNS server
// too, which then answers the container's name); `stop --explain` narrates the way back with
// reasons; --explain=md and --explain=FILE.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { suiteStore } from '../../helpers/minid.js';
import { freeSubnet } from '../../helpers/subnet.js';

const suite = suiteStore('explain');
const run = suite.run;
const port = 25000 + Math.floor(Math.random() * 4000);
let storeId = '';
let bridge = '';

beforeAll(() => {
  bridge = suite.store.env.MINID_BRIDGE_NAME;
});

const ASK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/network/dns-ask.mjs');
const sh = async (cmd: string) => (await execa('bash', ['-c', cmd], { reject: false })).stdout.trim();

/** What the kernel holds for one container of this store: rules, bridge, port, namespace. */
async function kernelState(id: string): Promise<Record<string, unknown>> {
  const ns = `minid-${id.slice(0, 12)}`;
  const veth = `mv${id.slice(0, 8)}`;
  const rules = (await sh('iptables-save'))
    .split('\n')
    .filter((l) => l.includes(`minid:${storeId}:`))
    .sort();
  return {
    rules,
    bridge: await sh(`ip -br addr show dev ${bridge} | awk '{print $1, $3}'; cat /sys/class/net/${bridge}/ifalias; sysctl -n net.ipv4.conf.${bridge}.route_localnet`),
    port: await sh(`ip -d link show ${veth} | grep -o 'master [^ ]*\\|hairpin [a-z]*\\|mtu [0-9]*' | sort`),
    inside: await sh(`ip -n ${ns} -br addr | awk '{sub(/@.*/, "", $1); print $1, $2, $3}'; ip -n ${ns} route`),
  };
}

describe('--explain', () => {
  it('run --explain=script on stdout replays in bash to the same kernel state', async () => {
    const r = await run(['run', '-d', '--explain=script', '--name', 'rp', '-p', `${port}:80`, 'busybox', 'sleep', '300']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const id = /^# container id: ([0-9a-f]{64})$/m.exec(r.stdout)![1];
    suite.ids.push(id);
    storeId = fs.readFileSync(path.join(suite.store.root, 'store-id'), 'utf8').trim();
    const script = r.stdout;
    expect(script.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    // Each step: its course chapter and a check command.
    expect(script).toMatch(/^# {3}course: Networking › Container Networking Interface \(CNI\), steps 3 "Create VETH Pairs"/m);
    expect(script).toMatch(/^# {3}check: ip -n minid-[0-9a-f]{12} route show default$/m);
    expect(script).toContain('br_netfilter');
    const made = await kernelState(id);
    expect((made.rules as string[]).length).toBeGreaterThan(3);

    // Take it all down (container, then the store's network objects), replay, compare.
    expect((await run(['rm', '-f', 'rp'])).exitCode).toBe(0);
    expect((await run(['system', 'reset'])).exitCode).toBe(0);
    const file = path.join(suite.tmp, 'replay.sh');
    fs.writeFileSync(file, script);
    const cgroups = [...script.matchAll(/^mkdir (\/sys\/fs\/cgroup\/\S+)$/gm)].map((m) => m[1]);
    try {
      const replay = await execa('bash', [file], { reject: false });
      expect(replay.exitCode, replay.stderr).toBe(0);
      expect(await kernelState(id)).toEqual(made);
    } finally {
      // What the replay made and minid does not know: the namespace (the veth goes with it),
      // the container's cgroups; the bridge and rules are the store's (reset removes them).
      await execa('ip', ['netns', 'del', `minid-${id.slice(0, 12)}`], { reject: false });
      for (const d of cgroups) if (fs.existsSync(d)) await execa('rmdir', [d], { reject: false });
      await run(['system', 'reset']);
    }
    expect(fs.existsSync(`/run/netns/minid-${id.slice(0, 12)}`)).toBe(false);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('network create, run --network NET --explain=script: the script replays the DNS server too (names, configuration, dnsmasq, the host rule)', async () => {
    const net = `exn${Math.random().toString(16).slice(2, 6)}`;
    const subnet = freeSubnet((a, b) => `10.${200 + a}.${b}.0/24`);
    const gw = subnet.replace(/\.0\/24$/, '.1');
    expect((await run(['network', 'create', '--subnet', subnet, net])).exitCode).toBe(0);
    const dir = path.join(suite.store.run, 'dns', net);
    const listening = () => sh(`ss -lunpH 'src ${gw} and sport = :53' | grep -c dnsmasq`);
    let id = '';
    let cgroups: string[] = [];
    try {
      const r = await run(['run', '-d', '--explain=script', '--network', net, '--name', 'rn', 'busybox', 'sleep', '300']);
      expect(r.exitCode, r.stderr).toBe(0);
      id = /^# container id: ([0-9a-f]{64})$/m.exec(r.stdout)![1];
      suite.ids.push(id);
      storeId = fs.readFileSync(path.join(suite.store.root, 'store-id'), 'utf8').trim();
      const script = r.stdout;
      // The DNS steps: numbered, with the course's chapter and a check a person can type.
      expect(script).toMatch(new RegExp(`^# \\[3/4\\] start the DNS server of network "${net}": the network's first container`, 'm'));
      expect(script).toMatch(/^# {3}course: Networking › CoreDNS - Installation: "Run the executable to start a DNS server/m);
      expect(script).toContain(`#   check: ss -lunp 'src ${gw} and sport = :53'\ndnsmasq --conf-file=${dir}/network.conf\n`);
      const rules = async () => (await sh('iptables-save')).split('\n').filter((l) => l.includes(`minid:${storeId}:${net}`)).sort();
      const made = { rules: await rules(), records: fs.readFileSync(path.join(dir, 'records'), 'utf8'), listening: await listening() };
      expect(made.listening).toBe('1');
      expect(made.rules.filter((l) => l.includes('--dport 53'))).toHaveLength(2);

      // Take it down (the container, the network's kernel objects and its DNS server), replay, compare.
      expect((await run(['rm', '-f', 'rn'])).exitCode).toBe(0);
      expect((await run(['system', 'reset'])).exitCode).toBe(0);
      expect(await listening()).toBe('0');
      expect(fs.existsSync(dir)).toBe(false);
      const file = path.join(suite.tmp, 'replay-net.sh');
      fs.writeFileSync(file, script);
      cgroups = [...script.matchAll(/^mkdir (\/sys\/fs\/cgroup\/\S+)$/gm)].map((m) => m[1]);
      const replay = await execa('bash', [file], { reject: false });
      expect(replay.exitCode, replay.stderr).toBe(0);
      expect({ rules: await rules(), records: fs.readFileSync(path.join(dir, 'records'), 'utf8'), listening: await listening() }).toEqual(made);
      // The replayed server answers the container's name at its 127.0.0.11.
      const ask = await execa('ip', ['netns', 'exec', `minid-${id.slice(0, 12)}`, process.execPath, ASK, '127.0.0.11', 'rn'], { reject: false });
      expect(ask.exitCode, ask.stderr).toBe(0);
      expect(JSON.parse(ask.stdout).answers).toEqual([subnet.replace(/\.0\/24$/, '.2')]);
    } finally {
      // What the replay made and minid does not know: the dnsmasq it started (by the PID in its
      // pid file, checked to be a dnsmasq), the namespace, the cgroups; then the store's objects.
      const pidFile = path.join(dir, 'network.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid && (await sh(`cat /proc/${pid}/comm`)) === 'dnsmasq') process.kill(pid, 'SIGTERM');
      if (id) await execa('ip', ['netns', 'del', `minid-${id.slice(0, 12)}`], { reject: false });
      for (const d of cgroups.reverse()) if (fs.existsSync(d)) await execa('rmdir', [d], { reject: false });
      await run(['system', 'reset']);
      await run(['network', 'rm', net]);
    }
    expect(await listening()).toBe('0');
    expect(fs.existsSync(`/run/netns/minid-${id.slice(0, 12)}`)).toBe(false);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('stop --explain (markdown to a file) tells the way back with a reason per step', async () => {
    const r = await run(['run', '-d', '--name', 'st', '-p', `${port + 1}:80`, 'busybox', 'sleep', '300']);
    expect(r.exitCode, r.stderr).toBe(0);
    suite.ids.push(r.stdout.trim());
    const file = path.join(suite.tmp, 'stop.md');
    const s = await run(['stop', '-t', '1', `--explain=${file}`, 'st']);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(s.stdout).toBe('st'); // the handout went to the file: stdout is docker's
    const md = fs.readFileSync(file, 'utf8');
    expect(md).toMatch(/^# minid stop/);
    expect(md).toMatch(/^## \d+\/\d+\. undo "publish \d+ -> 80\/tcp"$/m);
    expect(md).toContain('the host port is free again');
    expect(md).toContain('```bash\nip netns del minid-');
    expect(md).not.toMatch(/: teardown$/m);
  });

  it('rm --explain goes to stdout, the removed name as a comment', async () => {
    const r = await run(['run', '-d', '--name', 'rmx', 'busybox', 'sleep', '300']);
    suite.ids.push(r.stdout.trim());
    const rm = await run(['rm', '-f', '--explain', 'rmx']);
    expect(rm.exitCode, rm.stderr).toBe(0);
    expect(rm.stdout).toMatch(/^# \[1\/\d+\] undo "/m);
    expect(rm.stdout).toMatch(/^# removed: rmx$/m);
    expect(rm.stdout).toContain('deleting the namespace removes all it holds');
  });
});
