// The result cache, in libcni's layout and format (kind "cniCacheV1"), one JSON file per
// attachment: <cacheDir>/results/<network>-<containerId>-<ifName>. It is written only after a
// fully successful ADD and removed after a successful DEL, so a DEL after a crash (or after
// the configuration file changed) still has the result and the config the ADD used.
import fs from 'node:fs';
import path from 'node:path';
import { readJson, writeAtomic } from '../sys/jsonfile.js';
import { paths } from '../sys/paths.js';

export interface CachedAttachment {
  kind: 'cniCacheV1';
  containerId: string;
  /** The network configuration list, base64 (Go's []byte in JSON, as libcni writes it). */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  result?: Record<string, unknown>;
  /** minid's addition: the version the ADD negotiated (DEL must speak the same). */
  cniVersion?: string;
}

export const cacheDir = (dir?: string): string => dir ?? paths.cniCache();

export function cacheFile(network: string, containerId: string, ifName: string, dir?: string): string {
  return path.join(cacheDir(dir), 'results', `${network}-${containerId}-${ifName}`);
}

export function writeCache(entry: CachedAttachment, dir?: string): string {
  const f = cacheFile(entry.networkName, entry.containerId, entry.ifName, dir);
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  writeAtomic(f, JSON.stringify(entry), 0o600);
  return f;
}

export function readCache(network: string, containerId: string, ifName: string, dir?: string): CachedAttachment | null {
  // Unreadable: as missing.
  const j = readJson<any>(cacheFile(network, containerId, ifName, dir));
  if (j && j.kind === 'cniCacheV1') return j as CachedAttachment;
  // A legacy cache file is the bare result.
  if (j && typeof j === 'object') return { kind: 'cniCacheV1', containerId, ifName, networkName: network, config: '', result: j };
  return null;
}

export function deleteCache(network: string, containerId: string, ifName: string, dir?: string): void {
  fs.rmSync(cacheFile(network, containerId, ifName, dir), { force: true });
}

/** Every cached attachment (optionally of one network), like libcni's GetCachedAttachments. */
export function listCache(network?: string, dir?: string): CachedAttachment[] {
  const d = path.join(cacheDir(dir), 'results');
  let names: string[];
  try {
    names = fs.readdirSync(d).sort();
  } catch {
    return [];
  }
  const out: CachedAttachment[] = [];
  for (const n of names) {
    if (n.endsWith('.tmp')) continue;
    const j = readJson<any>(path.join(d, n)); // (null, unreadable: skipped)
    if (j?.kind !== 'cniCacheV1' || !j.ifName || !j.networkName || !j.containerId) continue;
    if (network && j.networkName !== network) continue;
    out.push(j);
  }
  return out;
}

export const encodeConfig = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
export const decodeConfig = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');
