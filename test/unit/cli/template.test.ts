// The Go template engine behind --format (src/cli/template.ts): what CI scripts write, and Go's
// printing, truthiness and error rules.
import { describe, expect, it } from 'vitest';
import { formatRows, goMap, nilMap, nilSlice, omitEmpty, parseTemplate, sprintf, tabwrite } from '../../../src/cli/template.js';

// A container as `inspect` shapes it (the parts these lines use); maps marked as Go maps.
const ctr = () => ({
  Id: 'f00dfeed'.repeat(8),
  Name: '/web',
  Created: '2026-12-06T03:00:00.000000000Z',
  Path: 'nginx',
  Args: ['-g', 'daemon off;'],
  State: { Status: 'running', Running: true, Paused: false, OOMKilled: false, Pid: 4242, ExitCode: 0, StartedAt: '2026-12-06T03:00:01Z', FinishedAt: '0001-01-01T00:00:00Z' },
  Image: 'sha256:' + 'ab'.repeat(32),
  Config: {
    Hostname: 'f00dfeedf00d',
    Env: ['PATH=/usr/bin', 'NGINX_VERSION=1.22'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    Image: 'nginx',
    Labels: goMap({ 'com.example.team': 'web', tier: 'front' }),
    ExposedPorts: goMap({ '80/tcp': goMap({}) }),
  },
  HostConfig: { NetworkMode: 'bridge', AutoRemove: false, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
  Mounts: [{ Type: 'bind', Source: '/srv/www', Destination: '/usr/share/nginx/html', RW: false }],
  NetworkSettings: {
    IPAddress: '10.88.0.5',
    Ports: goMap({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': nilSlice() }),
    Networks: goMap({ bridge: { IPAddress: '10.88.0.5', Gateway: '10.88.0.1', MacAddress: '02:42:0a:58:00:05' } }),
  },
});

const run = (tpl: string, data: unknown = ctr()) => parseTemplate(tpl).execute(data);

describe('twenty lines CI scripts write', () => {
  const cases: [string, string][] = [
    ['{{.State.Status}}', 'running'],
    ['{{.State.ExitCode}}', '0'],
    ['{{.State.Running}}', 'true'],
    ['{{.State.Pid}}', '4242'],
    ['{{.Id}}', 'f00dfeed'.repeat(8)],
    ['{{.Name}}', '/web'],
    ['{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', '10.88.0.5'],
    ['{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', '8080'],
    ['{{json .Config}}', JSON.stringify({ Hostname: 'f00dfeedf00d', Env: ['PATH=/usr/bin', 'NGINX_VERSION=1.22'], Cmd: ['nginx', '-g', 'daemon off;'], Image: 'nginx', Labels: { 'com.example.team': 'web', tier: 'front' }, ExposedPorts: { '80/tcp': {} } })],
    ['{{index .Config.Labels "com.example.team"}}', 'web'],
    ['{{.Config.Labels.tier}}', 'front'],
    ['{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', 'com.example.team=web;tier=front;'],
    ['{{join .Config.Env ","}}', 'PATH=/usr/bin,NGINX_VERSION=1.22'],
    ['{{range .Config.Env}}{{println .}}{{end}}', 'PATH=/usr/bin\nNGINX_VERSION=1.22\n'],
    ['{{if .State.Running}}up{{else}}down{{end}}', 'up'],
    ['{{if eq .State.Status "exited"}}gone{{else if eq .State.Status "running"}}alive{{end}}', 'alive'],
    ['{{range $p, $b := .NetworkSettings.Ports}}{{$p}} -> {{if $b}}{{(index $b 0).HostPort}}{{else}}none{{end}} {{end}}', '443/tcp -> none 80/tcp -> 8080 '],
    ['{{len .Mounts}} {{(index .Mounts 0).Source}}', '1 /srv/www'],
    ['{{printf "%s:%d" .Config.Hostname .State.Pid}}', 'f00dfeedf00d:4242'],
    ['{{upper .State.Status}} {{lower "ABC"}} {{.HostConfig.RestartPolicy.Name}}', 'RUNNING abc no'],
    ['{{with .State}}{{.Status}} since {{.StartedAt}}{{end}}', 'running since 2026-12-06T03:00:01Z'],
    ['{{.NetworkSettings.Networks.bridge.Gateway}}', '10.88.0.1'],
    ['{{json .NetworkSettings.Ports}}', '{"443/tcp":null,"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}'],
  ];
  for (const [tpl, want] of cases) it(tpl, () => expect(run(tpl)).toBe(want));
});

describe("Go's printing", () => {
  it('maps as map[k:v] sorted, slices as [a b], structs as {v v}, nil and missing', () => {
    expect(run('{{.Config.Labels}}')).toBe('map[com.example.team:web tier:front]');
    expect(run('{{.Args}}')).toBe('[-g daemon off;]');
    expect(run('{{.HostConfig.RestartPolicy}}')).toBe('{no 0}');
    expect(run('{{.Config.Labels.nosuch}}')).toBe('<no value>');
    expect(run('{{index .NetworkSettings.Ports "443/tcp"}}')).toBe('[]'); // a nil slice: null in JSON
    expect(run('{{index .NetworkSettings.Ports "8/udp"}} {{len (index .NetworkSettings.Ports "8/udp")}}')).toBe('[] 0');
    expect(run('[{{index .Config.Labels "nosuch"}}]')).toBe('[]'); // a map of strings: ""
    expect(run('{{.Nil}} {{.Ptr}}', { Nil: nilSlice(), Ptr: null })).toBe('[] <nil>');
    expect(run('{{.State.FinishedAt}}')).toBe('0001-01-01T00:00:00Z');
    expect(run('{{1.5}} {{0.000001}} {{true}}', {})).toBe('1.5 1e-06 true');
  });
  it('a missing struct field is an error, as in Go', () => {
    expect(() => run('{{.State.Nope}}')).toThrow(/can't evaluate field Nope/);
    expect(() => run('{{.Nope.X}}')).toThrow(/can't evaluate field Nope/);
  });
});

describe('truthiness and control', () => {
  it('empty things are false; structs are true', () => {
    const d = { z: 0, e: '', a: [], m: goMap({}), s: {}, n: null, one: [1] };
    expect(run('{{if .z}}y{{else}}n{{end}}{{if .e}}y{{else}}n{{end}}{{if .a}}y{{else}}n{{end}}{{if .m}}y{{else}}n{{end}}{{if .s}}y{{else}}n{{end}}{{if .n}}y{{else}}n{{end}}{{if .one}}y{{else}}n{{end}}', d)).toBe('nnnnyny');
  });
  it('range with else, break and continue, $ is the root', () => {
    expect(run('{{range .a}}x{{else}}empty{{end}}', { a: [] })).toBe('empty');
    expect(run('{{range .a}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}', { a: [0, 1, 2, 3, 4] })).toBe('02');
    expect(run('{{range .a}}{{$.n}}{{.}} {{end}}', { a: [1, 2], n: 'x' })).toBe('x1 x2 ');
  });
  it('and/or/not, comparisons, variables', () => {
    expect(run('{{and 1 0}} {{or 0 "" "b"}} {{not true}} {{lt 1 2}} {{ge "b" "a"}} {{ne 1 2}}', {})).toBe('0 b false true true true');
    expect(run('{{$x := .n}}{{$x}}{{$x = 5}}{{$x}}', { n: 3 })).toBe('35');
    expect(() => run('{{eq 1 "1"}}', {})).toThrow(/incompatible types/);
  });
  it('trims spaces with {{- and -}}, skips comments', () => {
    expect(run('a  {{- .n -}}  b {{/* note */}}c', { n: 1 })).toBe('a1b c');
  });
  it('pipelines pass the value as the last argument', () => {
    expect(run('{{.s | upper}} {{.s | printf "%s!"}} {{split "a,b" "," | len}}', { s: 'hi' })).toBe('HI hi! 2');
  });
  it('methods take arguments', () => {
    const row = { Label: (k: string) => ({ a: '1' } as Record<string, string>)[k] ?? '' };
    expect(run('{{.Label "a"}}|{{.Label "b"}}', row)).toBe('1|');
  });
});

describe('errors are one line', () => {
  it('parse errors', () => {
    expect(() => parseTemplate('{{.State.Status')).toThrow(/template parsing error: .*unclosed action/);
    expect(() => parseTemplate('{{if .a}}x')).toThrow(/missing \{\{end\}\}/);
    expect(() => parseTemplate('{{end}}')).toThrow(/unexpected \{\{end\}\}/);
    expect(() => run('{{nosuch .a}}', {})).toThrow(/function "nosuch" not defined/);
  });
  it('index out of range', () => {
    expect(() => run('{{index .a 3}}', { a: [1] })).toThrow(/index out of range: 3/);
  });
});

describe('printf', () => {
  it("follows Go's verbs", () => {
    expect(sprintf('%-6s|%5d|%05d|%.2f|%q|%v|%t|%x|%%', ['ab', 42, 42, 3.14159, 'x"y', [1, 2], true, 255])).toBe('ab    |   42|00042|3.14|"x\\"y"|[1 2]|true|ff|%');
    expect(sprintf('%d', ['a'])).toBe('%!d(string=a)');
    expect(sprintf('%s %s', ['a'])).toBe('a %!s(MISSING)');
  });
});

describe("tables as docker's tabwriter lays them out", () => {
  it('minimum width 10, padding 3, the last cell as it is', () => {
    expect(tabwrite('A\tBB\tC\nlonger-than-ten\tx\ty')).toBe('A                 BB        C\nlonger-than-ten   x         y');
  });
  it('table headers come from the context; \\t typed in the format is a tab', () => {
    const rows = [{ ID: () => 'abc', Names: () => 'web' }];
    expect(formatRows('table {{.ID}}\\t{{.Names}}', rows, { headers: { ID: 'CONTAINER ID', Names: 'NAMES' } })).toBe('CONTAINER ID   NAMES\nabc            web\n');
    expect(formatRows('{{.ID}}: {{.Names}}', rows)).toBe('abc: web\n');
    // A row's JSON: its fields (methods without arguments), keys sorted, as docker's.
    const row = { Names: () => 'web', ID: () => 'abc', Label: (k: string) => k };
    expect(formatRows('{{json .}}', [row])).toBe('{"ID":"abc","Names":"web"}\n');
    expect(formatRows('json', [row])).toBe('{"ID":"abc","Names":"web"}\n');
    expect(formatRows('table {{upper .Names}}', rows, { headers: { Names: 'NAMES' } })).toBe('NAMES\nWEB\n');
  });
});

describe("omitEmpty: Go's json omitempty", () => {
  it('an empty field stays for templates (its place, its zero printing) and leaves the JSON', () => {
    const bind = omitEmpty({ Type: 'bind', Name: '', Source: '/src', Destination: '/data', Driver: '', Mode: 'ro', RW: false, Propagation: 'rprivate' }, 'Name', 'Driver');
    const run = (tpl: string, v: unknown) => parseTemplate(tpl).execute(v);
    expect(run('{{.}}', [bind])).toBe('[{bind  /src /data  ro false rprivate}]');
    expect(run('{{json .}}', bind)).toBe('{"Type":"bind","Source":"/src","Destination":"/data","Mode":"ro","RW":false,"Propagation":"rprivate"}');
    expect(JSON.stringify(bind)).toBe(run('{{json .}}', bind));
    const cfg = omitEmpty({ A: 1, ExposedPorts: nilMap(), Health: null, StopTimeout: 0, Kept: 'x' }, 'ExposedPorts', 'Health', 'StopTimeout', 'Kept');
    expect(run('{{.ExposedPorts}} {{.Health}} {{.StopTimeout}}', cfg)).toBe('map[] <nil> 0');
    expect(JSON.stringify(cfg)).toBe('{"A":1,"StopTimeout":0,"Kept":"x"}');
  });
});
