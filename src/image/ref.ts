// Image references, normalized the way docker does it (github.com/distribution/reference):
//
//   busybox                         -> docker.io/library/busybox:latest   (familiar: busybox:latest)
//   library/busybox                 -> docker.io/library/busybox:latest
//   docker.io/library/busybox:1.36  -> docker.io/library/busybox:1.36     (familiar: busybox:1.36)
//   127.0.0.1:5000/busybox          -> 127.0.0.1:5000/busybox:latest      (familiar: the same)
//   busybox@sha256:<64 hex>         -> a digest reference (no tag is added)
//
// The first path component is a registry only if it looks like a host: it contains a "." or
// a ":", or is "localhost", or has upper-case letters. Pure: no I/O.

import { MinidError } from '../errors.js';

export interface ImageReference {
  /** Registry host[:port]; "docker.io" for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  repository: string;
  /** Tag; "latest" when neither a tag nor a digest was given; null for a digest-only reference. */
  tag: string | null;
  /** "sha256:<hex>" when the reference pins a manifest digest. */
  digest: string | null;
  /** Short repository name as docker prints it: "busybox", "myuser/app", "127.0.0.1:5000/busybox". */
  name: string;
  /** Short form with tag/digest: "busybox:latest". This is the key image names are stored under. */
  familiar: string;
  /** Fully qualified form: "docker.io/library/busybox:latest". */
  full: string;
}

export const DEFAULT_REGISTRY = 'docker.io';
export const DEFAULT_TAG = 'latest';

// The grammar of distribution/reference, written out piece by piece.
const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const REMOTE_NAME = new RegExp(`^${remoteName}$`);
const DOMAIN = new RegExp(`^${domainAndPort}$`);
const TAG = new RegExp(`^${tagPat}$`);
const DIGEST = new RegExp(`^${digestPat}$`);
const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;

function invalid(s: string, why?: string): never {
  throw new MinidError(`invalid reference format ${JSON.stringify(s)}${why ? `: ${why}` : ''}`);
}

/** Is `s` a well-formed tag ("latest", "1.36.1-glibc")? */
export function isValidTag(s: string): boolean {
  return TAG.test(s);
}

/** Parse and normalize an image reference. Throws MinidError on malformed input. */
export function parseReference(s: string): ImageReference {
  if (typeof s !== 'string' || s === '') invalid(s ?? '');
  if (HEX64.test(s)) invalid(s, 'a 64-character hexadecimal string is an image ID, not a name');

  // Split off "@digest", then ":tag" (a ":" after the last "/" is a tag, before it a port).
  let rest = s;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) invalid(s);
    if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) invalid(s, 'a sha256 digest has 64 lower-case hex digits');
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) invalid(s);
  }

  // Docker's splitDockerDomain.
  let registry = DEFAULT_REGISTRY;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (!DOMAIN.test(registry)) invalid(s);
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;

  if (repository.toLowerCase() !== repository && REMOTE_NAME.test(repository.toLowerCase())) {
    invalid(s, 'repository name must be lowercase');
  }
  if (!REMOTE_NAME.test(repository)) invalid(s);
  if (registry.length + 1 + repository.length > 255) invalid(s, 'repository name must not be more than 255 characters');

  if (tag === null && digest === null) tag = DEFAULT_TAG;

  let name = `${registry}/${repository}`;
  if (registry === DEFAULT_REGISTRY) {
    name = repository;
    const short = repository.slice('library/'.length);
    if (repository.startsWith('library/') && !short.includes('/')) name = short;
  }
  const suffix = (tag !== null ? `:${tag}` : '') + (digest !== null ? `@${digest}` : '');
  return {
    registry,
    repository,
    tag,
    digest,
    name,
    familiar: name + suffix,
    full: `${registry}/${repository}${suffix}`,
  };
}

/** Like parseReference, but returns null instead of throwing. */
export function tryParseReference(s: string): ImageReference | null {
  try {
    return parseReference(s);
  } catch {
    return null;
  }
}

/** Split a stored familiar name ("busybox:latest", "127.0.0.1:5000/x:1") into repository and tag for display. */
export function splitFamiliar(familiar: string): { repository: string; tag: string } {
  const r = tryParseReference(familiar);
  if (!r) return { repository: familiar, tag: '<none>' };
  return { repository: r.name, tag: r.tag ?? '<none>' };
}
