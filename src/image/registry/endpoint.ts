// Where a registry reference is served, as docker resolves it (pure: no I/O).
//
//   busybox, docker.io/library/busybox  -> each of "registry-mirrors", then https://registry-1.docker.io
//   HOST[:PORT]/path                    -> https://HOST[:PORT]
//
// HTTPS by default, verified. A loopback registry (127.0.0.0/8, localhost, ::1) and one listed
// in "insecure-registries" are tried over HTTPS first too, and over plain HTTP when they do not
// speak TLS (docker treats 127.0.0.0/8 as insecure the same way); an insecure registry's
// certificate is not verified, a loopback one's is (a TLS registry on 127.0.0.1 is still TLS).
//
// The offline switch: with "offline": true, minid connects to no host but loopback ones and
// those in "allowed-registries". This check runs before any name is resolved or any socket
// opened, for every connection: registry, mirror, token server, redirect target and proxy.
import { fail } from '../../errors.js';
import { DEFAULT_REGISTRY } from '../ref.js';
import { normalizeRegistryHost, type MinidConfig } from './config.js';

export const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';
/** The key docker writes Docker Hub's credentials under in config.json. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

export interface Endpoint {
  /** Base URL, no trailing slash: "https://registry-1.docker.io", "http://127.0.0.1:5000". */
  url: string;
  /** A mirror of docker.io (a failure there falls back to the next endpoint). */
  mirror: boolean;
  /** May fall back from HTTPS to plain HTTP (loopback and insecure registries). */
  httpFallback: boolean;
  /** Skip certificate verification (insecure-registries only, as docker). */
  skipVerify: boolean;
}

/** "host:port" -> host without the port and brackets ("[::1]:5000" -> "::1"). */
export function hostname(hostPort: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (m) return m[1].toLowerCase();
  const i = hostPort.lastIndexOf(':');
  return (i !== -1 && hostPort.indexOf(':') === i ? hostPort.slice(0, i) : hostPort).toLowerCase();
}

export function isLoopback(hostPort: string): boolean {
  const h = hostname(hostPort);
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function listed(list: string[], hostPort: string): boolean {
  const hp = hostPort.toLowerCase();
  return list.includes(hp) || list.includes(hostname(hp));
}

/** The endpoints to try for a registry, in order. */
export function endpointsFor(registry: string, config: MinidConfig): Endpoint[] {
  const insecure = (hp: string) => listed(config.insecureRegistries, hp);
  const plain = (hp: string) => isLoopback(hp) || insecure(hp);
  if (registry === DEFAULT_REGISTRY) {
    const mirrors = config.registryMirrors.map((m): Endpoint => {
      const u = new URL(m);
      return { url: `${u.protocol}//${u.host}`, mirror: true, httpFallback: u.protocol === 'https:' && plain(u.host), skipVerify: insecure(u.host) };
    });
    return [...mirrors, { url: DOCKER_HUB_ENDPOINT, mirror: false, httpFallback: false, skipVerify: false }];
  }
  return [{ url: `https://${registry}`, mirror: false, httpFallback: plain(registry), skipVerify: insecure(registry) }];
}

/** Refuse a connection to `hostPort` when offline (before any DNS lookup). */
export function checkAllowed(hostPort: string, config: MinidConfig, what = 'the registry'): void {
  if (!config.offline || isLoopback(hostPort) || listed(config.allowedRegistries, normalizeRegistryHost(hostPort))) return;
  fail(
    `refusing to connect to ${hostPort} (${what}): minid is offline ("offline": true in ${config.source}); ` +
      `pull from a registry on this machine, or add ${hostname(hostPort)} to "allowed-registries" there`,
  );
}
