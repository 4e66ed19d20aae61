// A snapshot recorded on a real host (`minid topo --format snapshot`: one nginx container
// "web" publishing 127.0.0.1:28080 and *:28081 to port 80 on network "bridge", bridge mtopo0),
// and small edits that break it the way a person (or another program) would behind minid's back.
import fs from 'node:fs';
import path from 'node:path';
import type { Link, Snapshot } from '../../../src/see/snapshot.js';

const FILE = path.resolve(__dirname, '../../fixtures/see/web.snapshot.json');

export const load = (): Snapshot => JSON.parse(fs.readFileSync(FILE, 'utf8')) as Snapshot;

export const BRIDGE = 'mtopo0';
export const VETH = 'mv066e102a';
export const NS = 'minid-066e102aaf12';

export function hostLink(s: Snapshot, name: string): Link {
  const l = s.kernel.host.links.find((x) => x.name === name);
  if (!l) throw new Error(`no ${name} in the fixture`);
  return l;
}

/** Remove the rules matching `pred` (as `iptables -D` would). */
export function dropRules(s: Snapshot, pred: (args: string) => boolean): number {
  const before = s.kernel.iptables.rules.length;
  s.kernel.iptables.rules = s.kernel.iptables.rules.filter((r) => !pred(`${r.table} ${r.chain} ${r.args.join(' ')}`));
  return before - s.kernel.iptables.rules.length;
}
