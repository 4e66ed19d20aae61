// One HTTP(S) request to a registry, a token server or a CDN, on Node's own http/https
// (no extra package): a keep-alive agent per host and TLS setting, TLS verified against the
// system's CA bundle plus the host's certs.d CAs, client certificates for mutual TLS, the
// offline check before anything is resolved, HTTP(S)_PROXY, and errors as one clear line.
//
// certs.d, as docker and podman read it: for a registry HOST[:PORT], every directory
// BASE/HOST[:PORT]/ of the configured bases holds
//   *.crt               CA certificates trusted for that registry (on top of the system's)
//   NAME.cert NAME.key  a client certificate and its key (docker: client.cert, client.key)
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { fail, MinidError } from '../../errors.js';
import { checkAllowed } from './endpoint.js';
import { proxyFor } from './proxy.js';
import type { MinidConfig } from './config.js';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Do not verify the server's certificate (insecure-registries only). */
  skipVerify?: boolean;
  /** What this connection is for, in the offline error ("the registry", "the token server"). */
  what?: string;
  /** A request body (push: a manifest, or a blob streamed from the store). */
  body?: Buffer | NodeJS.ReadableStream;
}

/** The server does not speak TLS (a plain HTTP registry): the caller may retry over http://. */
export class NotTlsError extends MinidError {}

/** A failure worth retrying (reset or cut connection, timeout). */
export class TransientError extends MinidError {}

// The system bundle docker's Go client uses (crypto/x509's Linux list), read once and only
// when a TLS connection is made (Node's start-up stays free of it: bin/minid drops
// NODE_EXTRA_CA_CERTS for that reason).
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem'];
let systemCa: string[] | null = null;
function systemCAs(): string[] {
  if (systemCa) return systemCa;
  const file = [process.env.SSL_CERT_FILE, ...SYSTEM_BUNDLES].find((f) => f && fs.existsSync(f));
  systemCa = file ? [fs.readFileSync(file, 'utf8')] : [...tls.rootCertificates];
  return systemCa;
}

export interface HostTls {
  ca: string[];
  cert?: string;
  key?: string;
  /** The files read, for messages. */
  files: string[];
}

/** Read the certs.d directories for HOST[:PORT]. */
export function readCertsDirs(hostPort: string, bases: string[]): HostTls {
  const out: HostTls = { ca: [], files: [] };
  for (const base of bases) {
    const dir = path.join(base, hostPort.replace(/^\[(.*)\]/, '$1'));
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const f = path.join(dir, n);
      if (n.endsWith('.crt')) {
        out.ca.push(fs.readFileSync(f, 'utf8'));
        out.files.push(f);
      } else if (n.endsWith('.cert')) {
        const key = path.join(dir, `${n.slice(0, -5)}.key`);
        if (!fs.existsSync(key)) fail(`${f} has no key ${key} next to it: add it or remove the certificate`);
        out.cert = fs.readFileSync(f, 'utf8');
        out.key = fs.readFileSync(key, 'utf8');
        out.files.push(f, key);
      } else if (n.endsWith('.key') && !fs.existsSync(path.join(dir, `${n.slice(0, -4)}.cert`))) {
        fail(`${f} has no certificate ${n.slice(0, -4)}.cert next to it: add it or remove the key`);
      }
    }
  }
  return out;
}

const agents = new Map<string, http.Agent>();
const hostTls = new Map<string, HostTls>();

function tlsFor(hostPort: string, config: MinidConfig): HostTls {
  let t = hostTls.get(hostPort);
  if (!t) hostTls.set(hostPort, (t = readCertsDirs(hostPort, config.certsDirs)));
  return t;
}

// One secure context per host: its CA list is parsed once (the system bundle alone takes
// ~20-30 ms to parse here), not again for every connection the agent opens.
const contexts = new Map<string, tls.SecureContext>();

function tlsOptions(u: URL, config: MinidConfig, skipVerify: boolean): tls.ConnectionOptions {
  let secureContext = contexts.get(u.host);
  if (!secureContext) {
    const t = tlsFor(u.host, config);
    contexts.set(u.host, (secureContext = tls.createSecureContext({ ca: [...systemCAs(), ...t.ca], cert: t.cert, key: t.key })));
  }
  return { secureContext, rejectUnauthorized: !skipVerify, servername: /^[\d.]+$|^\[/.test(u.hostname) ? undefined : u.hostname };
}

/**
 * Does HOST:PORT answer a TLS handshake at all? For a registry that may be plain HTTP
 * (loopback, insecure-registries): asked first with a handshake that trusts no CA and sends
 * nothing, so that a plain-HTTP registry never costs the parsing of the CA bundle. True when
 * it speaks TLS, and when the answer is anything else (refused, a proxy in the way): the real
 * request then says what is wrong, verified as usual.
 */
export function speaksTls(u: URL, config: MinidConfig): Promise<boolean> {
  checkAllowed(u.host, config);
  if (proxyFor(u)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port || 443),
      servername: /^[\d.]+$|^\[/.test(u.hostname) ? undefined : u.hostname,
      secureContext: tls.createSecureContext({ ca: [] }),
      rejectUnauthorized: false, // a probe: the real connection verifies
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(!(connectionError(e, u, config) instanceof NotTlsError)));
  });
}

function agentFor(u: URL, config: MinidConfig, skipVerify: boolean): http.Agent {
  const key = `${u.protocol}//${u.host}${skipVerify ? ' insecure' : ''}`;
  let a = agents.get(key);
  if (!a) {
    a = u.protocol === 'https:' ? new https.Agent({ keepAlive: true, ...tlsOptions(u, config, skipVerify) }) : new http.Agent({ keepAlive: true });
    agents.set(key, a);
  }
  return a;
}

const UNKNOWN_CA = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'EPROTO']);
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

// TLS alerts a server sends about the client's certificate (a registry that wants mutual TLS):
// Go's server sends "bad certificate" (TLS 1.2) or "certificate required" (TLS 1.3) when none
// came, "bad certificate" or "unknown CA" when it does not trust the one that came.
const CLIENT_CERT_ALERT = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

/** Turn a socket or TLS error into one line naming the problem and the fix. */
export function connectionError(e: NodeJS.ErrnoException, u: URL, config: MinidConfig): MinidError {
  const code = e.code ?? '';
  const host = u.host;
  const certsDir = path.join(config.certsDirs[config.certsDirs.length - 1] ?? '/etc/minid/certs.d', host);
  const certsHint = `${certsDir}/ca.crt`;
  if (CLIENT_CERT_ALERT.test(code) && u.protocol === 'https:') {
    const cert = tlsFor(host, config).files.find((f) => f.endsWith('.cert'));
    if (!cert) return new MinidError(`${host} wants a client certificate (mutual TLS) and refused the connection without one: put it and its key in ${certsDir}/client.cert and client.key`);
    return new MinidError(`${host} refused the client certificate ${cert}: use one signed by a CA the registry trusts`);
  }
  if (UNKNOWN_CA.has(code))
    return new MinidError(`the TLS certificate of ${host} is signed by an unknown authority (${code}): put the registry's CA certificate in ${certsHint}`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return new MinidError(`the TLS certificate of ${host} is for another name (${e.message.replace(/\.?$/, '')}): use the name the certificate is for`);
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return new MinidError(`the TLS certificate of ${host} is not valid now (${code}): renew it on the registry`);
  if (NOT_TLS.has(code) || /wrong version number|packet length too long|http request/i.test(e.message))
    return new NotTlsError(`${host} does not speak TLS (${code}): list it in "insecure-registries" to use plain HTTP`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new MinidError(`cannot resolve ${u.hostname} (${code}): check the name and this machine's DNS`);
  if (code === 'ECONNREFUSED') return new MinidError(`cannot reach the registry at ${host} (ECONNREFUSED): is it running?`);
  if (TRANSIENT.has(code)) return new TransientError(`the connection to ${host} broke (${code})`);
  return new MinidError(`cannot reach ${host} (${code || e.message})`);
}

/** Open a tunnel through an HTTP proxy (CONNECT host:port), as Go's transport does for https://. */
function tunnel(proxy: URL, target: URL, config: MinidConfig): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const port = target.port || '443';
    const headers: Record<string, string> = { Host: `${target.hostname}:${port}` };
    if (proxy.username) headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${target.hostname}:${port}`, headers });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new MinidError(`the proxy ${proxy.host} refused to connect to ${target.host} (${res.statusCode} ${res.statusMessage}): check HTTPS_PROXY and NO_PROXY`));
        return;
      }
      resolve(socket);
    });
    req.once('error', (e) => reject(connectionError(e as NodeJS.ErrnoException, proxy, config)));
    req.end();
  });
}

/** Send one request; the body is the caller's to read or drain. Redirects are not followed. */
export async function request(u: URL, config: MinidConfig, opts: RequestOptions = {}): Promise<Response> {
  checkAllowed(u.host, config, opts.what);
  const proxy = proxyFor(u);
  if (proxy) checkAllowed(proxy.host, config, `the proxy for ${u.host}`);
  if (proxy?.protocol === 'https:')
    fail(`the proxy for ${u.host} is an https:// URL (TLS to the proxy itself), which minid does not speak: give it as http://${proxy.host} in HTTPS_PROXY or HTTP_PROXY`);
  const https_ = u.protocol === 'https:';
  const headers: Record<string, string> = { 'User-Agent': 'minid/0.1.0', ...opts.headers };
  let reqOpts: https.RequestOptions;
  if (proxy && https_) {
    // TLS with the registry inside the tunnel, handshake done before the request is written.
    // No agent: an agent (even `agent: false`, a fresh one) would ignore createConnection and
    // dial, and so resolve, the registry's name itself, around the proxy.
    const socket = await tunnel(proxy, u, config);
    const secured = tls.connect({ socket, ...tlsOptions(u, config, !!opts.skipVerify) });
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', resolve);
      secured.once('error', (e) => reject(connectionError(e as NodeJS.ErrnoException, u, config)));
    });
    reqOpts = { host: u.hostname, port: u.port || 443, path: u.pathname + u.search, createConnection: () => secured };
  } else if (proxy) {
    // Plain HTTP through a proxy: the absolute URL as the request target.
    reqOpts = { host: proxy.hostname, port: proxy.port || 80, path: u.href, agent: false };
    if (proxy.username) headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
  } else {
    reqOpts = { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || (https_ ? 443 : 80), path: u.pathname + u.search, agent: agentFor(u, config, !!opts.skipVerify) };
    if (https_ && !/^[\d.]+$|^\[/.test(u.hostname)) reqOpts.servername = u.hostname;
  }
  return new Promise((resolve, reject) => {
    const req = (https_ ? https : http).request({ ...reqOpts, method: opts.method ?? 'GET', headers: { Host: u.host, ...headers } }, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: u }),
    );
    req.once('error', (e) => reject(connectionError(e as NodeJS.ErrnoException, u, config)));
    if (opts.body && !Buffer.isBuffer(opts.body)) {
      const body = opts.body;
      body.once('error', (e) => req.destroy(e as Error));
      body.pipe(req);
    } else req.end(opts.body);
  });
}

/** Read a (small) body completely; refuse more than `limit` bytes. */
export async function readBody(res: Response, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        fail(`${res.url.host} sent more than ${limit} bytes for ${res.url.pathname}`);
      }
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof MinidError) throw e;
    throw new TransientError(`the connection to ${res.url.host} broke while reading ${res.url.pathname} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return Buffer.concat(chunks);
}

/** Throw the body away (so a keep-alive connection can be reused). */
export function drain(res: Response): void {
  res.body.resume();
}
