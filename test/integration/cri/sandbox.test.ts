// minid's CNI plugins on a Kubernetes node's path: kubelet → CRI (gRPC) → containerd's CRI plugin
// → libcni → minid-bridge + minid-host-local + minid-portmap (+ minid-loopback for lo). No kubelet:
// the test speaks CRI itself (./cri-client.ts) to a containerd of its own — own root, state,
// socket, config and runc root under a temp dir, never the system's service — whose pod sandbox
// ("pause") image is built by images/build.sh and imported beforehand. The image's name is on a
// registry at 127.0.0.1:1 and containerd's registry config is an empty dir of the test: were
// containerd ever to pull, it could only knock on a closed loopback port.
//
// As root (CI runs it so); needs containerd, runc, gcc + libc6-dev, busybox-static
// (scripts/install-deps.sh) and `make build`.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CriClient, GrpcError, GRPC_NOT_FOUND } from './cri-client.js';
import { freeSubnet, must, ownedPerTest, rand, repo, requireRootAndBuild, reservations, sh, type Owned } from '../cni/helpers.js';

const NS = 'k8s.io'; // the containerd namespace the CRI plugin keeps its pods and images in
const PAUSE = '127.0.0.1:1/minid/pause:latest';

function requireTools(): void {
  requireRootAndBuild();
  for (const t of ['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc', 'gcc', 'busybox', 'nsenter'])
    if (!(process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, t))))
      throw new Error(`${t} is missing: run scripts/install-deps.sh (containerd, runc, gcc, libc6-dev, busybox-static)`);
}

const cgroupRoots = (): string[] => fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c));
const mountsUnder = (dir: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
/** Processes whose command line names this path (containerd and its shims carry the socket's). */
function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(needle)) out.push(Number(p));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
/** libcni's result cache (containerd 1.6 keeps libcni's default, /var/lib/cni): this pod's entries. */
const cniCacheEntries = (id: string): string[] => {
  const d = '/var/lib/cni/results';
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.includes(id)) : [];
};
const ourRules = async (id: string): Promise<string[]> => {
  const out: string[] = [];
  for (const t of ['nat', 'filter', 'mangle']) out.push(...(await must(['iptables-save', '-t', t])).split('\n').filter((l) => l.includes(`id=${id}`)));
  return out;
};
const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** Stop a process by its pid: SIGTERM, then SIGKILL after `ms`. */
async function stopPid(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const gone = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, ms))]);
  if (child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await gone;
  }
}

describe('a pod sandbox through containerd CRI gets its network from minid CNI plugins', () => {
  let owned: Owned;
  ownedPerTest((o) => (owned = o));

  it('RunPodSandbox → pod IP from minid-host-local, reachable → Stop/Remove releases it, nothing left', { timeout: 240_000 }, async () => {
    requireTools();
    // Two host dirs containerd 1.6 cannot be told to leave alone: libcni's result cache
    // (/var/lib/cni/results) and the shims' sockets (/run/containerd/s). If this test is the one
    // that creates them (no containerd service on this host), it removes them when empty.
    for (const dir of ['/var/lib/cni', '/var/lib/cni/results', '/run/containerd', '/run/containerd/s'])
      if (!fs.existsSync(dir))
        owned.defer(() => {
          try {
            fs.rmdirSync(dir);
          } catch {
            /* another user of libcni keeps something there: not ours to remove */
          }
        });
    const T = owned.dir('cri'); // /tmp/mdt-cni-cri-XXXXXX; removed last
    // Runs before the removal of T (undo is last-in, first-out): never delete across a mount.
    owned.defer(async () => {
      const left = mountsUnder(T);
      for (const m of [...left].reverse()) await sh(['umount', '-l', m]);
      if (left.length) throw new Error(`mounts left under ${T}: ${left.join(', ')}`);
    });
    const d = (p: string) => path.join(T, p);
    for (const sub of ['bin', 'net.d', 'ipam', 'certs.d', 'logs']) fs.mkdirSync(d(sub));

    // 1. The sandbox image, built by images/ and packed as an OCI archive for `ctr import`.
    await must(['bash', path.join(repo, 'images', 'build.sh'), 'pause', d('pause-oci')]);
    await must(['tar', '-C', d('pause-oci'), '-cf', d('pause-oci.tar'), '.']);

    // 2. minid's plugins in a bin dir of the test; "loopback" too: containerd runs that for lo.
    await must([path.join(repo, 'cni-plugins', 'install.sh')], { env: { ...process.env, CNI_BIN: d('bin'), CNI_CONF_DIR: '', CNI_LOOPBACK_ALIAS: '1' } as Record<string, string> });
    expect(fs.readlinkSync(d('bin/loopback'))).toBe(path.join(repo, 'cni-plugins', 'bin', 'minid-loopback'));

    // 3. The network: a conflist only containerd reads (its conf_dir), test-unique names.
    const net = await freeSubnet();
    const bridge = owned.link('mdtcri');
    const netName = `mdt-cri-${rand()}`;
    fs.writeFileSync(
      d('net.d/10-mdt.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0', // containerd 1.6's libcni reads results up to 1.0.0
        name: netName,
        plugins: [
          {
            type: 'minid-bridge',
            bridge,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: { type: 'minid-host-local', ranges: [[{ subnet: net.cidr, gateway: net.gw }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: d('ipam') },
          },
          { type: 'minid-portmap', capabilities: { portMappings: true }, snat: true },
        ],
      }),
    );

    // 4. containerd of the test's own.
    const cgroupParent = `/mdt-cri-${rand()}`;
    owned.defer(() => {
      const left: string[] = [];
      for (const root of cgroupRoots()) {
        const dir = path.join(root, cgroupParent);
        if (!fs.existsSync(dir)) continue;
        for (const child of fs.readdirSync(dir, { withFileTypes: true }))
          if (child.isDirectory()) {
            left.push(path.join(dir, child.name));
            fs.rmdirSync(path.join(dir, child.name));
          }
        fs.rmdirSync(dir); // the parent: created by runc for the pod, left to its owner (us)
      }
      if (left.length) throw new Error(`cgroups left: ${left.join(', ')}`);
    });
    const sock = d('containerd.sock');
    fs.writeFileSync(
      d('config.toml'),
      `version = 2
root = "${d('root')}"
state = "${d('state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE}"
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # A negative oom_score_adj for the sandbox needs CAP_SYS_RESOURCE, which this host lacks: runc
  # would fail with "can't get final child's PID from pipe". Clamp it to containerd's own.
  restrict_oom_score_adj = true
  # The pod's netns bind mount under our state dir instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${d('bin')}"
    conf_dir = "${d('net.d')}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${d('certs.d')}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "${d('runc')}"
`,
    );
    const log = fs.openSync(d('containerd.log'), 'a');
    const containerd = spawn('containerd', ['--config', d('config.toml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const logTail = () => fs.readFileSync(d('containerd.log'), 'utf8').split('\n').slice(-15).join('\n');
    owned.defer(async () => {
      await stopPid(containerd);
      // A shim and its pause process outlive containerd while the sandbox runs (a failed test):
      // end ours by pid, the shims (they name our socket) and whatever is in the pod's cgroups.
      const shims = processesNaming(sock);
      for (const pid of shims) process.kill(pid, 'SIGKILL');
      const pods = path.join('/sys/fs/cgroup/pids', cgroupParent);
      for (const c of fs.existsSync(pods) ? fs.readdirSync(pods, { withFileTypes: true }).filter((e) => e.isDirectory()) : [])
        for (const pid of fs.readFileSync(path.join(pods, c.name, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      if (shims.length) throw new Error(`containerd shims left running: ${shims.join(', ')}`);
    });
    const cri = new CriClient(sock);
    owned.defer(() => cri.close());
    await waitFor('containerd to listen', () => fs.existsSync(sock));
    const v = await cri.version();
    expect(v.runtimeName).toBe('containerd');
    expect(v.runtimeApiVersion).toBe('v1');

    // 5. Preload the sandbox image; the CRI must see it (else RunPodSandbox would pull it).
    await must(['ctr', '-a', sock, '-n', NS, 'images', 'import', '--base-name', PAUSE.replace(/:latest$/, ''), d('pause-oci.tar')]);
    await waitFor('the CRI to see the pause image', async () => (await cri.imageStatus(PAUSE)) !== null);

    // 6. The pod, as kubelet asks for it.
    const hostPort = 20000 + Math.floor(Math.random() * 10000);
    let id = '';
    owned.defer(async () => {
      if (!id) return;
      await cri.stopPodSandbox(id).catch(() => {});
      await cri.removePodSandbox(id).catch(() => {});
    });
    try {
      id = await cri.runPodSandbox({
        name: 'web',
        uid: `uid-${rand(8)}`,
        namespace: 'mdt',
        hostname: 'web',
        logDirectory: d('logs'),
        cgroupParent,
        labels: { app: 'web' },
        portMappings: [{ containerPort: 80, hostPort, hostIp: '127.0.0.1' }],
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}\ncontainerd's log:\n${logTail()}`);
    }
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    // 7. Its status shows the address minid-host-local gave it.
    const st = await cri.podSandboxStatus(id);
    expect(st.ready).toBe(true);
    expect(st.ip.startsWith(`${net.base}.`), `pod IP ${st.ip} in ${net.cidr}`).toBe(true);
    expect(st.ip).not.toBe(net.gw);
    const info = JSON.parse(st.info.info ?? '{}');
    const netnsPath: string = (info.runtimeSpec?.linux?.namespaces ?? []).find((n: { type: string }) => n.type === 'network')?.path ?? '';
    expect(netnsPath.startsWith(d('state')), `netns ${netnsPath} under the test's state dir`).toBe(true);

    // ...the reservation file of host-local, the veth on the bridge, the rules of both plugins...
    expect(reservations(d('ipam'))).toEqual([`${netName}/${st.ip}`]);
    expect(fs.readFileSync(path.join(d('ipam'), netName, st.ip), 'utf8')).toContain(id);
    const ports = JSON.parse(await must(['ip', '-j', 'link', 'show', 'master', bridge])) as { ifname: string }[];
    expect(ports).toHaveLength(1);
    const rules = await ourRules(id);
    expect(rules.some((l) => l.includes(`--dport ${hostPort} `) && l.includes(`--to-destination ${st.ip}:80`)), rules.join('\n')).toBe(true);
    expect(rules.some((l) => l.includes('minid-bridge') && l.includes(`-s ${st.ip}/32`)), rules.join('\n')).toBe(true);
    expect(cniCacheEntries(id).length).toBeGreaterThan(0);

    // ...inside the pod: eth0 with that address, lo up (minid-loopback, run as "loopback").
    const addrs = JSON.parse(await must(['nsenter', `--net=${netnsPath}`, 'ip', '-j', 'addr'])) as {
      ifname: string;
      flags: string[];
      addr_info: { local: string }[];
    }[];
    expect(addrs.find((a) => a.ifname === 'eth0')?.addr_info.map((a) => a.local)).toContain(st.ip);
    expect(addrs.find((a) => a.ifname === 'lo')?.flags).toContain('UP');

    // 8. The pod answers from the host, through the bridge's gateway address.
    const ping = await sh(['busybox', 'ping', '-c', '1', '-W', '2', st.ip]);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);

    // 9. StopPodSandbox: the CNI DEL of every plugin, then the netns goes.
    await cri.stopPodSandbox(id);
    expect((await cri.podSandboxStatus(id)).ready).toBe(false);
    expect(reservations(d('ipam'))).toEqual([]);
    await waitFor('the veth to go', async () => (JSON.parse(await must(['ip', '-j', 'link', 'show', 'master', bridge])) as unknown[]).length === 0);
    expect(await ourRules(id)).toEqual([]);
    expect(cniCacheEntries(id)).toEqual([]);
    expect(fs.existsSync(netnsPath)).toBe(false);

    // 10. RemovePodSandbox: gone for the CRI, its mounts gone.
    await cri.removePodSandbox(id);
    const err = await cri.podSandboxStatus(id).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err instanceof GrpcError && err.code === GRPC_NOT_FOUND, String(err)).toBe(true);
    id = '';

    // 11. containerd stopped by its pid: no shim, no mount under the temp dir, no shim socket,
    // nothing in the pod's cgroups (its parent is removed by the cleanup, then T itself).
    cri.close();
    await stopPid(containerd);
    expect(containerd.exitCode !== null || containerd.signalCode !== null).toBe(true);
    expect(processesNaming(sock)).toEqual([]);
    expect(mountsUnder(T)).toEqual([]);
    const shimSocket = createHash('sha256').update(path.join(sock, NS, st.id)).digest('hex');
    expect(fs.existsSync(path.join('/run/containerd/s', shimSocket))).toBe(false);
    for (const root of cgroupRoots()) {
      const dir = path.join(root, cgroupParent);
      if (fs.existsSync(dir)) expect(fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    }
  });
});
