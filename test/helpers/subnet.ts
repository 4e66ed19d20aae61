// Free IPv4 test subnets: a /24 that no route of this host covers and that no other test of
// this run was given. Every store a test makes gets one for its default bridge, so no test
// ever touches a real minid0 (nor its 10.88.0.0/16) on a developer's machine. The clusters'
// LANs come from 172.16.0.0/16 and 192.168.0-199.0/24, which minid's automatic subnets
// (network/networks.ts candidateSubnets) never take: a test's `network create` without
// --subnet, on the host at the same time, cannot cover them.
import { execFileSync } from 'node:child_process';

function hostRoutes(): string[] {
  const out = execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8', timeout: 15_000 });
  return (JSON.parse(out) as { dst: string }[]).map((r) => r.dst).filter((d) => d !== 'default');
}

const toInt = (ip: string): number => ip.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
function overlaps(a: string, b: string): boolean {
  const [ia, pa = '32'] = a.split('/');
  const [ib, pb = '32'] = b.split('/');
  const p = Math.min(Number(pa), Number(pb));
  const m = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return ((toInt(ia) & m) >>> 0) === ((toInt(ib) & m) >>> 0);
}

const taken = new Set<string>();
/** A /24 nobody routes (nor handed out earlier in this run), from `make(a, b)`, a < 50, b < 256. */
export function freeSubnet(make: (a: number, b: number) => string): string {
  const routes = hostRoutes();
  for (let tries = 0; tries < 500; tries++) {
    const s = make(Math.floor(Math.random() * 50), Math.floor(Math.random() * 256));
    if (taken.has(s) || routes.some((r) => overlaps(r, s)) || [...taken].some((t) => overlaps(t, s))) continue;
    taken.add(s);
    return s;
  }
  throw new Error('no free test subnet');
}
