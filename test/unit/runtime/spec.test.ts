import { describe, expect, it } from 'vitest';
import {
  imageVolumes, mergeEnv, parseEnvFile, parseEnvFlag, parseExpose, parseMount, parseStopTimeout, parseTmpfs, parseUserFlag, parseVolume, randomName, resolveCommand, validateName,
} from '../../../src/runtime/spec.js';
import { userError } from '../../helpers/errors.js';

const err = (fn: () => unknown): string => userError(fn);

describe('-e and --env-file', () => {
  it('takes KEY=VALUE as is, and copies a bare KEY from the host', () => {
    expect(parseEnvFlag('A=b=c')).toBe('A=b=c');
    expect(parseEnvFlag('HOME_X', { HOME_X: '/x' })).toBe('HOME_X=/x');
    expect(parseEnvFlag('NOPE', {})).toBeNull();
  });
  it('refuses a malformed variable with a one-line hint', () => {
    expect(err(() => parseEnvFlag('=x'))).toMatch(/invalid environment variable "=x": use -e KEY=VALUE/);
    expect(err(() => parseEnvFlag('A B=1'))).toMatch(/invalid environment/);
  });
  it('reads env files, skipping comments and blank lines, naming the bad line', () => {
    expect(parseEnvFile('# c\nA=1\n\nB=two words\nC\n', 'f', { C: '3' })).toEqual(['A=1', 'B=two words', 'C=3']);
    expect(err(() => parseEnvFile('A=1\nbad line\n', 'my.env'))).toMatch(/line 2 in env file my.env/);
  });
  it('merges image env with user env, later wins, order kept', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3'])).toEqual(['PATH=/bin', 'A=2', 'B=3']);
  });
});

describe('-v', () => {
  it('parses host:container[:ro]', () => {
    expect(parseVolume('/tmp:/data')).toEqual({ host: '/tmp', container: '/data', readonly: false });
    expect(parseVolume('/tmp:/data/../x:ro')).toEqual({ host: '/tmp', container: '/x', readonly: true });
    expect(parseVolume('/tmp:/processes').container).toBe('/processes'); // not /proc
  });
  it.each([
    [':/data', /use -v \/host\/path:\/container\/path/],
    ['data', /container path must be absolute/],
    ['/data:ro', /container path must be absolute/], // docker: a mode needs a source
    ['/', /cannot mount over the container's root/],
    ['./rel:/data', /"\.\/rel" is not a volume name .*a host directory must be an absolute path$/],
    ['a/b:/data', /"a\/b" is not a volume name/],
    ['..:/data', /"\.\." is not a volume name/],
    ['x:/data', /"x" is not a volume name/],
    ['/tmp:data', /container path must be absolute/],
    ['/tmp:/data:rx', /invalid volume mode "rx"/],
    ['/tmp:/', /cannot mount over the container's root/],
    ['/tmp:/proc', /^invalid volume "\/tmp:\/proc": cannot mount over \/proc or anything in it$/],
    ['/tmp:/proc/sys/kernel:ro', /cannot mount over \/proc or anything in it/],
    ['/tmp:/x/../proc/', /cannot mount over \/proc/],
  ])('refuses %s', (v, re) => expect(err(() => parseVolume(v))).toMatch(re));
});

describe('anonymous volumes: -v /path, --mount without a source, the image\'s VOLUME', () => {
  it('are volumes without a name yet (named when the container is made)', () => {
    expect(parseVolume('/data/')).toEqual({ host: '', container: '/data', readonly: false, type: 'volume', name: '', anonymous: true });
    expect(parseMount('type=volume,target=/m,ro')).toMatchObject({ type: 'volume', name: '', anonymous: true, readonly: true, viaMount: true });
    expect(parseMount('target=/m')).toMatchObject({ type: 'volume', anonymous: true });
  });
  it('an image VOLUME is one unless a mount of the run is at its path', () => {
    const img = { Volumes: { '/var/lib/db': {}, '/cache/': {}, '/taken': {}, 'relative': {}, '/proc/x': {} } };
    expect(imageVolumes(img, [{ container: '/taken' }]).map((v) => [v.container, v.anonymous, v.type])).toEqual([
      ['/cache', true, 'volume'],
      ['/var/lib/db', true, 'volume'],
    ]);
    expect(imageVolumes({}, [])).toEqual([]);
    expect(imageVolumes({ Volumes: null }, [])).toEqual([]);
  });
});

describe('-v NAME:/path', () => {
  it('reads a name that is not a path as a named volume', () => {
    expect(parseVolume('data:/var/lib/db:ro')).toEqual({ host: '', container: '/var/lib/db', readonly: true, type: 'volume', name: 'data' });
    expect(parseVolume('my_vol.1-x:/d/').container).toBe('/d');
  });
});

describe('--mount', () => {
  it('parses docker\'s key=value forms', () => {
    expect(parseMount('type=bind,source=/tmp,target=/data,readonly')).toEqual({ host: '/tmp', container: '/data', readonly: true, type: 'bind', mustExist: true, viaMount: true });
    expect(parseMount('type=volume,src=db,dst=/var/db,volume-nocopy')).toMatchObject({ type: 'volume', name: 'db', container: '/var/db', readonly: false, noCopy: true });
    expect(parseMount('src=db,destination=/x,ro=false')).toMatchObject({ type: 'volume', name: 'db', readonly: false });
    expect(parseMount('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777')).toMatchObject({ type: 'tmpfs', container: '/t', tmpfsOptions: 'size=64m,mode=1777' });
  });
  it.each([
    ['bogus', /invalid field 'bogus' must be a key=value pair/],
    ['type=nfs,target=/x', /invalid type "nfs"/],
    ['type=bind,source=/tmp', /target is required/],
    ['type=bind,target=/x', /field Source must not be empty/],
    ['type=bind,source=rel,target=/x', /must be absolute/],
    ['type=volume,source=../etc,target=/x', /"\.\.\/etc" is not a volume name/],
    ['type=volume,source=a/b,target=/x', /is not a volume name/],
    ['type=tmpfs,source=/tmp,target=/x', /source must be empty/],
    ['type=tmpfs,target=/x,tmpfs-size=lots', /invalid tmpfs-size/],
    ['type=bind,source=/tmp,target=/x,readonly=maybe', /invalid value for readonly/],
    ['type=bind,source=/tmp,target=/x,colour=red', /unexpected key 'colour'/],
    ['type=bind,source=/tmp,target=/proc/sys', /cannot mount over \/proc/],
  ])('refuses %s', (m, re) => {
    const e = err(() => parseMount(m));
    expect(e).toMatch(re);
    expect(e.split('\n')).toHaveLength(1);
  });
});

describe('-u', () => {
  it('accepts numbers and names', () => {
    expect(parseUserFlag('1000')).toEqual({ user: '1000', group: undefined });
    expect(parseUserFlag('1000:100')).toEqual({ user: '1000', group: '100' });
    expect(parseUserFlag('www-data:adm')).toEqual({ user: 'www-data', group: 'adm' });
  });
  it.each(['', ':1', '1:', 'a:b:c', '-1'])('refuses %j', (u) => expect(err(() => parseUserFlag(u))).toMatch(/invalid user/));
});

describe('command resolution (docker rules)', () => {
  const img = { Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx', '-g', 'daemon off;'] };
  it('uses Entrypoint + Cmd by default', () => expect(resolveCommand(img, [])).toEqual(['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']));
  it('replaces Cmd with the arguments', () => expect(resolveCommand(img, ['sh'])).toEqual(['/docker-entrypoint.sh', 'sh']));
  it('--entrypoint drops the image Cmd', () => expect(resolveCommand(img, [], 'sh')).toEqual(['sh']));
  it('--entrypoint "" clears it', () => expect(resolveCommand(img, ['ls'], '')).toEqual(['ls']));
  it('refuses an image with nothing to run', () => expect(err(() => resolveCommand({}, []))).toMatch(/no command specified/));
});

describe('names', () => {
  it('validates like docker', () => {
    expect(validateName('web-1.a_b')).toBe('web-1.a_b');
    expect(err(() => validateName('-x'))).toMatch(/invalid container name/);
    expect(err(() => validateName('a/b'))).toMatch(/invalid container name/);
  });
  it('makes readable random names', () => expect(randomName(() => 0)).toBe('brave_bridge_0'));
});

describe('--expose and --stop-timeout', () => {
  it('expands a port or a range into ExposedPorts keys, tcp by default', () => {
    expect(parseExpose('80')).toEqual(['80/tcp']);
    expect(parseExpose('53/udp')).toEqual(['53/udp']);
    expect(parseExpose('8000-8002/tcp')).toEqual(['8000/tcp', '8001/tcp', '8002/tcp']);
  });
  it('refuses what is not a port', () => {
    for (const bad of ['', 'http', '0', '65536', '80/sctp', '90-80', '80/', '-1', '1-70000'])
      expect(() => parseExpose(bad), bad).toThrow(/invalid --expose/);
  });
  it('takes whole seconds, -1 for ever', () => {
    expect(parseStopTimeout('3')).toBe(3);
    expect(parseStopTimeout('-1')).toBe(-1);
    for (const bad of ['', 'x', '1.5', '-2', '1e3']) expect(() => parseStopTimeout(bad), bad).toThrow(/invalid --stop-timeout/);
  });
});

describe('--tmpfs', () => {
  it("mounts with docker's defaults, noexec,nosuid,nodev, and the options given", () => {
    expect(parseTmpfs('/run')).toEqual({ container: '/run', typed: '', options: 'noexec,nosuid,nodev' });
    expect(parseTmpfs('/tmp/:size=64m,mode=1770').options).toBe('noexec,nosuid,nodev,size=64m,mode=1770');
    expect(parseTmpfs('/tmp/').container).toBe('/tmp');
    expect(parseTmpfs('/x:exec,ro,uid=1000').options).toBe('nosuid,nodev,ro,uid=1000');
    expect(parseTmpfs('/x:ro,rw,suid,dev').options).toBe('noexec');
  });
  it('refuses a relative path, the root, /proc, and unknown or malformed options', () => {
    for (const bad of ['tmp', '/', '/proc/x', '/x:size=big', '/x:mode=999', '/x:bogus', '/x:uid=me', '/x:size'])
      expect(() => parseTmpfs(bad), bad).toThrow(/invalid --tmpfs/);
  });
});
