// `minid topo --cluster --format svg`: the cluster as a handout. The LAN is a bar across the
// top; each node hangs off it by its LAN cable, a box holding its pod bridge, its pods and its
// routes (or vxlan1's entries); whatever disagrees with the cluster's record is red, and the
// marks with their fixes are listed below. Self-contained (no scripts, fonts or images). Pure.
import { clusterMarks, type ClusterTopo, type NodeTopo } from './cluster-topo.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const RED = '#c0392b';
const INK = '#222';
const NODE_W = 340;
const GAP = 30;

/** The lines written inside a node's box (text, and whether it is a disagreement). */
function nodeLines(n: NodeTopo): [string, boolean][] {
  const L: [string, boolean][] = [];
  L.push([`eth0 ${n.eth0.addresses.join(' ') || '(no address)'} ${n.eth0.exists ? (n.eth0.up ? 'up' : 'DOWN') : 'MISSING'}`, !n.eth0.exists || !n.eth0.up]);
  L.push([`netns ${n.netns.name}  ip_forward=${n.ipForward ?? '?'}`, !n.netns.exists || n.ipForward !== '1']);
  L.push([`${n.bridge.name} ${n.bridge.exists ? `${n.bridge.up ? 'up' : 'DOWN'} ${n.bridge.addresses.join(' ')}` : '(no pod yet)'}`, n.bridge.exists && !n.bridge.up]);
  L.push([`pods ${n.podSubnet}`, false]);
  for (const p of n.pods) L.push([`  ${p.name} ${p.ip} ${p.status}`, false]);
  L.push(['routes:', false]);
  for (const r of n.routes) L.push([`  ${r.present ? '' : 'MISSING '}${r.dst} via ${r.via}`, r.expected && !r.present]);
  if (n.vxlan) {
    L.push([`vxlan1 ${n.vxlan.exists ? (n.vxlan.up ? 'up' : 'DOWN') : 'MISSING'}`, !n.vxlan.exists || !n.vxlan.up]);
    for (const f of n.vxlan.fdb) L.push([`  fdb ${f.mac} -> ${f.dst}${f.present ? '' : ' MISSING'}`, !f.present]);
    for (const e of n.vxlan.neigh) L.push([`  neigh ${e.ip} -> ${e.mac}${e.present ? '' : ' MISSING'}`, !e.present]);
  }
  return L;
}

export function renderClusterSvg(t: ClusterTopo): string {
  const marks = clusterMarks(t);
  const boxes = t.nodes.map(nodeLines);
  const boxH = 40 + 16 * Math.max(1, ...boxes.map((b) => b.length));
  const longest = Math.max(0, ...marks.flatMap((m) => [m.title.length + m.found.length + 8, (m.fix ?? '').length + 10]));
  const W = Math.max(t.nodes.length * (NODE_W + GAP) + GAP, 40 + longest * 7, 700);
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, o: { bold?: boolean; red?: boolean; size?: number } = {}): void =>
    void parts.push(`<text x="${x}" y="${y}" font-size="${o.size ?? 12}"${o.bold ? ' font-weight="bold"' : ''} fill="${o.red ? RED : INK}">${esc(s)}</text>`);
  let y = 24;
  text(20, y, `cluster (store ${t.store}): mode ${t.mode}, pods in ${t.podCidr}`, { bold: true, size: 14 });
  y += 26;
  const lanBad = t.lan.marks.length > 0;
  parts.push(`<rect x="20" y="${y}" width="${W - 40}" height="26" rx="6" fill="#e8f0fb" stroke="${lanBad ? RED : INK}" stroke-width="${lanBad ? 3 : 1.2}"/>`);
  text(30, y + 17, `LAN ${t.lan.cidr}: bridge ${t.lan.bridge.name} on the host ${t.lan.bridge.exists ? (t.lan.bridge.up ? 'up' : 'DOWN') : 'MISSING'}`, { red: lanBad });
  const lanY = y + 26;
  y = lanY + 40;
  t.nodes.forEach((n, i) => {
    const x = GAP + i * (NODE_W + GAP);
    const bad = n.marks.length > 0;
    const cableBad = !n.uplink.up || !n.eth0.up;
    parts.push(`<line x1="${x + NODE_W / 2}" y1="${lanY}" x2="${x + NODE_W / 2}" y2="${y}" stroke="${cableBad ? RED : INK}" stroke-width="2"${cableBad ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<rect x="${x}" y="${y}" width="${NODE_W}" height="${boxH}" rx="8" fill="#f7f7f2" stroke="${bad ? RED : INK}" stroke-width="${bad ? 3 : 1.2}"/>`);
    text(x + 10, y + 20, `node ${n.name}  ${n.ip}`, { bold: true });
    boxes[i].forEach(([s, red], k) => text(x + 10, y + 40 + 16 * k, s, { red, size: 11 }));
  });
  y += boxH + 30;
  if (t.services.length) {
    text(20, y, "services (kube-proxy's chains inside every node):", { bold: true });
    for (const s of t.services) text(30, (y += 16), `${s.name} ${s.type} ${s.clusterIP}:${s.port}`);
    y += 26;
  }
  if (marks.length === 0) text(20, y, "✓ the kernel matches the cluster's record", { bold: true });
  else {
    text(20, y, `Where the kernel and the cluster's record disagree (${marks.length}):`, { bold: true, red: true });
    marks.forEach((m, i) => {
      text(30, (y += 18), `✗${i + 1} ${m.title} — ${m.found}`, { red: true });
      if (m.fix) text(50, (y += 16), `fix: ${m.fix}`);
    });
  }
  y += 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="monospace">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
