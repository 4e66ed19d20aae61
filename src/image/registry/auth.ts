// Registry authentication, as distribution specifies it and docker does it:
//
//   GET /v2/                      -> 401, WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry.example"
//   GET <realm>?service=...&scope=repository:library/nginx:pull     (Basic user:pass if logged in, else anonymous)
//                                 -> {"token": "...", "expires_in": 300}   (or "access_token")
//   GET /v2/library/nginx/...     Authorization: Bearer <token>
//
// With an identity token (a credential helper's {"Username":"<token>","Secret":REFRESH}, or
// config.json's "identitytoken") the token comes from the OAuth2 flow of distribution's
// spec/auth/oauth.md instead, as docker does it:
//
//   POST <realm>   Content-Type: application/x-www-form-urlencoded
//     grant_type=refresh_token&refresh_token=REFRESH&service=...&scope=...&client_id=docker
//                                 -> {"access_token": "...", "expires_in": 300, "refresh_token": "..."}
//
// A new refresh_token in the answer replaces the old one for the rest of this run, in memory
// only (docker never writes it back either). A token server that does not speak OAuth2 answers
// the POST with 404 (or 405): the spec then points to the GET above, which minid sends with
// the identity token as the Basic password.
//
// or, for a registry with a `Basic realm=...` challenge, the credentials on every request.
// Tokens are kept per realm, service and scope for their expires_in (60 s when not given, as
// the token spec says). Credentials (passwords, identity tokens, tokens) never appear in a
// message.
import { fail } from '../../errors.js';
import type { MinidConfig } from './config.js';
import { readBody, request, type Response } from './transport.js';

export interface Challenge {
  scheme: string; // lower case: "bearer", "basic"
  params: Record<string, string>;
}

/**
 * Parse a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme and
 * comma-separated key=value or key="quoted value" parameters. Node joins repeated headers
 * with ", ", which this grammar reads back as several challenges.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && /[\s,]/.test(s[i])) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipWs();
    const scheme = token();
    if (!scheme) {
      i++;
      continue;
    }
    const c: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(c);
    for (;;) {
      skipWs();
      const save = i;
      const key = token();
      while (s[i] === ' ') i++;
      if (!key || s[i] !== '=') {
        i = save; // the next challenge's scheme (or a token68, which registries do not use)
        break;
      }
      i++;
      while (s[i] === ' ') i++;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        const m = /^[^,\s]*/.exec(s.slice(i))!;
        value = m[0];
        i += value.length;
      }
      c.params[key.toLowerCase()] = value;
    }
  }
  return out;
}

export interface Credentials {
  username: string;
  password: string;
  /** An identity token (an OAuth2 refresh token) that stands for the password: the POST flow. */
  identityToken?: string;
}

/** The OAuth2 client_id minid sends: docker's, as token servers know it (the spec asks for one). */
export const OAUTH_CLIENT_ID = 'docker';

/** How a message names a login, never with its secret: "for user NAME", "with an identity token". */
export const loginOf = (c: Credentials): string => (c.identityToken ? 'with an identity token' : `for user ${c.username}`);

interface Cached {
  token: string;
  until: number;
  /** A new refresh token (OAuth2 answers only). */
  refreshToken?: string;
}
const tokens = new Map<string, Cached>();

/** Decode a token server's answer: the token and how long it may be used (ms since epoch). */
export function parseTokenResponse(body: string, now = Date.now()): Cached | null {
  let j: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown; refresh_token?: unknown };
  try {
    j = JSON.parse(body);
  } catch {
    return null;
  }
  const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' && j.access_token ? j.access_token : null;
  if (!token) return null;
  const expires = typeof j.expires_in === 'number' && j.expires_in >= 60 ? j.expires_in : 60;
  const issued = typeof j.issued_at === 'string' && !Number.isNaN(Date.parse(j.issued_at)) ? Math.min(Date.parse(j.issued_at), now) : now;
  // A little early, so a token does not run out between this check and the request.
  const t: Cached = { token, until: issued + expires * 1000 - 5000 };
  if (typeof j.refresh_token === 'string' && j.refresh_token) t.refreshToken = j.refresh_token;
  return t;
}

/**
 * The body of the OAuth2 refresh_token grant (distribution's spec/auth/oauth.md): several
 * scopes are one space-separated `scope` field there, not several parameters (pure).
 */
export function refreshTokenForm(refreshToken: string, service: string | undefined, scopes: string[]): string {
  const f = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: OAUTH_CLIENT_ID });
  if (service) f.set('service', service);
  if (scopes.length) f.set('scope', scopes.join(' '));
  return f.toString();
}

export const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/** The Basic header for a registry with a `Basic` challenge: a password login only. */
export function basicFor(c: Credentials | null, registry: string): string {
  if (!c) fail(`${registry} wants a login: run \`minid login ${registry}\``, 1);
  if (c.identityToken) fail(`${registry} wants a username and password (Basic auth), not the identity token saved for it: run \`minid login ${registry}\``, 1);
  return basic(c);
}

/** The OAuth2 error code of a refusal ({"error": "invalid_grant"}), as " invalid_grant"; never free text, which might echo the token. */
function oauthError(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown }).error;
    return typeof e === 'string' && /^[a-z_]{1,40}$/.test(e) ? ` ${e}` : '';
  } catch {
    return '';
  }
}

/**
 * The Authorization header for `challenge` and `scope`, fetching a token when needed.
 * `registry` names the registry in messages.
 */
export async function authorization(challenge: Challenge, scope: string, creds: Credentials | null, registry: string, config: MinidConfig): Promise<string> {
  if (challenge.scheme === 'basic') return basicFor(creds, registry);
  if (challenge.scheme !== 'bearer') fail(`${registry} asks for ${challenge.scheme} authentication, which minid does not speak (only Bearer and Basic)`, 1);
  const realm = challenge.params.realm;
  let u: URL;
  try {
    u = new URL(realm);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
  } catch {
    fail(`${registry} names a token server that is not a URL (${JSON.stringify(realm ?? '')})`, 1);
  }
  if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
  // Several scopes (a push that mounts: this repository's push,pull and the source's pull) are
  // several scope parameters, as distribution's token spec has it.
  for (const one of scope.split(' ').filter(Boolean)) u.searchParams.append('scope', one);
  const key = `${u.href} ${creds ? (creds.identityToken ? '(identity token)' : creds.username) : ''}`;
  const hit = tokens.get(key);
  if (hit && hit.until > Date.now()) return `Bearer ${hit.token}`;
  // One fetch at a time (as docker's token handler, under its lock): requests made at once (a
  // push's blobs) wait for it and take its token, and an identity token that the server
  // rotates is spent once: the next fetch sends the new one.
  const mine = lastFetch.then(async () => {
    const got = tokens.get(key);
    if (got && got.until > Date.now()) return got;
    const t = await fetchToken(u, challenge, scope, creds, registry, config);
    tokens.set(key, { token: t.token, until: t.until });
    return t;
  });
  lastFetch = mine.catch(() => {});
  return `Bearer ${(await mine).token}`;
}

/** The last token fetch asked for: the next one starts after it. */
let lastFetch: Promise<unknown> = Promise.resolve();

/** Ask the token server (OAuth2 POST with an identity token, else GET), failing in one line. */
async function fetchToken(u: URL, challenge: Challenge, scope: string, creds: Credentials | null, registry: string, config: MinidConfig): Promise<Cached> {
  const realm = challenge.params.realm;
  let res: Response | null = null;
  let body = '';
  if (creds?.identityToken) {
    // The OAuth2 POST goes to the realm itself: everything is in the form, nothing in the URL.
    const realmUrl = new URL(realm);
    const form = refreshTokenForm(creds.identityToken, challenge.params.service, scope.split(' ').filter(Boolean));
    res = await request(realmUrl, config, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(form)) },
      body: Buffer.from(form),
      what: `the token server of ${registry}`,
    });
    body = (await readBody(res, 1 << 20)).toString('utf8');
    if (res.status === 400 || res.status === 401 || res.status === 403)
      fail(`the identity token for ${registry} was refused (the token server ${u.host} answered ${res.status}${oauthError(body)}): run \`minid login ${registry}\` again`, 1);
    if (res.status === 404 || res.status === 405) res = null; // no OAuth2 here: the GET below
  }
  if (!res) {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (creds) headers.Authorization = basic(creds.identityToken ? { username: creds.username, password: creds.identityToken } : creds);
    res = await request(u, config, { headers, what: `the token server of ${registry}` });
    body = (await readBody(res, 1 << 20)).toString('utf8');
    if (res.status === 401 || res.status === 403) {
      if (creds?.identityToken) fail(`the identity token for ${registry} was refused (the token server ${u.host} answered ${res.status}): run \`minid login ${registry}\` again`, 1);
      if (creds) fail(`wrong username or password for ${registry} (the token server ${u.host} answered ${res.status}): run \`minid login ${registry}\` again`, 1);
      fail(`${registry} allows no anonymous access to ${scope || 'this registry'}: run \`minid login ${registry}\``, 1);
    }
  }
  if (res.status !== 200) fail(`the token server ${u.host} of ${registry} answered ${res.status}`, 1);
  const t = parseTokenResponse(body);
  if (!t) fail(`the token server ${u.host} of ${registry} sent no token (a ${res.status} answer with ${String(res.headers['content-type'] ?? 'no Content-Type').split(';')[0]}, not JSON with "token"): check the realm ${registry} names in its WWW-Authenticate header`, 1);
  // A rotated refresh token: used from now on in this run, never saved (as docker does).
  if (creds?.identityToken && t.refreshToken) creds.identityToken = t.refreshToken;
  return t;
}
