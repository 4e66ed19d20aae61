// Scripts written for docker, run against minid: the template lines CI scripts use, inspect's
// keys and types against docker 20.10's (test/fixtures/docker/, recorded from Debian's
// docker.io on this kind of machine), ps and images laid out as docker lays them out, filters
// and labels, and docker's exit codes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, makeStore, minid, repo, requireRoot, type Store } from '../../helpers/minid.js';

let store: Store;
let vol: string;
const run = (args: string[]) => minid(store, args);
const fixture = (name: string) => JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/docker', name), 'utf8'))[0];
const f = async (tpl: string, ref: string) => {
  const r = await run(['inspect', '-f', tpl, ref]);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout;
};

beforeAll(async () => {
  requireRoot();
  store = makeStore('compat');
  vol = fs.mkdtempSync(path.join(os.tmpdir(), 'minid-compat-vol-'));
  await loadImages(store, ['busybox']);
  // One container on the store's own bridge with a published port, the others without a network.
  const web = await run(['run', '-d', '--name', 'web', '-p', '80', '-l', 'tier=front', '-l', 'com.example.team=web', '-e', 'FOO=bar', '-v', `${vol}:/data:ro`, 'busybox', 'sleep', '300']);
  expect(web.exitCode, web.stderr).toBe(0);
  for (const [name, code] of [['ok0', 0], ['bad3', 3]] as const) {
    const r = await run(['run', '--name', name, '--network', 'none', '-l', `code=${code}`, 'busybox', 'sh', '-c', `exit ${code}`]);
    expect(r.exitCode).toBe(code);
  }
  const box = await run(['run', '-d', '--name', 'box', '--network', 'none', 'busybox', 'sh', '-c', 'echo 0123456789abcdef; sleep 300']);
  expect(box.exitCode, box.stderr).toBe(0);
});

afterAll(async () => {
  await store?.cleanup();
  if (vol) fs.rmSync(vol, { recursive: true, force: true });
});

describe('twenty template lines from CI scripts', () => {
  it('state, ids and names', async () => {
    expect(await f('{{.State.Status}}', 'web')).toBe('running');
    expect(await f('{{.State.Running}}', 'web')).toBe('true');
    expect(await f('{{.State.ExitCode}}', 'bad3')).toBe('3');
    expect(await f('{{.State.Status}} {{.State.ExitCode}}', 'ok0')).toBe('exited 0');
    expect(Number(await f('{{.State.Pid}}', 'web'))).toBeGreaterThan(1);
    expect(await f('{{.State.Pid}}', 'ok0')).toBe('0');
    expect(await f('{{.State.FinishedAt}}', 'web')).toBe('0001-01-01T00:00:00Z');
    expect(await f('{{.Id}}', 'web')).toMatch(/^[0-9a-f]{64}$/);
    expect(await f('{{.Name}}', 'web')).toBe('/web');
    expect(await f('{{.Image}}', 'web')).toBe(await f('{{.Id}}', 'busybox'));
    expect(await f('{{if .State.Running}}up{{else}}down{{end}}', 'ok0')).toBe('down');
  });
  it('network lines', async () => {
    const ip = await f('{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'web');
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await f('{{.NetworkSettings.IPAddress}}', 'web')).toBe(ip);
    expect(await f('{{range $n, $e := .NetworkSettings.Networks}}{{$n}}{{end}}', 'web')).toBe('bridge');
    expect(await f('{{range .NetworkSettings.Networks}}[{{.IPAddress}}]{{end}}', 'ok0')).toBe('[]');
    const hostPort = await f('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'web');
    expect(hostPort).toMatch(/^\d+$/);
    expect(await f('{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}', 'web')).toBe(`80/tcp -> ${hostPort}`);
    expect(await f('{{.HostConfig.NetworkMode}}', 'ok0')).toBe('none');
  });
  it('config lines', async () => {
    const cfg = JSON.parse(await f('{{json .Config}}', 'web'));
    expect(cfg).toMatchObject({ Cmd: ['sleep', '300'], Entrypoint: null, Image: 'busybox', WorkingDir: '/', Labels: { tier: 'front' } });
    expect(await f('{{index .Config.Labels "com.example.team"}}', 'web')).toBe('web');
    expect(await f('{{.Config.Labels.tier}}', 'web')).toBe('front');
    expect(await f('{{range .Config.Env}}{{if eq . "FOO=bar"}}found{{end}}{{end}}', 'web')).toBe('found');
    expect(await f('{{join .Config.Cmd " "}}', 'web')).toBe('sleep 300');
    expect(await f('{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}}{{end}}', 'web')).toBe(`${vol}:/data:false`);
    expect(await f('{{len .Mounts}} {{.HostConfig.AutoRemove}} {{.HostConfig.RestartPolicy.Name}}', 'web')).toBe('1 false no');
    expect(await f('{{upper .State.Status}} {{printf "%.12s" .Id}}', 'box')).toMatch(/^RUNNING [0-9a-f]{12}$/);
  });
  it('labels, mounts, state and policies printed whole, as Go prints them (exact outputs)', async () => {
    // The container's labels are the image's and its own (docker merges them so).
    const labels: Record<string, string> = { ...JSON.parse(await f('{{json .Config.Labels}}', 'busybox')), tier: 'front', 'com.example.team': 'web' };
    const keys = Object.keys(labels).sort();
    expect(await f('{{.Config.Labels}}', 'web')).toBe(`map[${keys.map((k) => `${k}:${labels[k]}`).join(' ')}]`);
    expect(await f('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}', 'web')).toBe(keys.map((k) => `${k}=${labels[k]} `).join(''));
    expect(await f('{{len .Config.Labels}} [{{index .Config.Labels "nosuch"}}] {{.Config.Labels.nosuch}}', 'web')).toBe(`${keys.length} [] <no value>`);
    // A bind's Name and Driver are empty fields of docker's struct (left out of its JSON only).
    expect(await f('{{.Mounts}}', 'web')).toBe(`[{bind  ${vol} /data  ro false rprivate}]`);
    expect(await f('{{.HostConfig.Binds}}', 'web')).toBe(`[${vol}:/data:ro]`);
    expect(await f('{{.Mounts}} {{.HostConfig.Binds}} {{.Config.Volumes}}', 'ok0')).toBe('[] [] map[]');
    const state = JSON.parse(await f('{{json .State}}', 'web'));
    expect(Object.keys(state)).toEqual(Object.keys(fixture('inspect-ctr.json').State));
    expect(state).toMatchObject({ Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, ExitCode: 0, Error: '', FinishedAt: '0001-01-01T00:00:00Z' });
    expect(JSON.parse(await f('{{json .State}}', 'bad3'))).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 3 });
    expect(await f('{{.HostConfig.RestartPolicy}} {{.State.Health}} {{.Args}}', 'web')).toBe('{no 0} <nil> [300]');
    expect(await f('{{.Config.ExposedPorts}} {{.NetworkSettings.Ports}}', 'ok0')).toBe('map[] map[]');
    expect(await f('{{.Config.ExposedPorts}}', 'web')).toBe('map[80/tcp:{}]');
    expect(await f('{{with .State}}{{.Status}}/{{.ExitCode}}{{end}} {{.Config.Image}} {{.Config.Hostname}}', 'bad3')).toBe(`exited/3 busybox ${(await f('{{.Id}}', 'bad3')).slice(0, 12)}`);
  });
  it('errors: a template that cannot be parsed (64) or run (1), one line', async () => {
    const parse = await run(['inspect', '-f', '{{.State.Status', 'web']);
    expect([parse.exitCode, parse.stderr]).toEqual([64, 'minid: template parsing error: template: :1: unclosed action']);
    const exec = await run(['inspect', '-f', '{{.State.Nope}}', 'web']);
    expect(exec.exitCode).toBe(1);
    expect(exec.stderr.split('\n')).toHaveLength(1);
  });
});

/** The JSON type of a value, with Go's nil (null) allowed where docker has a slice, map or pointer. */
const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
function sameShape(docker: any, ours: any, where: string, keys?: string[]): string[] {
  const bad: string[] = [];
  for (const k of keys ?? Object.keys(docker)) {
    if (!(k in ours)) {
      bad.push(`${where}.${k} missing`);
      continue;
    }
    const [d, o] = [typeOf(docker[k]), typeOf(ours[k])];
    if (d !== o && d !== 'null' && o !== 'null') bad.push(`${where}.${k}: docker ${d}, minid ${o}`);
  }
  return bad;
}

describe("inspect has docker 20.10's keys and types", () => {
  it('a container', async () => {
    const docker = fixture('inspect-ctr.json');
    const ours = JSON.parse((await run(['inspect', 'web'])).stdout)[0];
    const dockerNet = docker.NetworkSettings.Networks.none;
    const bad = [
      ...sameShape(docker, ours, ''),
      ...sameShape(docker.State, ours.State, 'State'),
      ...sameShape(docker.Config, ours.Config, 'Config'),
      ...sameShape(docker.HostConfig, ours.HostConfig, 'HostConfig', ['Binds', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'CapAdd', 'CapDrop', 'Privileged', 'SecurityOpt', 'Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'CpusetCpus', 'PidsLimit', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'PublishAllPorts', 'ReadonlyRootfs']),
      ...sameShape(docker.Mounts[0], ours.Mounts[0], 'Mounts[0]'),
      ...sameShape(docker.NetworkSettings, ours.NetworkSettings, 'NetworkSettings'),
      ...sameShape(dockerNet, ours.NetworkSettings.Networks.bridge, 'NetworkSettings.Networks.bridge'),
    ];
    expect(bad).toEqual([]);
    // No internal records: nothing but docker's keys and the one key of minid's own.
    expect(Object.keys(ours).filter((k) => !(k in docker))).toEqual(['Minid']);
    expect(JSON.stringify(ours)).not.toMatch(/undo|"iptables|"ip"/);
    // The published port as docker writes it; the mount as docker writes a read-only bind.
    expect(ours.NetworkSettings.Ports['80/tcp'][0]).toEqual({ HostIp: '0.0.0.0', HostPort: expect.stringMatching(/^\d+$/) });
    expect(ours.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '' }] });
    expect(ours.Mounts[0]).toEqual({ Type: 'bind', Source: vol, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' });
  });
  it('a container that never had a network, and one that ended', async () => {
    const docker = fixture('inspect-ctr.json');
    const ours = JSON.parse((await run(['inspect', 'ok0'])).stdout)[0];
    expect(sameShape(docker.NetworkSettings.Networks.none, ours.NetworkSettings.Networks.none, 'Networks.none')).toEqual([]);
    expect(ours.NetworkSettings.Ports).toEqual({});
    expect(ours.State).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 0, Error: '' });
    expect(Date.parse(ours.State.FinishedAt)).toBeGreaterThan(Date.parse(ours.State.StartedAt) - 1);
  });
  it('an image', async () => {
    const docker = fixture('inspect-img.json');
    const ours = JSON.parse((await run(['inspect', 'busybox'])).stdout)[0];
    expect([...sameShape(docker, ours, ''), ...sameShape(docker.Config, ours.Config, 'Config'), ...sameShape(docker.RootFS, ours.RootFS, 'RootFS')]).toEqual([]);
    expect(ours.RepoTags).toEqual(['busybox:latest']);
    expect(JSON.parse((await run(['image', 'inspect', 'busybox'])).stdout)[0]).toEqual(ours);
  });
  it('the built-in networks none and host, and network ls with bridge, host and none', async () => {
    const docker: any[] = JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/docker/inspect-net-builtin.json'), 'utf8'));
    const r = await run(['network', 'inspect', 'none', 'host']);
    expect(r.exitCode, r.stderr).toBe(0);
    const ours = JSON.parse(r.stdout);
    expect(ours.map((n: any) => [n.Name, n.Driver])).toEqual([['none', 'null'], ['host', 'host']]);
    for (const [i, n] of ours.entries()) {
      expect(Object.keys(n)).toEqual(Object.keys(docker[i]));
      expect(sameShape(docker[i], n, n.Name)).toEqual([]);
      expect({ ...n, Id: '', Created: '', Containers: {} }).toEqual({ ...docker[i], Id: '', Created: '', Containers: {} });
    }
    // Their running containers, without addresses (box runs with --network none; ok0 and bad3 ended).
    const box = (await f('{{.Id}}', 'box')).trim();
    expect(Object.keys(ours[0].Containers)).toEqual([box]);
    expect(sameShape(Object.values(docker[0].Containers)[0], ours[0].Containers[box], 'none.Containers[box]')).toEqual([]);
    expect(ours[0].Containers[box]).toMatchObject({ Name: 'box', MacAddress: '', IPv4Address: '', IPv6Address: '' });
    expect(ours[1].Containers).toEqual({});
    expect((await run(['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{json .IPAM}}', 'host'])).stdout).toBe('host host {"Driver":"default","Options":null,"Config":[]}');
    expect((await run(['inspect', '-f', '{{.Name}} {{.Driver}}', 'none', 'host'])).stdout).toBe('none null\nhost host');
    // By id too, as docker finds them.
    const id = (await run(['network', 'ls', '--no-trunc', '--filter', 'name=none', '-q'])).stdout.split('\n').find((l) => ours[0].Id === l) ?? ours[0].Id;
    expect((await run(['network', 'inspect', '-f', '{{.Name}}', id.slice(0, 12)])).stdout).toBe('none');
    const ls = (await run(['network', 'ls'])).stdout.split('\n');
    expect(ls[0]).toBe('NETWORK ID     NAME      DRIVER    SCOPE');
    expect(ls.slice(1).map((l) => l.split(/\s+/).slice(1))).toEqual(expect.arrayContaining([['bridge', 'bridge', 'local'], ['host', 'host', 'local'], ['none', 'null', 'local']]));
  });
  it('a network', async () => {
    const docker = fixture('inspect-net.json');
    const ours = JSON.parse((await run(['network', 'inspect', 'bridge'])).stdout)[0];
    expect([...sameShape(docker, ours, ''), ...sameShape(docker.IPAM, ours.IPAM, 'IPAM')]).toEqual([]);
    const id = (await f('{{.Id}}', 'web')).trim();
    expect(sameShape(Object.values(docker.Containers)[0], ours.Containers[id], 'Containers[web]')).toEqual([]);
    expect((await run(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'bridge'])).stdout).toBe(store.env.MINID_BRIDGE_SUBNET);
  });
  it('labels: --label-file on run, --label on network create', async () => {
    const file = path.join(vol, '..', `${path.basename(vol)}.labels`);
    fs.writeFileSync(file, '# team labels\nowner=ops\nflag\n');
    try {
      const r = await run(['run', '--name', 'lf', '--network', 'none', '--label-file', file, '-l', 'owner=dev', 'busybox', 'true']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await f('{{.Config.Labels.owner}} [{{.Config.Labels.flag}}]', 'lf')).toBe('dev []');
      expect((await run(['rm', 'lf'])).exitCode).toBe(0);
    } finally {
      fs.rmSync(file, { force: true });
    }
    const bad = await run(['run', '--rm', '--network', 'none', '--label-file', '/nonexistent/labels', 'busybox', 'true']);
    expect([bad.exitCode, bad.stderr]).toEqual([125, 'minid: cannot read label file /nonexistent/labels: check the path']);
    const net = `cmp${Math.random().toString(16).slice(2, 8)}`;
    expect((await run(['network', 'create', '--label', 'team=web', net])).exitCode).toBe(0);
    try {
      expect((await run(['network', 'inspect', '-f', '{{.Labels.team}} {{json .Labels}}', net])).stdout).toBe('web {"team":"web"}');
    } finally {
      expect((await run(['network', 'rm', net])).exitCode).toBe(0);
    }
  });
  it('missing objects: [] and exit 1, the found ones still printed', async () => {
    const r = await run(['inspect', 'nosuch']);
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([1, '[]', 'minid: no such object: nosuch']);
    const two = await run(['inspect', '-f', '{{.Name}}', 'web', 'nosuch']);
    expect([two.exitCode, two.stdout]).toEqual([1, '/web']);
  });
});

describe('ps and images as docker lays them out', () => {
  /** Where each column starts in the header; every row's cells start there too. */
  const columns = (out: string) => {
    const [head, ...rows] = out.split('\n');
    const starts = [...head.matchAll(/(?:^|(?<=\s{3}))\S/g)].map((m) => m.index!);
    return { head, rows, starts };
  };
  it('ps: columns at least ten wide, three spaces apart, COMMAND quoted and cut like docker', async () => {
    const r = await run(['ps', '-a']);
    expect(r.exitCode).toBe(0);
    const { head, rows, starts } = columns(r.stdout);
    expect(head).toMatch(/^CONTAINER ID   IMAGE     COMMAND +CREATED +STATUS +PORTS +NAMES$/);
    expect(starts).toHaveLength(7);
    for (const row of rows) for (const s of starts.slice(1)) expect(row[s - 1], row).toBe(' ');
    const box = rows.find((l) => l.endsWith(' box'))!;
    expect(box).toContain(`"sh -c 'echo 0123456…"`);
    expect(rows.find((l) => l.endsWith(' bad3'))).toMatch(/Exited \(3\) \d+ seconds? ago|Exited \(3\) Less than a second ago/);
    expect(rows.find((l) => l.endsWith(' web'))).toMatch(/0\.0\.0\.0:\d+->80\/tcp/);
    const full = await run(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Command}}', '--filter', 'name=box']);
    expect(full.stdout).toMatch(/^[0-9a-f]{64} "sh -c 'echo 0123456789abcdef; sleep 300'"$/);
  });
  it('ps --filter, -n, -l, -q, --format table', async () => {
    const names = async (...args: string[]) => (await run(['ps', ...args, '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean).sort();
    expect(await names()).toEqual(['box', 'web']);
    expect(await names('-a', '--filter', 'status=exited')).toEqual(['bad3', 'ok0']);
    expect(await names('--filter', 'exited=3')).toEqual(['bad3']);
    expect(await names('-a', '--filter', 'label=tier=front')).toEqual(['web']);
    expect(await names('-a', '--filter', 'label=code')).toEqual(['bad3', 'ok0']);
    expect(await names('-a', '--filter', 'name=^ok')).toEqual(['ok0']);
    expect(await names('-a', '--filter', 'ancestor=busybox', '--filter', 'network=none')).toEqual(['bad3', 'box', 'ok0']);
    expect(await names('-a', '--filter', 'since=ok0')).toEqual(['bad3', 'box']);
    expect(await names('-a', '--filter', 'before=ok0')).toEqual(['web']);
    expect(await names('-l')).toEqual(['box']);
    expect(await names('-n', '2')).toEqual(['bad3', 'box']);
    const t = await run(['ps', '--filter', 'name=web', '--format', 'table {{.Names}}\\t{{.Label "tier"}}\\t{{.State}}']);
    expect(t.stdout).toBe('NAMES     LABEL     STATE\nweb       front     running');
    // "table" alone is the default table (its times may tick between the two calls: compare the header and the rows' names).
    const shape = (out: string) => out.split('\n').map((l, i) => (i === 0 ? l : l.split(/\s+/).pop()));
    expect(shape((await run(['ps', '--format', 'table'])).stdout)).toEqual(shape((await run(['ps'])).stdout));
    const sized = await run(['ps', '-s', '--filter', 'name=web']);
    expect(sized.stdout).toMatch(/ +SIZE\n.* \d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]B\)$/);
    const bad = await run(['ps', '--filter', 'colour=red']);
    expect([bad.exitCode, bad.stderr.split('\n').length]).toEqual([1, 1]);
  });
  it("ps --format: docker's placeholders", async () => {
    const hostPort = (await f('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'web')).trim();
    const tpl = '{{.Names}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Ports}}|{{.Label "tier"}}|{{.Mounts}}|{{.Networks}}|{{.State}}|{{.LocalVolumes}}';
    const web = await run(['ps', '--filter', 'name=^web$', '--format', tpl]);
    // A mount's source is cut to 15 characters (docker's ellipsis), unless --no-trunc.
    const cut = [...vol].length > 15 ? `${vol.slice(0, 14)}…` : vol;
    // (.Status alone by pattern: a second may tick between two calls)
    const cells = web.stdout.split('|');
    expect(cells[3]).toMatch(/^Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes)$/);
    expect([...cells.slice(0, 3), ...cells.slice(4)].join('|')).toBe(`web|busybox|"sleep 300"|0.0.0.0:${hostPort}->80/tcp|front|${cut}|bridge|running|0`);
    expect((await run(['ps', '--no-trunc', '--filter', 'name=^web$', '--format', '{{.Mounts}}'])).stdout).toBe(vol);
    // {{.Labels}}: KEY=VALUE joined by commas (in key order: docker's follows its map's, any order).
    const labels: Record<string, string> = JSON.parse(await f('{{json .Config.Labels}}', 'web'));
    const joined = Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
    expect((await run(['ps', '--filter', 'name=^web$', '--format', '{{.Labels}}'])).stdout).toBe(joined);
    const bad3 = await run(['ps', '-a', '--filter', 'name=bad3', '--format', '{{.Status}}|{{.State}}|{{.Networks}}|{{.Ports}}|{{.RunningFor}}|{{.CreatedAt}}|{{.Size}}']);
    expect(bad3.stdout).toMatch(/^Exited \(3\) .+ ago\|exited\|none\|\|.+ ago\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\|\d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]?B\)$/);
  });
  it('ps --filter publish, expose, volume, health, network by id', async () => {
    const hostPort = (await f('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'web')).trim();
    const names = async (...args: string[]) => (await run(['ps', '-a', ...args, '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean).sort();
    expect(await names('--filter', `publish=${hostPort}`)).toEqual(['web']);
    expect(await names('--filter', `publish=${hostPort}/udp`)).toEqual([]);
    expect(await names('--filter', 'publish=80')).toEqual([]); // the host's port, not the container's
    expect(await names('--filter', 'expose=80/tcp')).toEqual(['web']);
    expect(await names('--filter', 'expose=1-100')).toEqual(['web']);
    expect(await names('--filter', 'volume=/data')).toEqual(['web']);
    expect(await names('--filter', `volume=${vol}`)).toEqual(['web']);
    expect(await names('--filter', 'health=none')).toEqual(['bad3', 'box', 'ok0', 'web']);
    const noneId = (await run(['network', 'inspect', '-f', '{{.Id}}', 'none'])).stdout;
    expect(await names('--filter', `network=${noneId.slice(0, 12)}`)).toEqual(['bad3', 'box', 'ok0']);
    expect(await names('--filter', 'health=healthy')).toEqual([]);
    for (const [flt, text] of [['publish=80:80', "filter for 'publish' should not contain ':'"], ['health=bogus', "invalid filter 'health=bogus'"], ['expose=abc', "invalid filter 'expose=abc'"]]) {
      const r = await run(['ps', '--filter', flt]);
      expect([r.exitCode, r.stderr.split('\n').length]).toEqual([1, 1]);
      expect(r.stderr).toContain(text);
    }
  });
  it('images: columns, a repository argument, --format, --digests', async () => {
    const r = await run(['images']);
    expect(r.stdout).toMatch(/^REPOSITORY   TAG       IMAGE ID       CREATED +SIZE\nbusybox      latest    [0-9a-f]{12}   /);
    expect((await run(['images', 'nosuch'])).stdout).toMatch(/^REPOSITORY   TAG       IMAGE ID   CREATED   SIZE$/);
    expect((await run(['images', 'busybox:latest', '--format', '{{.Repository}}:{{.Tag}}'])).stdout).toBe('busybox:latest');
    expect((await run(['images', '--digests'])).stdout).toMatch(/^REPOSITORY   TAG       DIGEST +IMAGE ID/);
    expect((await run(['images', '--no-trunc', '--format', '{{.ID}}'])).stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('version and info', () => {
  it("docker's keys, with --format", async () => {
    const keys = (o: object) => Object.keys(o);
    const v = JSON.parse((await run(['version', '--format', '{{json .}}'])).stdout);
    expect(keys(v)).toEqual(keys(JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/docker/version.json'), 'utf8'))));
    expect((await run(['version', '-f', '{{.Server.Version}}'])).stdout).toMatch(/^\d+\.\d+\.\d+$/);
    const docker = JSON.parse(fs.readFileSync(path.join(repo, 'test/fixtures/docker/info.json'), 'utf8'));
    const i = JSON.parse((await run(['info', '--format', 'json'])).stdout);
    expect(sameShape(docker, i, 'info', ['ID', 'Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'Driver', 'CgroupDriver', 'CgroupVersion', 'KernelVersion', 'OperatingSystem', 'OSType', 'Architecture', 'NCPU', 'MemTotal', 'DockerRootDir', 'Name', 'ServerVersion', 'SecurityOptions'])).toEqual([]);
    expect((await run(['info', '-f', '{{.Containers}} {{.ContainersRunning}} {{.DockerRootDir}}'])).stdout).toBe(`4 2 ${store.root}`);
  });
});

describe("docker's exit codes", () => {
  it('1 for what the daemon would refuse; 125 for run; 0 for minid alone and rm -f of nothing', async () => {
    expect((await run(['stop', 'nosuch'])).exitCode).toBe(1);
    expect((await run(['logs', 'nosuch'])).exitCode).toBe(1);
    expect((await run(['rm', '-f', 'nosuch'])).exitCode).toBe(0);
    expect((await run(['run', '--network', 'none', '--pull', 'never', 'nosuchimage'])).exitCode).toBe(125);
    expect((await run([])).exitCode).toBe(0);
    expect((await run(['ps', '--bogus'])).exitCode).toBe(125);
    const top = await run(['frobnicate']);
    expect(top.exitCode).toBe(1);
    expect(top.stderr).not.toMatch(/Did you mean/);
    const init = await run(['run', '--inti', 'busybox']);
    expect(init.stderr).not.toMatch(/Did you mean/);
  });
});
