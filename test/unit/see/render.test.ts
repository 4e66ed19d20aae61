// The topology model and its three renderings (text, JSON shape, SVG), from a recorded snapshot.
import { describe, expect, it } from 'vitest';
import { allMarks, buildTopo } from '../../../src/see/topo.js';
import { renderTopoText } from '../../../src/see/render-text.js';
import { renderTopoSvg } from '../../../src/see/render-svg.js';
import { BRIDGE, NS, VETH, dropRules, hostLink, load } from './helpers.js';
import { normaliseTopo } from '../../helpers/topo.js';

describe('minid topo', () => {
  it('the JSON shape: host, networks with bridge, cables, rules with counters; no marks when all agree', async () => {
    const t = buildTopo(load());
    expect(allMarks(t)).toEqual([]);
    await expect(JSON.stringify(normaliseTopo(t, [28080, 28081]), null, 2) + '\n').toMatchFileSnapshot('__golden__/topo-web.json');
    const n = t.networks[0];
    expect(n.rules.filter((r) => r.present).length).toBe(n.rules.length);
    expect(n.rules.find((r) => r.chain === 'MINID-DNAT' && r.rule.includes('--dport 28080'))).toMatchObject({ owner: 'container web', packets: 1, bytes: 60 });
  });

  it('marks each disagreement on the object it concerns, numbered in the text, with its fix', () => {
    const s = load();
    s.kernel.sysctls[`net.ipv4.conf.${BRIDGE}.route_localnet`] = '0';
    dropRules(s, (r) => r.startsWith('nat MINID-DNAT') && r.includes('--dport 28081'));
    Object.assign(hostLink(s, VETH), { up: false, operstate: 'DOWN' });
    s.kernel.netns[NS].listening = [];
    const t = buildTopo(s);
    expect(t.networks[0].marks.map((m) => m.check).sort()).toEqual(['app.listening', 'app.listening', 'bridge.route_localnet', 'rule.dnat', 'veth.host.up']);
    const missing = t.networks[0].rules.filter((r) => !r.present);
    expect(missing).toHaveLength(1);
    expect(missing[0].fix).toMatch(/^iptables -t nat -A MINID-DNAT .*--dport 28081 /);
    const text = renderTopoText(t);
    expect(text).toContain('route_localnet=0 ✗1');
    expect(text).toMatch(new RegExp(`${VETH} DOWN hairpin ✗2 ══ virtual cable \\(veth\\) ══ eth0 10\\.177\\.33\\.2/24 up`));
    expect(text).toMatch(/MINID-DNAT +MISSING -p tcp -m tcp --dport 28081 -j DNAT --to-destination 10\.177\.33\.2:80 ✗\d/);
    expect(text).toContain("Where the kernel and minid's records disagree (5):");
    expect(text).toContain(`      fix:   ip link set ${VETH} up`);
  });

  it('the healthy text drawing', async () => {
    const text = renderTopoText(buildTopo(load()));
    await expect(text).toMatchFileSnapshot('__golden__/topo-web.txt');
    expect(text).toContain(`└─ bridge ${BRIDGE} up 10.177.33.1/24  virtual switch of network "bridge"`);
    expect(text).toContain(`netns ${NS}: container web (066e102aaf12) running`);
    expect(text).toContain('published 127.0.0.1:28080 -> 80/tcp');
    expect(text).toContain('published *:28081 -> 80/tcp');
    expect(text).toMatch(/nat MINID-DNAT +1 +60 +-d 127\.0\.0\.1\/32 -p tcp -m tcp --dport 28080 -j DNAT --to-destination 10\.177\.33\.2:80 +\(container web\)/);
    expect(text.trimEnd().split('\n').pop()).toBe("✓ the kernel matches minid's records");
  });

  it('a network no container joined yet is drawn as not set up, without marks', () => {
    const s = load();
    s.records.networks.push({ id: 'f'.repeat(64), name: 'later', driver: 'bridge', bridge: 'mbr-fffffffffff', subnet: '10.9.9.0/24', gateway: '10.9.9.1', created: '' });
    const t = buildTopo(s, 'later');
    expect(allMarks(t)).toEqual([]);
    expect(t.networks[0]).toMatchObject({ name: 'later', setUp: false, rules: [] });
    expect(renderTopoText(t)).toMatch(/bridge mbr-fffffffffff \(not set up yet/);
  });

  it('SVG: one self-contained document (no script, no external reference), marks in red', () => {
    const s = load();
    Object.assign(hostLink(s, VETH), { up: false, operstate: 'DOWN' });
    const svg = renderTopoSvg(buildTopo(s));
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|href=|url\(|@import/);
    expect(svg.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:/);
    // Balanced: every element opened is closed (text and title) or self-closed (rect, line).
    for (const tag of ['text', 'title', 'svg']) expect((svg.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length).toBe((svg.match(new RegExp(`</${tag}>`, 'g')) ?? []).length);
    expect(svg).toContain(`${VETH} DOWN hairpin`);
    expect(svg).toContain('#c0392b');
    expect(svg).toContain(`fix: ip link set ${VETH} up`);
  });
});
