import { describe, expect, it } from 'vitest';
import { basicFor, loginOf, parseChallenges, parseTokenResponse, refreshTokenForm } from '../../../src/image/registry/auth.js';
import { retryAfterMs } from '../../../src/image/registry/client.js';
import { parseConfig, DEFAULT_CERTS_DIRS, type MinidConfig } from '../../../src/image/registry/config.js';
import { authKey, decodeAuth, keyHost } from '../../../src/image/registry/credentials.js';
import { checkAllowed, endpointsFor, isLoopback } from '../../../src/image/registry/endpoint.js';
import { noProxyMatches, proxyFor } from '../../../src/image/registry/proxy.js';
import { connectionError } from '../../../src/image/registry/transport.js';
import { registryArg } from '../../../src/cli/commands/login.js';

const cfg = (o: object = {}): MinidConfig => parseConfig(JSON.stringify(o), '/etc/minid/config.json');
const msg = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
};

describe('config file', () => {
  it('reads the documented keys, with defaults', () => {
    expect(cfg()).toEqual({ registryMirrors: [], insecureRegistries: [], offline: false, allowedRegistries: [], certsDirs: DEFAULT_CERTS_DIRS, authFile: '/etc/minid/auth.json', maxConcurrentDownloads: null, maxConcurrentUploads: null, source: '/etc/minid/config.json' });
    const c = cfg({ 'registry-mirrors': ['https://mirror.example.com/'], 'insecure-registries': ['http://10.0.0.5:5000/'], offline: true, 'allowed-registries': ['Corp.Example'], 'certs-dirs': ['/tmp/c'], 'auth-file': '/tmp/a.json' });
    expect(c).toMatchObject({ registryMirrors: ['https://mirror.example.com'], insecureRegistries: ['10.0.0.5:5000'], offline: true, allowedRegistries: ['corp.example'], certsDirs: ['/tmp/c'], authFile: '/tmp/a.json' });
  });
  it('refuses what it cannot use, in one line', () => {
    expect(msg(() => parseConfig('{', 'f.json'))).toMatch(/^f\.json is not valid JSON/);
    expect(msg(() => cfg({ 'registry-mirror': [] }))).toMatch(/unknown key "registry-mirror"/);
    expect(msg(() => cfg({ offline: 'yes' }))).toMatch(/"offline" must be true or false/);
    expect(msg(() => cfg({ 'registry-mirrors': ['mirror.example.com'] }))).toMatch(/is not a URL/);
    expect(msg(() => cfg({ 'registry-mirrors': ['https://u:p@m.example.com'] }))).toMatch(/without path or credentials/);
    expect(msg(() => cfg({ 'insecure-registries': 'x' }))).toMatch(/must be a list of strings/);
  });
});

describe('endpoints as docker resolves them', () => {
  it('docker.io: the mirrors first, then registry-1.docker.io', () => {
    expect(endpointsFor('docker.io', cfg())).toEqual([{ url: 'https://registry-1.docker.io', mirror: false, httpFallback: false, skipVerify: false }]);
    expect(endpointsFor('docker.io', cfg({ 'registry-mirrors': ['http://127.0.0.1:5000', 'https://m.example.com'] })).map((e) => [e.url, e.mirror])).toEqual([
      ['http://127.0.0.1:5000', true],
      ['https://m.example.com', true],
      ['https://registry-1.docker.io', false],
    ]);
  });
  it('HOST[:PORT]: HTTPS, plain HTTP allowed for loopback and insecure registries only', () => {
    expect(endpointsFor('registry.example.com', cfg())).toEqual([{ url: 'https://registry.example.com', mirror: false, httpFallback: false, skipVerify: false }]);
    expect(endpointsFor('127.0.0.1:5000', cfg())[0]).toMatchObject({ url: 'https://127.0.0.1:5000', httpFallback: true, skipVerify: false });
    expect(endpointsFor('10.0.0.5:5000', cfg({ 'insecure-registries': ['10.0.0.5:5000'] }))[0]).toMatchObject({ httpFallback: true, skipVerify: true });
    expect(endpointsFor('10.0.0.5:5001', cfg({ 'insecure-registries': ['10.0.0.5:5000'] }))[0]).toMatchObject({ httpFallback: false });
    expect(endpointsFor('10.0.0.5:5001', cfg({ 'insecure-registries': ['10.0.0.5'] }))[0]).toMatchObject({ httpFallback: true });
  });
  it('loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3:5000', 'localhost', 'localhost:5000', '[::1]:5000']) expect(isLoopback(h)).toBe(true);
    for (const h of ['128.0.0.1', 'localhost.example.com', '10.0.0.1:5000', 'registry-1.docker.io']) expect(isLoopback(h)).toBe(false);
  });
  it('offline refuses all but loopback and the allowed ones', () => {
    const off = cfg({ offline: true, 'allowed-registries': ['corp.example'] });
    expect(msg(() => checkAllowed('127.0.0.1:5000', off))).toBeNull();
    expect(msg(() => checkAllowed('corp.example:443', off))).toBeNull();
    expect(msg(() => checkAllowed('registry-1.docker.io', off))).toBe(
      'refusing to connect to registry-1.docker.io (the registry): minid is offline ("offline": true in /etc/minid/config.json); pull from a registry on this machine, or add registry-1.docker.io to "allowed-registries" there',
    );
    expect(msg(() => checkAllowed('registry-1.docker.io', cfg()))).toBeNull();
  });
});

describe('WWW-Authenticate challenges', () => {
  it('parses bearer and basic, one or several', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Bearer realm="https://a/t", service=reg, Basic realm="x \\"q\\""')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg' } },
      { scheme: 'basic', params: { realm: 'x "q"' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
  it('reads token answers: token or access_token, expires_in (60 s at least)', () => {
    expect(parseTokenResponse('{"token":"t","expires_in":300}', 1_000_000)).toEqual({ token: 't', until: 1_000_000 + 300_000 - 5000 });
    expect(parseTokenResponse('{"access_token":"a"}', 0)).toEqual({ token: 'a', until: 55_000 });
    expect(parseTokenResponse('{"token":""}')).toBeNull();
    expect(parseTokenResponse('nope')).toBeNull();
  });
  it('OAuth2: the refresh_token grant as a form, and a rotated refresh token read back', () => {
    const f = new URLSearchParams(refreshTokenForm('r3fr/sh+tok=', 'reg.example', ['repository:a/b:pull,push', 'repository:c/d:pull']));
    expect(Object.fromEntries(f)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'r3fr/sh+tok=',
      client_id: 'docker',
      service: 'reg.example',
      scope: 'repository:a/b:pull,push repository:c/d:pull',
    });
    // No service, no scope (a login check): the fields are left out.
    expect([...new URLSearchParams(refreshTokenForm('t', undefined, [])).keys()]).toEqual(['grant_type', 'refresh_token', 'client_id']);
    expect(parseTokenResponse('{"access_token":"a","expires_in":120,"refresh_token":"r2"}', 0)).toEqual({ token: 'a', until: 115_000, refreshToken: 'r2' });
    expect(parseTokenResponse('{"access_token":"a","refresh_token":""}', 0)).toEqual({ token: 'a', until: 55_000 });
  });
  it('messages name a login without its secret; Basic auth takes no identity token', () => {
    expect(loginOf({ username: 'me', password: 'pw' })).toBe('for user me');
    expect(loginOf({ username: '<token>', password: '', identityToken: 'SECRET-TOK' })).toBe('with an identity token');
    expect(basicFor({ username: 'me', password: 'pw' }, 'r')).toBe(`Basic ${Buffer.from('me:pw').toString('base64')}`);
    const m = msg(() => basicFor({ username: 'me', password: '', identityToken: 'SECRET-TOK' }, 'reg:5000'));
    expect(m).toBe('reg:5000 wants a username and password (Basic auth), not the identity token saved for it: run `minid login reg:5000`');
    expect(msg(() => basicFor(null, 'reg:5000'))).toBe('reg:5000 wants a login: run `minid login reg:5000`');
  });
  it('Retry-After: seconds or a date, capped', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('3600')).toBe(60_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 7_000)).toBe(3000);
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });
});

describe('credentials in docker config.json', () => {
  it('decodes auth, keys by host', () => {
    expect(decodeAuth({ auth: Buffer.from('me:pa:ss').toString('base64') }, 'f')).toEqual({ username: 'me', password: 'pa:ss' });
    expect(decodeAuth({ username: 'u', password: 'p' }, 'f')).toEqual({ username: 'u', password: 'p' });
    expect(decodeAuth({}, 'f')).toBeNull();
    // identitytoken (as docker saves it: beside "auth" of "user:", or alone) wins over a password.
    expect(decodeAuth({ auth: Buffer.from('me:').toString('base64'), identitytoken: 'idt' }, 'f')).toEqual({ username: 'me', password: '', identityToken: 'idt' });
    expect(decodeAuth({ identitytoken: 'idt' }, 'f')).toEqual({ username: '<token>', password: '', identityToken: 'idt' });
    expect(decodeAuth({ username: 'u', password: 'p', identitytoken: 'idt' }, 'f')).toEqual({ username: 'u', password: '', identityToken: 'idt' });
    expect(msg(() => decodeAuth({ auth: Buffer.from('nocolon').toString('base64') }, 'f'))).toMatch(/^f: an "auth" value is not base64 of user:password/);
    expect(keyHost('https://index.docker.io/v1/')).toBe('index.docker.io');
    expect(keyHost('http://Host:5000')).toBe('host:5000');
    expect(authKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(authKey('host:5000')).toBe('host:5000');
  });
  it('login arguments name a registry as docker does', () => {
    expect(registryArg(undefined)).toBe('docker.io');
    expect(registryArg('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryArg('https://Host:5000/')).toBe('host:5000');
    expect(msg(() => registryArg('a b'))).toMatch(/invalid registry/);
  });
});

describe('HTTPS_PROXY / NO_PROXY as Go reads them', () => {
  const u = (s: string) => new URL(s);
  it('matches NO_PROXY entries', () => {
    expect(noProxyMatches('*', u('https://x.example'))).toBe(true);
    expect(noProxyMatches('example.com', u('https://example.com'))).toBe(true);
    expect(noProxyMatches('example.com', u('https://a.example.com'))).toBe(true);
    expect(noProxyMatches('.example.com', u('https://example.com'))).toBe(false);
    expect(noProxyMatches('.example.com', u('https://a.example.com'))).toBe(true);
    expect(noProxyMatches('*.example.com', u('https://a.example.com'))).toBe(true);
    expect(noProxyMatches('example.com:5000', u('https://example.com'))).toBe(false);
    expect(noProxyMatches('example.com:443', u('https://example.com'))).toBe(true);
    expect(noProxyMatches('10.0.0.0/8', u('https://10.1.2.3:5000'))).toBe(true);
    expect(noProxyMatches('10.0.0.0/8', u('https://11.1.2.3'))).toBe(false);
    expect(noProxyMatches(' other.org , 10.1.2.3', u('http://10.1.2.3'))).toBe(true);
    expect(noProxyMatches('notexample.com', u('https://example.com'))).toBe(false);
  });
  it('picks the proxy by scheme, never for loopback', () => {
    const env = { HTTPS_PROXY: 'proxy.corp:3128', http_proxy: 'http://p2:80', NO_PROXY: 'internal.corp' };
    expect(proxyFor(u('https://registry-1.docker.io/v2/'), env)?.href).toBe('http://proxy.corp:3128/');
    expect(proxyFor(u('http://r.example/v2/'), env)?.href).toBe('http://p2/');
    expect(proxyFor(u('https://reg.internal.corp/v2/'), env)).toBeNull();
    expect(proxyFor(u('https://127.0.0.1:5000/v2/'), env)).toBeNull();
    expect(proxyFor(u('https://localhost/v2/'), env)).toBeNull();
    expect(proxyFor(u('https://x.example/'), {})).toBeNull();
  });
});

describe('connection errors in one line', () => {
  const err = (code: string, url = 'https://127.0.0.1:5000/v2/') => connectionError(Object.assign(new Error(code), { code }), new URL(url), cfg({ 'certs-dirs': ['/nonexistent/certs.d'] })).message;
  it('a registry that wants a client certificate (mutual TLS) names the files to add', () => {
    for (const code of ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'])
      expect(err(code)).toBe('127.0.0.1:5000 wants a client certificate (mutual TLS) and refused the connection without one: put it and its key in /nonexistent/certs.d/127.0.0.1:5000/client.cert and client.key');
  });
  it('an unknown CA, a refused connection, a name that does not resolve', () => {
    expect(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toMatch(/signed by an unknown authority .*: put the registry's CA certificate in \/nonexistent\/certs\.d\/127\.0\.0\.1:5000\/ca\.crt$/);
    expect(err('ECONNREFUSED')).toBe('cannot reach the registry at 127.0.0.1:5000 (ECONNREFUSED): is it running?');
    expect(err('ENOTFOUND', 'https://r.example/v2/')).toBe("cannot resolve r.example (ENOTFOUND): check the name and this machine's DNS");
  });
});
