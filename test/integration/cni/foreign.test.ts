// Runtimes that are not minid using minid's plugins:
//   - Debian's podman 4.3 with its CNI network backend (libcni inside), publishing a port;
//   - an independent bash + jq driver written from the spec (fixtures/cni-driver.sh, after the
//     CNI project's exec-plugins.sh), run against minid's plugins and the reference plugins.
// Needs root, podman, runc and jq; fails (never skips) without them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  MINID_BIN,
  REF_BIN,
  Owned,
  ownedPerTest,
  curl,
  freeSubnet,
  must,
  rand,
  removeSharedRefChains,
  requireRootAndBuild,
  reservations,
  sh,
  snapshot,
  type Snapshot,
} from './helpers.js';

requireRootAndBuild();
for (const tool of ['podman', 'runc', 'jq', 'busybox'])
  if ((await sh(['sh', '-c', `command -v ${tool}`])).exitCode !== 0) throw new Error(`${tool} is missing: apt-get install ${tool === 'busybox' ? 'busybox-static' : tool}`);

let fileBefore: Snapshot;
let owned: Owned;
const libcniCache = '/var/lib/cni';
let libcniCacheExisted = false;

beforeAll(async () => {
  fileBefore = await snapshot();
  libcniCacheExisted = fs.existsSync(libcniCache);
});
afterAll(async () => {
  await removeSharedRefChains(fileBefore);
  // podman's libcni keeps its cache in /var/lib/cni/results: remove what this file created.
  if (!libcniCacheExisted) for (const d of [path.join(libcniCache, 'results'), libcniCache]) fs.existsSync(d) && fs.readdirSync(d).length === 0 && fs.rmdirSync(d);
});
ownedPerTest((o) => (owned = o));

/** A busybox rootfs (static binary) serving /www. */
function rootfs(dir: string, body: string): string {
  const r = path.join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'www']) fs.mkdirSync(path.join(r, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(r, 'bin', 'busybox'));
  fs.chmodSync(path.join(r, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'ip', 'httpd', 'cat']) fs.symlinkSync('busybox', path.join(r, 'bin', a));
  fs.writeFileSync(path.join(r, 'www', 'index.html'), body);
  return r;
}

describe('podman (CNI backend) with minid plugins', () => {
  it('runs a container on a minid-bridge/minid-host-local/minid-portmap network and publishes its port', async () => {
    const t = owned.dir('podman');
    const subnet = await freeSubnet();
    const bridge = owned.link('mdtcnipod');
    const name = `mdt-cni-pod-${rand()}`;
    const netd = path.join(t, 'net.d');
    const ipam = path.join(t, 'ipam');
    fs.mkdirSync(netd);
    const conflist = {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'minid-bridge',
          bridge,
          isGateway: true,
          isDefaultGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: { type: 'minid-host-local', ranges: [[{ subnet: subnet.cidr }]], dataDir: ipam },
        },
        { type: 'minid-portmap', capabilities: { portMappings: true } },
      ],
    };
    fs.writeFileSync(path.join(netd, `50-${name}.conflist`), JSON.stringify(conflist));
    fs.writeFileSync(
      path.join(t, 'containers.conf'),
      [
        '[containers]',
        // podman 4.3 cannot raise rlimits here (no CAP_SYS_RESOURCE in the bounding set).
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${t}/events.log"`,
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${MINID_BIN}"]`,
        `network_config_dir = "${netd}"`,
        '',
      ].join('\n'),
    );
    const body = `served by podman via minid CNI ${rand()}`;
    const rfs = rootfs(t, body);
    const env = { CONTAINERS_CONF: path.join(t, 'containers.conf'), PATH: process.env.PATH ?? '' };
    // crun refuses this host's hybrid cgroups; runc copes.
    const podman = ['podman', '--root', `${t}/root`, '--runroot', `${t}/runroot`, '--tmpdir', `${t}/tmp`, '--storage-driver', 'vfs', '--runtime', 'runc'];
    const ctr = `mdt-cni-pod-${rand()}`;
    owned.defer(() => sh([...podman, 'rm', '-f', '-t', '0', ctr], { env }));

    const ls = await sh([...podman, 'network', 'ls', '--format', '{{.Name}} {{.Driver}}'], { env });
    expect(ls.stdout).toContain(`${name} minid-bridge`);
    const hostPort = 20000 + Math.floor(Math.random() * 10000);
    const run = await sh([...podman, 'run', '-d', '--name', ctr, '--network', name, '-p', `127.0.0.1:${hostPort}:80`, '--rootfs', rfs, '/bin/busybox', 'httpd', '-f', '-p', '80', '-h', '/www'], { env });
    expect(run.exitCode, run.stderr).toBe(0);
    const inspect = JSON.parse((await sh([...podman, 'inspect', ctr, '--format', '{{json .NetworkSettings.Networks}}'], { env })).stdout);
    const ip = inspect[name].IPAddress as string;
    expect(ip.startsWith(`${subnet.base}.`)).toBe(true);
    expect(reservations(ipam)).toEqual([`${name}/${ip}`]);
    expect(fs.readFileSync(path.join(ipam, name, ip), 'utf8').startsWith(run.stdout.trim())).toBe(true);
    expect(await must(['iptables-save', '-t', 'nat'])).toContain(`--to-destination ${ip}:80`);
    let got = '';
    for (let i = 0; i < 40 && got !== body; i++) {
      got = (await curl(`http://127.0.0.1:${hostPort}/`)).stdout;
      if (got !== body) await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toBe(body);
    const rm = await sh([...podman, 'rm', '-f', '-t', '0', ctr], { env });
    expect(rm.exitCode, rm.stderr).toBe(0);
    // podman ran DEL through minid's plugins: the address and the rules are gone.
    expect(reservations(ipam)).toEqual([]);
    expect(await must(['iptables-save', '-t', 'nat'])).not.toContain(ip);
    expect((await must(['mount'])).includes(t)).toBe(false);
  });
});

describe('an independent bash driver (exec-plugins.sh style)', () => {
  const driver = path.join(FIXTURES, 'cni-driver.sh');

  it.each([
    { impl: 'minid', dir: MINID_BIN, p: (n: string) => `minid-${n}` },
    { impl: 'reference', dir: REF_BIN, p: (n: string) => n },
  ])('drives the $impl plugins through ADD, CHECK and DEL', async ({ impl, dir, p }) => {
    const t = owned.dir('driver');
    const subnet = await freeSubnet();
    const bridge = owned.link('mdtcnidrv');
    const ns = await owned.netns('drv');
    const conflist = path.join(t, 'net.conflist');
    const plugins: object[] = [
      { type: p('bridge'), bridge, isGateway: true, isDefaultGateway: true, ipam: { type: p('host-local'), subnet: subnet.cidr, dataDir: path.join(t, 'ipam') } },
    ];
    if (impl === 'minid') plugins.push({ type: 'minid-portmap', capabilities: { portMappings: true } });
    fs.writeFileSync(conflist, JSON.stringify({ cniVersion: '1.0.0', name: `mdt-cni-drv-${rand()}`, plugins }));
    const env = { CNI_PATH: dir, PATH: process.env.PATH ?? '', CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: 28100, containerPort: 80, protocol: 'tcp' }] }) };
    const add = await sh([driver, 'add', conflist, 'drv1', ns.path], { env });
    expect(add.exitCode, add.stderr).toBe(0);
    const r = JSON.parse(add.stdout);
    expect(r.cniVersion).toBe('1.0.0');
    expect(await must(['ip', '-n', ns.name, '-4', '-o', 'addr'])).toContain(r.ips[0].address);
    if (impl === 'minid') expect(await must(['iptables-save', '-t', 'nat'])).toContain('id=drv1 ');
    const check = await sh([driver, 'check', conflist, 'drv1', ns.path], { env });
    expect(check.exitCode, check.stderr).toBe(0);
    const del = await sh([driver, 'del', conflist, 'drv1', ns.path], { env });
    expect(del.exitCode, del.stderr).toBe(0);
    expect(reservations(path.join(t, 'ipam'))).toEqual([]);
    expect(await must(['iptables-save', '-t', 'nat'])).not.toContain('id=drv1 ');
  });
});
