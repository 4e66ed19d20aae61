// `minid why` over recorded snapshots: which path, which checks, the cause and its fix.
import { describe, expect, it } from 'vitest';
import { parseFrom, parseTarget, renderWhy, why } from '../../../src/see/why.js';
import { BRIDGE, VETH, dropRules, hostLink, load } from './helpers.js';
import { userError } from '../../helpers/errors.js';

describe('minid why', () => {
  it('parses targets and --from, one clear line for a mistake', () => {
    expect(parseTarget('web:80')).toEqual({ container: 'web', port: 80, proto: 'tcp' });
    expect(parseTarget('dns:53/udp')).toEqual({ container: 'dns', port: 53, proto: 'udp' });
    expect(parseTarget('web')).toEqual({ container: 'web', proto: 'tcp' });
    expect(parseFrom(undefined)).toEqual({ kind: 'host' });
    expect(parseFrom('127.0.0.1')).toEqual({ kind: 'localhost' });
    expect(parseFrom('container:box')).toEqual({ kind: 'container', name: 'box' });
    expect(userError(() => parseTarget('web:http'), 1)).toMatch(/invalid target "web:http": give CONTAINER or CONTAINER:PORT/);
    expect(userError(() => parseFrom('lan'), 1)).toMatch(/invalid --from "lan": give host, 127\.0\.0\.1 or container:NAME/);
    expect(userError(() => why(load(), parseTarget('nosuch:80'), { kind: 'host' }), 1)).toMatch(/no such container: nosuch/);
  });

  it('a healthy path: every check passes, in the course order, and picks the binding the path reaches', () => {
    const r = why(load(), parseTarget('web:80'), { kind: 'host' });
    expect(r.cause).toBeNull();
    expect(r.path).toBe(`host -> 192.0.2.2:28081 -> nat OUTPUT (DNAT) -> routing -> ${BRIDGE} -> ${VETH} -> eth0 10.177.33.2:80`);
    const ids = r.checks.map((c) => c.id);
    expect(ids.indexOf('netns.exists')).toBeLessThan(ids.indexOf('veth.host.up'));
    expect(ids.indexOf('veth.host.up')).toBeLessThan(ids.indexOf('container.address'));
    expect(ids.indexOf('container.address')).toBeLessThan(ids.indexOf('container.default_route'));
    expect(ids.indexOf('rule.dnat')).toBeLessThan(ids.indexOf('app.listening'));
    // The host's own connection is not forwarded: no ip_forward, no FORWARD, no route_localnet.
    expect(ids).not.toContain('host.ip_forward');
    expect(ids).not.toContain('bridge.route_localnet');
    expect(r.notOnPath).toEqual(expect.arrayContaining(['ip_forward', 'forward_policy', 'route_localnet', 'hairpin']));
    expect(renderWhy(r)).toMatch(/\n– not on this path: .*ip_forward/);
    expect(renderWhy(r)).toMatch(/✓ every check on this path passes: web:80\/tcp should answer from host\n$/);
    // From 127.0.0.1 the loopback binding is the one checked, with route_localnet and its MASQUERADE.
    const l = why(load(), parseTarget('web:80'), { kind: 'localhost' });
    expect(l.path).toMatch(/^host -> 127\.0\.0\.1:28080 /);
    expect(l.checks.map((c) => c.id)).toEqual(expect.arrayContaining(['bridge.route_localnet', 'rule.masquerade.localhost', 'host.hook.output']));
  });

  it('route_localnet off: the cause from 127.0.0.1, not from the host address', () => {
    const s = load();
    s.kernel.sysctls[`net.ipv4.conf.${BRIDGE}.route_localnet`] = '0';
    const r = why(s, parseTarget('web:80'), { kind: 'localhost' });
    expect(r.cause).toMatchObject({ id: 'bridge.route_localnet', fix: `sysctl -w net.ipv4.conf.${BRIDGE}.route_localnet=1` });
    expect(renderWhy(r)).toContain(`✗ the bridge may carry 127.0.0.1 traffic (route_localnet), so 127.0.0.1:PORT can be DNATed into it\n    net.ipv4.conf.${BRIDGE}.route_localnet = 0\n`);
    expect(why(s, parseTarget('web:80'), { kind: 'host' }).cause).toBeNull();
  });

  it('the lowest failure is the cause: a veth end down before a deleted DNAT rule', () => {
    const s = load();
    Object.assign(hostLink(s, VETH), { up: false, operstate: 'DOWN' });
    dropRules(s, (r) => r.startsWith('nat MINID-DNAT'));
    const r = why(s, parseTarget('web:80'), { kind: 'host' });
    expect(r.cause).toMatchObject({ id: 'veth.host.up', fix: `ip link set ${VETH} up` });
    expect(r.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['veth.host.up', 'rule.dnat']);
    const text = renderWhy(r);
    expect(text).toContain(`✗ the host end ${VETH} is up\n    down (operstate DOWN)\n    fix: ip link set ${VETH} up\n`);
    expect(text).toMatch(/✗ 2 checks failed; the lowest one first: the host end mv066e102a is up\n  fix: ip link set mv066e102a up\n$/);
  });

  it('hairpin from the container itself: forwarding, FORWARD, hairpin mode and its MASQUERADE are on the path', () => {
    const s = load();
    s.kernel.sysctls['net.ipv4.ip_forward'] = '0';
    hostLink(s, VETH).hairpin = false;
    dropRules(s, (r) => r.includes('--ctstate DNAT -m comment') && r.includes('MASQUERADE'));
    const r = why(s, parseTarget('web:80'), { kind: 'container', name: 'web' });
    expect(r.pathKind).toBe('hairpin');
    expect(r.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['host.ip_forward', 'veth.host.hairpin', 'rule.masquerade.hairpin']);
    expect(r.cause!.fix).toBe('sysctl -w net.ipv4.ip_forward=1');
  });

  it('an unpublished port: says so and still checks the app', () => {
    const r = why(load(), parseTarget('web:8080'), { kind: 'host' });
    expect(r.checks.map((c) => [c.id, c.ok]).filter(([id]) => id === 'port.published' || id === 'app.listening')).toEqual([
      ['port.published', false],
      ['app.listening', false],
    ]);
  });
});
