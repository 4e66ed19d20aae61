// What every cluster test file starts with: its suite store (test/helpers/minid.ts), a shell
// call, the store's id (in the names of its cluster's namespaces and links), and `ok`: a minid
// command that must succeed, its stdout.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { suiteStore } from '../../helpers/minid.js';

export const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

export function clusterSuite(tag: string, images: string[] = ['busybox']) {
  const suite = suiteStore(tag, images);
  const storeId = (): string => fs.readFileSync(path.join(suite.store.root, 'store-id'), 'utf8').trim();
  async function ok(args: string[]): Promise<string> {
    const r = await suite.run(args);
    expect(r.exitCode, `minid ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return String(r.stdout);
  }
  /** The end of a file's cluster: the test's own LAN namespace, then `cluster down`, then nothing of either left. */
  async function downLeavesNothing(lanNs: string, netns: string[]): Promise<void> {
    try {
      sh('ip', ['netns', 'del', lanNs]);
    } catch {
      /* not made */
    }
    const down = await suite.run(['cluster', 'down']);
    expect(down.exitCode, String(down.stderr)).toBe(0);
    for (const ns of netns) expect(fs.existsSync(`/run/netns/${ns}`)).toBe(false);
    expect(fs.existsSync(path.join(suite.store.root, 'cluster'))).toBe(false);
    if (netns.length) expect(sh('ip', ['-o', 'link', 'show'])).not.toContain(`mcl${storeId()}`);
    expect(sh('ip', ['netns', 'list'])).not.toContain(lanNs);
  }
  return { suite, storeId, ok, downLeavesNothing };
}
