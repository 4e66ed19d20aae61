// `minid topo --format svg`: a handout. One self-contained SVG (no scripts, no external fonts
// or images): the host, each bridge (virtual switch), a virtual cable (veth pair) down to each
// container's namespace box, the rules with their counters, and the marks in red. Pure.
import type { Mark, Topo } from './topo.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const RED = '#c0392b';
const INK = '#222';

/** Width of a line of monospace text at 11-12 px (about 7 px a character). */
const textWidth = (s: string): number => Math.ceil(s.length * 7);

export function renderTopoSvg(t: Topo): string {
  // Wide enough for the longest rule or fix line (they are never wrapped: they are commands).
  const long = [
    ...t.host.rules.map((r) => 130 + textWidth(`${r.table} ${r.chain} ${r.rule}`)),
    ...t.networks.flatMap((n) => n.rules.map((r) => 130 + textWidth(`${r.table} ${r.chain} ${r.rule}`))),
    ...(t.cni ?? []).map((n) => 40 + textWidth(`rules: ${n.rules}`)),
    ...[...t.host.marks, ...t.networks.flatMap((n) => n.marks), ...(t.cni ?? []).flatMap((n) => n.marks), ...t.leftovers].flatMap((m) => [30 + textWidth(`✗1 ${m.title} — ${m.found}`), 50 + textWidth(`fix: ${m.fix ?? ''}`)]),
  ];
  const W = Math.max(960, 40 + Math.max(0, ...long));
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, o: { size?: number; bold?: boolean; color?: string; anchor?: string } = {}): void =>
    void parts.push(`<text x="${x}" y="${y}" font-size="${o.size ?? 12}"${o.bold ? ' font-weight="bold"' : ''} fill="${o.color ?? INK}"${o.anchor ? ` text-anchor="${o.anchor}"` : ''}>${esc(s)}</text>`);
  const box = (x: number, y: number, w: number, h: number, bad: boolean, fill: string): void =>
    void parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8" fill="${fill}" stroke="${bad ? RED : INK}" stroke-width="${bad ? 3 : 1.2}"/>`);
  const line = (x1: number, y1: number, x2: number, y2: number, bad: boolean): void =>
    void parts.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${bad ? RED : INK}" stroke-width="${bad ? 3 : 2}"${bad ? ' stroke-dasharray="6 4"' : ''}/>`);
  const marked = (marks: Mark[], ...subjects: string[]): boolean => marks.some((m) => !m.harmless && subjects.includes(m.subject));

  let y = 20;
  const h = t.host;
  text(20, y + 12, `minid topo — store ${t.store} — read from the kernel`, { size: 16, bold: true });
  y += 30;
  const hostBad = h.marks.some((m) => !m.harmless);
  box(20, y, W - 40, 70, hostBad, '#f4f6f8');
  text(35, y + 22, `host${h.uplink ? `   uplink ${h.uplink.dev} ${h.uplink.addresses.join(' ')}` : '   (no default route)'}`, { size: 14, bold: true });
  text(35, y + 42, `ip_forward=${h.ipForward}   FORWARD policy ${h.forwardPolicy}   rp_filter(all)=${h.rpFilterAll}`, { color: marked(h.marks, 'sysctl:net.ipv4.ip_forward', 'chain:filter/FORWARD') ? RED : INK });
  text(35, y + 60, `br_netfilter ${h.brNetfilter.loaded ? `loaded, bridge-nf-call-iptables=${h.brNetfilter.callIptables}` : 'not loaded'}`);
  y += 90;

  for (const n of t.networks) {
    const b = n.bridge;
    const bw = 520;
    const bx = (W - bw) / 2;
    const bBad = marked(n.marks, `link:${b.name}`, `sysctl:net.ipv4.conf.${b.name}.route_localnet`);
    line(W / 2, y - 20, W / 2, y, false);
    box(bx, y, bw, 56, bBad, '#e8f1fb');
    text(W / 2, y + 22, `bridge ${b.name} (virtual switch) ${b.exists ? (b.up ? 'up' : 'DOWN') : 'MISSING'} ${b.addresses.join(' ')}`, { anchor: 'middle', bold: true, color: bBad ? RED : INK });
    text(W / 2, y + 42, `network "${n.name}" ${n.subnet}   route_localnet=${b.routeLocalnet}   rp_filter=${b.rpFilter}`, { anchor: 'middle' });
    const top = y + 56;
    y += 110;
    const count = Math.max(1, n.endpoints.length);
    const cw = Math.min(280, (W - 40) / count - 20);
    n.endpoints.forEach((e, i) => {
      const cx = 20 + i * (cw + 20) + ((W - 40) - count * (cw + 20) + 20) / 2;
      const mid = cx + cw / 2;
      const cableBad = marked(n.marks, `link:${e.cable.host.name}`, `netns:${e.netns.name}/${e.cable.container.name}`);
      line(W / 2, top, mid, y, cableBad);
      text(mid + 6, y - 24, `${e.cable.host.name} ${e.cable.host.up ? 'up' : 'DOWN'}${e.cable.host.hairpin ? ' hairpin' : ''}`, { size: 11, color: cableBad ? RED : INK });
      text(mid + 6, y - 10, `veth ⇅ ${e.cable.container.name} ${e.cable.container.up ? 'up' : 'DOWN'}`, { size: 11, color: cableBad ? RED : INK });
      const pub = e.published.map((p) => `${p.hostIp === '0.0.0.0' ? '*' : p.hostIp}:${p.hostPort}→${p.containerPort}/${p.protocol}`);
      const rows = [
        `netns ${e.netns.name}${e.netns.exists ? '' : ' MISSING'}`,
        `${e.cable.container.name} ${e.cable.container.addresses.join(' ') || '(no address)'}`,
        `${e.status}; listening ${e.listening.map((l) => `${l.address}:${l.port}`).join(' ') || 'nothing'}`,
        ...pub,
      ];
      const cBad = n.marks.some((m) => !m.harmless && (m.subject.startsWith(`netns:${e.netns.name}`) || m.subject.startsWith(`socket:${e.container}:`) || m.subject === `container:${e.container}`));
      box(cx, y, cw, 30 + rows.length * 16, cBad, '#fdf6e3');
      text(cx + 10, y + 18, `container ${e.container}`, { bold: true, size: 11, color: cBad ? RED : INK });
      rows.forEach((r, k) => text(cx + 10, y + 36 + k * 16, r, { size: 11 }));
    });
    const tallest = Math.max(0, ...n.endpoints.map((e) => 30 + (3 + e.published.length) * 16));
    y += tallest + 30;
    text(20, y, `minid's rules for "${n.name}" (packets / bytes)`, { bold: true });
    y += 18;
    for (const r of [...(t.networks[0] === n ? h.rules : []), ...n.rules]) {
      const body = `${r.table} ${r.chain} ${r.rule.replace(/^-A \S+ /, '').replace(/(^| )-m comment --comment \S+/, '')}`;
      text(30, y, r.present ? `${r.packets} / ${r.bytes}` : 'MISSING', { size: 11, color: r.present ? INK : RED });
      text(130, y, body, { size: 11, color: r.present ? INK : RED });
      y += 15;
    }
    y += 25;
  }
  // CNI networks: the bridge the plugins' result names (if any), then each container's cable.
  for (const n of t.cni ?? []) {
    const bw = 520;
    const bx = (W - bw) / 2;
    const br = n.bridges[0];
    const bBad = !!br && marked(n.marks, `link:${br.name}`);
    line(W / 2, y - 20, W / 2, y, false);
    box(bx, y, bw, 56, bBad, '#eef8ee');
    text(W / 2, y + 22, br ? `bridge ${br.name} (made by the plugins) ${br.exists ? (br.up ? 'up' : 'DOWN') : 'MISSING'} ${br.addresses.join(' ')}` : 'no host bridge in the CNI result', { anchor: 'middle', bold: true, color: bBad ? RED : INK });
    text(W / 2, y + 42, n.label, { anchor: 'middle' });
    const top = y + 56;
    y += 110;
    const count = Math.max(1, n.containers.length);
    const cw = Math.min(280, (W - 40) / count - 20);
    n.containers.forEach((c, i) => {
      const cx = 20 + i * (cw + 20) + ((W - 40) - count * (cw + 20) + 20) / 2;
      const mid = cx + cw / 2;
      const cableBad = marked(n.marks, ...(c.hostEnd ? [`link:${c.hostEnd.name}`] : []), ...c.interfaces.map((x) => `netns:${c.netns.name}/${x.name}`));
      line(W / 2, top, mid, y, cableBad);
      if (c.hostEnd) text(mid + 6, y - 24, `${c.hostEnd.name} ${c.hostEnd.exists ? (c.hostEnd.up ? 'up' : 'DOWN') : 'MISSING'}`, { size: 11, color: cableBad ? RED : INK });
      text(mid + 6, y - 10, `${c.hostEnd ? 'veth ⇅ ' : ''}${c.interfaces.map((x) => `${x.name} ${x.exists ? (x.up ? 'up' : 'DOWN') : 'MISSING'}`).join(', ')}`, { size: 11, color: cableBad ? RED : INK });
      const rows = [
        `netns ${c.netns.name}${c.netns.exists ? '' : ' MISSING'}`,
        ...c.interfaces.map((x) => `${x.name} ${x.addresses.join(' ') || '(no address)'}`),
        `${c.status}; listening ${c.listening.map((l) => `${l.address}:${l.port}`).join(' ') || 'nothing'}`,
        ...c.published.map((p) => `${p.hostIp === '0.0.0.0' ? '*' : p.hostIp}:${p.hostPort}→${p.containerPort}/${p.protocol} (plugins' rules)`),
      ];
      const cBad = n.marks.some((m) => !m.harmless && (m.subject.startsWith(`netns:${c.netns.name}`) || m.subject === `container:${c.container}`));
      box(cx, y, cw, 30 + rows.length * 16, cBad, '#fdf6e3');
      text(cx + 10, y + 18, `container ${c.container} (CNI)`, { bold: true, size: 11, color: cBad ? RED : INK });
      rows.forEach((r, k) => text(cx + 10, y + 36 + k * 16, r, { size: 11 }));
    });
    const tallest = Math.max(0, ...n.containers.map((c) => 30 + (2 + c.interfaces.length + c.published.length) * 16));
    y += tallest + 30;
    text(20, y, `rules: ${n.rules}`, { size: 11 });
    y += 40;
  }
  const marks = [...h.marks, ...t.networks.flatMap((n) => n.marks), ...(t.cni ?? []).flatMap((n) => n.marks), ...t.leftovers];
  text(20, y, marks.length ? `Where the kernel and minid's records disagree (${marks.length})` : "✓ the kernel matches minid's records", { bold: true, color: marks.length ? RED : INK });
  y += 18;
  marks.forEach((m, i) => {
    text(30, y, `${m.harmless ? '!' : '✗'}${i + 1} ${m.title} — ${m.found}`, { size: 11, color: m.harmless ? INK : RED });
    y += 15;
    if (m.fix) {
      text(50, y, `fix: ${m.fix}`, { size: 11 });
      y += 15;
    }
  });
  y += 20;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">\n` +
    `<title>minid topo: store ${esc(t.store)}</title>\n<rect width="100%" height="100%" fill="#fff"/>\n` +
    parts.join('\n') +
    '\n</svg>\n'
  );
}
