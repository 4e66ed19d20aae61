// `minid network connect/disconnect` at the runtime level, without root: containers are config
// files in a private store, "running" because their pid file names this test process, and the
// network layer runs against the recording runner and the fake probe. Every refusal is one line
// and leaves the container record, the endpoints and the IPAM as they were, with no command run.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attach, createNetwork, listEndpoints } from '../../../src/network/index.js';
import { reservations } from '../../../src/network/ipam.js';
import { connectContainer, disconnectContainer, nextIfName } from '../../../src/runtime/connect.js';
import { releaseContainer } from '../../../src/runtime/container.js';
import { configFile, loadState, pidFile, saveConfig, type ContainerConfig } from '../../../src/runtime/state.js';
import { paths } from '../../../src/sys/paths.js';
import { MinidError } from '../../../src/errors.js';
import { buildProgram } from '../../../src/cli/main.js';
import { FakeProbe, ID1 as ID1_65, ID2, Recorder, resetSeams, tempRoots, wireSysctl } from '../network/helpers.js';

/** Container ids are 64 hex characters (the state table ignores anything else). */
const ID1 = ID1_65.slice(0, 64);

let roots: ReturnType<typeof tempRoots>;
let rec: Recorder;
let probe: FakeProbe;
beforeEach(async () => {
  roots = tempRoots();
  probe = new FakeProbe().install();
  rec = new Recorder().install();
  wireSysctl(rec, probe);
  await createNetwork({ name: 'back', subnet: '10.77.0.0/24' });
});
afterEach(() => {
  resetSeams();
  roots.cleanup();
});

/** A container record; running = its pid file names this very process. */
async function container(id: string, name: string, mode: string, o: { running?: boolean } = {}): Promise<ContainerConfig> {
  const c = {
    id, name, created: new Date().toISOString(), image: 'busybox', imageId: 'x', layers: [], argv: ['sleep', '60'], env: [], cwd: '/',
    user: '', uid: 0, gid: 0, hostname: id.slice(0, 12), tty: false, interactive: false, detach: true, autoRemove: false, volumes: [],
    stopSignal: 'SIGTERM', exposedPorts: [], startedAt: new Date().toISOString(),
    net: { mode, network: mode === 'bridge' || mode === 'back' ? mode : undefined, ports: [], publishAll: false, dns: [], dnsSearch: [], addHosts: [] },
  } as ContainerConfig;
  fs.mkdirSync(paths.container(id), { recursive: true });
  if (mode === 'bridge') {
    const att = await attach({ containerId: id, containerName: name, mode: 'bridge', ports: [] });
    // The namespace as connect() sees it: a path that exists.
    att.netnsPath = path.join(paths.container(id), 'netns');
    fs.writeFileSync(att.netnsPath, '');
    c.attachment = att;
    fs.writeFileSync(path.join(paths.container(id), 'hosts'), `127.0.0.1\tlocalhost\n${att.ip}\t${c.hostname} ${name}\n`);
  } else if (mode === 'host' || mode === 'none') c.attachment = { mode, ports: [], undo: [] };
  else if (mode.startsWith('cni:')) c.attachment = { mode: 'cni', ports: [], undo: [] };
  else if (mode.startsWith('container:')) c.attachment = { mode: 'container', ports: [], undo: [] };
  saveConfig(c);
  if (o.running !== false) {
    fs.mkdirSync(paths.containerRun(id), { recursive: true });
    fs.writeFileSync(pidFile(id), fs.readFileSync('/proc/self/stat', 'utf8'));
  }
  rec.clear();
  return c;
}

const snapshot = () => ({
  configs: fs.readdirSync(paths.containers()).map((id) => fs.readFileSync(configFile(id), 'utf8')),
  endpoints: listEndpoints(),
  ipam: reservations('back'),
});

describe('network connect refusals: one line, exit 125, nothing changed', () => {
  it.each([
    ['host', 'h1', 'container h1 uses --network host: it shares the host\'s network namespace and has none of its own to connect'],
    ['none', 'n1', 'container n1 uses --network none: a container without networking cannot be connected to a network (docker refuses this too)'],
    ['container:web', 'j1', "container j1 uses --network container:web: it shares that container's network namespace; connect web instead"],
    ['cni:mynet', 'k1', "container k1 is attached with --cni mynet: network connect handles minid's bridge networks only"],
  ])('--network %s', async (mode, name, msg) => {
    await container(ID2, name, mode);
    const before = snapshot();
    const err = await connectContainer('back', name).catch((e) => e);
    expect(err).toBeInstanceOf(MinidError);
    expect(err.exitCode).toBe(125);
    expect(err.message).toBe(msg);
    expect(rec.calls).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  it('unknown container, unknown network, pseudo networks, not running, already connected, bad --ip', async () => {
    await container(ID1, 'web', 'bridge');
    await container(ID2, 'gone', 'bridge', { running: false });
    const before = snapshot();
    for (const [args, msg] of [
      [['back', 'nosuch'], 'no such container: nosuch (see `minid ps -a`)'],
      [['nosuchnet', 'web'], 'network nosuchnet not found'],
      [['host', 'web'], 'cannot connect container web to network host: only bridge networks can be connected (host is chosen with `minid run --network host`)'],
      [['none', 'web'], 'cannot connect container web to network none: only bridge networks can be connected (none is chosen with `minid run --network none`)'],
      [['back', 'gone'], 'container gone is not running: only running containers can be connected (run a new one with --network NETWORK)'],
      [['bridge', 'web'], 'container web is already connected to network bridge'],
      [['back', 'web', '10.1.2.3'], 'address 10.1.2.3 is outside the subnet 10.77.0.0/24 of network "back"'],
    ] as [string[], string][]) {
      const err = await connectContainer(args[0], args[1], { ip: args[2] }).catch((e) => e);
      expect(err, args.join(' ')).toBeInstanceOf(MinidError);
      expect(err.message).toBe(msg);
      expect(err.message.includes('\n')).toBe(false);
    }
    expect(rec.calls).toEqual([]);
    expect(snapshot()).toEqual(before);
  });
});

describe('network connect / disconnect', () => {
  it('connects as eth1, records it in the container, adds the /etc/hosts line; disconnect undoes all of it', async () => {
    await container(ID1, 'web', 'bridge');
    const hosts = path.join(paths.container(ID1), 'hosts');
    const hostsBefore = fs.readFileSync(hosts, 'utf8');
    const inode = fs.statSync(hosts).ino;
    const att = await connectContainer('back', 'web', { ip: '10.77.0.9' });
    expect(att).toMatchObject({ network: 'back', ifName: 'eth1', ip: '10.77.0.9', connected: true });
    const c = loadState(ID1)!.config;
    expect(c.extraAttachments?.map((a) => [a.network, a.ifName, a.ip])).toEqual([['back', 'eth1', '10.77.0.9']]);
    expect(c.attachment.network).toBe('bridge');
    expect(fs.readFileSync(hosts, 'utf8')).toBe(`${hostsBefore}10.77.0.9\t${ID1.slice(0, 12)} web\n`);
    expect(fs.statSync(hosts).ino).toBe(inode); // rewritten in place: the bind mount sees it

    // The first network cannot be disconnected (not even with -f); an unknown one is an error unless -f.
    await expect(disconnectContainer('bridge', 'web')).rejects.toThrow(/container web was run on network bridge: its first network \(eth0, the default route\) stays/);
    await expect(disconnectContainer('bridge', 'web', { force: true })).rejects.toThrow(/was run on network bridge/);
    await createNetwork({ name: 'other', subnet: '10.78.0.0/24' });
    await expect(disconnectContainer('other', 'web')).rejects.toThrow('container web is not connected to network other');
    await disconnectContainer('other', 'web', { force: true });

    rec.clear();
    await disconnectContainer('back', 'web');
    expect(rec.text()).toBe(`ip link del ${att.veth}`);
    expect(loadState(ID1)!.config.extraAttachments).toBeUndefined();
    expect(fs.readFileSync(hosts, 'utf8')).toBe(hostsBefore);
    expect(reservations('back')).toEqual([]);
    expect(listEndpoints().map((e) => e.network)).toEqual(['bridge']);
  });

  it('eth1, eth2, then the lowest free one again', () => {
    expect(nextIfName([])).toBe('eth1');
    expect(nextIfName([{ ifName: 'eth1' }, { ifName: 'eth2' }] as any)).toBe('eth3');
    expect(nextIfName([{ ifName: 'eth2' }] as any)).toBe('eth1');
  });

  it('container end releases every connected network before the first one', async () => {
    await container(ID1, 'web', 'bridge');
    await createNetwork({ name: 'third', subnet: '10.79.0.0/24' });
    const a = await connectContainer('back', 'web');
    const b = await connectContainer('third', 'web');
    expect(b.ifName).toBe('eth2');
    fs.rmSync(pidFile(ID1)); // the container ended
    rec.clear();
    await releaseContainer(ID1);
    const text = rec.text();
    expect(text.indexOf(`ip link del ${b.veth}`)).toBeGreaterThanOrEqual(0);
    expect(text.indexOf(`ip link del ${a.veth}`)).toBeGreaterThan(text.indexOf(`ip link del ${b.veth}`));
    expect(text.indexOf('netns del')).toBeGreaterThan(text.indexOf(`ip link del ${a.veth}`));
    expect(listEndpoints()).toEqual([]);
    expect(reservations('back')).toEqual([]);
    expect(reservations('third')).toEqual([]);
    const c = loadState(ID1)!.config;
    expect(c.extraAttachments).toBeUndefined();
    expect(c.attachment).toBeUndefined();
  });

  it('disconnect -f cleans up after a container that no longer exists', async () => {
    await container(ID1, 'web', 'bridge');
    await connectContainer('back', 'web');
    fs.rmSync(paths.container(ID1), { recursive: true }); // removed behind minid's back
    await expect(disconnectContainer('back', 'web')).rejects.toThrow('no such container: web');
    rec.clear();
    await disconnectContainer('back', 'web', { force: true });
    expect(rec.text()).toMatch(/^ip link del mv3f2a1b4c-[0-9a-f]{4}$/);
    expect(reservations('back')).toEqual([]);
    expect(listEndpoints().map((e) => e.network)).toEqual(['bridge']);
  });
});

describe('CLI wiring', () => {
  it('network connect [--ip] [--alias] NETWORK CONTAINER and network disconnect [-f] NETWORK CONTAINER, both with --explain', () => {
    const network = buildProgram().commands.find((c) => c.name() === 'network')!;
    const connect = network.commands.find((c) => c.name() === 'connect')!;
    const disconnect = network.commands.find((c) => c.name() === 'disconnect')!;
    expect(connect.registeredArguments.map((a) => a.name())).toEqual(['network', 'container']);
    expect(connect.options.map((o) => o.long)).toEqual(['--ip', '--alias', '--explain', '--explain-to']); // --explain=HOW, hidden
    expect(disconnect.registeredArguments.map((a) => a.name())).toEqual(['network', 'container']);
    expect(disconnect.options.map((o) => o.long)).toEqual(['--force', '--explain', '--explain-to']);
  });
});
