// `minid inspect`: a container, an image or a network as docker's Engine API shows it (the
// shape of docker 20.10's `docker inspect`, test/fixtures/docker/), so that scripts' templates
// and jq lines work unchanged. minid's own facts (host veth, bridge, namespace path, the
// capabilities kept) are under one key, "Minid"; its internal records (undo commands) never
// appear. Objects that are Go maps in docker's types are marked with goMap(), for --format.
import crypto from 'node:crypto';
import path from 'node:path';
import { paths } from '../sys/paths.js';
import { goMap, nilMap, nilSlice, omitEmpty } from '../cli/template.js';
import { logFile, type ContainerConfig, type ContainerState } from './state.js';
import { restartCount } from './restart.js';
import { healthConfigShape, readHealth } from './health.js';
import { NO_LIMITS } from './limits.js';
import { securityOptList } from './security.js';
import { hostLayout, oomKilled } from './cgroup.js';
import type { ImageRecord } from '../image/store.js';
import { describe, fromStored } from '../network/index.js';

/** docker's zero time (Go's time.Time{}), for a container not started or not ended. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A stable 64-hex id for a thing minid does not name (an endpoint, a sandbox). */
const derivedId = (...parts: string[]) => crypto.createHash('sha256').update(parts.join('\0')).digest('hex');

/** Network ids by name: the records' own, else the pseudo networks' (host, none; as network ls shows them). */
export type NetworkIds = (name: string) => string;

/** "80/tcp" -> [{HostIp, HostPort}] of a -p list as typed (docker's HostConfig.PortBindings). */
function portBindings(specs: string[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out = goMap({} as Record<string, { HostIp: string; HostPort: string }[]>);
  for (const spec of specs) {
    const [body, proto = 'tcp'] = spec.split('/');
    const parts = body.split(':');
    const ctr = parts[parts.length - 1];
    const host = parts.length >= 2 ? parts[parts.length - 2] : '';
    const ip = parts.length === 3 ? parts[0] : '';
    (out[`${ctr}/${proto}`] ??= []).push({ HostIp: ip, HostPort: host });
  }
  return out;
}

export function inspectContainer(s: ContainerState, networkId: NetworkIds): Record<string, unknown> {
  const c = s.config;
  const running = s.status === 'running' || s.status === 'restarting'; // docker's: a restarting container is Running too
  // Paused (the cgroup freezer), where this minid knows it: still running, as docker says it.
  const paused = !!(s as { paused?: boolean }).paused;
  const dir = paths.container(c.id);
  const att: any = c.attachment;
  const atts: any[] = [att, ...(c.extraAttachments ?? [])].filter(Boolean);
  const netName = c.net.network ?? (c.net.mode.startsWith('cni:') ? c.net.mode.slice(4) : c.net.mode);

  // Ports: every exposed or published container port; null where none is published (docker's map).
  const ports = goMap({} as Record<string, { HostIp: string; HostPort: string }[]>);
  if (att && c.net.mode !== 'host' && c.net.mode !== 'none') {
    for (const p of c.exposedPorts) ports[p.includes('/') ? p : `${p}/tcp`] = nilSlice();
    for (const b of att.ports ?? []) {
      const key = `${b.containerPort}/${b.protocol}`;
      // An exposed port's entry is Go's nil slice (null in JSON): a published one needs a real list.
      if (!ports[key]?.length) ports[key] = [];
      ports[key].push({ HostIp: b.hostIp || '0.0.0.0', HostPort: String(b.hostPort) });
    }
  }
  const exposed = new Set([...c.exposedPorts.map((p) => (p.includes('/') ? p : `${p}/tcp`)), ...Object.keys(portBindings(c.net.ports))]);

  // Before docker 25 the container's short id is one of its aliases on a user network (its DNS
  // answers to it, as minid's does); docker-compose 1.x looks for it there. A created container
  // shows the aliases it was created with.
  const userNetwork = (name: string) => !['bridge', 'host', 'none'].includes(name) && !c.net.mode.startsWith('cni:');
  const aliasesOf = (name: string, a: any | undefined): string[] => [
    ...((a ? a.aliases : name === netName ? c.net.aliases : undefined) ?? []),
    ...(userNetwork(name) ? [c.id.slice(0, 12)] : []),
  ];
  const endpoint = (name: string, a: any | undefined) => ({
    IPAMConfig: null,
    Links: nilSlice(),
    Aliases: aliasesOf(name, a).length ? aliasesOf(name, a) : nilSlice(),
    NetworkID: networkId(name),
    EndpointID: a ? derivedId('endpoint', c.id, name) : '',
    Gateway: a?.gateway ?? '',
    IPAddress: a?.ip ?? '',
    IPPrefixLen: a?.prefixLength ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: a?.mac ?? '',
    DriverOpts: null,
  });
  const networks = goMap({} as Record<string, unknown>);
  const minidNets = goMap({} as Record<string, unknown>);
  if (!atts.length && !c.net.mode.startsWith('container:')) networks[netName] = endpoint(netName, undefined);
  for (const a of atts) {
    // Each driver says what it set up (network/drivers/: describe).
    const d = describe(fromStored(a));
    networks[d.network] = endpoint(d.network, d.endpoint);
    minidNets[d.network] = { InterfaceName: d.ifName, HostVeth: d.veth, Bridge: d.bridge, Connected: d.connected };
  }
  // Top-level addresses: the default bridge network's only, as docker fills them.
  const top = att && (att.network ?? att.mode) === 'bridge' && att.mode === 'bridge' ? att : undefined;
  const cmd: string[] | null = c.cmd ?? c.argv;
  const entrypoint: string[] | null = c.entrypoint ?? null;
  const labels = goMap({ ...(c.labels ?? {}) });

  return {
    Id: c.id,
    Created: c.created,
    Path: c.argv[0] ?? '',
    Args: c.argv.slice(1),
    State: omitEmpty({
      Status: paused ? 'paused' : s.status,
      Running: running,
      Paused: paused,
      Restarting: s.status === 'restarting',
      // Read from the container's cgroup, which stays until rm.
      OOMKilled: s.status === 'exited' && !!c.cgroup && oomKilled(hostLayout(), c.id),
      Dead: false,
      Pid: running ? s.pid ?? 0 : 0,
      ExitCode: s.exit?.exitCode ?? 0,
      Error: '',
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: s.status !== 'running' && s.exit?.finishedAt ? s.exit.finishedAt : ZERO_TIME,
      // What the health monitor recorded (runtime/health.ts); without a check docker's nil
      // *Health (omitempty): `{{.State.Health}}` is <nil>.
      Health: readHealth(c),
    }, 'Health'),
    Image: c.imageId,
    ResolvConfPath: path.join(dir, 'resolv.conf'),
    HostnamePath: path.join(dir, 'hostname'),
    HostsPath: path.join(dir, 'hosts'),
    LogPath: logFile(c.id),
    Name: `/${c.name}`,
    RestartCount: restartCount(c.id),
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: nilSlice(),
    HostConfig: omitEmpty({
      Binds: binds(c.volumes).length ? binds(c.volumes) : nilSlice(),
      ContainerIDFile: c.cidfile ?? '',
      LogConfig: { Type: 'json-file', Config: goMap({}) },
      NetworkMode: c.net.mode.startsWith('cni:') ? c.net.mode.slice(4) : c.net.mode,
      PortBindings: portBindings(c.net.ports),
      RestartPolicy: c.restartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
      // --init (docker leaves it out when not asked: a *bool with omitempty).
      ...(c.init ? { Init: true } : {}),
      AutoRemove: c.autoRemove,
      VolumeDriver: '',
      VolumesFrom: nilSlice(),
      CapAdd: c.capAdd?.length ? c.capAdd : nilSlice(),
      CapDrop: c.capDrop?.length ? c.capDrop : nilSlice(),
      Dns: c.net.dns ?? [],
      DnsOptions: c.net.dnsOptions ?? [],
      DnsSearch: c.net.dnsSearch ?? [],
      ExtraHosts: c.net.addHosts?.length ? c.net.addHosts : nilSlice(),
      Privileged: !!c.privileged,
      PublishAllPorts: !!c.net.publishAll,
      ReadonlyRootfs: !!c.readOnly,
      ...(c.tmpfs?.length ? { Tmpfs: Object.fromEntries(c.tmpfs.map((t) => [t.container, t.typed])) } : {}),
      SecurityOpt: c.security && securityOptList(c.security).length ? securityOptList(c.security) : nilSlice(),
      ...(c.limits ?? NO_LIMITS),
      // The --mount flags as docker records them (omitempty: left out of the JSON when none).
      Mounts: c.volumes.some((v) => v.viaMount) ? c.volumes.filter((v) => v.viaMount).map(mountFlag) : nilSlice(),
    }, 'Mounts'),
    GraphDriver: { Data: { LowerDir: c.layers.join(':'), MergedDir: path.join(dir, 'rootfs'), UpperDir: path.join(dir, 'upper'), WorkDir: path.join(dir, 'work') }, Name: 'overlay2' },
    Mounts: c.volumes.map(mountShape),
    Config: omitEmpty({
      Hostname: c.hostname,
      Domainname: '',
      User: c.user,
      AttachStdin: !c.detach && c.interactive,
      AttachStdout: !c.detach,
      AttachStderr: !c.detach,
      // (docker's PortSet: a map of struct{}, printed map[80/tcp:{}])
      ExposedPorts: exposed.size ? goMap(Object.fromEntries([...exposed].map((p) => [p, {}]))) : nilMap(),
      Tty: c.tty,
      OpenStdin: c.interactive,
      StdinOnce: c.interactive && (!c.detach || !!c.stdinOnce),
      Env: c.env,
      Cmd: cmd?.length ? cmd : nilSlice(),
      // docker's *HealthConfig (omitempty), its zero fields left out as Go's omitempty does.
      Healthcheck: c.healthcheck ? healthConfigShape(c.healthcheck) : null,
      Image: c.image,
      Volumes: configVolumes(c.volumes, c.imageVolumes),
      WorkingDir: c.cwd,
      Entrypoint: entrypoint?.length ? entrypoint : nilSlice(),
      OnBuild: nilSlice(),
      Labels: labels,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout ?? null,
    }, 'ExposedPorts', 'StopTimeout', 'Healthcheck'),
    NetworkSettings: {
      Bridge: '',
      SandboxID: att?.netnsPath ? derivedId('sandbox', c.id) : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: ports,
      SandboxKey: att?.netnsPath ?? '',
      SecondaryIPAddresses: nilSlice(),
      SecondaryIPv6Addresses: nilSlice(),
      EndpointID: top ? derivedId('endpoint', c.id, 'bridge') : '',
      Gateway: top?.gateway ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: top?.ip ?? '',
      IPPrefixLen: top?.prefixLength ?? 0,
      IPv6Gateway: '',
      MacAddress: top?.mac ?? '',
      Networks: networks,
    },
    // minid's own: where things are on the host.
    Minid: {
      NetnsPath: att?.netnsPath ?? '',
      Networks: minidNets,
      Capabilities: c.caps ?? null,
      Cgroup: c.cgroup?.dirs ?? null,
      ...(att?.mode === 'cni' ? { Cni: { Network: att.cni?.name, ConfDir: c.net.cni?.confDir ?? null } } : {}),
    },
  };
}

/** An image as docker's image inspect shows it. */
export function inspectImage(img: ImageRecord, layerDirs: string[]): Record<string, unknown> {
  const cfg: any = img.config ?? {};
  const cc: any = cfg.config ?? {};
  const names = img.names;
  const repoDigests = names.length && img.manifestDigest ? [...new Set(names.map((n) => `${n.replace(/:[^:/]*$/, '')}@${img.manifestDigest}`))] : [];
  const config = {
    Hostname: '',
    Domainname: '',
    User: cc.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(cc.ExposedPorts ? { ExposedPorts: goMap(Object.fromEntries(Object.keys(cc.ExposedPorts).map((p) => [p, {}]))) } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cc.Env ?? nilSlice(),
    Cmd: cc.Cmd ?? nilSlice(),
    Image: '',
    Volumes: cc.Volumes ? goMap({ ...cc.Volumes }) : nilMap(),
    WorkingDir: cc.WorkingDir ?? '',
    Entrypoint: cc.Entrypoint ?? nilSlice(),
    OnBuild: nilSlice(),
    Labels: cc.Labels ? goMap({ ...cc.Labels }) : nilMap(),
    ...(cc.StopSignal ? { StopSignal: cc.StopSignal } : {}),
  };
  return {
    Id: img.id,
    RepoTags: [...names],
    RepoDigests: repoDigests,
    Parent: '',
    Comment: '',
    Created: cfg.created ?? img.created ?? ZERO_TIME,
    Container: '',
    ContainerConfig: { ...config, Cmd: nilSlice(), Entrypoint: nilSlice() },
    DockerVersion: '',
    Author: cfg.author ?? '',
    Config: config,
    Architecture: cfg.architecture ?? '',
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Os: cfg.os ?? 'linux',
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: { LowerDir: layerDirs.join(':') }, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: img.layers.map((l: any) => l.diffId ?? l.diff_id ?? l.digest) },
    Metadata: { LastTagTime: ZERO_TIME },
    Minid: { ManifestDigest: img.manifestDigest, LayerDirs: layerDirs },
  };
}

/** HostConfig.Binds: the -v flags as docker records them (HOST or NAME, then the path); --mount and tmpfs are not binds. */
function binds(volumes: ContainerConfig['volumes']): string[] {
  return volumes
    .filter((v) => v.type !== 'tmpfs' && !v.viaMount && !v.anonymous)
    .map((v) => `${v.type === 'volume' ? v.name : v.host}:${v.container}${v.readonly ? ':ro' : ''}`);
}

/** Config.Volumes: the paths of `-v /path` and the image's VOLUME entries (a map of path to {}), else null. */
function configVolumes(volumes: ContainerConfig['volumes'], fromImage: string[] = []) {
  const paths = [...fromImage, ...volumes.filter((v) => v.anonymous && !v.viaMount).map((v) => v.container)];
  return paths.length ? goMap(Object.fromEntries(paths.map((p) => [p, {}]))) : nilMap();
}

/** One of docker's Mounts entries: a bind, a volume (local driver) or a tmpfs. */
function mountShape(v: ContainerConfig['volumes'][number]) {
  // docker's Mode: "z" for a volume given a source or by --mount, "" for `-v /path` and VOLUME.
  const mode = v.readonly ? 'ro' : v.anonymous && !v.viaMount ? '' : 'z';
  if (v.type === 'volume') return { Type: 'volume', Name: v.name, Source: v.host, Destination: v.container, Driver: 'local', Mode: mode, RW: !v.readonly, Propagation: '' };
  // (Name and Driver: omitempty in docker's JSON, yet printed by `{{.Mounts}}`.)
  if (v.type === 'tmpfs') return omitEmpty({ Type: 'tmpfs', Name: '', Source: '', Destination: v.container, Driver: '', Mode: '', RW: !v.readonly, Propagation: '' }, 'Name', 'Driver');
  return omitEmpty({ Type: 'bind', Name: '', Source: v.host, Destination: v.container, Driver: '', Mode: v.readonly ? 'ro' : '', RW: !v.readonly, Propagation: 'rprivate' }, 'Name', 'Driver');
}

/** One HostConfig.Mounts entry: a --mount flag in the Engine API's shape (empty fields left out). */
function mountFlag(v: ContainerConfig['volumes'][number]) {
  return {
    Type: v.type ?? 'bind',
    ...(v.type === 'tmpfs' || v.anonymous ? {} : { Source: v.type === 'volume' ? v.name : v.host }),
    Target: v.container,
    ...(v.readonly ? { ReadOnly: true } : {}),
    ...(v.noCopy ? { VolumeOptions: { NoCopy: true } } : {}),
  };
}
