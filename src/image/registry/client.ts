// A registry client for one repository at one endpoint: the /v2/ ping that tells whether and
// how the registry wants authentication, then GETs with the right Authorization header,
// redirects followed to any host (a CDN) without that header, and 5xx/429 retried.
//
//   GET https://HOST/v2/            200: no auth; 401 + WWW-Authenticate: the challenge to answer
//   GET https://HOST/v2/REPO/...    Authorization: Bearer <token for repository:REPO:pull> | Basic ...
//     -> 307 Location: https://cdn.example/...   followed, Authorization NOT sent there
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, MinidError } from '../../errors.js';
import { authorization, basicFor, loginOf, parseChallenges, type Challenge, type Credentials } from './auth.js';
import type { MinidConfig } from './config.js';
import { credentialsFor } from './credentials.js';
import type { Endpoint } from './endpoint.js';
import { drain, NotTlsError, readBody, request, speaksTls, TransientError, type Response } from './transport.js';

/** Retries after the first attempt, and their delays (ms) unless Retry-After says otherwise. */
export const RETRY_DELAYS = [500, 1000, 2000];
const MAX_RETRY_AFTER_MS = 60_000;
const MAX_REDIRECTS = 10;

/** Retry-After: seconds or an HTTP date; null when absent or unreadable (pure). */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, MAX_RETRY_AFTER_MS);
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.min(Math.max(0, t - now), MAX_RETRY_AFTER_MS);
}

export class RegistryClient {
  /** The base URL after the ping ("https://..." or, after a fallback, "http://..."). */
  base: string;
  private challenge: Challenge | null = null;
  private creds: Credentials | null | undefined;
  private looking: Promise<Credentials | null> | undefined;
  private auth = new Map<string, string>();

  constructor(
    /** The registry as references name it ("docker.io", "127.0.0.1:5000"): credentials and messages. */
    readonly registry: string,
    readonly endpoint: Endpoint,
    readonly config: MinidConfig,
    /** Credentials to use instead of the stored ones (`minid login` checks them). */
    creds?: Credentials | null,
  ) {
    this.base = endpoint.url;
    this.creds = creds;
  }

  get host(): string {
    return new URL(this.base).host;
  }

  /** The saved credentials, looked up once (requests made at once share them: one helper run). */
  private credentials(): Promise<Credentials | null> {
    if (this.creds !== undefined) return Promise.resolve(this.creds);
    this.looking ??= credentialsFor(this.registry, this.config.authFile).then((c) => (this.creds = c));
    return this.looking;
  }

  /** GET /v2/: find the scheme (TLS or, where allowed, plain HTTP) and the auth challenge. */
  async ping(): Promise<void> {
    let res: Response;
    if (this.endpoint.httpFallback && this.base.startsWith('https:') && !(await speaksTls(new URL(this.base), this.config))) this.base = this.base.replace(/^https:/, 'http:');
    try {
      res = await this.send(new URL(`${this.base}/v2/`), {});
    } catch (e) {
      if (!(e instanceof NotTlsError) || !this.endpoint.httpFallback) throw e;
      this.base = this.base.replace(/^https:/, 'http:');
      res = await this.send(new URL(`${this.base}/v2/`), {});
    }
    drain(res);
    if (res.status === 401) {
      const all = parseChallenges(String(res.headers['www-authenticate'] ?? ''));
      this.challenge = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic') ?? all[0] ?? null;
      if (!this.challenge) fail(`${this.host} answered 401 to /v2/ without saying how to log in (no WWW-Authenticate)`, 1);
    } else if (res.status >= 500 || res.status === 429) {
      fail(`the registry at ${this.host} answered ${res.status} to /v2/: try again later`, 1);
    } else if (res.status !== 200) {
      fail(`${this.host} does not look like a container registry (/v2/ answered ${res.status})`, 1);
    } else if (/^text\/html\b/i.test(String(res.headers['content-type'] ?? ''))) {
      // A web server or a captive portal where a registry was expected (registries answer
      // /v2/ with JSON, or with nothing).
      fail(`${this.host} does not look like a container registry (/v2/ answered 200 with text/html, not the registry API): check the registry's name and port`, 1);
    }
  }

  private send(u: URL, headers: Record<string, string>, method = 'GET'): Promise<Response> {
    return request(u, this.config, { method, headers, skipVerify: this.endpoint.skipVerify && u.host === this.host, what: u.host === this.host ? 'the registry' : `a redirect of ${this.host}` });
  }

  /** Check credentials against the registry (for `minid login`): throws on a refusal. */
  async checkLogin(): Promise<void> {
    await this.ping();
    if (!this.challenge) return; // the registry wants no login: nothing to check
    const creds = await this.credentials();
    const header = await authorization(this.challenge, '', creds, this.registry, this.config);
    const res = await this.send(new URL(`${this.base}/v2/`), { Authorization: header });
    drain(res);
    if (res.status === 401 || res.status === 403) fail(`wrong username or password for ${this.registry}`, 1);
    if (res.status !== 200) fail(`${this.host} answered ${res.status} to the login check`, 1);
  }

  private async authHeader(scope: string): Promise<string | null> {
    if (!this.challenge) return null;
    let h = this.auth.get(scope);
    if (!h) {
      h = this.challenge.scheme === 'basic' ? basicFor(await this.credentials(), this.registry) : await authorization(this.challenge, scope, await this.credentials(), this.registry, this.config);
      this.auth.set(scope, h);
    }
    return h;
  }

  /**
   * GET `path` (below /v2/) for `repository`, with retries; returns a 2xx response whose body
   * the caller reads. `what` names the object in messages.
   */
  async get(repository: string, path: string, headers: Record<string, string>, what: string, method = 'GET'): Promise<Response> {
    const scope = `repository:${repository}:pull`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.once(new URL(`${this.base}/v2/${repository}/${path}`), headers, scope, what, method);
      } catch (e) {
        if (!(e instanceof TransientError) || attempt >= RETRY_DELAYS.length) throw e instanceof TransientError ? new MinidError(`${e.message} for ${what}, ${attempt + 1} times: try again later`, 1) : e;
        await sleep(RETRY_DELAYS[attempt]);
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        drain(res);
        if (attempt >= RETRY_DELAYS.length)
          fail(`${res.url.host} answered ${res.status} ${res.body.statusMessage ?? ''} for ${what}, ${attempt + 1} times: try again later`.replace(/  +/g, ' '), 1);
        await sleep(retryAfterMs(res.headers['retry-after'] as string | undefined) ?? RETRY_DELAYS[attempt]);
        continue;
      }
      return res;
    }
  }

  /**
   * HEAD `path` (below /v2/) for `repository`, retried as a GET is: the headers of a 2xx
   * answer (a manifest's Docker-Content-Digest and Content-Type), or null for any other answer
   * (404, a refusal: there is no body to explain it with; the caller GETs, which says why).
   */
  async head(repository: string, path: string, headers: Record<string, string>, what: string): Promise<Response | null> {
    const res = await this.get(repository, path, headers, what, 'HEAD');
    drain(res);
    return res.status >= 200 && res.status < 300 ? res : null;
  }

  /**
   * The line for a 404: the registry's error code (distribution's NAME_UNKNOWN: no such
   * repository; MANIFEST_UNKNOWN: no such tag) says which name is wrong.
   */
  private async notFound(res: Response, u: URL, what: string): Promise<string> {
    let code = '';
    try {
      const body = JSON.parse((await readBody(res, 64 << 10)).toString('utf8')) as { errors?: { code?: string }[] };
      code = body.errors?.[0]?.code ?? '';
    } catch {
      /* no JSON body: say it plainly below */
    }
    const m = new RegExp(`/v2/(.+)/manifests/([^/]+)$`).exec(u.pathname);
    if (m && code === 'NAME_UNKNOWN') return `repository ${this.registry}/${m[1]} not found: check the name (a private repository may also need \`minid login ${this.registry}\`)`;
    // distribution says MANIFEST_UNKNOWN for a repository it does not have too: its tag list tells.
    if (m && code === 'MANIFEST_UNKNOWN' && !(await this.repositoryExists(m[1])))
      return `repository ${this.registry}/${m[1]} not found: check the name (a private repository may also need \`minid login ${this.registry}\`)`;
    if (m && code === 'MANIFEST_UNKNOWN' && !m[2].startsWith('sha256:')) return `manifest for ${what} not found: ${this.registry}/${m[1]} has no tag ${JSON.stringify(decodeURIComponent(m[2]))}`;
    if (m && code === 'MANIFEST_UNKNOWN') return `manifest for ${what} not found: ${this.registry}/${m[1]} has no manifest ${decodeURIComponent(m[2])}`;
    return `${what} not found in the registry at ${this.host}`;
  }

  private async repositoryExists(repository: string): Promise<boolean> {
    try {
      const res = await this.once(new URL(`${this.base}/v2/${repository}/tags/list?n=1`), {}, `repository:${repository}:pull`, `the tags of ${repository}`);
      drain(res);
      return res.status < 300;
    } catch {
      return false;
    }
  }

  /** One GET (or HEAD) with its redirects. */
  private async once(u: URL, headers: Record<string, string>, scope: string, what: string, method = 'GET'): Promise<Response> {
    const origin = new URL(this.base).origin;
    const auth = await this.authHeader(scope);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      // The registry's Authorization goes to the registry only: a redirect target (a CDN)
      // gets a pre-signed URL and must never see the token or the password.
      const h = { ...headers, ...(auth && u.origin === origin ? { Authorization: auth } : {}) };
      const res = await this.send(u, h, method);
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        drain(res);
        u = new URL(location, u);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') fail(`${res.url.host} redirects ${what} to a ${u.protocol} URL`, 1);
        continue;
      }
      if (method === 'HEAD') return res; // no body to explain a refusal with: head() leaves that to a GET
      if (res.status === 401 || res.status === 403) {
        drain(res);
        const creds = await this.credentials();
        if (!this.challenge) fail(`${res.url.host} refused ${what} (${res.status}) though /v2/ wanted no login`, 1);
        if (creds) fail(`${this.registry} refused ${what} ${loginOf(creds)} (${res.status}): check the name and your access, or run \`minid login ${this.registry}\` again`, 1);
        fail(`${this.registry} refused ${what} without a login (${res.status}): it may not exist, or need \`minid login ${this.registry}\``, 1);
      }
      if (res.status === 404) fail(await this.notFound(res, u, what), 1);
      if (res.status >= 400 && res.status < 500 && res.status !== 429) {
        drain(res);
        fail(`the registry at ${res.url.host} answered ${res.status} ${res.body.statusMessage ?? ''} for ${what}`.trimEnd(), 1);
      }
      return res;
    }
    fail(`too many redirects for ${what}`, 1);
  }

  // =====================================================================================
  // Push (`minid push`): the requests of the way back out, separate from the GETs above.
  //
  //   HEAD /v2/REPO/blobs/DIGEST                         200: the registry has it already
  //   POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=R   201: mounted from repository R
  //   POST /v2/REPO/blobs/uploads/                       202, Location: the upload session
  //   PUT  LOCATION?digest=DIGEST   (the whole blob)     201: stored, checked against DIGEST
  //   PUT  /v2/REPO/manifests/TAG   Content-Type: the manifest's media type   201
  //
  // Authorization as for pulls, with the scope "repository:REPO:pull,push" (plus
  // "repository:R:pull" for a mount: the token must let us read the source).

  /**
   * One push request, retried on a broken connection or a 5xx/429 (honouring Retry-After);
   * any other status is the caller's. `body` is a function so that a retry sends it again.
   * The Authorization header goes to the registry's origin only.
   */
  async pushRequest(
    method: string,
    target: URL,
    opts: { scope: string; what: string; headers?: Record<string, string>; body?: () => Buffer | NodeJS.ReadableStream },
  ): Promise<Response> {
    const auth = await this.authHeader(opts.scope);
    const sameOrigin = target.origin === new URL(this.base).origin;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await request(target, this.config, {
          method,
          headers: { ...opts.headers, ...(auth && sameOrigin ? { Authorization: auth } : {}) },
          body: opts.body?.(),
          skipVerify: this.endpoint.skipVerify && sameOrigin,
          what: sameOrigin ? 'the registry' : `an upload location of ${this.host}`,
        });
      } catch (e) {
        if (!(e instanceof TransientError) || attempt >= RETRY_DELAYS.length) throw e instanceof TransientError ? new MinidError(`${e.message} for ${opts.what}, ${attempt + 1} times: try again later`, 1) : e;
        await sleep(RETRY_DELAYS[attempt]);
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        const why = await registryErrors(res);
        if (attempt >= RETRY_DELAYS.length) fail(`${res.url.host} answered ${res.status}${why} for ${opts.what}, ${attempt + 1} times: try again later`, 1);
        await sleep(retryAfterMs(res.headers['retry-after'] as string | undefined) ?? RETRY_DELAYS[attempt]);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        const why = await registryErrors(res);
        const creds = await this.credentials();
        const who = creds ? loginOf(creds) : 'without a login';
        fail(`${this.registry} refused ${opts.what} ${who} (${res.status}${why}): run \`minid login ${this.registry}\` with an account that may push there`, 1);
      }
      return res;
    }
  }

  private v2(repository: string, rest: string): URL {
    return new URL(`${this.base}/v2/${repository}/${rest}`);
  }

  /** Does the registry have this blob in this repository already? */
  async blobExists(repository: string, digest: string, scope: string, what: string): Promise<boolean> {
    const res = await this.pushRequest('HEAD', this.v2(repository, `blobs/${digest}`), { scope, what });
    drain(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    fail(`${res.url.host} answered ${res.status} to the check for ${what}`, 1);
  }

  /**
   * Open an upload session; with `mount`, ask the registry to link the blob from another
   * repository instead. Returns "mounted", or the session's URL (a registry that does not
   * mount, or cannot, answers with a session: the blob is then uploaded).
   */
  async startUpload(repository: string, scope: string, what: string, mount?: { digest: string; from: string }): Promise<'mounted' | URL> {
    const u = this.v2(repository, 'blobs/uploads/');
    if (mount) {
      u.searchParams.set('mount', mount.digest);
      u.searchParams.set('from', mount.from);
    }
    const res = await this.pushRequest('POST', u, { scope, what, headers: { 'Content-Length': '0' } });
    const why = await registryErrors(res);
    if (res.status === 201 && mount) return 'mounted';
    const location = res.headers.location;
    if (res.status !== 202 || !location) fail(`${res.url.host} answered ${res.status}${why} when asked to start the upload of ${what}`, 1);
    return new URL(location, u);
  }

  /** Send a whole blob to an upload session (a monolithic upload). */
  async putBlob(session: URL, digest: string, size: number, open: () => NodeJS.ReadableStream, scope: string, what: string): Promise<void> {
    const u = new URL(session);
    u.searchParams.set('digest', digest);
    const res = await this.pushRequest('PUT', u, {
      scope,
      what,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: open,
    });
    const why = await registryErrors(res);
    if (res.status !== 201) fail(`${res.url.host} did not accept ${what} (${res.status}${why})`, 1);
  }

  /** PUT a manifest under a tag; returns the digest the registry computed. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer, scope: string, what: string): Promise<string | null> {
    const res = await this.pushRequest('PUT', this.v2(repository, `manifests/${reference}`), {
      scope,
      what,
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: () => bytes,
    });
    const why = await registryErrors(res);
    if (res.status !== 201 && res.status !== 200) fail(`${res.url.host} did not accept ${what} (${res.status}${why})`, 1);
    const d = res.headers['docker-content-digest'];
    return typeof d === 'string' ? d : null;
  }
}

/**
 * The errors a registry explains a refusal with ({"errors": [{"code", "message"}]}), as
 * ": CODE: message; ..." for a message (empty when the body has none); reads the body.
 */
async function registryErrors(res: Response): Promise<string> {
  let text = '';
  try {
    text = (await readBody(res, 64 << 10)).toString('utf8');
  } catch {
    return '';
  }
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const list = (j.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    return list.length ? `: ${list.join('; ').slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
